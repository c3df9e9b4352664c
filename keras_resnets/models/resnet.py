"""ResNet v1 (He et al. 2015) and pre-activation ResNet v2 (He et al. 2016)."""

import numbers

import keras

from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.models import base
from keras_resnets._registry import register_model

BLOCK_TYPES = ("basic", "bottleneck")
STEMS = ("cifar", "imagenet")
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
CIFAR_FILTERS = (16, 32, 64)
IMAGENET_FILTERS = (64, 128, 256, 512)
_IMAGENET_RULE = "one of 18, 34, 50, 101, 152"


# Weighted layers per block and the papers' CIFAR depths, by block type.
_CIFAR_BLOCKS = {"basic": (2, "20, 32, 44, 56, 110, 1202"), "bottleneck": (3, "164, 1001")}


def depth_layout(family, depth, *, stem=None, block_type=None, preactivation=False):
    """The stages and defaults of a ResNet given by its depth.

    A depth of 18, 34, 50, 101 or 152 means the ImageNet network of He 2015
    Table 1 (with `preactivation`, keras.applications' ResNet V2 layout),
    any other depth the CIFAR network of He 2015 sec. 4.2 / He 2016:
    `6n+2` with basic blocks, `9n+2` with bottleneck blocks (the default of
    pre-activation networks, as He 2016's ResNet-164 and ResNet-1001).
    `stem` overrides the choice: 50 and 152 are also `6n+2` and 101 is
    `9n+2`, so `stem="cifar"` gives their CIFAR networks.

    Args:
        family: str, the class name used in error messages.
        depth: int, the number of weighted layers.
        stem: None, "cifar" or "imagenet".
        block_type: None, "basic" or "bottleneck"; None picks the paper's.
        preactivation: bool, pre-activation (v2) network.

    Returns:
        Dict of `ResNet` arguments: `stackwise_num_blocks`,
        `stackwise_num_filters`, `block_type`, `stem` and the layout
        defaults (`shortcut`, `stackwise_strides`, `downsample_last`,
        `stride_index`, `residual_bias`), which explicit arguments override.
    """
    if block_type not in (None,) + BLOCK_TYPES:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received: block_type={block_type!r}"
        )
    if stem not in (None,) + STEMS:
        raise ValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
    cifar_block_type = block_type or ("bottleneck" if preactivation else "basic")
    layers_per_block, examples = _CIFAR_BLOCKS[cifar_block_type]
    is_int = isinstance(depth, int) and not isinstance(depth, bool)
    cifar_ok = base.fits_depth(depth, 3 * layers_per_block, 2)
    if stem is None:
        if is_int and depth in IMAGENET_DEPTHS:
            stem = "imagenet"
        elif cifar_ok:
            stem = "cifar"
        else:
            if cifar_block_type == "bottleneck":
                cifar_rule = f"9n+2 for CIFAR (bottleneck blocks, e.g. {examples}"
                if preactivation and block_type is None:
                    cifar_rule += "; 6n+2 with block_type='basic'"
                cifar_rule += ")"
            else:
                cifar_rule = f"6n+2 for CIFAR (e.g. {examples})"
            raise ValueError(
                f"{family} depth must be {cifar_rule} or {_IMAGENET_RULE} for "
                f"ImageNet. Received: depth={depth!r}"
            )
    if stem == "imagenet":
        if not is_int or depth not in IMAGENET_DEPTHS:
            raise ValueError(
                f"ImageNet {family} depth must be {_IMAGENET_RULE}. "
                f"Received: depth={depth!r}"
            )
        table_type, blocks = IMAGENET_DEPTHS[depth]
        if block_type not in (None, table_type):
            raise ValueError(
                f"ImageNet {family}-{depth} has {table_type} blocks (pass "
                f"stem='cifar' for the CIFAR networks). Received: "
                f"block_type={block_type!r}"
            )
        layout = {
            "stackwise_num_blocks": list(blocks),
            "stackwise_num_filters": list(IMAGENET_FILTERS),
            "block_type": table_type,
            "stem": stem,
            "shortcut": "B",
        }
        if preactivation:
            layout.update(
                stackwise_strides=[2, 2, 2, 1],
                downsample_last=True,
                stride_index=1 if table_type == "bottleneck" else 0,
                residual_bias=True,
            )
        return layout
    n = base.blocks_per_stage(
        depth, family=f"CIFAR {family}", layers_per_block=layers_per_block, examples=examples
    )
    return {
        "stackwise_num_blocks": [n, n, n],
        "stackwise_num_filters": list(CIFAR_FILTERS),
        "block_type": cifar_block_type,
        "stem": stem,
        "shortcut": "B" if preactivation else "A",
    }


