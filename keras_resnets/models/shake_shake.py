"""Shake-Shake regularized ResNets (Gastaldi 2017)."""

import keras
from keras import ops

from keras_resnets.layers._utils import channel_axis
from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers._utils import strided_output_shape
from keras_resnets.layers._utils import subsample
from keras_resnets.layers.block import ResidualBlockBase
from keras_resnets.layers.shake import ShakeShake
from keras_resnets.layers.shake import check_shake_modes
from keras_resnets.models import base
from keras_resnets.models.resnet_layout import BLOCK_TYPES
from keras_resnets._registry import register_model
from keras_resnets.errors import UserValueError


@keras.saving.register_keras_serializable(package="keras_resnets")
class ShakeShakeBlock(ResidualBlockBase):
    """Two-branch residual block mixed by `ShakeShake` (Gastaldi 2017).

    Paper: "Shake-Shake regularization", https://arxiv.org/abs/1705.07485.

    `y = shortcut(x) + ShakeShake([F1(x), F2(x)])`: in training
    `α·F1(x) + (1 − α)·F2(x)` forward with `β` in the backward pass, at
    inference `0.5·(F1(x) + F2(x))`. Each branch is
    ReLU-conv3x3-BN-ReLU-conv3x3-BN (`bottleneck_width=None`) or the ResNeXt
    branch ReLU-conv1x1-BN-ReLU-conv3x3(groups)-BN-ReLU-conv1x1-BN with inner
    width `bottleneck_width`. The stride sits on the 3x3 conv. Where the
    shape changes, the shortcut is the paper's two-path one:
    `BN(concat(conv1x1(avgpool1x1/s(ReLU(x))), conv1x1(avgpool1x1/s(shift(ReLU(x))))))`,
    each path giving half of `filters`, the second reading the input shifted
    by one pixel (so it samples the odd positions); otherwise the identity.

    Args:
        filters: int, output channels (even where the shortcut projects).
        strides: int, 1 or 2.
        bottleneck_width: int or None, inner width of a bottleneck branch.
        groups: int, groups of the 3x3 conv (ResNeXt cardinality).
        forward, backward, level: Shake-Shake modes, see `ShakeShake`.
        drop_path_rate: float in [0, 1), stochastic depth on the mixed branches.
        **kwargs: `seed` (each random sub-layer's) and the conv/BN
            settings, see `ResidualBlockBase`.

    Call arguments:
        inputs: 4D tensor.
        training: bool.

    Example:
    >>> x = keras.ops.ones((2, 8, 8, 16))
    >>> ShakeShakeBlock(32, 2)(x).shape
    (2, 4, 4, 32)
    """

    def __init__(
        self,
        filters,
        strides=1,
        *,
        bottleneck_width=None,
        groups=1,
        forward="shake",
        backward="shake",
        level="image",
        **kwargs,
    ):
        super().__init__(filters, strides, **kwargs)
        if bottleneck_width is not None:
            check_positive_int("bottleneck_width", bottleneck_width)
        self.bottleneck_width = bottleneck_width
        self.groups = check_positive_int("groups", groups)
        if bottleneck_width is None and groups != 1:
            raise UserValueError(
                "`groups` needs a bottleneck branch (`bottleneck_width`). "
                f"Received: groups={groups!r}, bottleneck_width=None"
            )
        if bottleneck_width is not None and bottleneck_width % groups:
            raise UserValueError(
                "`bottleneck_width` must be divisible by `groups`. Received: "
                f"bottleneck_width={bottleneck_width}, groups={groups}"
            )
        check_shake_modes(forward, backward, level)
        self.forward_mode = forward
        self.backward_mode = backward
        self.level = level

    def _branch_spec(self):
        if self.bottleneck_width is None:
            return [(3, self.filters, 1), (3, self.filters, 1)], 0
        w = self.bottleneck_width
        return [(1, w, 1), (3, w, self.groups), (1, self.filters, 1)], 1

    def build(self, input_shape):
        self.in_channels = input_shape[channel_axis(self.data_format)]
        convs, stride_index = self._branch_spec()
        self.branches = []
        for j in (1, 2):
            layers = []
            for i, pad, conv, _, shape in self.conv_stack(
                input_shape, convs, stride_index=stride_index, prefix=f"branch{j}_"
            ):
                layers.append((pad, conv, self.batch_norm(f"branch{j}_bn{i + 1}", shape)))
            self.branches.append(layers)
        self.shake = ShakeShake(
            self.forward_mode, self.backward_mode, self.level, seed=self.seed,
            dtype=self.dtype_policy, name="shake",
        )
        self.drop_path = self.make_drop_path()
        self.projection = self.in_channels != self.filters or self.strides != 1
        if self.projection:
            if self.filters % 2:
                raise UserValueError(
                    "The two-path Shake-Shake shortcut needs an even number of "
                    f"`filters`. Received: filters={self.filters}"
                )
            self.shortcut_convs = []
            for j in (1, 2):
                conv = self.conv_layer(self.filters // 2, 1, name=f"shortcut_conv{j}")
                conv.build(self._subsampled(input_shape))
                self.shortcut_convs.append(conv)
            self.shortcut_bn = self.batch_norm(
                "shortcut_bn", self.compute_output_shape(input_shape)
            )

    def _subsampled(self, shape):
        return strided_output_shape(shape, self.strides, self.data_format)

    def _branch(self, layers, x, training):
        for i, (pad, conv, bn) in enumerate(layers):
            x = ops.relu(x)
            if pad is not None:
                x = pad(x)
            x = bn(conv(x), training=training)
        return x

    def _shortcut(self, inputs, training):
        x = ops.relu(inputs)
        s = self.strides
        if self.data_format == "channels_last":
            shifted = ops.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])
        else:
            shifted = ops.pad(x[:, :, 1:, 1:], [[0, 0], [0, 0], [0, 1], [0, 1]])
        path1 = subsample(x, s, self.data_format)
        path2 = subsample(shifted, s, self.data_format)
        y = ops.concatenate(
            [self.shortcut_convs[0](path1), self.shortcut_convs[1](path2)],
            axis=channel_axis(self.data_format),
        )
        return self.shortcut_bn(y, training=training)

    def call(self, inputs, training=None):
        x1 = self._branch(self.branches[0], inputs, training)
        x2 = self._branch(self.branches[1], inputs, training)
        x = self.shake([x1, x2], training=training)
        if self.drop_path is not None:
            x = self.drop_path(x, training=training)
        shortcut = self._shortcut(inputs, training) if self.projection else inputs
        return x + shortcut

    def compute_output_shape(self, input_shape):
        shape = list(self._subsampled(input_shape))
        shape[channel_axis(self.data_format)] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bottleneck_width": self.bottleneck_width,
                "groups": self.groups,
                "forward": self.forward_mode,
                "backward": self.backward_mode,
                "level": self.level,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_resnets")
