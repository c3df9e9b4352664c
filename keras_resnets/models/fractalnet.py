"""FractalNet: ultra-deep networks without residuals (Larsson et al. 2016)."""

import keras
from keras import ops

from keras_resnets.layers._utils import SeededLayer
from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers._utils import check_rate
from keras_resnets.layers.conv import make_conv
from keras_resnets.layers.regularization import Dropout
from keras_resnets.models import base
from keras_resnets._registry import register_model
from keras_resnets.errors import UserValueError


@keras.saving.register_keras_serializable(package="keras_resnets")
class FractalPathSampler(SeededLayer):
    """Draws, per example, the global drop-path column of a FractalNet.

    Paper: Larsson, Maire, Shakhnarovich, "FractalNet: Ultra-Deep Neural
    Networks without Residuals", ICLR 2017, https://arxiv.org/abs/1605.07648
    (sec. 3.1, drop-path).

    In training each example uses global drop-path with probability
    `global_ratio` (0.5: half-and-half) and then keeps one column
    `c ~ U{0, ..., num_columns − 1}` through the whole network; the output
    is `c` for those examples and `−1` for local drop-path ones. At
    inference every example gets `−1`. The output feeds every
    `FractalJoin` of the network, so all joins agree on the column.

    Args:
        num_columns: int, number of columns `C`.
        global_ratio: float in [0, 1], probability of global drop-path.
            Defaults to 0.5.
        seed: int or None, seed of the layer's `SeedGenerator`.

    Call arguments:
        inputs: any tensor with the batch first (only its batch size is used).
        training: bool.

    Example:
    >>> x = keras.ops.ones((4, 8, 8, 3))
    >>> FractalPathSampler(4, seed=1)(x, training=True).shape
    (4, 1)
    """

    def __init__(self, num_columns, global_ratio=0.5, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.num_columns = check_positive_int("num_columns", num_columns)
        self.global_ratio = check_rate("global_ratio", global_ratio, allow_one=True)

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        local = -ops.ones((batch, 1), dtype=self.compute_dtype)
        if not training or self.global_ratio == 0:
            return local
        u = keras.random.uniform((batch, 1), seed=self.seed_generator)
        column = keras.random.randint(
            (batch, 1), 0, self.num_columns, seed=self.seed_generator
        )
        column = ops.cast(column, self.compute_dtype)
        return ops.where(u < self.global_ratio, column, local)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"num_columns": self.num_columns, "global_ratio": self.global_ratio})
        return config


