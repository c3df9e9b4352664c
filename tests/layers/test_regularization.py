"""Tests for keras_resnets.layers.regularization: DropPath, ShakeDrop, ShakeShake."""

import keras
import numpy as np
import pytest

from keras_resnets.layers.regularization import DropPath
from keras_resnets.layers.regularization import ShakeDrop
from keras_resnets.layers.regularization import ShakeShake
from keras_resnets.layers.regularization import StochasticDepth
from keras_resnets.layers.regularization import drop_path_rates
from keras_resnets.layers.regularization import shakedrop_probabilities
from tests.testing import run_layer_test
from tests.testing import to_numpy
from tests.testing import value_and_grads


def per_example(x):
    """The single value each example holds (asserts it is constant)."""
    flat = x.reshape(x.shape[0], -1)
    np.testing.assert_allclose(flat, flat[:, :1].repeat(flat.shape[1], 1), atol=1e-6)
    return flat[:, 0]


# Weightless, one SeedGenerator; training mean = inference output.
CONTRACT = {
    "expected_num_trainable_weights": 0,
    "expected_num_non_trainable_weights": 0,
    "expected_num_seed_generators": 1,
    "stochastic": True,
}


# --- ShakeShake ---


def shake_shake_coefficients(layer, batch=16):
    """Per-example forward alpha and backward beta, with x1 = 1 and x2 = 0."""
    x1 = np.ones((batch, 3, 3, 2), "float32")
    y, (g1, g2) = value_and_grads(
        lambda a, b: layer([a, b], training=True), [x1, np.zeros_like(x1)]
    )
    alpha, beta = per_example(y), per_example(g1)
    np.testing.assert_allclose(per_example(g2), 1.0 - beta, atol=1e-6)
    return alpha, beta


def test_shake_shake_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    for level in ("image", "batch"):
        run_layer_test(
            ShakeShake,
            {"forward": "shake", "backward": "shake", "level": level, "seed": 3},
            [x, 2 * x],
            x.shape,
            **CONTRACT,
            tmp_path=tmp_path,
        )


def test_shake_shake_shake_forward_and_backward_differ():
    alpha, beta = shake_shake_coefficients(ShakeShake(seed=1))
    assert np.all((alpha >= 0) & (alpha <= 1)) and np.all((beta >= 0) & (beta <= 1))
    assert np.all(np.abs(alpha - beta) > 1e-4)  # independent draws
    assert np.std(alpha) > 0.05 and np.std(beta) > 0.05  # image level: per example


def test_shake_shake_keep_backward_equals_forward():
    alpha, beta = shake_shake_coefficients(ShakeShake(backward="keep", seed=1))
    np.testing.assert_allclose(beta, alpha, atol=1e-6)
    assert np.std(alpha) > 0.05


def test_shake_shake_even_backward_is_half():
    alpha, beta = shake_shake_coefficients(ShakeShake(backward="even", seed=1))
    np.testing.assert_array_equal(beta, 0.5)
    assert np.std(alpha) > 0.05


def test_shake_shake_even_forward_shake_backward():
    alpha, beta = shake_shake_coefficients(ShakeShake(forward="even", seed=1))
    np.testing.assert_allclose(alpha, 0.5, atol=1e-6)
    assert np.std(beta) > 0.05


def test_shake_shake_even_even_is_exact_average():
    alpha, beta = shake_shake_coefficients(ShakeShake(forward="even", backward="even"))
    np.testing.assert_array_equal(alpha, 0.5)
    np.testing.assert_array_equal(beta, 0.5)


def test_shake_shake_batch_level_shares_coefficients():
    alpha, beta = shake_shake_coefficients(ShakeShake(level="batch", seed=2))
    np.testing.assert_allclose(alpha, alpha[0], atol=1e-6)
    np.testing.assert_allclose(beta, beta[0], atol=1e-6)
    assert abs(alpha[0] - beta[0]) > 1e-4


def test_shake_shake_inference_is_exact_half_sum():
    rng = np.random.default_rng(0)
    x1, x2 = (rng.normal(size=(4, 5, 5, 3)).astype("float32") for _ in range(2))
    for kwargs in ({}, {"forward": "even", "backward": "keep", "level": "batch"}):
        y = to_numpy(ShakeShake(**kwargs)([x1, x2]))
        np.testing.assert_array_equal(y, np.float32(0.5) * x1 + np.float32(0.5) * x2)


