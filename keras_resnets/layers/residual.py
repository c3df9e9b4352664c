"""Residual blocks: post-activation (ResNet v1) and pre-activation (v2, WRN)."""

import keras
from keras import ops

from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers._utils import check_rate
from keras_resnets.layers._utils import strided_output_shape
from keras_resnets.layers.block import ResidualBlockBase
from keras_resnets.layers.conv import Shortcut
from keras_resnets.layers.regularization import Dropout
from keras_resnets.errors import UserValueError

VALID_KERNEL_SIZES = (1, 3)


def check_kernel_sizes(name, kernel_sizes):
    """Checks the kernel sizes of a block's convolutions (a Wide ResNet
    block type B(...)) and returns them as a tuple."""
    kernel_sizes = tuple(kernel_sizes)
    if not kernel_sizes or any(k not in VALID_KERNEL_SIZES for k in kernel_sizes):
        raise UserValueError(
            f"`{name}` must be a non-empty sequence of kernel sizes 1 and 3, "
            "such as the Wide ResNet block types (3, 3), (3, 1, 3), (1, 3, 1), "
            f"(1, 3), (3, 1) or (3, 1, 1). Received: {name}={kernel_sizes!r}"
        )
    return kernel_sizes


class _ResidualBlock(ResidualBlockBase):
    """Shared configuration and construction of the residual blocks."""

    preactivation = False

    def __init__(
        self,
        filters,
        strides=1,
        *,
        kernel_sizes=None,
        expansion=None,
        output_filters=None,
        bottleneck=False,
        stride_index=0,
        shortcut="B",
        groups=1,
        dropout_rate=0.0,
        se_ratio=None,
        zero_init_last_bn=False,
        residual_bias=False,
        **kwargs,
    ):
        super().__init__(filters, strides, **kwargs)
        self.bottleneck = bool(bottleneck)
        if kernel_sizes is None:
            kernel_sizes = (1, 3, 1) if bottleneck else (3, 3)
        self.kernel_sizes = check_kernel_sizes("kernel_sizes", kernel_sizes)
        if expansion is None:
            expansion = 4 if bottleneck else 1
        self.expansion = check_positive_int("expansion", expansion)
        if output_filters is not None:
            output_filters = check_positive_int("output_filters", output_filters)
        self._output_filters = output_filters
        if not 0 <= stride_index < len(kernel_sizes):
            raise UserValueError(
                f"`stride_index` must index one of the {len(kernel_sizes)} "
                f"convolutions. Received: stride_index={stride_index!r}"
            )
        self.stride_index = stride_index
        if shortcut not in ("A", "B", "C"):
            raise UserValueError(
                "`shortcut` must be one of 'A' (zero-padding), 'B' (projection "
                "where the shape changes) or 'C' (projection everywhere). "
                f"Received: shortcut={shortcut!r}"
            )
        self.shortcut_mode = shortcut
        self.groups = check_positive_int("groups", groups)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        if se_ratio is not None and se_ratio <= 0:
            raise UserValueError(
                f"`se_ratio` must be a positive number or None. Received: se_ratio={se_ratio!r}"
            )
        self.se_ratio = se_ratio
        self.zero_init_last_bn = zero_init_last_bn
        self.residual_bias = residual_bias

    @property
    def output_filters(self):
        if self._output_filters is not None:
            return self._output_filters
        return self.filters * self.expansion

    def _conv_widths(self):
        n = len(self.kernel_sizes)
        return [self.filters] * (n - 1) + [self.output_filters]

    def _build_branch(self, input_shape):
        """Creates the convs (+ paddings) and their BNs, in the block's order.

        The BN of conv `i` is built on the conv's output (post-activation)
        or on its input (pre-activation); the last one starts at gamma 0
        with `zero_init_last_bn`. Returns the branch output shape.
        """
        self.bns, self.convs, self.pads = [], [], []
        convs = [
            (k, width, self.groups if k > 1 else 1)
            for k, width in zip(self.kernel_sizes, self._conv_widths())
        ]
        last = len(convs) - 1
        shape = input_shape
        for i, pad, conv, in_shape, shape in self.conv_stack(
            input_shape,
            convs,
            stride_index=self.stride_index,
            last_bias=self.residual_bias and self.preactivation,
        ):
            self.pads.append(pad)
            self.convs.append(conv)
            self.bns.append(
                self.batch_norm(
                    f"bn{i + 1}",
                    in_shape if self.preactivation else shape,
                    gamma_zero=self.zero_init_last_bn and i == last,
                )
            )
        return shape

    def _build_extras(self, shape, input_shape):
        self.dropout = None
        if self.dropout_rate > 0:
            self.dropout = Dropout(
                self.dropout_rate, seed=self.seed, dtype=self.dtype_policy, name="dropout"
            )
        self.se = None
        if self.se_ratio:
            from keras_resnets.layers.attention import SqueezeExcite

            self.se = SqueezeExcite(
                ratio=self.se_ratio, data_format=self.data_format,
                dtype=self.dtype_policy, name="se",
            )
            self.se.build(shape)
        self.drop_path = self.make_drop_path()
        self.shortcut = Shortcut(
            self.output_filters,
            self.strides,
            mode=self.shortcut_mode,
            normalize=not self.preactivation,
            use_bias=self.residual_bias and self.preactivation,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bn_momentum=self.bn_momentum,
            bn_epsilon=self.bn_epsilon,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name="shortcut",
        )
        self.shortcut.build(input_shape)

    def build(self, input_shape):
        self._build_extras(self._build_branch(input_shape), input_shape)

    def _conv(self, i, x):
        if self.pads[i] is not None:
            x = self.pads[i](x)
        return self.convs[i](x)

    def _finish_branch(self, x, training):
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return strided_output_shape(
            input_shape, self.strides, self.data_format, self.output_filters
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_sizes": list(self.kernel_sizes),
                "expansion": self.expansion,
                "output_filters": self._output_filters,
                "bottleneck": self.bottleneck,
                "stride_index": self.stride_index,
                "shortcut": self.shortcut_mode,
                "groups": self.groups,
                "dropout_rate": self.dropout_rate,
                "se_ratio": self.se_ratio,
                "zero_init_last_bn": self.zero_init_last_bn,
                "residual_bias": self.residual_bias,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_resnets")
class ResNetBlock(_ResidualBlock):
    """Post-activation residual block of ResNet v1 (He et al. 2015).

    Paper: "Deep Residual Learning for Image Recognition", CVPR 2016,
    https://arxiv.org/abs/1512.03385.

    `y = ReLU(F(x) + shortcut(x))` with `F` = conv-BN-ReLU-...-conv-BN.
    Basic block: kernels (3, 3). Bottleneck (`bottleneck=True`): kernels
    (1, 3, 1) with the last conv widened by `expansion` = 4. The stride sits
    on the conv `stride_index` (0: the first conv, as in He 2015 and
    keras.applications; 1: the 3x3, as in "ResNet v1.5").

    Args:
        filters: int, width of the inner convolutions.
        strides: int, 1 or 2.
        kernel_sizes: tuple of 1/3, kernel of each conv. Defaults to (3, 3),
            or (1, 3, 1) with `bottleneck=True`.
        expansion: int, output channels = `filters * expansion`.
        output_filters: int or None, output channels when they are not a
            multiple of `filters` (ResNeXt-29: inner 512, output 256);
            overrides `expansion`.
        bottleneck: bool, the 1x1-3x3-1x1 block with expansion 4.
        stride_index: int, which conv carries the stride.
        shortcut: "A", "B" or "C" (see `Shortcut`).
        groups: int, groups of the 3x3 convs (ResNeXt cardinality).
        dropout_rate: float in [0, 1), dropout between convolutions.
        drop_path_rate: float in [0, 1), stochastic depth on the branch.
        se_ratio: squeeze-excitation reduction on the branch, or None.
        zero_init_last_bn: bool, gamma = 0 in the branch's last BN.
        **kwargs: `seed` (of the dropout and drop-path sub-layers) and the
            conv/BN settings, see `ResidualBlockBase`.

    Call arguments:
        inputs: 4D tensor.
        training: bool.

    Example:
    >>> x = keras.ops.ones((2, 8, 8, 64))
    >>> ResNetBlock(16, 2, bottleneck=True)(x).shape
    (2, 4, 4, 64)
    """

    def call(self, inputs, training=None):
        x = inputs
        last = len(self.convs) - 1
        for i in range(len(self.convs)):
            if i > 0 and self.dropout is not None:
                x = self.dropout(x, training=training)
            x = self.bns[i](self._conv(i, x), training=training)
            if i < last:
                x = ops.relu(x)
        x = self._finish_branch(x, training)
        return ops.relu(x + self.shortcut(inputs, training=training))


@keras.saving.register_keras_serializable(package="keras_resnets")
class PreActBlock(_ResidualBlock):
    """Pre-activation residual block (He et al. 2016; Wide ResNet block).

    Papers: "Identity Mappings in Deep Residual Networks", ECCV 2016,
    https://arxiv.org/abs/1603.05027; Zagoruyko & Komodakis, "Wide Residual
    Networks", BMVC 2016, https://arxiv.org/abs/1605.07146.

    `y = F(x) + shortcut(x)` with `F` = BN-ReLU-conv-BN-ReLU-[dropout]-conv...
    The identity path is clean; a projection shortcut reads the normalised
    input `ReLU(BN(x))`. `kernel_sizes` gives the Wide ResNet block type
    B(3,3), B(3,1,3), B(1,3,1), B(1,3), B(3,1) or B(3,1,1) (its length is the
    deepening factor `l`), dropout sits between the convolutions.
    `residual_bias=True` puts a bias on the convs not followed by BN (last
    conv and projection), as keras.applications' ResNet V2 do.

    Args: as `ResNetBlock`, plus `residual_bias`.

    Call arguments:
        inputs: 4D tensor.
        training: bool.

    Example:
    >>> x = keras.ops.ones((2, 8, 8, 16))
    >>> PreActBlock(32, 2, kernel_sizes=(3, 1, 3), dropout_rate=0.3)(x).shape
    (2, 4, 4, 32)
    """

    preactivation = True

    def call(self, inputs, training=None):
        preact = ops.relu(self.bns[0](inputs, training=training))
        x = preact
        for i in range(len(self.convs)):
            if i > 0:
                x = ops.relu(self.bns[i](x, training=training))
                if self.dropout is not None:
                    x = self.dropout(x, training=training)
            x = self._conv(i, x)
        x = self._finish_branch(x, training)
        shortcut_input = preact if self.shortcut.conv is not None else inputs
        return x + self.shortcut(shortcut_input, training=training)


WideResNetBlock = PreActBlock