@keras.saving.register_keras_serializable(package="keras_resnets")
class FractalJoin(SeededLayer):
    """Element-wise mean join of FractalNet columns, with drop-path.

    Paper: Larsson, Maire, Shakhnarovich, "FractalNet: Ultra-Deep Neural
    Networks without Residuals", ICLR 2017, https://arxiv.org/abs/1605.07648.

    Joins `k` inputs `x_j` coming from the columns `columns[j]`:
    `y = Σ_j m_j·x_j / Σ_j m_j`, with one mask `m_j ∈ {0, 1}` per example.

    - inference: `m_j = 1`, the plain mean;
    - local drop-path (training, sampler code `−1`): `m_j ~ Bernoulli(1 − drop_rate)`
      independently, and if every input is dropped one of them, chosen
      uniformly, is kept;
    - global drop-path (training, sampler code `c ≥ 0`): `m_j = [columns[j] == c]`,
      one column for the whole network; a join that does not see column `c`
      (its output only feeds dropped columns) returns the plain mean.

    Args:
        columns: list of int, the column index of each input (0 = shallowest).
        drop_rate: float in [0, 1), local drop probability. Defaults to 0.15.
        seed: int or None, seed of the layer's `SeedGenerator`.

    Call arguments:
        inputs: list of `k` tensors of the same shape, optionally followed by
            the `(batch, 1)` column code of a `FractalPathSampler` (without
            it, every example uses local drop-path).
        training: bool.

    Example:
    >>> x1, x2 = keras.ops.zeros((2, 4, 4, 8)), keras.ops.ones((2, 4, 4, 8))
    >>> float(FractalJoin([0, 1])([x1, x2])[0, 0, 0, 0])
    0.5
    """

    def __init__(self, columns, drop_rate=0.15, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        columns = [int(c) for c in columns]
        if len(columns) < 2 or len(set(columns)) != len(columns):
            raise UserValueError(
                "`columns` must list at least two distinct column indices, one "
                f"per joined input. Received: columns={columns!r}"
            )
        self.columns = columns
        self.drop_rate = check_rate("drop_rate", drop_rate)

    def _split(self, inputs):
        inputs = list(inputs)
        k = len(self.columns)
        if len(inputs) not in (k, k + 1):
            raise UserValueError(
                f"`FractalJoin` with columns={self.columns} expects {k} inputs "
                f"(plus an optional column code). Received: {len(inputs)} inputs"
            )
        return inputs[:k], (inputs[k] if len(inputs) == k + 1 else None)

    def call(self, inputs, training=None):
        branches, code = self._split(inputs)
        k = len(branches)
        if not training:
            return ops.mean(ops.stack(branches, axis=0), axis=0)
        dtype = branches[0].dtype
        batch = ops.shape(branches[0])[0]
        u = keras.random.uniform((batch, k), seed=self.seed_generator)
        keep = ops.cast(u >= self.drop_rate, "float32")
        pick = keras.random.randint((batch,), 0, k, seed=self.seed_generator)
        none_kept = ops.sum(keep, axis=1, keepdims=True) == 0
        keep = ops.where(none_kept, ops.one_hot(pick, k, dtype="float32"), keep)
        if code is not None:
            code = ops.cast(code, "float32")  # (batch, 1)
            columns = ops.convert_to_tensor([self.columns], dtype="float32")  # (1, k)
            selected = ops.cast(code == columns, "float32")
            seen = ops.sum(selected, axis=1, keepdims=True) > 0
            global_mask = ops.where(seen, selected, ops.ones_like(selected))
            keep = ops.where(code >= 0, global_mask, keep)
        weights = keep / ops.sum(keep, axis=1, keepdims=True)
        weights = ops.cast(weights, dtype)
        out = 0
        for j, x in enumerate(branches):
            w = ops.reshape(weights[:, j], (-1,) + (1,) * (len(x.shape) - 1))
            out = out + w * x
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"columns": self.columns, "drop_rate": self.drop_rate})
        return config