def test_shake_shake_seed_is_reproducible():
    x1 = np.ones((8, 2), "float32")
    x2 = np.zeros_like(x1)
    a = ShakeShake(seed=7)
    b = ShakeShake(seed=7)
    first = to_numpy(a([x1, x2], training=True))
    np.testing.assert_array_equal(first, to_numpy(b([x1, x2], training=True)))
    # The generator advances: the next call draws new coefficients.
    assert not np.allclose(first, to_numpy(a([x1, x2], training=True)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"forward": "keep"}, "Received: forward='keep'"),
        ({"backward": "random"}, "Received: backward='random'"),
        ({"level": "pixel"}, "Received: level='pixel'"),
    ],
)
def test_shake_shake_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShakeShake(**kwargs)


def test_shake_shake_invalid_inputs():
    x = np.ones((2, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="list of two tensors"):
        ShakeShake()(x)
    with pytest.raises(ValueError, match="list of two tensors"):
        ShakeShake()([x, x, x])
    with pytest.raises(ValueError, match="must have the same shape"):
        ShakeShake()([x, np.ones((2, 4, 4, 5), "float32")])
    with pytest.raises(ValueError, match="must have the same shape"):
        ShakeShake()([keras.Input((4, 4, 3)), keras.Input((4, 4, 5))])


# --- ShakeDrop ---


def test_shake_drop_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    run_layer_test(ShakeDrop, {"p": 0.5, "seed": 3}, x, x.shape, **CONTRACT, tmp_path=tmp_path)
    # The paper's alpha ~ U(-1, 1) and a (0, 1) range both average to the inference.
    kwargs = {"p": 0.2, "alpha_range": (0, 1), "beta_range": (0, 0.5), "seed": 4}
    run_layer_test(ShakeDrop, kwargs, x, x.shape, **CONTRACT, run_mixed_precision=False)


def test_shake_drop_inference_is_expectation():
    f = np.random.default_rng(0).normal(size=(4, 5, 5, 3)).astype("float32")
    # E[b + a - b a] = p for alpha ~ U(-1, 1).
    np.testing.assert_array_equal(to_numpy(ShakeDrop(0.3)(f)), f * np.float32(0.3))
    # p + (1 - p) E[alpha] = 0.5 + 0.5 * 0.5 for alpha ~ U(0, 1).
    layer = ShakeDrop(0.5, alpha_range=(0, 1))
    np.testing.assert_array_equal(to_numpy(layer(f)), f * np.float32(0.75))


def test_shake_drop_training_mean_matches_inference():
    f = np.ones((4096, 1), "float32")
    for p, alpha_range in ((0.5, (-1, 1)), (0.2, (0, 1))):
        layer = ShakeDrop(p, alpha_range=alpha_range, seed=5)
        y = to_numpy(layer(f, training=True))
        assert abs(y.mean() - layer.expected_scale) < 0.05
        assert y.std() > 0.1


def test_shake_drop_gradient_coefficients():
    p = 0.5
    f = np.ones((512, 2, 3), "float32")
    y, (g,) = value_and_grads(lambda x: ShakeDrop(p, seed=11)(x, training=True), [f])
    forward, backward = per_example(y), per_example(g)
    kept = backward == 1.0  # b = 1: forward and backward coefficients are 1
    np.testing.assert_array_equal(forward[kept], 1.0)
    assert abs(kept.mean() - p) < 0.1
    # b = 0: forward alpha in [-1, 1), backward beta in [0, 1), independent.
    alpha, beta = forward[~kept], backward[~kept]
    assert np.all((alpha >= -1) & (alpha < 1)) and alpha.min() < -0.5
    assert np.all((beta >= 0) & (beta < 1))
    assert not np.allclose(alpha, beta)


def test_shake_drop_extreme_probabilities():
    f = np.ones((256, 2), "float32")
    np.testing.assert_array_equal(to_numpy(ShakeDrop(1.0)(f, training=True)), f)
    y = to_numpy(ShakeDrop(0.0, seed=1)(f, training=True))
    assert np.all(y < 1) and np.all(y >= -1)  # b = 0: always alpha
    np.testing.assert_array_equal(to_numpy(ShakeDrop(0.0)(f)), 0 * f)


def test_shakedrop_probabilities_linear_decay():
    assert shakedrop_probabilities(4) == [0.875, 0.75, 0.625, 0.5]
    probs = shakedrop_probabilities(90, p_last=0.5)  # PyramidNet-272: 90 blocks
    assert probs[-1] == 0.5 and probs[0] == pytest.approx(1 - 0.5 / 90)
    np.testing.assert_allclose(np.diff(probs), -0.5 / 90)
    assert shakedrop_probabilities(3, p_last=1.0) == [1.0, 1.0, 1.0]
    assert shakedrop_probabilities(0) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"p": 1.5}, "Received: p=1.5"),
        ({"p": -0.1}, "Received: p=-0.1"),
        ({"p": 0.5, "alpha_range": (1, -1)}, r"Received: alpha_range=\(1, -1\)"),
        ({"p": 0.5, "beta_range": (0.0,)}, r"Received: beta_range=\(0.0,\)"),
    ],
)
def test_shake_drop_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShakeDrop(**kwargs)


