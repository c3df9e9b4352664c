"""Tests for SqueezeExcite (keras_resnets.layers.attention)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_resnets.layers.attention import SqueezeExcite
from tests.testing import run_layer_test
from tests.testing import to_numpy


def se_params(channels, ratio):
    """Hu et al. 2018: C*(C/r) + C/r + (C/r)*C + C parameters with biases."""
    reduced = channels // ratio
    return channels * reduced + reduced + reduced * channels + channels


def reference_se(x, layer, channels_axis=-1):
    """Numpy SE: x * sigmoid(W2 relu(W1 mean(x) + b1) + b2)."""
    w1, b1, w2, b2 = (to_numpy(w) for w in layer.weights)
    axes = tuple(a for a in range(1, x.ndim) if a != channels_axis % x.ndim)
    hidden = np.maximum(x.mean(axis=axes) @ w1 + b1, 0)
    scale = 1 / (1 + np.exp(-(hidden @ w2 + b2)))
    return x * np.expand_dims(scale, axes), scale


def test_squeeze_excite_contract(tmp_path):
    kwargs = {"ratio": 4, "min_channels": 1, "data_format": "channels_last"}
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 16)).astype("float32")
    config = SqueezeExcite(**kwargs).get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    run_layer_test(
        SqueezeExcite,
        kwargs,
        x,
        x.shape,
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("channels, ratio", [(256, 16), (96, 8)])
def test_squeeze_excite_param_count(channels, ratio):
    layer = SqueezeExcite(ratio=ratio)
    layer.build((None, 7, 7, channels))
    assert layer.count_params() == se_params(channels, ratio)
    assert layer.reduced_channels == channels // ratio


def test_se_resnet50_total_matches_paper():
    # SE after every bottleneck of ResNet-50 (3, 4, 6, 3 blocks, 256..2048
    # channels): 25,557,032 + 2,530,992 = 28.09M, the paper's 28.1M.
    # (`se_params` is checked against built layers in the test above.)
    added = sum(
        blocks * se_params(channels, 16)
        for channels, blocks in ((256, 3), (512, 4), (1024, 6), (2048, 3))
    )
    assert added == 2_530_992
    assert round((25_557_032 + added) / 1e6, 1) == 28.1


def test_squeeze_excite_min_channels():
    layer = SqueezeExcite(ratio=16, min_channels=4)
    layer.build((None, 4, 4, 8))
    assert layer.reduced_channels == 4
    layer = SqueezeExcite(ratio=16)
    layer.build((None, 4, 4, 8))
    assert layer.reduced_channels == 1


def test_squeeze_excite_known_answer():
    x = np.random.default_rng(1).normal(size=(3, 5, 5, 32)).astype("float32")
    layer = SqueezeExcite(ratio=4, data_format="channels_last")
    y = to_numpy(layer(x))
    expected, scale = reference_se(x, layer)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert np.all((scale > 0) & (scale < 1))
    # The gate only rescales channels, in (0, 1).
    ratio = y / x
    assert np.all((ratio > 0) & (ratio < 1))


def test_squeeze_excite_channels_first_matches_channels_last():
    x = np.random.default_rng(2).normal(size=(2, 4, 6, 16)).astype("float32")
    last = SqueezeExcite(ratio=4, data_format="channels_last")
    first = SqueezeExcite(ratio=4, data_format="channels_first")
    y_last = to_numpy(last(x))
    first.build((None, 16, 4, 6))
    first.set_weights(last.get_weights())
    y_first = to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    y_first_as_last = np.transpose(y_first, (0, 2, 3, 1))
    np.testing.assert_allclose(y_first_as_last, y_last, rtol=1e-5, atol=1e-6)
    expected = reference_se(np.transpose(x, (0, 3, 1, 2)), first, channels_axis=1)[0]
    np.testing.assert_allclose(y_first, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 9, 8), (2, 3, 4, 5, 8)])
def test_squeeze_excite_1d_and_3d(shape):
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    layer = SqueezeExcite(ratio=2, data_format="channels_last")
    y = to_numpy(layer(x))
    expected = reference_se(x, layer)[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "policy, compute",
    [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")],
)
def test_squeeze_excite_mixed_precision(policy, compute):
    x = np.random.default_rng(4).normal(size=(2, 4, 4, 32)).astype("float32")
    layer = SqueezeExcite(ratio=8, dtype=policy)
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == compute
    for weight in layer.weights:
        assert keras.backend.standardize_dtype(weight.dtype) == "float32"
    assert layer.reduce.compute_dtype == compute
    tol = 2e-2 if compute == "bfloat16" else 5e-3
    y32 = to_numpy(ops.cast(y, "float32"))
    np.testing.assert_allclose(y32, reference_se(x, layer)[0], rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ratio": 0}, "Received: ratio=0"),
        ({"ratio": 2.5}, "Received: ratio=2.5"),
        ({"min_channels": 0}, "Received: min_channels=0"),
        ({"data_format": "NCHW"}, "Received: data_format='NCHW'"),
    ],
)
def test_squeeze_excite_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SqueezeExcite(**kwargs)


def test_squeeze_excite_invalid_inputs():
    with pytest.raises(ValueError, match="rank-3 to rank-5"):
        SqueezeExcite()(np.ones((2, 16), "float32"))
    with pytest.raises(ValueError, match="channel dimension"):
        SqueezeExcite(data_format="channels_last")(keras.Input((None, None, None)))
