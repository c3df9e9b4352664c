"""Small helpers shared by the layers (argument checks and data formats)."""

import numbers

import keras
from keras import ops

from keras_resnets.layers.seeds import ReplicaSeedGenerator
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError


def standardize_data_format(data_format):
    """Returns `"channels_last"` or `"channels_first"`, checking the value."""
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise UserValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def channel_axis(data_format):
    """The channel axis of a 4D tensor for `data_format`."""
    return -1 if data_format == "channels_last" else 1


def check_rate(name, value, *, allow_one=False):
    """Checks that a probability-like `value` lies in [0, 1) (or [0, 1])."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserTypeError(
            f"`{name}` must be a number. Received: {name}={value!r}"
        ) from None
    upper_ok = value <= 1.0 if allow_one else value < 1.0
    if not (0.0 <= value and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise UserValueError(
            f"`{name}` must be in the interval {interval}. "
            f"Received: {name}={value}"
        )
    return value


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def strided_output_shape(input_shape, strides, data_format, channels=None):
    """Shape after a stride-`strides` residual unit (symmetric padding):
    each known spatial size `n` becomes `(n - 1) // strides + 1`; the channel
    count becomes `channels` when given."""
    shape = list(input_shape)
    spatial = (1, 2) if data_format == "channels_last" else (2, 3)
    for axis in spatial:
        if shape[axis] is not None:
            shape[axis] = (shape[axis] - 1) // strides + 1
    if channels is not None:
        shape[channel_axis(data_format)] = channels
    return tuple(shape)


def subsample(x, strides, data_format):
    """Every `strides`-th row and column of `x`, from the first.

    The same values as `x[:, ::s, ::s, :]` (`x[:, :, ::s, ::s]` for
    channels_first). Where the spatial sizes are known multiples of `s` it is
    computed as a reshape and a unit-step slice instead: TensorFlow's CPU
    kernel for a slice with a step above 1 is about 10x slower (5.6 vs 0.6 ms
    on a 128x32x32x16 bfloat16 batch, AMD EPYC; see docs/benchmarks.md).
    """
    s = strides
    if s == 1:
        return x
    if data_format == "channels_last":
        _, h, w, c = x.shape
        if None in (h, w, c) or h % s or w % s:
            return x[:, ::s, ::s, :]
        x = ops.reshape(x, (-1, h // s, s, w // s, s * c))
        return x[:, :, 0, :, :c]
    _, c, h, w = x.shape
    if None in (h, w, c) or h % s or w % s:
        return x[:, :, ::s, ::s]
    x = ops.reshape(x, (-1, c, h // s, s * w))[:, :, :, :w]
    return ops.reshape(x, (-1, c, h // s, w // s, s))[:, :, :, :, 0]


def pad_channels(x, extra, data_format):
    """`x` with `extra` zero channels appended (the parameter-free widening
    of an option-A / PyramidNet shortcut); `x` itself when `extra` is 0."""
    if extra <= 0:
        return x
    pads = [[0, 0], [0, 0], [0, 0], [0, 0]]
    pads[channel_axis(data_format)] = [0, extra]
    return ops.pad(x, pads)


def is_real(value):
    """Whether `value` is a real number (bools are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_num_blocks(num_blocks):
    """Checks the block count `L` a per-block schedule is computed for."""
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, numbers.Integral):
        raise UserTypeError(
            "Argument `num_blocks` must be an integer. "
            f"Received: num_blocks={num_blocks!r}"
        )
    if num_blocks < 0:
        raise UserValueError(
            "Argument `num_blocks` must be a non-negative integer. "
            f"Received: num_blocks={num_blocks}"
        )


class SeededLayer(keras.layers.Layer):
    """Base class of the random layers: the keras `Dropout` contract.

    Owns the layer's `seed` and the seed generator made from it in
    `__init__` (so seeded runs are reproducible on every backend and inside
    compiled train steps), puts `seed` in `get_config`, and keeps the input
    shape (subclasses that change it override `compute_output_shape`). The
    generator is a `ReplicaSeedGenerator`: on one device it draws exactly
    what `keras.random.SeedGenerator(seed)` draws, and under a
    `tf.distribute` strategy each replica draws its own numbers.

    Args:
        seed: int or `None`, seed of the layer's seed generator.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    @staticmethod
    def draw_dtype(dtype):
        """Dtype in which to draw random coefficients for inputs of `dtype`.

        Draws happen in the compute dtype when it is float32/float64 and in
        float32 for float16/bfloat16 (the draws are then cast back), which
        keeps `U(0, 1)` and the Bernoulli threshold accurate and avoids
        half-precision random kernels that some backends lack on CPU.
        """
        dtype = keras.backend.standardize_dtype(dtype)
        if dtype in ("float32", "float64"):
            return dtype
        return "float32"

    @staticmethod
    def per_example_shape(x):
        """`(batch, 1, ..., 1)`: one coefficient per example, broadcastable to `x`."""
        return (keras.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