def resolve_layout(family, preactivation, *, depth, stackwise_num_blocks, **explicit):
    """The layout arguments of a `ResNet`, from a depth or the stackwise lists.

    Args:
        family: str, the class name used in error messages.
        preactivation: bool, pre-activation (v2) network.
        depth: None or int; an int `stackwise_num_blocks` counts as `depth`.
        stackwise_num_blocks: None, list of int or the depth.
        **explicit: the other layout arguments as passed (`None` = unset):
            `stackwise_num_filters`, `block_type`, `stem`,
            `stackwise_strides`, `shortcut`, `stride_index`,
            `downsample_last`, `residual_bias`.

    Returns:
        Dict of all those arguments, resolved and validated: explicit
        values, then the depth's layout (`depth_layout`), then the
        defaults of the stackwise form.
    """
    if isinstance(stackwise_num_blocks, numbers.Number):
        if depth is not None:
            raise ValueError(
                "Pass the depth once, as the first argument or as `depth`. Received: "
                f"stackwise_num_blocks={stackwise_num_blocks!r}, depth={depth!r}"
            )
        depth, stackwise_num_blocks = stackwise_num_blocks, None
    if depth is not None:
        if stackwise_num_blocks is not None:
            raise ValueError(
                "Pass either `depth` or `stackwise_num_blocks`, not both. "
                f"Received: depth={depth!r}, stackwise_num_blocks={stackwise_num_blocks!r}"
            )
        layout = depth_layout(
            family, depth, stem=explicit["stem"], block_type=explicit["block_type"],
            preactivation=preactivation,
        )
    elif stackwise_num_blocks is None or explicit["stackwise_num_filters"] is None:
        raise ValueError(
            f"{family} needs a depth (e.g. {family}(20) for CIFAR, {family}(50) for "
            "ImageNet) or both `stackwise_num_blocks` and `stackwise_num_filters`. "
            f"Received: stackwise_num_blocks={stackwise_num_blocks!r}, "
            f"stackwise_num_filters={explicit['stackwise_num_filters']!r}"
        )
    else:
        layout = {"stackwise_num_blocks": stackwise_num_blocks}
    # Explicit arguments win over the depth's layout, which wins over these.
    layout = {
        "block_type": "basic",
        "stem": "imagenet",
        "stride_index": 0,
        "downsample_last": False,
        "residual_bias": False,
        **layout,
        **{k: v for k, v in explicit.items() if v is not None},
    }
    if layout["block_type"] not in BLOCK_TYPES:
        raise ValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received: block_type={layout['block_type']!r}"
        )
    if layout["stem"] not in STEMS:
        raise ValueError(f"`stem` must be one of {STEMS}. Received: stem={layout['stem']!r}")
    blocks = list(layout["stackwise_num_blocks"])
    strides = layout.get("stackwise_strides")
    if strides is None:
        strides = [1] + [2] * (len(blocks) - 1)
    layout["stackwise_num_blocks"] = blocks
    layout["stackwise_num_filters"] = list(layout["stackwise_num_filters"])
    layout["stackwise_strides"] = list(strides)
    base.check_stackwise(blocks, layout["stackwise_num_filters"], layout["stackwise_strides"])
    if layout.get("shortcut") is None:
        layout["shortcut"] = "A" if layout["stem"] == "cifar" else "B"
    return layout


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
        weights: None, "imagenet" or the path to keras.applications
            weights (ImageNet layouts only), to a torchvision/timm checkpoint
            (`.pth`, `.safetensors`; v1 ImageNet models, built in its layout:
            unless `stride_index` is given, bottlenecks stride on the 3x3)
            or to a `.weights.h5` saved from the same architecture. See
            `keras_resnets.weights`.
        dtype: dtype policy of every layer.
        name: model name.
        trainable: bool, as `keras.Model`. Any other keyword argument
            raises a TypeError naming the closest valid one.

    Example:
    >>> model = ResNet(20)  # CIFAR ResNet-20, 0.27M parameters
    >>> model.output_shape
    (None, 10)
    >>> model = ResNet([3, 3, 3], [16, 32, 64], stem="cifar")  # the same
    """

    block_cls = ResNetBlock
    preactivation = False

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
        family = type(self).__name__
        base.check_model_kwargs(ResNet, kwargs, family)
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
        stackwise_num_blocks = layout["stackwise_num_blocks"]
        stackwise_num_filters = layout["stackwise_num_filters"]
        block_type = layout["block_type"]
        stem = layout["stem"]
        stackwise_strides = layout["stackwise_strides"]
        shortcut = layout["shortcut"]
        stride_index = layout["stride_index"]
        downsample_last = layout["downsample_last"]
        residual_bias = layout["residual_bias"]
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
        min_size = (1 if cifar else 4) * 2 ** sum(s > 1 for s in stackwise_strides)
        schedule = base.block_schedule(
            stackwise_num_blocks,
            stackwise_strides,
            stackwise_num_filters=stackwise_num_filters,
            downsample_last=downsample_last,
            drop_path_rate=drop_path_rate,
        )

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
            lambda spec: self.block_cls(
                spec.filters,
                spec.strides,
                drop_path_rate=spec.drop_path_rate,
                name=spec.name,
                **block_kwargs,
            ),
            schedule,
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
            from keras_resnets.weights import load_weights

            load_weights(self, weights)

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


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.tuning.search_spaces) ===
SEARCH_SPACE = {
    "family": "resnet",
    "generic": "cifar-resnet",
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
