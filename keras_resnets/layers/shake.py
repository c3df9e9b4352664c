"""Shake regularizers of residual branches: ShakeDrop and ShakeShake.

Both are random only in training and return the expectation of their
training-time transform at inference; their gradient differs from their
forward value (`stop_gradient` trick), so they run unchanged on every
backend and inside compiled train steps. Randomness comes from the
`SeedGenerator` of `SeededLayer`. `shakedrop_probabilities` is ShakeDrop's
per-block schedule.
"""

import keras
from keras import ops

from keras_resnets.layers._utils import SeededLayer
from keras_resnets.layers._utils import check_num_blocks
from keras_resnets.layers._utils import is_real
from keras_resnets.errors import UserValueError

__all__ = ["ShakeDrop", "ShakeShake", "check_shake_modes", "shakedrop_probabilities"]


def _describe(value):
    """Short description of a call argument for error messages."""
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, type(None))) for v in value):
            return repr(value)  # A shape.
        return f"{type(value).__name__} of length {len(value)}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"tensor of shape {tuple(shape)}"
    return repr(value)


def shakedrop_probabilities(num_blocks, p_last=0.5):
    """ShakeDrop keep probabilities with the linear decay rule.

    Reference: [Yamada et al., "ShakeDrop Regularization for Deep Residual
    Learning", IEEE Access 2019](https://arxiv.org/abs/1802.02375), which
    reuses the stochastic-depth rule of Huang et al. 2016.

    Block `l` (1-based) of `L` gets `p_l = 1 - l/L * (1 - p_L)`: from nearly
    1 at the input down to `p_L` (0.5 in the paper) at the last block.

    Args:
        num_blocks: int, number of residual blocks `L` in the whole network.
        p_last: float in `[0, 1]`, `p_L`, the keep probability of the last
            block. Defaults to `0.5`.

    Returns:
        A list of `num_blocks` python floats.

    Example:

    >>> shakedrop_probabilities(4)
    [0.875, 0.75, 0.625, 0.5]
    """
    check_num_blocks(num_blocks)
    if not is_real(p_last) or not 0 <= p_last <= 1:
        raise UserValueError(
            "Invalid value received for argument `p_last`. Expected a float "
            f"value between 0 and 1. Received: p_last={p_last}"
        )
    return [
        1.0 - block / num_blocks * (1.0 - float(p_last))
        for block in range(1, num_blocks + 1)
    ]


def _check_range(name, value):
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(is_real(v) for v in value)
        or value[0] > value[1]
    ):
        raise UserValueError(
            f"Argument `{name}` must be a pair of floats (low, high) with "
            f"low <= high. Received: {name}={value!r}"
        )
    return (float(value[0]), float(value[1]))


