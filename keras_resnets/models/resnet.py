"""ResNet v1 (He et al. 2015) and pre-activation ResNet v2 (He et al. 2016)."""

import keras

from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.models import base
from keras_resnets.registry import register_model

BLOCK_TYPES = ("basic", "bottleneck")
STEMS = ("cifar", "imagenet")
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


@keras.saving.register_keras_serializable(package="keras_resnets")
class ResNet(keras.Model):
    """ResNet v1, post-activation (He et al. 2015), CIFAR or ImageNet layout.

    Paper: "Deep Residual Learning for Image Recognition", CVPR 2016,
    https://arxiv.org/abs/1512.03385. Variants are constructor data:
    per-stage block counts and widths, `block_type`, `stem` and `shortcut`.

    - `stem="cifar"` (sec. 4.2): conv3x3(16)-BN-ReLU, stages of widths
      16/32/64, option-A shortcuts; depth `6n+2`. Table 6: ResNet-20 has
      0.27M parameters and 8.75% CIFAR-10 error; ResNet-110 1.7M, 6.43%.
    - `stem="imagenet"` (Table 1): conv7x7/2(64)-BN-ReLU, max-pool 3x3/2,
      stages conv2_x..conv5_x of widths 64/128/256/512, option-B
      projections; ResNet-50: 25.6M parameters, 3.8 GFLOPs.

    `PreActResNet` is the same model with pre-activation blocks.

    Args:
        stackwise_num_blocks: list of int, blocks per stage.
        stackwise_num_filters: list of int, inner width of each stage.
        block_type: "basic" (3x3, 3x3) or "bottleneck" (1x1, 3x3, 1x1 x4).
        stem: "cifar" or "imagenet".
        stackwise_strides: list of int; default (1, 2, 2, ...).
        shortcut: "A", "B" or "C"; default "A" for the CIFAR stem and "B"
            for the ImageNet stem.
        stride_index: which conv of a block carries its stride (0 = first).
        downsample_last: bool, stride on the last block of a stage
            (keras.applications' V2 layout) instead of the first.
        include_top: bool, add the pooling + Dense classifier.
        input_shape: tuple; default (32, 32, 3) for CIFAR, (224, 224, 3)
            for ImageNet.
        num_classes: int (alias `classes`); default 10 for the CIFAR stem,
            1000 for ImageNet.
        pooling: None, "avg" or "max" when `include_top=False`.
        classifier_activation: activation of the classifier (default
            "softmax"; None for logits).
        dropout_rate, drop_path_rate, se_ratio, zero_init_last_bn: passed
            to every block (stochastic depth decays linearly over depth).
        kernel_regularizer: regularizer on every kernel.
        bn_momentum, bn_epsilon: BN settings (Torch defaults).
        data_format: "channels_last" or "channels_first".
        weights: None, "imagenet" or a path to keras.applications weights
            (ImageNet layouts only).
        dtype: dtype policy of every layer.
        name: model name.

    Example:
    >>> model = ResNet([3, 3, 3], [16, 32, 64], stem="cifar")  # ResNet-20
    >>> model.output_shape
    (None, 10)
    """

    block_cls = ResNetBlock
    preactivation = False

    def __init__(
        self,
        stackwise_num_blocks,
        stackwise_num_filters,
        *,
        block_type="basic",
        stem="imagenet",
        stem_filters=None,
        stackwise_strides=None,
        shortcut=None,
        stride_index=0,
        downsample_last=False,
        residual_bias=False,
        groups=1,
        include_top=True,
        input_shape=None,
        num_classes=None,
        classes=None,
        pooling=None,
        classifier_activation="softmax",
        dropout_rate=0.0,
        drop_path_rate=0.0,
        se_ratio=None,
        zero_init_last_bn=False,
        kernel_regularizer=None,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        data_format=None,
        weights=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        # === Validation ===
        if block_type not in BLOCK_TYPES:
            raise ValueError(
                f"`block_type` must be one of {BLOCK_TYPES}. "
                f"Received: block_type={block_type!r}"
            )
        if stem not in STEMS:
            raise ValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
        stackwise_num_blocks = list(stackwise_num_blocks)
        stackwise_num_filters = list(stackwise_num_filters)
        if stackwise_strides is None:
            stackwise_strides = [1] + [2] * (len(stackwise_num_blocks) - 1)
        stackwise_strides = list(stackwise_strides)
        base.check_stackwise(stackwise_num_blocks, stackwise_num_filters, stackwise_strides)
        if shortcut is None:
            shortcut = "A" if stem == "cifar" else "B"
        base.check_pooling(pooling)
        cifar = stem == "cifar"
        num_classes = base.resolve_num_classes(num_classes, classes, 10 if cifar else 1000)
        if stem_filters is None:
            stem_filters = 16 if cifar else 64
        config = base.BuildConfig(
            data_format=data_format,
            dtype=dtype,
            kernel_regularizer=kernel_regularizer,
            bn_momentum=bn_momentum,
            bn_epsilon=bn_epsilon,
        )
        family = type(self).__name__
        min_size = (1 if cifar else 4) * 2 ** sum(s > 1 for s in stackwise_strides)

        # === Functional Model ===
        inputs = base.make_inputs(
            input_shape, 32 if cifar else 224, config.data_format, min_size, family
        )
        if cifar:
            x = base.apply_cifar_stem(
                inputs, stem_filters, bn=not self.preactivation, config=config
            )
        else:
            x = base.apply_imagenet_stem(
                inputs,
                stem_filters,
                bn=not self.preactivation,
                use_bias=self.preactivation and residual_bias,
                config=config,
            )
        block_kwargs = dict(
            bottleneck=block_type == "bottleneck",
            shortcut=shortcut,
            stride_index=stride_index,
            groups=groups,
            dropout_rate=dropout_rate,
            se_ratio=se_ratio,
            zero_init_last_bn=zero_init_last_bn,
            **config.block_kwargs(),
        )
        if self.preactivation:
            block_kwargs["residual_bias"] = residual_bias
        x = base.apply_stages(
            x,
            self.block_cls,
            stackwise_num_blocks=stackwise_num_blocks,
            stackwise_num_filters=stackwise_num_filters,
            stackwise_strides=stackwise_strides,
            downsample_last=downsample_last,
            drop_path_rate=drop_path_rate,
            block_kwargs=block_kwargs,
        )
        if self.preactivation:
            x = config.batch_norm("post_bn")(x)
            x = config.relu("post_relu")(x)
        outputs = base.apply_head(
            x,
            include_top=include_top,
            pooling=pooling,
            num_classes=num_classes,
            classifier_activation=classifier_activation,
            config=config,
        )
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        base.store_common_config(
            self, inputs, config, include_top=include_top, num_classes=num_classes,
            pooling=pooling, classifier_activation=classifier_activation,
        )
        self.stackwise_num_blocks = stackwise_num_blocks
        self.stackwise_num_filters = stackwise_num_filters
        self.block_type = block_type
        self.stem = stem
        self.stem_filters = stem_filters
        self.stackwise_strides = stackwise_strides
        self.shortcut = shortcut
        self.stride_index = stride_index
        self.downsample_last = downsample_last
        self.residual_bias = residual_bias
        self.groups = groups
        self.dropout_rate = dropout_rate
        self.drop_path_rate = drop_path_rate
        self.se_ratio = se_ratio
        self.zero_init_last_bn = zero_init_last_bn
        if weights is not None:
            from keras_resnets.weights import load_keras_applications_weights

            load_keras_applications_weights(self, weights)

    def get_config(self):
        return base.common_config(
            self,
            {
                "stackwise_num_blocks": self.stackwise_num_blocks,
                "stackwise_num_filters": self.stackwise_num_filters,
                "block_type": self.block_type,
                "stem": self.stem,
                "stem_filters": self.stem_filters,
                "stackwise_strides": self.stackwise_strides,
                "shortcut": self.shortcut,
                "stride_index": self.stride_index,
                "downsample_last": self.downsample_last,
                "residual_bias": self.residual_bias,
                "groups": self.groups,
                "dropout_rate": self.dropout_rate,
                "drop_path_rate": self.drop_path_rate,
                "se_ratio": self.se_ratio,
                "zero_init_last_bn": self.zero_init_last_bn,
            },
        )


@keras.saving.register_keras_serializable(package="keras_resnets")
class PreActResNet(ResNet):
    """Pre-activation ResNet v2 (He et al. 2016), CIFAR or ImageNet layout.

    Paper: "Identity Mappings in Deep Residual Networks", ECCV 2016,
    https://arxiv.org/abs/1603.05027. BN-ReLU-conv blocks with a clean
    identity path and a final BN-ReLU before pooling. CIFAR bottleneck
    networks have depth `9n+2` (Table 2: ResNet-164, 1.7M parameters,
    5.46% CIFAR-10 error; ResNet-1001, 10.2M, 4.92%).

    The registered ImageNet variants (`resnet-50-v2` ...) follow
    keras.applications' ResNet V2 so its weights load exactly: the stride
    sits on the 3x3 conv of the LAST block of each stage, and convs not
    followed by BN (stem, last conv of a block, projection) carry a bias.

    Args: as `ResNet` (default shortcut "B").

    Example:
    >>> model = PreActResNet([18, 18, 18], [16, 32, 64], block_type="bottleneck",
    ...                      stem="cifar", shortcut="B")  # ResNet-164
    """

    block_cls = PreActBlock
    preactivation = True


def _check_depth(family, depth, valid, rule):
    if depth not in valid:
        raise ValueError(
            f"{family} depth must be {rule}. Received: depth={depth!r}"
        )


def cifar_resnet(depth, *, preactivation=False, bottleneck=None, **kwargs):
    """The CIFAR ResNets of He 2015 sec. 4.2 (depth 6n+2, basic blocks) or,
    with `preactivation=True` and `bottleneck=True`, He 2016's depth 9n+2."""
    if bottleneck is None:
        bottleneck = False
    per_block = 3 if bottleneck else 2
    rule = "9n+2 (e.g. 164, 1001)" if bottleneck else "6n+2 (e.g. 20, 32, 44, 56, 110, 1202)"
    if isinstance(depth, bool) or not isinstance(depth, int) or (depth - 2) % (3 * per_block) or depth < 2 + 3 * per_block:
        raise ValueError(
            f"CIFAR ResNet depth must be {rule}. Received: depth={depth!r}"
        )
    n = (depth - 2) // (3 * per_block)
    cls = PreActResNet if preactivation else ResNet
    kwargs.setdefault("shortcut", "B" if preactivation else "A")
    return cls(
        [n, n, n],
        [16, 32, 64],
        block_type="bottleneck" if bottleneck else "basic",
        stem="cifar",
        **kwargs,
    )


def imagenet_resnet(depth, *, preactivation=False, **kwargs):
    """The ImageNet ResNets of He 2015 Table 1 (18, 34, 50, 101, 152); with
    `preactivation=True` the keras.applications ResNet V2 layout."""
    _check_depth("ImageNet ResNet", depth, IMAGENET_DEPTHS, "one of 18, 34, 50, 101, 152")
    block_type, blocks = IMAGENET_DEPTHS[depth]
    if preactivation:
        kwargs = {
            "stackwise_strides": [2, 2, 2, 1],
            "downsample_last": True,
            "stride_index": 1 if block_type == "bottleneck" else 0,
            "residual_bias": True,
            **kwargs,
        }
    cls = PreActResNet if preactivation else ResNet
    return cls(blocks, [64, 128, 256, 512], block_type=block_type, stem="imagenet", **kwargs)


# === Registry: the papers' tables ===
_CIFAR_V1 = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}
_CIFAR_ERR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
_IMAGENET = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
# keras.applications' V2 layout: biases on the convs not followed by BN.
_IMAGENET_V2 = {18: 11_690_600, 34: 21_800_616, 50: 25_568_360, 101: 44_577_896, 152: 60_236_904}
_IMAGENET_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}


