"""ResNet v1 (He et al. 2015) and pre-activation ResNet v2 (He et al. 2016)."""

import keras

from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.models import base
from keras_resnets._registry import register_model
from keras_resnets.models.resnet_layout import BLOCK_TYPES  # noqa: F401  (public names)
from keras_resnets.models.resnet_layout import IMAGENET_DEPTHS  # noqa: F401
from keras_resnets.models.resnet_layout import STEMS  # noqa: F401
from keras_resnets.models.resnet_layout import depth_layout  # noqa: F401
from keras_resnets.models.resnet_layout import resolve_layout


@keras.saving.register_keras_serializable(package="keras_resnets")
class ResNet(base.FamilyModel):
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

    A depth alone builds the papers' networks, exactly as the registry
    names do (`ResNet(20)` is "resnet-20", `ResNet(50)` is "resnet-50"):
    18, 34, 50, 101 and 152 mean the ImageNet networks of Table 1; any
    other depth must be `6n+2` (`9n+2` with `block_type="bottleneck"`) and
    means the CIFAR network. 50 and 152 are also `6n+2`: pass
    `stem="cifar"` for their CIFAR networks (`ResNet(50, stem="cifar")`,
    3 stages of 8 basic blocks). Explicit arguments override the depth's
    layout (e.g. `num_classes`, `shortcut`, `stackwise_num_filters`).

    Args:
        stackwise_num_blocks: list of int, blocks per stage; or an int, the
            depth (same as `depth=`).
        stackwise_num_filters: list of int, inner width of each stage;
            default 16/32/64 (CIFAR) or 64/128/256/512 (ImageNet) with a
            depth.
        depth: int, the network depth, instead of the stackwise lists.
        block_type: "basic" (3x3, 3x3) or "bottleneck" (1x1, 3x3, 1x1 x4);
            default "basic", with a depth the paper's.
        stem: "cifar" or "imagenet"; default "imagenet", with a depth the
            rule above.
        stackwise_strides: list of int; default (1, 2, 2, ...).
        shortcut: "A", "B" or "C"; default "A" for the CIFAR stem and "B"
            for the ImageNet stem.
        stride_index: which conv of a block carries its stride (0 = first).
        downsample_last: bool, stride on the last block of a stage
            (keras.applications' V2 layout) instead of the first.
        residual_bias: bool, biases on the convs not followed by BN
            (pre-activation networks; keras.applications' V2 layout).
        groups: int, groups of the 3x3 convolutions.
        weights: None, "imagenet" or the path to keras.applications
            weights (ImageNet layouts only), to a torchvision/timm checkpoint
            (`.pth`, `.safetensors`; v1 ImageNet models, built in its layout:
            unless `stride_index` is given, bottlenecks stride on the 3x3)
            or to a `.weights.h5` saved from the same architecture. See
            `keras_resnets.weights`.
        **kwargs: the options every family shares (`include_top`,
            `input_shape`, `num_classes`/`classes`, `pooling`,
            `classifier_activation`, `kernel_regularizer`, `bn_momentum`,
            `bn_epsilon`, `data_format`, `dtype`, `name`, `trainable`) and
            the block options `dropout_rate`, `drop_path_rate`, `se_ratio`,
            `zero_init_last_bn`: see `keras_resnets.models.base.ModelOptions`.
            `num_classes` defaults to 10 with the CIFAR stem and 1000 with
            the ImageNet stem, `input_shape` to 32x32x3 and 224x224x3.

    Example:
    >>> model = ResNet(20)  # CIFAR ResNet-20, 0.27M parameters
    >>> model.output_shape
    (None, 10)
    >>> model = ResNet([3, 3, 3], [16, 32, 64], stem="cifar")  # the same
    """

    block_cls = ResNetBlock
    preactivation = False
    block_options = base.BLOCK_OPTIONS

    def __init__(
        self,
        stackwise_num_blocks=None,
        stackwise_num_filters=None,
        *,
        depth=None,
        block_type=None,
        stem=None,
        stem_filters=None,
        stackwise_strides=None,
        shortcut=None,
        stride_index=None,
        downsample_last=None,
        residual_bias=None,
        groups=1,
        weights=None,
        **kwargs,
    ):
        # === Validation ===
        family = type(self).__name__
        options = self.take_options(kwargs)
        layout = resolve_layout(
            family,
            self.preactivation,
            depth=depth,
            stackwise_num_blocks=stackwise_num_blocks,
            stackwise_num_filters=stackwise_num_filters,
            block_type=block_type,
            stem=stem,
            stackwise_strides=stackwise_strides,
            shortcut=shortcut,
            stride_index=stride_index,
            downsample_last=downsample_last,
            residual_bias=residual_bias,
        )
        if weights is not None and stride_index is None:
            from keras_resnets.weights import checkpoint_stride_index
            from keras_resnets.weights import is_torch_checkpoint

            if is_torch_checkpoint(weights) and not self.preactivation:
                # torchvision/timm stride on the bottleneck's 3x3 ("v1.5").
                layout["stride_index"] = checkpoint_stride_index(layout["block_type"])
        cifar = layout["stem"] == "cifar"
        options = options.resolve(10 if cifar else 1000)
        if stem_filters is None:
            stem_filters = 16 if cifar else 64
        strides = layout["stackwise_strides"]
        min_size = (1 if cifar else 4) * 2 ** sum(s > 1 for s in strides)
        schedule = base.block_schedule(
            layout["stackwise_num_blocks"],
            strides,
            stackwise_num_filters=layout["stackwise_num_filters"],
            downsample_last=layout["downsample_last"],
            drop_path_rate=options.drop_path_rate,
        )

        # === Functional Model ===
        inputs = options.make_inputs(32 if cifar else 224, min_size, family)
        residual_bias = layout["residual_bias"]
        if cifar:
            x = base.apply_cifar_stem(
                inputs, stem_filters, bn=not self.preactivation, options=options
            )
        else:
            x = base.apply_imagenet_stem(
                inputs,
                stem_filters,
                bn=not self.preactivation,
                use_bias=self.preactivation and residual_bias,
                options=options,
            )
        block_kwargs = dict(
            bottleneck=layout["block_type"] == "bottleneck",
            shortcut=layout["shortcut"],
            stride_index=layout["stride_index"],
            groups=groups,
            dropout_rate=options.dropout_rate,
            se_ratio=options.se_ratio,
            zero_init_last_bn=options.zero_init_last_bn,
        )
        if self.preactivation:
            block_kwargs["residual_bias"] = residual_bias
        x = base.apply_stages(
            x,
            lambda spec: self.block_cls(
                spec.filters, spec.strides, **block_kwargs, **options.block_kwargs(spec)
            ),
            schedule,
        )
        super().__init__(inputs, x, options, **kwargs)

        # === Config ===
        # `depth` is saved as the layout it resolves to; `weights` is
        # loaded once and not saved.
        self.stackwise_num_blocks = layout["stackwise_num_blocks"]
        self.stackwise_num_filters = layout["stackwise_num_filters"]
        self.block_type, self.stem = layout["block_type"], layout["stem"]
        self.stem_filters = stem_filters
        self.stackwise_strides = layout["stackwise_strides"]
        self.shortcut, self.stride_index = layout["shortcut"], layout["stride_index"]
        self.downsample_last = layout["downsample_last"]
        self.residual_bias = layout["residual_bias"]
        self.groups = groups
        if weights is not None:
            from keras_resnets.weights import load_weights

            load_weights(self, weights)

    def get_config(self):
        return self.config_with(
            stackwise_num_blocks=self.stackwise_num_blocks,
            stackwise_num_filters=self.stackwise_num_filters,
            block_type=self.block_type, stem=self.stem, stem_filters=self.stem_filters,
            stackwise_strides=self.stackwise_strides, shortcut=self.shortcut,
            stride_index=self.stride_index, downsample_last=self.downsample_last,
            residual_bias=self.residual_bias, groups=self.groups,
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

    A depth alone builds the registered networks: 18, 34, 50, 101, 152
    the ImageNet V2 layout ("resnet-50-v2"), any other depth the CIFAR
    network with bottleneck blocks, `9n+2` (`PreActResNet(164)` is
    "preact-resnet-164"); `block_type="basic"` gives the `6n+2` CIFAR
    networks and `stem="cifar"` the CIFAR network of depth 101 (`9n+2`).

    Args: as `ResNet`; with a depth the shortcut defaults to "B" (with
    the stackwise lists, to `ResNet`'s "A" for the CIFAR stem).

    Example:
    >>> model = PreActResNet(164)  # He 2016's CIFAR ResNet-164
    >>> model = PreActResNet([18, 18, 18], [16, 32, 64], block_type="bottleneck",
    ...                      stem="cifar", shortcut="B")  # the same
    """

    block_cls = PreActBlock
    preactivation = True
    post_activation = ("bn", "relu")


def cifar_resnet(depth, *, preactivation=False, bottleneck=None, **kwargs):
    """The CIFAR ResNets of He 2015 sec. 4.2 (depth 6n+2, basic blocks) or,
    with `bottleneck=True`, He 2016's depth 9n+2.

    Args:
        depth: int, `6n+2` (basic) or `9n+2` (bottleneck).
        preactivation: bool, build a `PreActResNet` (shortcut "B").
        bottleneck: bool, bottleneck blocks. Defaults to False.
        **kwargs: other `ResNet` arguments.

    Returns:
        A `ResNet` or `PreActResNet` with the CIFAR stem.
    """
    cls = PreActResNet if preactivation else ResNet
    block_type = "bottleneck" if bottleneck else "basic"
    return cls(depth=depth, stem="cifar", block_type=block_type, **kwargs)


def imagenet_resnet(depth, *, preactivation=False, **kwargs):
    """The ImageNet ResNets of He 2015 Table 1 (18, 34, 50, 101, 152); with
    `preactivation=True` the keras.applications ResNet V2 layout.

    Args:
        depth: int, one of 18, 34, 50, 101, 152.
        preactivation: bool, build a `PreActResNet`.
        **kwargs: other `ResNet` arguments (they override the V2 layout's
            `stackwise_strides`, `downsample_last`, `stride_index` and
            `residual_bias`).

    Returns:
        A `ResNet` or `PreActResNet` with the ImageNet stem.
    """
    cls = PreActResNet if preactivation else ResNet
    return cls(depth=depth, stem="imagenet", **kwargs)


# === Registry: the papers' tables ===
# Arguments an entrypoint sets itself (passing them raises a TypeError).
FIXED_BY_CIFAR_NAME = ("stackwise_num_blocks", "block_type", "stem")
FIXED_BY_IMAGENET_NAME = ("depth", "preactivation") + FIXED_BY_CIFAR_NAME
FIXED_BY_DEPTH = FIXED_BY_IMAGENET_NAME + ("bottleneck",)
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
    @base.builds(ResNet, cifar_resnet, fixed=FIXED_BY_CIFAR_NAME)
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
    @base.builds(
        PreActResNet if preactivation else ResNet, imagenet_resnet, fixed=FIXED_BY_IMAGENET_NAME
    )
    def entry(**kwargs):
        return imagenet_resnet(depth, preactivation=preactivation, **kwargs)

    entry.__name__ = f"resnet{depth}{suffix.replace('-', '')}"
    return entry


@register_model("preact-resnet-164", params=1_703_258, paper="arXiv:1603.05027", dataset="cifar10", error=5.46)
@base.builds(PreActResNet, cifar_resnet, fixed=FIXED_BY_DEPTH)
def preact_resnet164(**kwargs):
    return cifar_resnet(164, preactivation=True, bottleneck=True, **kwargs)


@register_model("preact-resnet-1001", params=10_327_706, paper="arXiv:1603.05027", dataset="cifar10", error=4.92)
@base.builds(PreActResNet, cifar_resnet, fixed=FIXED_BY_DEPTH)
def preact_resnet1001(**kwargs):
    return cifar_resnet(1001, preactivation=True, bottleneck=True, **kwargs)


for _depth in _CIFAR_V1:
    _register_cifar(_depth)
for _depth in _IMAGENET:
    _register_imagenet(_depth, preactivation=False)
    _register_imagenet(_depth, preactivation=True)


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
SEARCH_SPACE = {
    "family": "resnet",
    "prefixes": ("resnet-", "preact-resnet-"),
    "hyperparameters": {
        "depth": {"default": 20, "values": (8, 14, 20, 32, 44, 56, 110), "depth": (6, 2)},
        "preactivation": {"default": False},
    },
    "paper_names": {
        **{f"resnet-{d}": {"depth": d, "preactivation": False} for d in _CIFAR_V1},
        "preact-resnet-164": {"depth": 164, "preactivation": True, "bottleneck": True},
        "preact-resnet-1001": {"depth": 1001, "preactivation": True, "bottleneck": True},
    },
}


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("cifar-resnet", paper="arXiv:1512.03385", dataset="cifar10", family=True)
@base.builds(ResNet, cifar_resnet, search_space=SEARCH_SPACE)
def cifar_resnet_family(*, depth, **kwargs):
    """CIFAR ResNet of depth 6n+2 (`preactivation=True`: He 2016's v2)."""
    return cifar_resnet(depth, **kwargs)
