"""PyramidNet (Han, Kim, Kim 2017), optionally with ShakeDrop (Yamada et al. 2018)."""

import keras
from keras import ops

from keras_resnets.layers._utils import channel_axis
from keras_resnets.layers._utils import check_rate
from keras_resnets.layers._utils import pad_channels
from keras_resnets.layers._utils import strided_output_shape
from keras_resnets.layers.block import ResidualBlockBase
from keras_resnets.layers.shake import ShakeDrop
from keras_resnets.models import base
from keras_resnets._registry import register_model
from keras_resnets.errors import UserValueError


@keras.saving.register_keras_serializable(package="keras_resnets")
class PyramidBlock(ResidualBlockBase):
    """PyramidNet residual unit with a zero-padded identity shortcut.

    Paper: Han, Kim, Kim, "Deep Pyramidal Residual Networks", CVPR 2017,
    https://arxiv.org/abs/1610.02915 (Fig. 6(d) block, Fig. 5 shortcut).

    `y = F(x) + pad(pool(x))`. Basic `F`: BN-conv3x3-BN-ReLU-conv3x3-BN;
    bottleneck `F`: BN-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1(4·filters)-BN
    (no ReLU after the last BN). The shortcut is parameter-free: 2x2 average
    pooling with stride 2 when downsampling, then zero channels appended up
    to the branch width. With `shakedrop_p` the branch is scaled by
    `ShakeDrop(p)` (`(b + α − bα)·F(x)` in training, `p·F(x)` at inference);
    otherwise `drop_path_rate` applies stochastic depth to it.

    Args:
        filters: int, inner width; the output has `filters` (basic) or
            `4 * filters` (bottleneck) channels.
        strides: int, 1 or 2 (on the 3x3 conv).
        bottleneck: bool. Defaults to False.
        shakedrop_p: float in [0, 1] or None, ShakeDrop keep probability.
        drop_path_rate: float in [0, 1), stochastic depth (without ShakeDrop).
        **kwargs: `seed` and the conv/BN settings, see `ResidualBlockBase`.

    Call arguments:
        inputs: 4D tensor.
        training: bool.

    Example:
    >>> x = keras.ops.ones((2, 8, 8, 16))
    >>> PyramidBlock(21, 2, shakedrop_p=0.5)(x).shape
    (2, 4, 4, 21)
    """

    def __init__(
        self,
        filters,
        strides=1,
        *,
        bottleneck=False,
        shakedrop_p=None,
        **kwargs,
    ):
        super().__init__(filters, strides, **kwargs)
        self.bottleneck = bool(bottleneck)
        if shakedrop_p is not None:
            shakedrop_p = check_rate("shakedrop_p", shakedrop_p, allow_one=True)
        self.shakedrop_p = shakedrop_p

    @property
    def output_filters(self):
        return self.filters * (4 if self.bottleneck else 1)

    def build(self, input_shape):
        in_channels = input_shape[channel_axis(self.data_format)]
        if in_channels > self.output_filters:
            raise UserValueError(
                "A PyramidNet block can only widen its input (zero-padded "
                f"shortcut): got {in_channels} input channels for "
                f"{self.output_filters} output channels."
            )
        if self.bottleneck:
            convs = [(1, self.filters, 1), (3, self.filters, 1), (1, self.output_filters, 1)]
            stride_index = 1
        else:
            convs, stride_index = [(3, self.filters, 1), (3, self.filters, 1)], 0
        self.bn_in = self.batch_norm("bn1", input_shape)
        self.pads, self.convs, self.bns = [], [], []
        for i, pad, conv, _, shape in self.conv_stack(
            input_shape, convs, stride_index=stride_index
        ):
            self.pads.append(pad)
            self.convs.append(conv)
            self.bns.append(self.batch_norm(f"bn{i + 2}", shape))
        self.shakedrop = None
        self.drop_path = None
        if self.shakedrop_p is not None:
            self.shakedrop = ShakeDrop(
                self.shakedrop_p, seed=self.seed, dtype=self.dtype_policy, name="shakedrop"
            )
        else:
            self.drop_path = self.make_drop_path()
        self.pool = None
        if self.strides > 1:
            self.pool = keras.layers.AveragePooling2D(
                2, strides=2, padding="same", data_format=self.data_format,
                dtype=self.dtype_policy, name="shortcut_pool",
            )
        self.extra_channels = self.output_filters - in_channels

    def call(self, inputs, training=None):
        x = self.bn_in(inputs, training=training)
        last = len(self.convs) - 1
        for i, (pad, conv, bn) in enumerate(zip(self.pads, self.convs, self.bns)):
            if pad is not None:
                x = pad(x)
            x = bn(conv(x), training=training)
            if i < last:
                x = ops.relu(x)
        if self.shakedrop is not None:
            x = self.shakedrop(x, training=training)
        elif self.drop_path is not None:
            x = self.drop_path(x, training=training)
        shortcut = inputs if self.pool is None else self.pool(inputs)
        shortcut = pad_channels(shortcut, self.extra_channels, self.data_format)
        return x + shortcut

    def compute_output_shape(self, input_shape):
        return strided_output_shape(
            input_shape, self.strides, self.data_format, self.output_filters
        )

    def get_config(self):
        config = super().get_config()
        config.update({"bottleneck": self.bottleneck, "shakedrop_p": self.shakedrop_p})
        return config


