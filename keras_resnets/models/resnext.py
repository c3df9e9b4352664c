"""ResNeXt: aggregated residual transformations (Xie et al. 2017)."""

import keras

from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.models import base
from keras_resnets._registry import register_model

STEMS = ("cifar", "imagenet")
IMAGENET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


@keras.saving.register_keras_serializable(package="keras_resnets")
class ResNeXt(keras.Model):
    """ResNeXt (Xie et al. 2017): bottlenecks with a grouped 3x3 convolution.

    Paper: "Aggregated Residual Transformations for Deep Neural Networks",
    CVPR 2017, https://arxiv.org/abs/1611.05431. Each block is the
    aggregated transformation in its grouped-convolution form (Fig. 3c):
    conv1x1(w)-BN-ReLU, conv3x3(w, groups=C)-BN-ReLU, conv1x1(out)-BN, added
    to the shortcut, ReLU. The inner width of stage `s` (0-based) is
    `w = C * d * 2**s` (cardinality `C`, bottleneck width `d`) and its output
    width `stackwise_num_filters[s]` (256, 512, 1024, 2048 by default);
    projections (option B) where the shape changes, stride on the 3x3 conv.

    - `stem="cifar"` (sec. 5.2): conv3x3(64)-BN-ReLU and 3 stages of 3
      blocks (ResNeXt-29). Table 7: 8x64d has 34.4M parameters and 3.65%
      CIFAR-10 error, 16x64d 68.1M and 3.58%.
    - `stem="imagenet"`: the ResNet-50/101 stem and stages (Table 1):
      ResNeXt-50 32x4d has 25.0M parameters, 22.2% top-1 error
      (ResNeXt-101 32x4d: 44.2M, 21.2%).

    Args:
        stackwise_num_blocks: list of int, blocks per stage.
        cardinality: int, number of groups `C`. Defaults to 32.
        base_width: int, bottleneck width `d` of one group in the first
            stage. Defaults to 4.
        stem: "cifar" or "imagenet". Defaults to "imagenet".
        stackwise_num_filters: list of int, output width of each stage;
            default 256 doubling per stage.
        stackwise_strides: list of int; default (1, 2, 2, ...).
        stride_index: which conv of a block carries the stride; default 1
            (the grouped 3x3, as the paper's Torch code).
        include_top, input_shape, num_classes (alias classes), pooling,
        classifier_activation, dropout_rate, drop_path_rate, se_ratio,
        zero_init_last_bn, kernel_regularizer, bn_momentum, bn_epsilon,
        data_format, dtype, name: as `keras_resnets.ResNet`.
        weights: None, or the path to a torchvision/timm checkpoint
            (`.pth`, `.safetensors`; ImageNet stem) or to a `.weights.h5`
            saved from the same architecture. See `keras_resnets.weights`.

    Example:
    >>> model = ResNeXt([1, 1, 1], cardinality=2, base_width=4, stem="cifar",
    ...                 stackwise_num_filters=[16, 32, 64])
    >>> model.output_shape
    (None, 10)
    """

    def __init__(
        self,
        stackwise_num_blocks,
        cardinality=32,
        *,
        base_width=4,
        stem="imagenet",
        stackwise_num_filters=None,
        stackwise_strides=None,
        stride_index=1,
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
        base.check_model_kwargs(ResNeXt, kwargs, type(self).__name__)
        if stem not in STEMS:
            raise ValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
        check_positive_int("cardinality", cardinality)
        check_positive_int("base_width", base_width)
        stackwise_num_blocks = list(stackwise_num_blocks)
        num_stages = len(stackwise_num_blocks)
        if stackwise_num_filters is None:
            stackwise_num_filters = [256 * 2**s for s in range(num_stages)]
        stackwise_num_filters = list(stackwise_num_filters)
        if stackwise_strides is None:
            stackwise_strides = [1] + [2] * (num_stages - 1)
        stackwise_strides = list(stackwise_strides)
        base.check_stackwise(stackwise_num_blocks, stackwise_num_filters, stackwise_strides)
        base.check_pooling(pooling)
        cifar = stem == "cifar"
        num_classes = base.resolve_num_classes(num_classes, classes, 10 if cifar else 1000)
        config = base.BuildConfig(
            data_format=data_format,
            dtype=dtype,
            kernel_regularizer=kernel_regularizer,
            bn_momentum=bn_momentum,
            bn_epsilon=bn_epsilon,
        )
        min_size = (1 if cifar else 4) * 2 ** sum(s > 1 for s in stackwise_strides)
        schedule = base.block_schedule(
            stackwise_num_blocks,
            stackwise_strides,
            stackwise_num_filters=stackwise_num_filters,
            drop_path_rate=drop_path_rate,
        )

        # === Functional Model ===
        inputs = base.make_inputs(
            input_shape, 32 if cifar else 224, config.data_format, min_size, "ResNeXt"
        )
        if cifar:
            x = base.apply_cifar_stem(inputs, 64, config=config)
        else:
            x = base.apply_imagenet_stem(inputs, 64, config=config)
        x = base.apply_stages(
            x,
            # The schedule's filters are a stage's output width; the inner
            # (grouped) width is C * d * 2^s.
            lambda spec: ResNetBlock(
                cardinality * base_width * 2**spec.stage,
                spec.strides,
                kernel_sizes=(1, 3, 1),
                output_filters=spec.filters,
                bottleneck=True,
                stride_index=stride_index,
                shortcut="B",
                groups=cardinality,
                dropout_rate=dropout_rate,
                drop_path_rate=spec.drop_path_rate,
                se_ratio=se_ratio,
                zero_init_last_bn=zero_init_last_bn,
                name=spec.name,
                **config.block_kwargs(),
            ),
            schedule,
        )
        outputs = base.apply_head(
            x,
            include_top=include_top,
            pooling=pooling,
            num_classes=num_classes,
            classifier_activation=classifier_activation,
            config=config,
        )
        super().__init__(inputs=inputs, outputs=outputs, name=name or "resnext", **kwargs)

        # === Config ===
        base.store_common_config(
            self, inputs, config, include_top=include_top, num_classes=num_classes,
            pooling=pooling, classifier_activation=classifier_activation,
        )
        self.stackwise_num_blocks = stackwise_num_blocks
        self.cardinality = cardinality
        self.base_width = base_width
        self.stem = stem
        self.stackwise_num_filters = stackwise_num_filters
        self.stackwise_strides = stackwise_strides
        self.stride_index = stride_index
        self.dropout_rate = dropout_rate
        self.drop_path_rate = drop_path_rate
        self.se_ratio = se_ratio
        self.zero_init_last_bn = zero_init_last_bn
        if weights is not None:
            from keras_resnets.weights import load_weights

            load_weights(self, weights)

    def get_config(self):
        return base.common_config(
            self,
            {
                "stackwise_num_blocks": self.stackwise_num_blocks,
                "cardinality": self.cardinality,
                "base_width": self.base_width,
                "stem": self.stem,
                "stackwise_num_filters": self.stackwise_num_filters,
                "stackwise_strides": self.stackwise_strides,
                "stride_index": self.stride_index,
                "dropout_rate": self.dropout_rate,
                "drop_path_rate": self.drop_path_rate,
                "se_ratio": self.se_ratio,
                "zero_init_last_bn": self.zero_init_last_bn,
            },
        )


def cifar_resnext(depth=29, cardinality=8, base_width=64, **kwargs):
    """The CIFAR ResNeXt of Xie 2017 sec. 5.2: depth `9n + 2`, output widths
    256/512/1024."""
    n = base.blocks_per_stage(
        depth, family="CIFAR ResNeXt", layers_per_block=3, examples="29"
    )
    return ResNeXt([n, n, n], cardinality, base_width=base_width, stem="cifar", **kwargs)


def imagenet_resnext(depth=50, cardinality=32, base_width=4, **kwargs):
    """The ImageNet ResNeXt of Xie 2017 Table 1 (50, 101, 152 layers)."""
    if depth not in IMAGENET_DEPTHS:
        raise ValueError(
            "ImageNet ResNeXt depth must be one of 50, 101, 152. "
            f"Received: depth={depth!r}"
        )
    return ResNeXt(
        IMAGENET_DEPTHS[depth], cardinality, base_width=base_width, stem="imagenet", **kwargs
    )


# === Registry: Table 7 (CIFAR-10) and Table 3 (ImageNet top-1) ===
# Arguments an entrypoint sets itself (passing them raises a TypeError).
_FIXED_CIFAR = ("stackwise_num_blocks", "stem")
_FIXED_IMAGENET = ("depth", "cardinality", "base_width") + _FIXED_CIFAR


@register_model("resnext-29-8x64d", params=34_426_698, paper="arXiv:1611.05431", dataset="cifar10", error=3.65)
@base.builds(ResNeXt, cifar_resnext, fixed=_FIXED_CIFAR)
def resnext29_8x64d(**kwargs):
    return cifar_resnext(**{"depth": 29, "cardinality": 8, "base_width": 64, **kwargs})


@register_model("resnext-29-16x64d", params=68_155_210, paper="arXiv:1611.05431", dataset="cifar10", error=3.58)
@base.builds(ResNeXt, cifar_resnext, fixed=_FIXED_CIFAR)
def resnext29_16x64d(**kwargs):
    return cifar_resnext(**{"depth": 29, "cardinality": 16, "base_width": 64, **kwargs})


@register_model("resnext-50-32x4d", params=25_028_904, paper="arXiv:1611.05431", dataset="imagenet", error=22.2)
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def resnext50_32x4d(**kwargs):
    return imagenet_resnext(50, 32, 4, **kwargs)


@register_model("resnext-101-32x4d", params=44_177_704, paper="arXiv:1611.05431", dataset="imagenet", error=21.2)
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def resnext101_32x4d(**kwargs):
    return imagenet_resnext(101, 32, 4, **kwargs)


# ResNeXt-101 32x8d is not in Xie 2017's tables (no error given here); it
# is the ResNeXt-101 that torchvision (resnext101_32x8d) publishes weights for.
@register_model("resnext-101-32x8d", params=88_791_336, paper="arXiv:1611.05431", dataset="imagenet")
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def resnext101_32x8d(**kwargs):
    """ResNeXt-101 32x8d: 32 groups of width 8; torchvision's resnext101_32x8d."""
    return imagenet_resnext(101, 32, 8, **kwargs)


@register_model("resnext-101-64x4d", params=83_455_272, paper="arXiv:1611.05431", dataset="imagenet", error=20.4)
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def resnext101_64x4d(**kwargs):
    """ResNeXt-101 64x4d (Xie 2017 Table 5: 20.4% top-1 error at 224x224);
    torchvision's resnext101_64x4d."""
    return imagenet_resnext(101, 64, 4, **kwargs)


# Wide ResNet-50-2 / 101-2 (Zagoruyko & Komodakis 2016, their ImageNet models):
# ResNet-50/101 bottlenecks with twice the inner width, i.e. a ResNeXt of
# cardinality 1 and base width 128 (torchvision's wide_resnet50_2: groups=1,
# width_per_group=128); 68.9M and 126.9M parameters.
@register_model("wide-resnet-50-2", params=68_883_240, paper="arXiv:1605.07146", dataset="imagenet")
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def wide_resnet50_2(**kwargs):
    return imagenet_resnext(50, 1, 128, **kwargs)


@register_model("wide-resnet-101-2", params=126_886_696, paper="arXiv:1605.07146", dataset="imagenet")
@base.builds(ResNeXt, imagenet_resnext, fixed=_FIXED_IMAGENET)
def wide_resnet101_2(**kwargs):
    return imagenet_resnext(101, 1, 128, **kwargs)


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.tuning.search_spaces) ===
SEARCH_SPACE = {
    "family": "resnext",
    "generic": "cifar-resnext",
    "prefixes": ("resnext-",),
    "hyperparameters": {
        "depth": {"default": 29, "values": (11, 20, 29), "depth": (9, 2)},
        "cardinality": {"default": 8, "values": (2, 4, 8, 16), "valid": "1.."},
        "base_width": {"default": 64, "values": (4, 8, 16, 32, 64), "valid": "1.."},
    },
    "paper_names": {
        "resnext-29-8x64d": {"depth": 29, "cardinality": 8, "base_width": 64},
        "resnext-29-16x64d": {"depth": 29, "cardinality": 16, "base_width": 64},
    },
}
