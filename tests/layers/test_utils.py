import keras
import numpy as np
import pytest

from keras_resnets.layers._utils import pad_channels
from keras_resnets.layers._utils import subsample
from tests.testing import to_numpy
from tests.testing import value_and_grads

# (shape, data_format, reference slice). Even sizes take the reshape path,
# odd ones the plain strided slice; both must give x[::s, ::s] exactly.
CASES = [
    ((2, 8, 8, 4), "channels_last", lambda x: x[:, ::2, ::2, :]),
    ((2, 8, 6, 3), "channels_last", lambda x: x[:, ::2, ::2, :]),
    ((2, 7, 9, 3), "channels_last", lambda x: x[:, ::2, ::2, :]),
    ((2, 4, 8, 6), "channels_first", lambda x: x[:, :, ::2, ::2]),
    ((2, 3, 7, 5), "channels_first", lambda x: x[:, :, ::2, ::2]),
]


@pytest.mark.parametrize("shape, data_format, reference", CASES)
def test_subsample_equals_the_strided_slice(shape, data_format, reference):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    y, (grad,) = value_and_grads(lambda t: subsample(t, 2, data_format), [x])
    np.testing.assert_array_equal(to_numpy(y), reference(x))
    # The gradient of a sum: 1 where the input is picked, 0 elsewhere.
    expected = np.zeros_like(x)
    reference(expected)[...] = 1.0
    np.testing.assert_array_equal(to_numpy(grad), expected)


def test_subsample_stride_one_and_half_precision():
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    assert subsample(x, 1, "channels_last") is x
    y = subsample(keras.ops.cast(x, "bfloat16"), 2, "channels_last")
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_array_equal(to_numpy(keras.ops.cast(y, "float32")), x[:, ::2, ::2, :])


def test_subsample_in_a_model_with_unknown_batch_and_size():
    # Unknown batch: the reshape path (-1). Unknown spatial size: the slice.
    for shape in [(8, 8, 4), (None, None, 4)]:
        inputs = keras.Input(shape)
        model = keras.Model(inputs, subsample(inputs, 2, "channels_last"))
        x = np.random.default_rng(1).normal(size=(3, 8, 8, 4)).astype("float32")
        np.testing.assert_array_equal(to_numpy(model(x)), x[:, ::2, ::2, :])


@pytest.mark.parametrize("data_format, axis", [("channels_last", 3), ("channels_first", 1)])
def test_pad_channels_appends_zero_channels(data_format, axis):
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype("float32")
    assert pad_channels(x, 0, data_format) is x
    y = to_numpy(pad_channels(x, 3, data_format))
    assert y.shape[axis] == x.shape[axis] + 3
    np.testing.assert_array_equal(np.take(y, range(x.shape[axis]), axis=axis), x)
    np.testing.assert_array_equal(np.take(y, range(x.shape[axis], y.shape[axis]), axis=axis), 0.0)
