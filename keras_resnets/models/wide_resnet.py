"""Wide Residual Networks (Zagoruyko & Komodakis 2016)."""

import keras

from keras_resnets.layers._utils import check_rate
from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import VALID_KERNEL_SIZES
from keras_resnets.models import base
from keras_resnets._registry import register_model


def _valid_depths(l):
    return ", ".join(str(3 * l * n + 4) for n in range(1, 7))


@keras.saving.register_keras_serializable(package="keras_resnets")
class WideResNet(keras.Model):
    """Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016).

    Paper: "Wide Residual Networks", BMVC 2016,
    https://arxiv.org/abs/1605.07146. conv3x3(16), then 3 groups of
    `N = (d - 4) / (3 l)` pre-activation blocks of widths 16k, 32k, 64k
    (`l` = number of convs per block, from `block_type`), final BN-ReLU,
    global average pooling and the classifier. Dropout sits between the
    convolutions of a block. Table 4: WRN-28-10 has 36.5M parameters and
    4.17% CIFAR-10 error (3.89% with dropout 0.3, Table 6).

    Args:
        depth: int, total depth `d`; `6N + 4` for B(3,3), `3 l N + 4` in general.
        k: int >= 1, widening factor.
        dropout_rate: float in [0, 1), dropout between the convolutions.
        block_type: tuple of kernel sizes, e.g. (3, 3), (3, 1, 3), (1, 3, 1).
        stackwise_strides: strides of the three groups, default (1, 2, 2).
        include_top, input_shape, num_classes (alias classes), pooling,
        classifier_activation, drop_path_rate, se_ratio, zero_init_last_bn,
        kernel_regularizer, bn_momentum, bn_epsilon, data_format, dtype,
        name: as `keras_resnets.ResNet`.

    Example:
    >>> model = WideResNet(16, 4, dropout_rate=0.3)
    >>> model.output_shape
    (None, 10)
    """

    def __init__(
        self,
        depth,
        k=1,
        *,
        dropout_rate=0.0,
        block_type=(3, 3),
        stackwise_strides=(1, 2, 2),
        include_top=True,
        input_shape=None,
        num_classes=None,
        classes=None,
        pooling=None,
        classifier_activation="softmax",
        drop_path_rate=0.0,
        se_ratio=None,
        zero_init_last_bn=False,
        kernel_regularizer=None,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        data_format=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        # === Validation ===
        base.check_model_kwargs(WideResNet, kwargs, type(self).__name__)
        block_type = tuple(block_type)
        if not block_type or any(k_ not in VALID_KERNEL_SIZES for k_ in block_type):
            raise ValueError(
                "`block_type` must be a tuple of kernel sizes 1 and 3, e.g. "
                "(3, 3), (3, 1, 3), (1, 3, 1), (1, 3), (3, 1) or (3, 1, 1). "
                f"Received: block_type={block_type!r}"
            )
        l = len(block_type)
        n = base.blocks_per_stage(
            depth, family="WRN", layers_per_block=l, extra_layers=4,
            rule=f" for block_type {block_type}", examples=_valid_depths(l),
        )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(
                f"WRN widening factor `k` must be an integer >= 1. Received: k={k!r}"
            )
        check_rate("dropout_rate", dropout_rate)
        stackwise_strides = list(stackwise_strides)
        base.check_pooling(pooling)
        num_classes = base.resolve_num_classes(num_classes, classes, 10)
        config = base.BuildConfig(
            data_format=data_format,
            dtype=dtype,
            kernel_regularizer=kernel_regularizer,
            bn_momentum=bn_momentum,
            bn_epsilon=bn_epsilon,
        )
        min_size = 2 ** sum(s > 1 for s in stackwise_strides)
        schedule = base.block_schedule(
            [n, n, n],
            stackwise_strides,
            stackwise_num_filters=[16 * k, 32 * k, 64 * k],
            drop_path_rate=drop_path_rate,
        )
        block_kwargs = dict(
            kernel_sizes=block_type,
            shortcut="B",
            dropout_rate=dropout_rate,
            se_ratio=se_ratio,
            zero_init_last_bn=zero_init_last_bn,
            **config.block_kwargs(),
        )

        # === Functional Model ===
        inputs = base.make_inputs(input_shape, 32, config.data_format, min_size, "WideResNet")
        x = base.apply_cifar_stem(inputs, 16, bn=False, config=config)
        x = base.apply_stages(
            x,
            lambda spec: PreActBlock(
                spec.filters,
                spec.strides,
                drop_path_rate=spec.drop_path_rate,
                name=spec.name,
                **block_kwargs,
            ),
            schedule,
        )
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
        super().__init__(inputs=inputs, outputs=outputs, name=name or f"wrn_{depth}_{k}", **kwargs)

        # === Config ===
        base.store_common_config(
            self, inputs, config, include_top=include_top, num_classes=num_classes,
            pooling=pooling, classifier_activation=classifier_activation,
        )
        self.depth = depth
        self.k = k
        self.dropout_rate = dropout_rate
        self.block_type = block_type
        self.deepening_factor = l
        self.stackwise_strides = stackwise_strides
        self.drop_path_rate = drop_path_rate
        self.se_ratio = se_ratio
        self.zero_init_last_bn = zero_init_last_bn

    def get_config(self):
        return base.common_config(
            self,
            {
                "depth": self.depth,
                "k": self.k,
                "dropout_rate": self.dropout_rate,
                "block_type": list(self.block_type),
                "stackwise_strides": self.stackwise_strides,
                "drop_path_rate": self.drop_path_rate,
                "se_ratio": self.se_ratio,
                "zero_init_last_bn": self.zero_init_last_bn,
            },
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


# === Search space: what `keras-resnets tune` varies (keys: keras_resnets.tuning.search_spaces) ===
SEARCH_SPACE = {
    "family": "wrn",
    "generic": "wrn",
    "prefixes": ("wrn-",),
    "hyperparameters": {
        "depth": {"default": 16, "values": (10, 16, 22, 28, 40), "depth": (6, 4)},
        "k": {"default": 4, "min": 1, "max": 12, "valid": "1..12"},
        "dropout_rate": {"default": 0.0, "min": 0.0, "max": 0.5, "valid": "[0, 0.5]"},
    },
    "paper_names": {f"wrn-{d}-{k}": {"depth": d, "k": k} for d, k in _WRN},
}
