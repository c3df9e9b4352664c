"""The stages of a network: the depth rule and the per-block schedule.

`block_schedule` computes every block's settings once for the whole
network (stride, width, stochastic-depth rate, ShakeDrop probability,
name), as timm's `make_blocks` does, and `apply_stages` builds one block
per entry. `blocks_per_stage` turns a paper depth (`6n+2`, `9n+2`, `6n+4`)
into blocks per stage.
"""

import collections

from keras_resnets.layers._utils import check_rate
from keras_resnets.layers.regularization import drop_path_rates
from keras_resnets.layers.shake import shakedrop_probabilities
from keras_resnets.errors import UserValueError


def blocks_per_stage(depth, *, family, layers_per_block, extra_layers=2, rule="", examples):
    """The blocks per stage `n` of a 3-stage CIFAR network of depth `depth`.

    Such a network has `3 * layers_per_block * n + extra_layers` weighted
    layers (He 2015: `6n+2`; bottleneck blocks: `9n+2`; WRN: `6n+4`).

    Args:
        depth: the depth received.
        family: str, the name the error message starts with.
        layers_per_block: int, weighted layers in one block.
        extra_layers: int, the layers outside the blocks (stem, classifier,
            and WRN's projections).
        rule: str, what fixes `layers_per_block`, put after the rule (e.g.
            " for block_type='basic'").
        examples: str, valid depths shown in the message.

    Returns:
        int `n >= 1`.

    Raises:
        ValueError: "WRN depth must be 6n+4 for block_type (3, 3) (e.g. 10,
            16, 22, 28, 34, 40). Received: depth=27" when `depth` is no such
            integer.
    """
    step = 3 * layers_per_block
    if not fits_depth(depth, step, extra_layers):
        raise UserValueError(
            f"{family} depth must be {step}n+{extra_layers}{rule} (e.g. {examples}). "
            f"Received: depth={depth!r}"
        )
    return (depth - extra_layers) // step


def fits_depth(depth, step, extra_layers):
    """Whether `depth` is an integer `step * n + extra_layers` with `n >= 1`."""
    return (
        isinstance(depth, int)
        and not isinstance(depth, bool)
        and depth >= step + extra_layers
        and (depth - extra_layers) % step == 0
    )


class BlockSpec(collections.namedtuple(
    "BlockSpec", ["stage", "block", "index", "filters", "strides", "drop_path_rate",
                  "shakedrop_p", "name"],
)):
    """What one residual block of a network gets from its schedule.

    Fields: `stage` and `block` (0-based position), `index` (0-based over
    the whole network), `filters`, `strides`, `drop_path_rate`,
    `shakedrop_p` (None without ShakeDrop) and `name` (`stage{s}_block{b}`,
    1-based).
    """

    def seed(self, seed):
        """The seed of this block's random layers: `seed + index`, or None."""
        return None if seed is None else seed + self.index


def block_schedule(
    stackwise_num_blocks,
    stackwise_strides,
    *,
    stackwise_num_filters=None,
    block_filters=None,
    downsample_last=False,
    drop_path_rate=0.0,
    shakedrop_p_last=None,
):
    """Every block's settings, computed once for the whole network.

    The stride of a stage goes on its first block (He 2015/2016, WRN) or,
    with `downsample_last`, on its last block (keras.applications' ResNet
    V2). Stochastic depth decays linearly over all `L` blocks (Huang 2016:
    block `l` gets `drop_path_rate * l / L`), and so does ShakeDrop's keep
    probability (Yamada 2018: `p_l = 1 - l/L * (1 - p_L)`).

    Args:
        stackwise_num_blocks: list of int, blocks per stage.
        stackwise_strides: list of int, stride of each stage.
        stackwise_num_filters: list of int, filters of each stage's blocks.
        block_filters: list of int, filters of each block (PyramidNet's
            growing widths), instead of `stackwise_num_filters`.
        downsample_last: bool, stride on the last block of a stage.
        drop_path_rate: float in [0, 1), stochastic depth of the last block.
        shakedrop_p_last: None (no ShakeDrop) or float in [0, 1], `p_L`.

    Returns:
        A list of `BlockSpec`, one per block, in network order.
    """
    total = sum(stackwise_num_blocks)
    check_rate("drop_path_rate", drop_path_rate)
    rates = drop_path_rates(total, drop_path_rate)
    if shakedrop_p_last is None:
        probs = [None] * total
    else:
        check_rate("shakedrop_p_last", shakedrop_p_last, allow_one=True)
        probs = shakedrop_probabilities(total, shakedrop_p_last)
    schedule = []
    for s, (n, stride) in enumerate(zip(stackwise_num_blocks, stackwise_strides)):
        for b in range(n):
            i = len(schedule)
            strided = b == (n - 1 if downsample_last else 0)
            schedule.append(
                BlockSpec(
                    stage=s,
                    block=b,
                    index=i,
                    filters=block_filters[i] if block_filters else stackwise_num_filters[s],
                    strides=stride if strided else 1,
                    drop_path_rate=rates[i],
                    shakedrop_p=probs[i],
                    name=f"stage{s + 1}_block{b + 1}",
                )
            )
    return schedule


def apply_stages(x, block_fn, schedule):
    """Applies one block per entry of `schedule` (see `block_schedule`).

    Args:
        x: the stem's output.
        block_fn: function of a `BlockSpec` returning the block layer.
        schedule: list of `BlockSpec`.

    Returns:
        The output of the last block.
    """
    for spec in schedule:
        x = block_fn(spec)(x)
    return x


def check_stackwise(num_blocks, num_filters, strides):
    lengths = {len(num_blocks), len(num_filters), len(strides)}
    if len(lengths) != 1:
        raise UserValueError(
            "`stackwise_num_blocks`, `stackwise_num_filters` and "
            "`stackwise_strides` must have the same length. Received: "
            f"stackwise_num_blocks={num_blocks}, stackwise_num_filters="
            f"{num_filters}, stackwise_strides={strides}"
        )
    for n in num_blocks:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserValueError(
                "Every stage needs at least one block. Received: "
                f"stackwise_num_blocks={num_blocks}"
            )
