"""How a depth or the stackwise lists become a ResNet's layout.

A depth of 18, 34, 50, 101 or 152 means the ImageNet network of He 2015
Table 1, any other depth a CIFAR network (`6n+2` basic, `9n+2`
bottleneck); `resolve_layout` completes and checks every layout argument of
`ResNet` / `PreActResNet` before anything is built.
"""

import numbers

from keras_resnets.models import stages
from keras_resnets.errors import UserValueError

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
        raise UserValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received: block_type={block_type!r}"
        )
    if stem not in (None,) + STEMS:
        raise UserValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
    cifar_block_type = block_type or ("bottleneck" if preactivation else "basic")
    layers_per_block, examples = _CIFAR_BLOCKS[cifar_block_type]
    is_int = isinstance(depth, int) and not isinstance(depth, bool)
    cifar_ok = stages.fits_depth(depth, 3 * layers_per_block, 2)
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
            raise UserValueError(
                f"{family} depth must be {cifar_rule} or {_IMAGENET_RULE} for "
                f"ImageNet. Received: depth={depth!r}"
            )
    if stem == "imagenet":
        if not is_int or depth not in IMAGENET_DEPTHS:
            raise UserValueError(
                f"ImageNet {family} depth must be {_IMAGENET_RULE}. "
                f"Received: depth={depth!r}"
            )
        table_type, blocks = IMAGENET_DEPTHS[depth]
        if block_type not in (None, table_type):
            raise UserValueError(
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
    n = stages.blocks_per_stage(
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
            raise UserValueError(
                "Pass the depth once, as the first argument or as `depth`. Received: "
                f"stackwise_num_blocks={stackwise_num_blocks!r}, depth={depth!r}"
            )
        depth, stackwise_num_blocks = stackwise_num_blocks, None
    if depth is not None:
        if stackwise_num_blocks is not None:
            raise UserValueError(
                "Pass either `depth` or `stackwise_num_blocks`, not both. "
                f"Received: depth={depth!r}, stackwise_num_blocks={stackwise_num_blocks!r}"
            )
        layout = depth_layout(
            family, depth, stem=explicit["stem"], block_type=explicit["block_type"],
            preactivation=preactivation,
        )
    elif stackwise_num_blocks is None or explicit["stackwise_num_filters"] is None:
        raise UserValueError(
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
        raise UserValueError(
            f"`block_type` must be one of {BLOCK_TYPES}. "
            f"Received: block_type={layout['block_type']!r}"
        )
    if layout["stem"] not in STEMS:
        raise UserValueError(f"`stem` must be one of {STEMS}. Received: stem={layout['stem']!r}")
    blocks = list(layout["stackwise_num_blocks"])
    strides = layout.get("stackwise_strides")
    if strides is None:
        strides = [1] + [2] * (len(blocks) - 1)
    layout["stackwise_num_blocks"] = blocks
    layout["stackwise_num_filters"] = list(layout["stackwise_num_filters"])
    layout["stackwise_strides"] = list(strides)
    stages.check_stackwise(blocks, layout["stackwise_num_filters"], layout["stackwise_strides"])
    if layout.get("shortcut") is None:
        layout["shortcut"] = "A" if layout["stem"] == "cifar" else "B"
    return layout