@keras.saving.register_keras_serializable(package="keras_resnets")
class ShakeDrop(SeededLayer):
    """ShakeDrop: random scaling of a residual branch, forward and backward.

    Reference: [Yamada et al., "ShakeDrop Regularization for Deep Residual
    Learning", IEEE Access 2019](https://arxiv.org/abs/1802.02375).

    Apply it to the residual branch `F(x)` before the addition. Per example
    it draws `b ~ Bernoulli(p)`, `α ~ U(alpha_range)`, `β ~ U(beta_range)`:

    - training forward: `(b + α − bα) · F(x)`;
    - training backward: the gradient reaching `F(x)` is `(b + β − bβ) · g`;
    - inference: `E[b + α − bα] · F(x) = (p + (1 − p) · E[α]) · F(x)`,
      which is `p · F(x)` for the paper's `alpha_range=(-1, 1)`.

    Use `shakedrop_probabilities` for the paper's linear decay of `p` over
    blocks (`p_L = 0.5`).

    Args:
        p: float in `[0, 1]`, probability that `b = 1` (branch kept as is).
        alpha_range: `(low, high)` of the forward coefficient `α`.
            Defaults to `(-1, 1)`.
        beta_range: `(low, high)` of the backward coefficient `β`.
            Defaults to `(0, 1)`.
        seed: int or `None`, seed of the layer's `SeedGenerator`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the residual branch output `F(x)`, any rank, batch first.
        training: bool, whether to apply the random perturbation.

    Example:

    >>> f = keras.ops.ones((4, 8, 8, 16))
    >>> layer = ShakeDrop(0.5, seed=1)
    >>> y = layer(f, training=True)  # per example: 1 or alpha in (-1, 1)
    >>> float(layer(f)[0, 0, 0, 0])  # inference: p * F(x)
    0.5
    """

    def __init__(
        self,
        p,
        alpha_range=(-1.0, 1.0),
        *,
        beta_range=(0.0, 1.0),
        seed=None,
        **kwargs,
    ):
        super().__init__(seed, **kwargs)
        if not is_real(p) or not 0 <= p <= 1:
            raise UserValueError(
                "Invalid value received for argument `p`. Expected a float "
                f"value between 0 and 1. Received: p={p}"
            )
        self.p = float(p)
        self.alpha_range = _check_range("alpha_range", alpha_range)
        self.beta_range = _check_range("beta_range", beta_range)
        self.supports_masking = True

    @property
    def expected_scale(self):
        """`E[b + α − bα] = p + (1 − p) · E[α]`, the inference multiplier."""
        mean_alpha = 0.5 * (self.alpha_range[0] + self.alpha_range[1])
        return self.p + (1.0 - self.p) * mean_alpha

    def call(self, inputs, training=None):
        if not training:
            scale = self.expected_scale
            if scale == 1.0:
                return inputs
            return inputs * ops.cast(scale, inputs.dtype)
        if self.p == 1.0:
            return inputs  # b = 1 always: forward and backward are identity.
        draw_dtype = self.draw_dtype(inputs.dtype)
        shape = self.per_example_shape(inputs)
        gate = keras.random.uniform(shape, dtype=draw_dtype, seed=self.seed_generator)
        b = ops.cast(ops.less(gate, self.p), draw_dtype)
        alpha = keras.random.uniform(
            shape, *self.alpha_range, dtype=draw_dtype, seed=self.seed_generator
        )
        beta = keras.random.uniform(
            shape, *self.beta_range, dtype=draw_dtype, seed=self.seed_generator
        )
        # b + a - b*a == b + (1 - b) * a.
        not_b = 1.0 - b
        forward = ops.cast(b + not_b * alpha, inputs.dtype)
        backward = ops.cast(b + not_b * beta, inputs.dtype)
        # Value: forward * F; gradient w.r.t. F: backward * g.
        return backward * inputs + ops.stop_gradient((forward - backward) * inputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "p": self.p,
                "alpha_range": list(self.alpha_range),
                "beta_range": list(self.beta_range),
            }
        )
        return config


SHAKE_MODES = {
    "forward": ("shake", "even"),
    "backward": ("shake", "even", "keep"),
    "level": ("image", "batch"),
}


def check_shake_modes(forward, backward, level):
    """Checks the Shake-Shake modes `ShakeShake` (and the blocks and models
    that pass them on) accept, with keras' error wording."""
    for arg, value in (("forward", forward), ("backward", backward), ("level", level)):
        valid = SHAKE_MODES[arg]
        if value not in valid:
            raise UserValueError(
                f"Invalid value received for argument `{arg}`. Expected one of "
                f"{', '.join(repr(v) for v in valid)}. Received: {arg}={value!r}"
            )