def test_shakedrop_probabilities_invalid_arguments():
    with pytest.raises(ValueError, match="Received: p_last=1.5"):
        shakedrop_probabilities(4, p_last=1.5)
    with pytest.raises(ValueError, match="Received: num_blocks=-1"):
        shakedrop_probabilities(-1)
    with pytest.raises(TypeError, match="Received: num_blocks=2.5"):
        shakedrop_probabilities(2.5)


# --- DropPath ---


def test_drop_path_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    kwargs = {"rate": 0.25, "seed": 3, "scale_by_keep": True}
    run_layer_test(DropPath, kwargs, x, x.shape, **CONTRACT, tmp_path=tmp_path)
    # Without rescaling, inference multiplies by the survival rate: still the mean.
    kwargs = {"rate": 0.4, "seed": 5, "scale_by_keep": False}
    run_layer_test(DropPath, kwargs, x, x.shape, **CONTRACT, run_mixed_precision=False)


def test_stochastic_depth_alias():
    assert StochasticDepth is DropPath


def test_drop_path_inference_is_identity():
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 3)).astype("float32")
    np.testing.assert_array_equal(to_numpy(DropPath(0.5)(x)), x)
    np.testing.assert_array_equal(to_numpy(DropPath(0.0)(x, training=True)), x)
    # Without rescaling in training, inference multiplies by the survival rate.
    layer = DropPath(0.25, scale_by_keep=False)
    np.testing.assert_array_equal(to_numpy(layer(x)), x * np.float32(0.75))


@pytest.mark.parametrize("scale_by_keep", [True, False])
def test_drop_path_drops_whole_examples(scale_by_keep):
    rate = 0.25
    x = np.random.default_rng(0).normal(size=(256, 3, 3, 2)).astype("float32")
    y = to_numpy(DropPath(rate, seed=2, scale_by_keep=scale_by_keep)(x, training=True))
    scale = 1 / (1 - rate) if scale_by_keep else 1.0
    dropped = np.all(y == 0, axis=(1, 2, 3))
    np.testing.assert_allclose(y[~dropped], x[~dropped] * scale, rtol=1e-6)
    assert abs(dropped.mean() - rate) < 0.1


def test_drop_path_training_mean_is_input():
    x = np.ones((4096, 1), "float32")
    y = to_numpy(DropPath(0.25, seed=4)(x, training=True))
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs(y.mean() - 1.0) < 0.05


def test_drop_path_rates_linear_decay():
    np.testing.assert_allclose(drop_path_rates(4, 0.2), [0.05, 0.1, 0.15, 0.2])
    rates = drop_path_rates(54, 0.5)  # ResNet-110: 54 blocks, p_L = 0.5
    assert rates[-1] == 0.5
    np.testing.assert_allclose(
        1 - np.array(rates), [1 - l / 54 * (1 - 0.5) for l in range(1, 55)]
    )
    assert drop_path_rates(3, 0.0) == [0.0, 0.0, 0.0]
    assert drop_path_rates(0, 0.1) == []


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_drop_path_invalid_rate(rate):
    with pytest.raises(ValueError, match=f"Received: rate={rate}"):
        DropPath(rate)


def test_drop_path_rates_invalid_arguments():
    with pytest.raises(ValueError, match="Received: drop_path_rate=1.0"):
        drop_path_rates(4, 1.0)
    with pytest.raises(ValueError, match="Received: num_blocks=-2"):
        drop_path_rates(-2, 0.1)