class ShakeShakeResNet(base.FamilyModel):
    """Shake-Shake ResNet for CIFAR (Gastaldi 2017).

    Paper: "Shake-Shake regularization", https://arxiv.org/abs/1705.07485.
    conv3x3(16)-BN stem, 3 stages of `ShakeShakeBlock`s (widths `width`,
    `2·width`, `4·width`; strides 1, 2, 2), ReLU, global average pooling,
    classifier. `block_type="basic"`: depth `6n + 2`, "26 2x32d" has 4 blocks
    per stage and first-stage width 32 (2.9M parameters, 3.55% CIFAR-10
    error with Shake-Shake-Image; 2x96d: 26.2M, 2.86%).
    `block_type="bottleneck"`: the ResNeXt-29 "2x4x64d" variant used for
    CIFAR-100 (depth `9n + 2`, conv3x3(64) stem, output widths 256/512/1024,
    each branch a ResNeXt bottleneck of `cardinality` groups of
    `base_width`·2^s channels; 34.4M parameters, 15.85% CIFAR-100 error with
    Shake-Even-Image).

    Args:
        depth: int, `6n + 2` (basic) or `9n + 2` (bottleneck). Defaults to 26.
        width: int, output width of the first stage. Defaults to 32.
        forward: "shake" or "even". Defaults to "shake".
        backward: "shake", "even" or "keep". Defaults to "shake".
        level: "image" or "batch". Defaults to "image".
        block_type: "basic" or "bottleneck". Defaults to "basic".
        cardinality: int, groups of a bottleneck branch. Defaults to 1.
        base_width: int, channels per group in the first stage of a
            bottleneck branch. Defaults to 64.
        stem_filters: int; default 16 (basic) or 64 (bottleneck).
        seed: int or None, seed of the random layers.
        **kwargs: the shared options and the block option `drop_path_rate`
            (stochastic depth of the last block, linear decay over blocks),
            see `keras_resnets.models.base.ModelOptions`.

    Example:
    >>> model = ShakeShakeResNet(8, 8, forward="shake", backward="even")
    >>> model.output_shape
    (None, 10)
    """

    post_activation = ("relu",)
    block_options = ("drop_path_rate",)

    def __init__(
        self,
        depth=26,
        width=32,
        *,
        forward="shake",
        backward="shake",
        level="image",
        block_type="basic",
        cardinality=1,
        base_width=64,
        stem_filters=None,
        seed=None,
        **kwargs,
    ):
        # === Validation ===
        options = self.take_options(kwargs)
        if block_type not in BLOCK_TYPES:
            raise UserValueError(
                f"`block_type` must be one of {BLOCK_TYPES}. Received: block_type={block_type!r}"
            )
        bottleneck = block_type == "bottleneck"
        n = base.blocks_per_stage(
            depth, family="Shake-Shake ResNet", layers_per_block=3 if bottleneck else 2,
            rule=f" for block_type={block_type!r}", examples="29" if bottleneck else "26",
        )
        check_positive_int("width", width)
        check_positive_int("cardinality", cardinality)
        check_positive_int("base_width", base_width)
        check_shake_modes(forward, backward, level)
        options = options.resolve(10)
        if stem_filters is None:
            stem_filters = 64 if bottleneck else 16
        schedule = base.block_schedule(
            [n, n, n],
            [1, 2, 2],
            stackwise_num_filters=[width, 2 * width, 4 * width],
            drop_path_rate=options.drop_path_rate,
        )

        # === Functional Model ===
        inputs = options.make_inputs(32, 4, "ShakeShakeResNet")
        x = base.apply_cifar_stem(inputs, stem_filters, bn=False, options=options)
        x = options.batch_norm("stem_bn")(x)
        x = base.apply_stages(
            x,
            lambda spec: ShakeShakeBlock(
                spec.filters,
                spec.strides,
                bottleneck_width=cardinality * base_width * 2**spec.stage if bottleneck else None,
                groups=cardinality if bottleneck else 1,
                forward=forward,
                backward=backward,
                level=level,
                **options.block_kwargs(spec, seed),
            ),
            schedule,
        )
        super().__init__(inputs, x, options, default_name=f"shake_shake_{depth}", **kwargs)

        # === Config ===
        self.depth, self.width = depth, width
        # `forward` is torch.nn.Module's call method on the torch backend.
        self.forward_mode, self.backward_mode, self.level = forward, backward, level
        self.block_type, self.cardinality, self.base_width = block_type, cardinality, base_width
        self.stem_filters, self.seed = stem_filters, seed

    def get_config(self):
        return self.config_with(
            depth=self.depth, width=self.width,
            forward=self.forward_mode, backward=self.backward_mode, level=self.level,
            block_type=self.block_type, cardinality=self.cardinality, base_width=self.base_width,
            stem_filters=self.stem_filters, seed=self.seed,
        )


