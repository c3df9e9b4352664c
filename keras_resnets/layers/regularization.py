"""Stochastic depth: DropPath (drop a whole residual branch) and its
per-block schedule `drop_path_rates`; `Dropout`, Keras's with per-replica
draws.

DropPath is random only in training and the identity at inference (with
`scale_by_keep`). Randomness comes from the seed generator of
`SeededLayer`, so seeded runs are reproducible on every backend and inside
compiled (jit) train steps, and each replica of a `tf.distribute` strategy
draws its own numbers (`keras_resnets.layers.seeds`). The shake
regularizers (ShakeDrop, ShakeShake) live in `keras_resnets.layers.shake`
and are importable from here too.
"""

import keras
from keras import ops

from keras_resnets.layers._utils import SeededLayer
from keras_resnets.layers._utils import check_num_blocks
from keras_resnets.layers._utils import is_real
from keras_resnets.layers.seeds import per_replica
from keras_resnets.layers.shake import ShakeDrop
from keras_resnets.layers.shake import ShakeShake
from keras_resnets.layers.shake import shakedrop_probabilities
from keras_resnets.errors import UserValueError

__all__ = [
    "DropPath",
    "Dropout",
    "StochasticDepth",
    "ShakeDrop",
    "ShakeShake",
    "drop_path_rates",
    "shakedrop_probabilities",
]


def drop_path_rates(num_blocks, drop_path_rate):
    """Stochastic-depth drop rates with the linear decay rule of Huang et al.

    Reference: [Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016](
    https://arxiv.org/abs/1603.09382).

    Block `l` (1-based) of `L` survives with probability
    `p_l = 1 - l/L * (1 - p_L)`; with `drop_path_rate = 1 - p_L` its drop rate
    is `drop_path_rate * l / L`, so the last block gets `drop_path_rate`.

    Args:
        num_blocks: int, number of residual blocks `L` in the whole network.
        drop_path_rate: float in `[0, 1)`, drop rate of the last block.

    Returns:
        A list of `num_blocks` python floats.

    Example:

    >>> drop_path_rates(4, 0.2)
    [0.05, 0.1, 0.15000000000000002, 0.2]
    """
    check_num_blocks(num_blocks)
    if not is_real(drop_path_rate) or not 0 <= drop_path_rate < 1:
        raise UserValueError(
            "Invalid value received for argument `drop_path_rate`. Expected a "
            "float value in [0, 1). "
            f"Received: drop_path_rate={drop_path_rate}"
        )
    return [
        float(drop_path_rate) * block / num_blocks
        for block in range(1, num_blocks + 1)
    ]


@keras.saving.register_keras_serializable(package="keras_resnets")
class DropPath(SeededLayer):
    """Stochastic depth: drops a whole residual branch per example.

    Reference: [Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016](
    https://arxiv.org/abs/1603.09382).

    Apply it to the residual branch `F(x)` before the addition. In training
    each example keeps its branch with probability `1 - rate`
    (mask shape `(batch, 1, ..., 1)`):
    `y = b · F(x) / (1 - rate)`, `b ~ Bernoulli(1 - rate)`,
    so `E[y] = F(x)` and inference is the identity `y = F(x)`.
    With `scale_by_keep=False` training uses `y = b · F(x)` and inference
    multiplies by the survival probability, `y = (1 - rate) · F(x)`, as in
    the paper.

    Also exported as `StochasticDepth`. Use `drop_path_rates` for the
    linear-decay schedule over blocks.

    Args:
        rate: float in `[0, 1)`, probability of dropping the branch.
        seed: int or `None`, seed of the layer's `SeedGenerator`.
        scale_by_keep: bool, whether kept examples are scaled by
            `1 / (1 - rate)` in training (inference is then the identity).
            Defaults to `True`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the residual branch output, any rank, batch first.
        training: bool, whether to drop branches (training mode).

    Example:

    >>> x = keras.ops.ones((4, 8, 8, 16))
    >>> layer = DropPath(0.5, seed=1)
    >>> y = layer(x, training=True)  # each example is all 0 or all 2
    >>> bool(keras.ops.all(layer(x) == x))
    True
    """

    def __init__(self, rate, seed=None, *, scale_by_keep=True, **kwargs):
        super().__init__(seed, **kwargs)
        if not is_real(rate) or not 0 <= rate < 1:
            raise UserValueError(
                "Invalid value received for argument `rate`. Expected a float "
                f"value in [0, 1). Received: rate={rate}"
            )
        self.rate = float(rate)
        self.scale_by_keep = bool(scale_by_keep)
        self.supports_masking = True

    def call(self, inputs, training=None):
        keep = 1.0 - self.rate
        if not training or self.rate == 0:
            if self.scale_by_keep or self.rate == 0:
                return inputs
            return inputs * ops.cast(keep, inputs.dtype)
        draw_dtype = self.draw_dtype(inputs.dtype)
        noise = keras.random.uniform(
            self.per_example_shape(inputs), dtype=draw_dtype, seed=self.seed_generator
        )
        # P(noise >= rate) = 1 - rate for noise ~ U[0, 1).
        mask = ops.cast(ops.greater_equal(noise, self.rate), draw_dtype)
        if self.scale_by_keep:
            mask = mask / keep
        return inputs * ops.cast(mask, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "scale_by_keep": self.scale_by_keep})
        return config


StochasticDepth = DropPath


@keras.saving.register_keras_serializable(package="keras_resnets")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` whose draws are per replica.

    Exactly Keras's layer (same arguments, config keys, seeds and draws on
    one device: `y = b · x / (1 - rate)`, `b ~ Bernoulli(1 - rate)`, in
    training, the identity at inference), except that under a
    `tf.distribute` strategy of more than one replica each replica draws
    its own mask: its seed generator is made a `ReplicaSeedGenerator` in
    place (`keras_resnets.layers.seeds.per_replica`; Keras creates it in
    `__init__` and locks the layer's state there, so it cannot be swapped
    for a new one). The models use it wherever they use dropout; saved
    models are unchanged (`.keras` files address layers by class name, and
    this one is `Dropout` too) and files saved with Keras's load as before.

    Args:
        rate: float in `[0, 1]`, fraction of the input units to drop.
        noise_shape: 1D integer tuple or `None`, shape of the binary mask
            (as in `keras.layers.Dropout`).
        seed: int or `None`, seed of the layer's seed generator.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of any rank.
        training: bool, whether to drop units (training mode).

    Example:

    >>> x = keras.ops.ones((2, 4))
    >>> layer = Dropout(0.5, seed=1)
    >>> y = layer(x, training=True)  # each unit 0 or 2
    >>> bool(keras.ops.all(layer(x) == x))
    True
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        generator = getattr(self, "seed_generator", None)  # made when rate > 0
        if generator is not None:
            per_replica(generator)
