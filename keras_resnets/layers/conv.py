"""Convolution helpers and the residual shortcut (options A, B and C)."""

import keras

from keras_resnets.layers._utils import channel_axis
from keras_resnets.layers._utils import pad_channels
from keras_resnets.layers._utils import standardize_data_format
from keras_resnets.layers._utils import strided_output_shape
from keras_resnets.layers._utils import subsample
from keras_resnets.layers.normalization import BatchNormalization
from keras_resnets.errors import UserValueError

SHORTCUT_MODES = ("A", "B", "C")

# He-normal (fan_out, as in the reference Torch/PyTorch ResNets) for convs.
CONV_INITIALIZER = "he_normal"


def fresh_initializer(initializer):
    """A new initializer instance with the same config.

    An unseeded Keras initializer instance returns the same values on every
    call, so convolutions must never share one (two same-shaped convs would
    start with identical kernels).
    """
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


def make_conv(
    filters,
    kernel_size,
    *,
    strides=1,
    use_bias=False,
    groups=1,
    kernel_initializer=CONV_INITIALIZER,
    kernel_regularizer=None,
    data_format=None,
    dtype=None,
    name=None,
):
    """A `Conv2D` with the package's defaults (no bias before BN, He init).

    Strided convolutions use "valid" padding and expect the caller to pad
    symmetrically first (see `make_padding`), which matches PyTorch and the
    Torch/Caffe reference models; TensorFlow's "same" padding would pad
    asymmetrically on even inputs.
    """
    padding = "same" if strides == 1 else "valid"
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        groups=groups,
        kernel_initializer=fresh_initializer(kernel_initializer),
        kernel_regularizer=keras.regularizers.get(kernel_regularizer),
        bias_regularizer=keras.regularizers.get(kernel_regularizer),
        data_format=data_format,
        dtype=dtype,
        name=name,
    )


def make_padding(kernel_size, strides, *, data_format=None, dtype=None, name=None):
    """Symmetric zero padding of `kernel_size // 2` before a strided conv.

    Returns `None` where no explicit padding is needed.
    """
    if strides == 1 or kernel_size == 1:
        return None
    pad = kernel_size // 2
    return keras.layers.ZeroPadding2D(
        pad, data_format=data_format, dtype=dtype, name=name
    )


def make_batch_norm(
    *,
    momentum=0.9,
    epsilon=1e-5,
    gamma_zero=False,
    gamma_regularizer=None,
    data_format=None,
    dtype=None,
    name=None,
):
    """BatchNormalization with Torch's defaults (momentum 0.1 = 0.9 here,
    epsilon 1e-5), gamma 1 / beta 0, or gamma 0 with `gamma_zero`; the
    fused TensorFlow training kernel where it applies (normalization.py)."""
    return BatchNormalization(
        axis=channel_axis(data_format),
        momentum=momentum,
        epsilon=epsilon,
        gamma_initializer="zeros" if gamma_zero else "ones",
        beta_initializer="zeros",
        gamma_regularizer=keras.regularizers.get(gamma_regularizer),
        beta_regularizer=keras.regularizers.get(gamma_regularizer),
        dtype=dtype,
        name=name,
    )