def pyramid_widths(num_blocks, alpha, start=16):
    """Inner widths of the `num_blocks` blocks: the width grows by
    `alpha / num_blocks` per block and is rounded with Python's `round`, as
    in the authors' reference code (`planes = int(round(featuremap_dim))`)."""
    widths, dim = [], float(start)
    for _ in range(num_blocks):
        dim += alpha / num_blocks
        widths.append(int(round(dim)))
    return widths


@keras.saving.register_keras_serializable(package="keras_resnets")
class PyramidNet(base.FamilyModel):
    """PyramidNet for CIFAR (Han, Kim, Kim 2017), optionally with ShakeDrop.

    Paper: "Deep Pyramidal Residual Networks", CVPR 2017,
    https://arxiv.org/abs/1610.02915; ShakeDrop: Yamada et al., "ShakeDrop
    Regularization for Deep Residual Learning", https://arxiv.org/abs/1802.02375.
    conv3x3(16)-BN, then `N` = 3n `PyramidBlock`s whose inner width grows
    additively, `16 + k·alpha/N` for block `k` (rounded), with strides
    1/2/2 at the three stage starts, then BN-ReLU, global average pooling,
    classifier. Depth `6n + 2` (basic) or `9n + 2` (bottleneck). Table 4:
    PyramidNet-110 alpha 48 has 1.7M parameters and 4.58% CIFAR-10 error,
    alpha 270 28.3M and 3.73%; PyramidNet-272 alpha 200 (bottleneck) 26.0M
    and 3.31%. With `shakedrop=True` block `l` of `L` gets ShakeDrop with
    `p_l = 1 − l/L·(1 − p_L)`, `p_L = shakedrop_p_last` (0.5).

    Args:
        depth: int, `6n + 2` (basic) or `9n + 2` (bottleneck). Defaults to 110.
        alpha: number > 0, total widening. Defaults to 48.
        bottleneck: bool. Defaults to False.
        shakedrop: bool, ShakeDrop on every branch. Defaults to False.
        shakedrop_p_last: float in [0, 1], `p_L`. Defaults to 0.5.
        seed: int or None, seed of the random layers.
        **kwargs: the shared options and the block option `drop_path_rate`
            (stochastic depth of the last block, linear decay; only without
            ShakeDrop), see `keras_resnets.models.base.ModelOptions`.

    Example:
    >>> model = PyramidNet(8, 12, shakedrop=True)
    >>> model.output_shape
    (None, 10)
    """

    post_activation = ("bn", "relu")
    block_options = ("drop_path_rate",)

    def __init__(
        self,
        depth=110,
        alpha=48,
        *,
        bottleneck=False,
        shakedrop=False,
        shakedrop_p_last=0.5,
        seed=None,
        **kwargs,
    ):
        # === Validation ===
        options = self.take_options(kwargs)
        bottleneck, shakedrop = bool(bottleneck), bool(shakedrop)
        n = base.blocks_per_stage(
            depth, family="PyramidNet", layers_per_block=3 if bottleneck else 2,
            rule=f" with bottleneck={bottleneck}", examples="272" if bottleneck else "110",
        )
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise UserValueError(
                f"PyramidNet `alpha` must be a positive number. Received: alpha={alpha!r}"
            )
        check_rate("shakedrop_p_last", shakedrop_p_last, allow_one=True)
        drop_path_rate = options.drop_path_rate
        check_rate("drop_path_rate", drop_path_rate)
        if shakedrop and drop_path_rate > 0:
            raise UserValueError(
                "Use either `shakedrop=True` or `drop_path_rate`, not both. "
                f"Received: shakedrop=True, drop_path_rate={drop_path_rate}"
            )
        options = options.resolve(10)
        schedule = base.block_schedule(
            [n, n, n],
            [1, 2, 2],
            block_filters=pyramid_widths(3 * n, alpha),
            drop_path_rate=drop_path_rate,
            shakedrop_p_last=shakedrop_p_last if shakedrop else None,
        )

        # === Functional Model ===
        inputs = options.make_inputs(32, 4, "PyramidNet")
        x = base.apply_cifar_stem(inputs, 16, bn=False, options=options)
        x = options.batch_norm("stem_bn")(x)
        x = base.apply_stages(
            x,
            lambda spec: PyramidBlock(
                spec.filters,
                spec.strides,
                bottleneck=bottleneck,
                shakedrop_p=spec.shakedrop_p,
                **options.block_kwargs(spec, seed),
            ),
            schedule,
        )
        super().__init__(inputs, x, options, default_name=f"pyramidnet_{depth}", **kwargs)

        # === Config ===
        self.depth, self.alpha, self.bottleneck = depth, alpha, bottleneck
        self.shakedrop, self.shakedrop_p_last, self.seed = shakedrop, shakedrop_p_last, seed

    def get_config(self):
        return self.config_with(
            depth=self.depth, alpha=self.alpha, bottleneck=self.bottleneck,
            shakedrop=self.shakedrop, shakedrop_p_last=self.shakedrop_p_last, seed=self.seed,
        )