@keras.saving.register_keras_serializable(package="keras_resnets")
class FractalNet(base.FamilyModel):
    """FractalNet for CIFAR (Larsson, Maire, Shakhnarovich 2016).

    Paper: "FractalNet: Ultra-Deep Neural Networks without Residuals",
    ICLR 2017, https://arxiv.org/abs/1605.07648. `B` fractal blocks, each
    the expansion `f_1(z) = conv(z)`, `f_{C+1}(z) = join((f_C ∘ f_C)(z), conv(z))`
    with `C` columns (the deepest has `2^(C−1)` layers, so depth is
    `B·2^(C−1)`), each conv a conv3x3-[dropout]-BN-ReLU unit, joins the
    element-wise mean (`FractalJoin`), and 2x2 max-pooling after every
    block; global average pooling and the classifier close the network.
    Drop-path: local (each join input dropped with `local_drop_rate`,
    keeping at least one) or global (one column for the whole network),
    chosen per example with probability `global_ratio` (half-and-half).
    Table 1: the 20-layer network (`C = 3`, widths 64/128/256/512/512) has
    10.18% CIFAR-10 error, 7.33% with drop-path and dropout
    (0, .1, .2, .3, .4), 4.60% with augmentation.

    Args:
        num_columns: int, `C`. Defaults to 4 (40 layers with 5 blocks).
        stackwise_num_filters: list of int, channels of each block. Defaults
            to (64, 128, 256, 512, 512).
        stackwise_dropout_rates: list of float, dropout of each block;
            default (0, 0.1, 0.2, 0.3, 0.4); None or zeros disables it.
        local_drop_rate: float in [0, 1), local drop-path rate. Defaults to 0.15.
        global_ratio: float in [0, 1], share of examples with global
            drop-path. Defaults to 0.5.
        drop_path: bool, whether to use drop-path at all. Defaults to True.
        seed: int or None, seed of the random layers.
        **kwargs: the shared options, see
            `keras_resnets.models.base.ModelOptions`.

    Example:
    >>> model = FractalNet(2, stackwise_num_filters=[8, 16],
    ...                    stackwise_dropout_rates=[0.0, 0.1], input_shape=(8, 8, 3))
    >>> model.output_shape
    (None, 10)
    """

    def __init__(
        self,
        num_columns=4,
        stackwise_num_filters=(64, 128, 256, 512, 512),
        *,
        stackwise_dropout_rates=(0.0, 0.1, 0.2, 0.3, 0.4),
        local_drop_rate=0.15,
        global_ratio=0.5,
        drop_path=True,
        seed=None,
        **kwargs,
    ):
        # === Validation ===
        options = self.take_options(kwargs)
        check_positive_int("num_columns", num_columns)
        stackwise_num_filters = [
            check_positive_int("stackwise_num_filters", f) for f in stackwise_num_filters
        ]
        num_blocks = len(stackwise_num_filters)
        if num_blocks < 1:
            raise UserValueError(
                "`stackwise_num_filters` must list at least one block. "
                f"Received: stackwise_num_filters={stackwise_num_filters}"
            )
        if stackwise_dropout_rates is None:
            stackwise_dropout_rates = [0.0] * num_blocks
        stackwise_dropout_rates = [
            check_rate("stackwise_dropout_rates", r) for r in stackwise_dropout_rates
        ]
        if len(stackwise_dropout_rates) != num_blocks:
            raise UserValueError(
                "`stackwise_dropout_rates` needs one rate per block. Received: "
                f"stackwise_num_filters={stackwise_num_filters}, "
                f"stackwise_dropout_rates={stackwise_dropout_rates}"
            )
        check_rate("local_drop_rate", local_drop_rate)
        check_rate("global_ratio", global_ratio, allow_one=True)
        options = options.resolve(10)
        df, dt = options.data_format, options.dtype

        # === Functional Model ===
        inputs = options.make_inputs(32, 2**num_blocks, "FractalNet")
        code = None
        if drop_path and num_columns > 1:
            code = FractalPathSampler(
                num_columns, global_ratio, seed=seed, dtype=dt, name="path_sampler"
            )(inputs)
        x = inputs
        join_seed = dropout_seed = 0
        depth = 2 ** (num_columns - 1)
        for b, (filters, rate) in enumerate(zip(stackwise_num_filters, stackwise_dropout_rates)):
            prefix = f"block{b + 1}"
            # Column c (0 = shallowest) has 2^c layers, each spanning
            # 2^(C-1-c) positions of the deepest column.
            current = [x] * num_columns
            counts = [0] * num_columns
            for position in range(1, depth + 1):
                ending = [
                    c for c in range(num_columns) if position % 2 ** (num_columns - 1 - c) == 0
                ]
                for c in ending:
                    counts[c] += 1
                    name = f"{prefix}_column{c + 1}_layer{counts[c]}"
                    y = make_conv(filters, 3, name=f"{name}_conv", **options.conv_kwargs())(
                        current[c]
                    )
                    if rate > 0:
                        dropout_seed += 1
                        y = Dropout(
                            rate,
                            seed=None if seed is None else seed + 1000 + dropout_seed,
                            dtype=dt,
                            name=f"{name}_dropout",
                        )(y)
                    y = options.batch_norm(f"{name}_bn")(y)
                    current[c] = options.relu(f"{name}_relu")(y)
                if len(ending) > 1:
                    branches = [current[c] for c in ending]
                    if code is not None:
                        join_seed += 1
                        joined = FractalJoin(
                            ending,
                            local_drop_rate,
                            seed=None if seed is None else seed + join_seed,
                            dtype=dt,
                            name=f"{prefix}_join{position}",
                        )(branches + [code])
                    else:
                        joined = FractalJoin(
                            ending, 0.0, dtype=dt, name=f"{prefix}_join{position}"
                        )(branches)
                    for c in ending:
                        current[c] = joined
            x = current[-1]
            x = keras.layers.MaxPooling2D(2, data_format=df, dtype=dt, name=f"{prefix}_pool")(x)
        super().__init__(
            inputs, x, options, default_name=f"fractalnet_{num_blocks * depth}", **kwargs
        )

        # === Config ===
        self.num_columns = num_columns
        self.stackwise_num_filters = stackwise_num_filters
        self.stackwise_dropout_rates = stackwise_dropout_rates
        self.local_drop_rate, self.global_ratio = local_drop_rate, global_ratio
        self.drop_path, self.seed = drop_path, seed

    def get_config(self):
        return self.config_with(
            num_columns=self.num_columns, stackwise_num_filters=self.stackwise_num_filters,
            stackwise_dropout_rates=self.stackwise_dropout_rates,
            local_drop_rate=self.local_drop_rate, global_ratio=self.global_ratio,
            drop_path=self.drop_path, seed=self.seed,
        )


