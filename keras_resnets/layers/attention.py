"""Channel attention: SqueezeExcite."""

import numbers

import keras
from keras import ops

from keras_resnets.errors import UserValueError

__all__ = ["SqueezeExcite"]


@keras.saving.register_keras_serializable(package="keras_resnets")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-Excitation channel gating.

    Reference: [Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018](
    https://arxiv.org/abs/1709.01507).

    For an input `x` with `C` channels:
    `s = sigmoid(W2 · relu(W1 · mean_spatial(x) + b1) + b2)`, `y = x · s`,
    with `W1: C -> C/r` ("squeeze", `reduce` sub-layer) and `W2: C/r -> C`
    ("excite", `expand` sub-layer), `C/r = max(min_channels, C // ratio)`.
    It adds `2·C·(C/r) + C/r + C` parameters (e.g. 8,464 for `C=256, r=16`).
    The pooling runs in float32 under mixed precision.

    Args:
        ratio: int, reduction ratio `r`. Defaults to `16` (the paper's value).
        min_channels: int, lower bound on the bottleneck width `C/r`.
            Defaults to `1`.
        data_format: `"channels_last"`, `"channels_first"` or `None`
            (`keras.config.image_data_format()`).
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of rank 3 to 5 (1D, 2D or 3D feature maps).

    Example:

    >>> x = keras.random.normal((2, 8, 8, 64))
    >>> se = SqueezeExcite(ratio=16)
    >>> tuple(se(x).shape)
    (2, 8, 8, 64)
    >>> se.count_params()  # 64*4 + 4 + 4*64 + 64
    580
    """

    def __init__(self, ratio=16, min_channels=1, *, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("ratio", ratio), ("min_channels", min_channels)):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value < 1
            ):
                raise UserValueError(
                    f"Invalid value received for argument `{arg}`. Expected "
                    f"a positive integer. Received: {arg}={value!r}"
                )
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise UserValueError(
                "Invalid value received for argument `data_format`. Expected "
                "'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        self.ratio = int(ratio)
        self.min_channels = int(min_channels)
        self.data_format = data_format

    def build(self, input_shape):
        rank = len(input_shape)
        if not 3 <= rank <= 5:
            raise UserValueError(
                "`SqueezeExcite` expects a rank-3 to rank-5 input "
                f"(batch, spatial..., channels). Received: input_shape={input_shape}"
            )
        channel_axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[channel_axis]
        if channels is None:
            raise UserValueError(
                "The channel dimension of a `SqueezeExcite` input must be "
                f"known. Received: input_shape={input_shape}"
            )
        self.channels = int(channels)
        self.reduced_channels = max(self.min_channels, self.channels // self.ratio)
        if self.data_format == "channels_last":
            self._spatial_axes = tuple(range(1, rank - 1))
        else:
            self._spatial_axes = tuple(range(2, rank))
        self._rank = rank
        self.reduce = keras.layers.Dense(
            self.reduced_channels,
            activation="relu",
            dtype=self.dtype_policy,
            name="reduce",
        )
        self.expand = keras.layers.Dense(
            self.channels,
            activation="sigmoid",
            dtype=self.dtype_policy,
            name="expand",
        )
        self.reduce.build((None, self.channels))
        self.expand.build((None, self.reduced_channels))

    def call(self, inputs):
        x = inputs
        if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
            x = ops.cast(x, "float32")  # Accurate, overflow-free mean.
        squeezed = ops.mean(x, axis=self._spatial_axes)  # (batch, channels)
        scale = self.expand(self.reduce(squeezed))
        scale = ops.cast(scale, inputs.dtype)
        if self.data_format == "channels_last":
            broadcast = (-1,) + (1,) * (self._rank - 2) + (self.channels,)
        else:
            broadcast = (-1, self.channels) + (1,) * (self._rank - 2)
        return inputs * ops.reshape(scale, broadcast)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "ratio": self.ratio,
                "min_channels": self.min_channels,
                "data_format": self.data_format,
            }
        )
        return config