# === Registry: PyramidNet Table 4 (CIFAR-10); ShakeDrop Table 7 ===
# `params` are the exact counts of the reference code's widths (BN included).
# The paper rounds them to 1.7M, 3.8M, 28.3M and 26.0M; without the BN
# parameters PyramidNet-272 has 25,999,978 (26.0M), the basic-block
# networks 1,759,538 / 3,885,338 / 28,435,679 (see tests/models/test_pyramidnet.py).
def _register(depth, alpha, bottleneck, shakedrop, params, error):
    suffix = "-shakedrop" if shakedrop else ""

    @register_model(
        f"pyramidnet-{depth}-a{alpha}{suffix}",
        params=params,
        paper="arXiv:1802.02375" if shakedrop else "arXiv:1610.02915",
        dataset="cifar10",
        error=error,
    )
    @base.builds(PyramidNet)
    def entry(**kwargs):
        arch = {"depth": depth, "alpha": alpha, "bottleneck": bottleneck, "shakedrop": shakedrop}
        return PyramidNet(**{**arch, **kwargs})

    entry.__name__ = f"pyramidnet{depth}_a{alpha}{suffix.replace('-', '_')}"
    return entry


for _args in (
    (110, 48, False, False, 1_772_706, 4.58),
    (110, 84, False, False, 3_904_446, 4.26),
    (110, 270, False, False, 28_485_477, 3.73),
    (272, 200, True, False, 26_210_842, 3.31),
    (272, 200, True, True, 26_210_842, 3.08),
):
    _register(*_args)


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
SEARCH_SPACE = {
    "family": "pyramidnet",
    "prefixes": ("pyramidnet-",),
    "hyperparameters": {
        "depth": {"default": 110, "values": (20, 32, 56, 110), "depth": (6, 2)},
        "alpha": {"default": 48, "min": 12, "max": 300, "step": 12, "valid": "1..300"},
        "shakedrop": {"default": False},
    },
    "paper_names": {
        "pyramidnet-110-a48": {"depth": 110, "alpha": 48, "shakedrop": False},
        "pyramidnet-110-a84": {"depth": 110, "alpha": 84, "shakedrop": False},
        "pyramidnet-110-a270": {"depth": 110, "alpha": 270, "shakedrop": False},
        "pyramidnet-272-a200": {"depth": 272, "alpha": 200, "bottleneck": True, "shakedrop": False},
        "pyramidnet-272-a200-shakedrop": {
            "depth": 272, "alpha": 200, "bottleneck": True, "shakedrop": True,
        },
    },
}


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("pyramidnet", paper="arXiv:1610.02915", dataset="cifar10", family=True)
@base.builds(PyramidNet, search_space=SEARCH_SPACE)
def pyramidnet(*, depth, alpha, **kwargs):
    """PyramidNet of depth 6n+2 and widening step `alpha` (`shakedrop=True`:
    with ShakeDrop)."""
    return PyramidNet(depth, alpha, **kwargs)