# === Registry: Table 2 (CIFAR-10, Shake-Shake-Image) and Table 3 (CIFAR-100) ===
def _register(width, params, error):
    @register_model(
        f"shake-shake-26-2x{width}d", params=params, paper="arXiv:1705.07485",
        dataset="cifar10", error=error,
    )
    @base.builds(ShakeShakeResNet)
    def entry(**kwargs):
        return ShakeShakeResNet(**{"depth": 26, "width": width, **kwargs})

    entry.__name__ = f"shake_shake_26_2x{width}d"
    return entry


for _w, _p, _e in ((32, 2_923_162, 3.55), (64, 11_653_978, 2.98), (96, 26_192_922, 2.86)):
    _register(_w, _p, _e)


@register_model(
    "shake-shake-resnext-29-2x4x64d", params=34_529_700, paper="arXiv:1705.07485",
    dataset="cifar100", error=15.85,
)
@base.builds(
    ShakeShakeResNet, fixed=("depth", "width", "block_type", "cardinality", "base_width")
)
def shake_shake_resnext29_2x4x64d(**kwargs):
    kwargs = {"num_classes": 100, "forward": "shake", "backward": "even", **kwargs}
    return ShakeShakeResNet(
        29, 256, block_type="bottleneck", cardinality=4, base_width=64, **kwargs
    )


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
SEARCH_SPACE = {
    "family": "shake-shake",
    "prefixes": ("shake-shake-",),
    "hyperparameters": {
        "depth": {"default": 26, "values": (8, 14, 20, 26), "depth": (6, 2)},
        "width": {"default": 32, "values": (16, 32, 64, 96), "valid": "1.."},
    },
    "paper_names": {f"shake-shake-26-2x{w}d": {"depth": 26, "width": w} for w in (32, 64, 96)},
}


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("shake-shake", paper="arXiv:1705.07485", dataset="cifar10", family=True)
@base.builds(ShakeShakeResNet, search_space=SEARCH_SPACE)
def shake_shake(*, depth, width, **kwargs):
    """Shake-Shake `depth`-2x`width`d: depth 6n+2, first-stage width."""
    return ShakeShakeResNet(depth, width, **kwargs)