# === Registry ===
# The paper quotes 38.6M parameters for its 20-layer CIFAR network and 22.9M
# for the 40-layer one; the architecture as described (widths 64, 128, 256,
# 512, 512, conv3x3-BN-ReLU units) gives the exact counts below instead, see
# the module tests.
@register_model("fractalnet-20", params=33_724_618, paper="arXiv:1605.07648", dataset="cifar10", error=4.60)
@base.builds(FractalNet)
def fractalnet20(**kwargs):
    return FractalNet(**{"num_columns": 3, **kwargs})


@register_model("fractalnet-40", params=76_106_634, paper="arXiv:1605.07648", dataset="cifar10")
@base.builds(FractalNet)
def fractalnet40(**kwargs):
    return FractalNet(**{"num_columns": 4, **kwargs})


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
def _search_kwargs(values):
    """`width` (the first block's channels) -> the paper's doubling widths."""
    w = values["width"]
    return {
        "num_columns": values["num_columns"],
        "stackwise_num_filters": [w, 2 * w, 4 * w, 8 * w, 8 * w],
        "local_drop_rate": values["local_drop_rate"],
    }


SEARCH_SPACE = {
    "family": "fractalnet",
    "prefixes": ("fractalnet-",),
    "hyperparameters": {
        "num_columns": {"default": 3, "min": 1, "max": 4, "valid": "1..5"},
        "width": {"default": 64, "values": (16, 32, 64), "valid": "1.."},
        "local_drop_rate": {"default": 0.15, "min": 0.0, "max": 0.3, "valid": "[0, 1)"},
    },
    "to_kwargs": _search_kwargs,
    "paper_names": {
        f"fractalnet-{depth}": {"num_columns": c, "stackwise_num_filters": [64, 128, 256, 512, 512]}
        for depth, c in ((20, 3), (40, 4))
    },
}


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("fractalnet", paper="arXiv:1605.07648", dataset="cifar10", family=True)
@base.builds(FractalNet, search_space=SEARCH_SPACE)
def fractalnet(*, num_columns, **kwargs):
    """FractalNet with `num_columns` columns (`stackwise_num_filters` sets
    the block widths)."""
    return FractalNet(num_columns, **kwargs)