class ConvBNLayer(keras.layers.Layer):
    """Base class of the layers that make their own convolutions and BNs.

    Stores and serializes the settings those sub-layers share, and makes
    them with it (`conv_layer`, `batch_norm`). Not a layer by itself.

    Args:
        kernel_initializer: initializer of every conv kernel (each conv gets
            its own instance, see `make_conv`). Defaults to He-normal.
        kernel_regularizer: regularizer on every conv kernel.
        bn_momentum, bn_epsilon: BN settings (Torch defaults 0.9, 1e-5).
        data_format: "channels_last" or "channels_first".
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        *,
        kernel_initializer=CONV_INITIALIZER,
        kernel_regularizer=None,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        self.data_format = standardize_data_format(data_format)

    def conv_layer(self, filters, kernel_size, *, strides=1, use_bias=False, groups=1, name=None):
        """A `make_conv` convolution with the layer's settings."""
        return make_conv(
            filters,
            kernel_size,
            strides=strides,
            use_bias=use_bias,
            groups=groups,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name=name,
        )

    def batch_norm(self, name, shape=None, *, gamma_zero=False):
        """A BN with the layer's settings, built on `shape` when given."""
        bn = make_batch_norm(
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            gamma_zero=gamma_zero,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name=name,
        )
        if shape is not None:
            bn.build(shape)
        return bn

    def get_config(self):
        config = super().get_config()
        regularizer = self.kernel_regularizer
        config.update(
            {
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(regularizer)
                if regularizer
                else None,
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
                "data_format": self.data_format,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_resnets")
class Shortcut(ConvBNLayer):
    """The identity path of a residual block, options A, B and C of He 2015.

    Paper: He, Zhang, Ren, Sun, "Deep Residual Learning for Image
    Recognition", CVPR 2016, https://arxiv.org/abs/1512.03385 (sec. 3.3).

    With input `x` of `c_in` channels and output of `filters` channels:

    - `"A"`: parameter-free, `x[:, ::s, ::s, :]` then zero channels appended up
      to `filters` (used by the CIFAR ResNets).
    - `"B"`: `BN(W_s x)` with a strided 1x1 convolution only where the channel
      count changes; otherwise identity (or a parameter-free stride-`s`
      subsampling when only the resolution changes).
    - `"C"`: the 1x1 projection everywhere.

    `normalize=False` drops the BN after the projection, as pre-activation
    networks do (the projection reads the already normalised input).

    Args:
        filters: int, output channels.
        strides: int, spatial stride (1 or 2).
        mode: `"A"`, `"B"` or `"C"`. Defaults to `"B"`.
        normalize: bool, BN after a projection. Defaults to `True`.
        use_bias: bool, bias on the projection conv. Defaults to `False`.
        **kwargs: the conv/BN settings (`kernel_initializer`,
            `kernel_regularizer`, `bn_momentum`, `bn_epsilon`,
            `data_format`), see `ConvBNLayer`, and the base layer ones.

    Call arguments:
        inputs: 4D tensor.
        training: bool, BN mode.

    Example:
    >>> x = keras.ops.ones((2, 8, 8, 16))
    >>> Shortcut(32, 2, mode="A")(x).shape
    (2, 4, 4, 32)
    """

    def __init__(
        self,
        filters,
        strides=1,
        *,
        mode="B",
        normalize=True,
        use_bias=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in SHORTCUT_MODES:
            raise UserValueError(
                "Shortcut `mode` must be one of 'A' (zero-padding, "
                "parameter-free), 'B' (projection where the shape changes) "
                f"or 'C' (projection everywhere). Received: mode={mode!r}"
            )
        if strides not in (1, 2):
            raise UserValueError(
                f"Shortcut `strides` must be 1 or 2. Received: strides={strides!r}"
            )
        self.filters = int(filters)
        self.strides = int(strides)
        self.mode = mode
        self.normalize = normalize
        self.use_bias = use_bias
        self.conv = None
        self.bn = None

    def _in_channels(self, input_shape):
        return input_shape[channel_axis(self.data_format)]

    def uses_projection(self, in_channels):
        """Whether this shortcut has a 1x1 projection for `in_channels`."""
        if self.mode == "C":
            return True
        if self.mode == "B":
            return in_channels != self.filters
        return False

    def build(self, input_shape):
        in_channels = self._in_channels(input_shape)
        if self.mode == "A" and in_channels > self.filters:
            raise UserValueError(
                "Shortcut option 'A' can only add channels (zero padding); "
                f"got {in_channels} input channels for filters={self.filters}. "
                "Use mode='B' or 'C'."
            )
        if self.uses_projection(in_channels):
            self.conv = self.conv_layer(
                self.filters, 1, strides=self.strides, use_bias=self.use_bias, name="conv"
            )
            self.conv.build(input_shape)
            if self.normalize:
                self.bn = self.batch_norm("bn", self.conv.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        if self.conv is not None:
            x = self.conv(inputs)
            if self.bn is not None:
                x = self.bn(x, training=training)
            return x
        x = subsample(inputs, self.strides, self.data_format)
        extra = self.filters - self._in_channels(inputs.shape)
        return pad_channels(x, extra, self.data_format)

    def compute_output_shape(self, input_shape):
        return strided_output_shape(
            input_shape, self.strides, self.data_format, self.filters
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "mode": self.mode,
                "normalize": self.normalize,
                "use_bias": self.use_bias,
            }
        )
        return config
