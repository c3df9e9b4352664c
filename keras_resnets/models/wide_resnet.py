"""Wide Residual Networks (Zagoruyko & Komodakis 2016)."""

import keras

from keras_resnets.layers._utils import check_rate
from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import check_kernel_sizes
from keras_resnets.models import base
from keras_resnets._registry import register_model
from keras_resnets.errors import UserValueError


def _valid_depths(l):
    return ", ".join(str(3 * l * n + 4) for n in range(1, 7))


@keras.saving.register_keras_serializable(package="keras_resnets")
class WideResNet(base.FamilyModel):
    """Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016).

    Paper: "Wide Residual Networks", BMVC 2016,
    https://arxiv.org/abs/1605.07146. conv3x3(16), then 3 groups of
    `N = (d - 4) / (3 l)` pre-activation blocks of widths 16k, 32k, 64k
    (`l` = number of convs per block, from `block_type`), final BN-ReLU,
    global average pooling and the classifier. Dropout sits between the
    convolutions of a block. Table 4: WRN-28-10 has 36.5M parameters and
    4.17% CIFAR-10 error (3.89% with dropout 0.3, Table 6). The paper's
    ImageNet networks ("wide-resnet-50-2", "wide-resnet-101-2") are
    bottleneck ResNets of doubled width, built by `ResNeXt` with
    cardinality 1 (see `keras_resnets.models.resnext`).

    Args:
        depth: int, total depth `d`; `6N + 4` for B(3,3), `3 l N + 4` in general.
        k: int >= 1, widening factor.
        dropout_rate: float in [0, 1), dropout between the convolutions.
        block_type: tuple of kernel sizes, e.g. (3, 3), (3, 1, 3), (1, 3, 1).
        stackwise_strides: strides of the three groups, default (1, 2, 2).
        **kwargs: the shared options and the block options
            `drop_path_rate`, `se_ratio`, `zero_init_last_bn`, see
            `keras_resnets.models.base.ModelOptions`.

    Example:
    >>> model = WideResNet(16, 4, dropout_rate=0.3)
    >>> model.output_shape
    (None, 10)
    """

    post_activation = ("bn", "relu")
    block_options = ("drop_path_rate", "se_ratio", "zero_init_last_bn")

    def __init__(
        self,
        depth,
        k=1,
        *,
        dropout_rate=0.0,
        block_type=(3, 3),
        stackwise_strides=(1, 2, 2),
        **kwargs,
    ):
        # === Validation ===
        options = self.take_options(kwargs)
        block_type = check_kernel_sizes("block_type", block_type)
        l = len(block_type)
        n = base.blocks_per_stage(
            depth, family="WRN", layers_per_block=l, extra_layers=4,
            rule=f" for block_type {block_type}", examples=_valid_depths(l),
        )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UserValueError(
                f"WRN widening factor `k` must be an integer >= 1. Received: k={k!r}"
            )
        check_rate("dropout_rate", dropout_rate)
        stackwise_strides = list(stackwise_strides)
        options = options.resolve(10)
        min_size = 2 ** sum(s > 1 for s in stackwise_strides)
        schedule = base.block_schedule(
            [n, n, n],
            stackwise_strides,
            stackwise_num_filters=[16 * k, 32 * k, 64 * k],
            drop_path_rate=options.drop_path_rate,
        )
        block_kwargs = dict(
            kernel_sizes=block_type,
            shortcut="B",
            dropout_rate=dropout_rate,
            se_ratio=options.se_ratio,
            zero_init_last_bn=options.zero_init_last_bn,
        )

        # === Functional Model ===
        inputs = options.make_inputs(32, min_size, "WideResNet")
        x = base.apply_cifar_stem(inputs, 16, bn=False, options=options)
        x = base.apply_stages(
            x,
            lambda spec: PreActBlock(
                spec.filters, spec.strides, **block_kwargs, **options.block_kwargs(spec)
            ),
            schedule,
        )
        super().__init__(inputs, x, options, default_name=f"wrn_{depth}_{k}", **kwargs)

        # === Config ===
        self.depth, self.k, self.dropout_rate = depth, k, dropout_rate
        self.block_type, self.stackwise_strides = block_type, stackwise_strides
        self.deepening_factor = l

    def get_config(self):
        return self.config_with(
            depth=self.depth, k=self.k, dropout_rate=self.dropout_rate,
            block_type=list(self.block_type), stackwise_strides=self.stackwise_strides,
        )


# Table 4 of the paper (CIFAR-10 errors without dropout).
_WRN = {
    (40, 1): (563_930, 6.85),
    (40, 2): (2_243_546, 5.33),
    (40, 4): (8_949_210, 4.97),
    (40, 8): (35_748_314, 4.66),
    (16, 4): (2_748_890, 5.02),
    (16, 8): (10_961_370, 4.81),
    (16, 10): (17_116_634, 4.49),
    (22, 8): (17_158_106, 4.38),
    (28, 10): (36_479_194, 4.17),
    (28, 12): (52_517_850, 4.33),
}


def _register(depth, k, params, error):
    @register_model(
        f"wrn-{depth}-{k}", params=params, paper="arXiv:1605.07146",
        dataset="cifar10", error=error,
    )
    @base.builds(WideResNet)
    def entry(**kwargs):
        return WideResNet(**{"depth": depth, "k": k, **kwargs})

    entry.__name__ = f"wrn_{depth}_{k}"
    return entry


for (_d, _k), (_p, _e) in _WRN.items():
    _register(_d, _k, _p, _e)


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.spaces.families);
# the family name below declares it ===
SEARCH_SPACE = {
    "family": "wrn",
    "prefixes": ("wrn-",),
    "hyperparameters": {
        "depth": {"default": 16, "values": (10, 16, 22, 28, 40), "depth": (6, 4)},
        "k": {"default": 4, "min": 1, "max": 12, "valid": "1..12"},
        "dropout_rate": {"default": 0.0, "min": 0.0, "max": 0.5, "valid": "[0, 0.5]"},
    },
    "paper_names": {f"wrn-{d}-{k}": {"depth": d, "k": k} for d, k in _WRN},
}


# The family name: any valid architecture, no paper numbers (`family=True`:
# `list_models(families=True)` lists it; `keras-resnets tune` exports to it).
@register_model("wrn", paper="arXiv:1605.07146", dataset="cifar10", family=True)
@base.builds(WideResNet, search_space=SEARCH_SPACE)
def wrn(*, depth, k, **kwargs):
    """Wide ResNet WRN-`depth`-`k`: depth 6n+4, widening factor k >= 1."""
    return WideResNet(depth, k, **kwargs)
