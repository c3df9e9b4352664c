"""ResNeXt: aggregated residual transformations (Xie et al. 2017)."""

import re

import keras

from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.models import base
from keras_resnets.models.resnet_layout import IMAGENET_DEPTHS as RESNET_DEPTHS
from keras_resnets.models.resnet_layout import STEMS
from keras_resnets._registry import register_model
from keras_resnets.errors import UserValueError

# ResNeXt has the bottleneck ResNets' stage depths (Xie et al. 2017, Table 1).
IMAGENET_DEPTHS = {
    depth: blocks for depth, (block, blocks) in RESNET_DEPTHS.items() if block == "bottleneck"
}


@keras.saving.register_keras_serializable(package="keras_resnets")
class ResNeXt(base.FamilyModel):
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
    - `cardinality=1`: a plain ResNet bottleneck of inner width
      `base_width * 2**s`; with `base_width=128` it is Zagoruyko &
      Komodakis's ImageNet Wide ResNet-50-2/101-2 (registered here as
      "wide-resnet-50-2" and "wide-resnet-101-2", as timm and torchvision
      build both with one class), whose torchvision weights load into it.

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
        weights: None, or the path to a torchvision/timm checkpoint
            (`.pth`, `.safetensors`; ImageNet stem) or to a `.weights.h5`
            saved from the same architecture. See `keras_resnets.weights`.
        **kwargs: the shared options and block options, see
            `keras_resnets.models.base.ModelOptions`; `num_classes` defaults
            to 10 with the CIFAR stem and 1000 with the ImageNet stem.

    Example:
    >>> model = ResNeXt([1, 1, 1], cardinality=2, base_width=4, stem="cifar",
    ...                 stackwise_num_filters=[16, 32, 64])
    >>> model.output_shape
    (None, 10)
    """

    block_options = base.BLOCK_OPTIONS

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
        weights=None,
        **kwargs,
    ):
        # === Validation ===
        options = self.take_options(kwargs)
        if stem not in STEMS:
            raise UserValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
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
        cifar = stem == "cifar"
        options = options.resolve(10 if cifar else 1000)
        min_size = (1 if cifar else 4) * 2 ** sum(s > 1 for s in stackwise_strides)
        schedule = base.block_schedule(
            stackwise_num_blocks,
            stackwise_strides,
            stackwise_num_filters=stackwise_num_filters,
            drop_path_rate=options.drop_path_rate,
        )

        # === Functional Model ===
        inputs = options.make_inputs(32 if cifar else 224, min_size, "ResNeXt")
        if cifar:
            x = base.apply_cifar_stem(inputs, 64, options=options)
        else:
            x = base.apply_imagenet_stem(inputs, 64, options=options)
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
                dropout_rate=options.dropout_rate,
                se_ratio=options.se_ratio,
                zero_init_last_bn=options.zero_init_last_bn,
                **options.block_kwargs(spec),
            ),
            schedule,
        )
        super().__init__(inputs, x, options, default_name="resnext", **kwargs)

        # === Config === (`weights` is loaded once and not saved)
        self.stackwise_num_blocks = stackwise_num_blocks
        self.cardinality, self.base_width, self.stem = cardinality, base_width, stem
        self.stackwise_num_filters = stackwise_num_filters
        self.stackwise_strides, self.stride_index = stackwise_strides, stride_index
        if weights is not None:
            from keras_resnets.weights import load_weights

            load_weights(self, weights)

    def get_config(self):
        return self.config_with(
            stackwise_num_blocks=self.stackwise_num_blocks,
            cardinality=self.cardinality, base_width=self.base_width, stem=self.stem,
            stackwise_num_filters=self.stackwise_num_filters,
            stackwise_strides=self.stackwise_strides, stride_index=self.stride_index,
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
        raise UserValueError(
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


# name: (depth, cardinality, base_width, params, paper, dataset, error)
_TABLE = {
    "resnext-29-8x64d": (29, 8, 64, 34_426_698, "arXiv:1611.05431", "cifar10", 3.65),
    "resnext-29-16x64d": (29, 16, 64, 68_155_210, "arXiv:1611.05431", "cifar10", 3.58),
    "resnext-50-32x4d": (50, 32, 4, 25_028_904, "arXiv:1611.05431", "imagenet", 22.2),
    "resnext-101-32x4d": (101, 32, 4, 44_177_704, "arXiv:1611.05431", "imagenet", 21.2),
    # Not in Xie 2017's tables (no error given here): the ResNeXt-101 that
    # torchvision (resnext101_32x8d) publishes weights for.
    "resnext-101-32x8d": (101, 32, 8, 88_791_336, "arXiv:1611.05431", "imagenet", None),
    # Xie 2017 Table 5: 20.4% top-1 error at 224x224; torchvision's resnext101_64x4d.
    "resnext-101-64x4d": (101, 64, 4, 83_455_272, "arXiv:1611.05431", "imagenet", 20.4),
    # Wide ResNet-50-2 / 101-2 (Zagoruyko & Komodakis 2016, their ImageNet
    # models): ResNet-50/101 bottlenecks with twice the inner width, i.e. a
    # ResNeXt of cardinality 1 and base width 128 (torchvision's
    # wide_resnet50_2: groups=1, width_per_group=128); 68.9M and 126.9M
    # parameters.
    "wide-resnet-50-2": (50, 1, 128, 68_883_240, "arXiv:1605.07146", "imagenet", None),
    "wide-resnet-101-2": (101, 1, 128, 126_886_696, "arXiv:1605.07146", "imagenet", None),
}


def _register(name, depth, cardinality, base_width, params, paper, dataset, error):
    cifar = dataset == "cifar10"

    @register_model(name, params=params, paper=paper, dataset=dataset, error=error)
    @base.builds(
        ResNeXt,
        cifar_resnext if cifar else imagenet_resnext,
        fixed=_FIXED_CIFAR if cifar else _FIXED_IMAGENET,
    )
    def entry(**kwargs):
        if cifar:  # the architecture may be overridden (keras_resnets.tuning)
            arch = {"depth": depth, "cardinality": cardinality, "base_width": base_width}
            return cifar_resnext(**{**arch, **kwargs})
        return imagenet_resnext(depth, cardinality, base_width, **kwargs)

    # resnext50_32x4d, wide_resnet50_2, ... (torchvision's names)
    entry.__name__ = re.sub(r"(resnext|resnet)_", r"\1", name.replace("-", "_"))
    return entry


for _name, _row in _TABLE.items():
    _register(_name, *_row)


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
SEARCH_SPACE = {
    "family": "resnext",
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


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("cifar-resnext", paper="arXiv:1611.05431", dataset="cifar10", family=True)
@base.builds(ResNeXt, cifar_resnext, search_space=SEARCH_SPACE)
def cifar_resnext_family(*, depth, cardinality, base_width, **kwargs):
    """CIFAR ResNeXt-`depth` (9n+2), `cardinality`x`base_width`d."""
    return cifar_resnext(depth, cardinality, base_width, **kwargs)