@keras.saving.register_keras_serializable(package="keras_resnets")
class ShakeShake(SeededLayer):
    """Shake-Shake: random convex mix of two residual branches.

    Reference: [Gastaldi, "Shake-Shake regularization", 2017](
    https://arxiv.org/abs/1705.07485).

    Called on `[x1, x2]`, the outputs of the two branches of a block:

    - training forward: `α · x1 + (1 − α) · x2`, `α ~ U(0, 1)` ("shake") or
      `α = 0.5` ("even");
    - training backward: `x1` receives `β · g` and `x2` receives
      `(1 − β) · g`, with a fresh `β ~ U(0, 1)` ("shake"), `β = α` ("keep")
      or `β = 0.5` ("even");
    - inference: `0.5 · x1 + 0.5 · x2`.

    `level="image"` draws one coefficient per example, `level="batch"` one
    per (per-replica) batch. It is implemented as
    `x2 + β·(x1 − x2) + stop_gradient((α − β)·(x1 − x2))`, so it runs
    unchanged on every backend and inside compiled train steps.

    Args:
        forward: `"shake"` or `"even"`, the forward coefficient `α`.
            Defaults to `"shake"`.
        backward: `"shake"`, `"even"` or `"keep"`, the backward coefficient
            `β`. Defaults to `"shake"`.
        level: `"image"` or `"batch"`, granularity of the coefficients.
            Defaults to `"image"`.
        seed: int or `None`, seed of the layer's `SeedGenerator`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list of two tensors of the same shape, batch first.
        training: bool, whether to draw random coefficients.

    Example:

    >>> x1, x2 = keras.ops.ones((4, 8, 8, 16)), keras.ops.zeros((4, 8, 8, 16))
    >>> layer = ShakeShake(seed=1)
    >>> y = layer([x1, x2], training=True)  # per example: alpha in [0, 1)
    >>> float(layer([x1, x2])[0, 0, 0, 0])  # inference: 0.5
    0.5
    """

    def __init__(
        self, forward="shake", backward="shake", level="image", seed=None, **kwargs
    ):
        super().__init__(seed, **kwargs)
        check_shake_modes(forward, backward, level)
        # Not `self.forward`: that is the torch.nn.Module call method on the
        # torch backend.
        self.forward_mode = forward
        self.backward_mode = backward
        self.level = level

    @staticmethod
    def _check_pair(inputs, what):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise UserValueError(
                "A `ShakeShake` layer must be called on a list of two tensors "
                "(the two branch outputs). "
                f"Received: {what}={_describe(inputs)}"
            )

    def _check_shapes(self, input_shape):
        self._check_pair(input_shape, "input_shape")
        if not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise UserValueError(
                "A `ShakeShake` layer must be called on a list of two tensors "
                "(the two branch outputs). "
                f"Received: input_shape={_describe(input_shape)}"
            )
        shape1, shape2 = (tuple(s) for s in input_shape)
        if len(shape1) != len(shape2) or any(
            a is not None and b is not None and a != b for a, b in zip(shape1, shape2)
        ):
            raise UserValueError(
                "The two inputs of a `ShakeShake` layer must have the same "
                f"shape. Received: input_shape={[shape1, shape2]}"
            )
        return tuple(a if a is not None else b for a, b in zip(shape1, shape2))

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def call(self, inputs, training=None):
        self._check_pair(inputs, "inputs")
        x1, x2 = inputs
        dtype = x1.dtype
        even = self.forward_mode == "even" and self.backward_mode != "shake"
        if not training or even:
            # Even-Even (and Even-Keep) is exactly the inference average.
            return (x1 + x2) * ops.cast(0.5, dtype)
        draw_dtype = self.draw_dtype(dtype)
        if self.level == "image":
            shape = self.per_example_shape(x1)
        else:
            shape = (1,) * len(x1.shape)
        diff = x1 - x2
        if self.forward_mode == "shake":
            alpha = keras.random.uniform(
                shape, dtype=draw_dtype, seed=self.seed_generator
            )
        else:
            alpha = 0.5
        if self.backward_mode == "keep":
            # beta = alpha: a plain random convex mix, no gradient trick.
            return x2 + ops.cast(alpha, dtype) * diff
        if self.backward_mode == "shake":
            beta = keras.random.uniform(
                shape, dtype=draw_dtype, seed=self.seed_generator
            )
        else:
            beta = 0.5
        # Value: x2 + alpha*(x1 - x2); gradients: beta*g to x1, (1-beta)*g to x2.
        return (
            x2
            + ops.cast(beta, dtype) * diff
            + ops.stop_gradient(ops.cast(alpha - beta, dtype) * diff)
        )

    def compute_output_shape(self, input_shape):
        return self._check_shapes(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "forward": self.forward_mode,
                "backward": self.backward_mode,
                "level": self.level,
            }
        )
        return config