def _register_cifar(depth):
    @register_model(
        f"resnet-{depth}", params=_CIFAR_V1[depth], paper="arXiv:1512.03385",
        dataset="cifar10", error=_CIFAR_ERR[depth],
    )
    def entry(**kwargs):
        return cifar_resnet(**{"depth": depth, **kwargs})

    entry.__name__ = f"resnet{depth}"
    return entry


def _register_imagenet(depth, preactivation):
    suffix = "-v2" if preactivation else ""

    @register_model(
        f"resnet-{depth}{suffix}",
        params=(_IMAGENET_V2 if preactivation else _IMAGENET)[depth],
        paper="arXiv:1603.05027" if preactivation else "arXiv:1512.03385",
        dataset="imagenet",
        flops=_IMAGENET_FLOPS[depth],
    )
    def entry(**kwargs):
        return imagenet_resnet(depth, preactivation=preactivation, **kwargs)

    entry.__name__ = f"resnet{depth}{suffix.replace('-', '')}"
    return entry


@register_model("preact-resnet-164", params=1_703_258, paper="arXiv:1603.05027", dataset="cifar10", error=5.46)
def preact_resnet164(**kwargs):
    return cifar_resnet(164, preactivation=True, bottleneck=True, **kwargs)


@register_model("preact-resnet-1001", params=10_327_706, paper="arXiv:1603.05027", dataset="cifar10", error=4.92)
def preact_resnet1001(**kwargs):
    return cifar_resnet(1001, preactivation=True, bottleneck=True, **kwargs)


for _depth in _CIFAR_V1:
    _register_cifar(_depth)
for _depth in _IMAGENET:
    _register_imagenet(_depth, preactivation=False)
    _register_imagenet(_depth, preactivation=True)
