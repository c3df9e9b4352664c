"""Small helpers shared by the layers (argument checks and data formats)."""

import keras


def standardize_data_format(data_format):
    """Returns `"channels_last"` or `"channels_first"`, checking the value."""
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
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
        raise TypeError(
            f"`{name}` must be a number. Received: {name}={value!r}"
        ) from None
    upper_ok = value <= 1.0 if allow_one else value < 1.0
    if not (0.0 <= value and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(
            f"`{name}` must be in the interval {interval}. "
            f"Received: {name}={value}"
        )
    return value


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
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
