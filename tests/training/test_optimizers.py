"""Coupled weight decay against a hand-computed SGD + momentum + L2 update."""

import keras
import numpy as np
import pytest

from keras_resnets.training import optimizers
from keras_resnets.training.config import OptimizerConfig


def reference(w, grads, lr, momentum, wd, nesterov):
    """torch.optim.SGD (dampening 0): g += wd*w; v = m*v + g; w -= lr*(g + m*v | v)."""
    w, v = np.array(w, "float64"), np.zeros(len(w))
    for g in grads:
        g = np.asarray(g, "float64") + wd * w
        v = momentum * v + g
        w = w - lr * ((g + momentum * v) if nesterov else v)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_coupled_decay_first_steps(nesterov):
    w0, grads = [1.0, -2.0, 0.5], [[1.0, 0.5, -1.0], [0.2, -0.3, 0.1], [0.0, 1.0, 2.0]]
    opt = optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov, coupled_weight_decay=5e-4)
    w = keras.Variable(np.array(w0, "float32"))
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(np.array(g, "float32"))], [w])
    expected = reference(w0, grads, 0.1, 0.9, 5e-4, nesterov)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), expected, rtol=1e-6)


def test_hand_numbers():
    # w = 1, g = 1, wd = 1e-4, m = 0.9, lr = 0.1 (plain momentum), worked out by hand:
    # step 1: g = 1.0001, v = 1.0001, w = 0.89999
    # step 2: g = 1.000089999, v = 1.90018, w = 0.709972
    opt = optimizers.SGD(0.1, momentum=0.9, coupled_weight_decay=1e-4)
    w = keras.Variable(np.array([1.0], "float32"))
    opt.apply([keras.ops.ones((1,))], [w])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), [0.89999], rtol=1e-6)
    opt.apply([keras.ops.ones((1,))], [w])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), [0.709972], rtol=1e-6)


def test_exclude_bn_and_bias():
    opt = optimizers.from_config(OptimizerConfig(momentum=0.0, weight_decay=0.1, decay_bn_and_bias=False), 1.0)
    kernel = keras.Variable(np.array([1.0], "float32"), name="kernel")
    gamma = keras.Variable(np.array([1.0], "float32"), name="gamma")
    zero = keras.ops.zeros((1,))
    opt.apply([zero, zero], [kernel, gamma])
    assert float(keras.ops.convert_to_numpy(kernel)[0]) == pytest.approx(0.9)
    assert float(keras.ops.convert_to_numpy(gamma)[0]) == 1.0


def test_decoupled_variant():
    opt = optimizers.from_config(
        OptimizerConfig(momentum=0.0, weight_decay=0.1, weight_decay_mode="decoupled"), 0.5
    )
    assert opt.coupled_weight_decay == 0.0 and opt.weight_decay == pytest.approx(0.1)
    w = keras.Variable(np.array([1.0], "float32"))
    opt.apply([keras.ops.zeros((1,))], [w])
    # keras decoupled decay: w -= lr * wd * w.
    assert float(keras.ops.convert_to_numpy(w)[0]) == pytest.approx(1 - 0.5 * 0.1)


def test_l2_regularizer_equals_coupled_with_half():
    # L2(l) adds l * ||w||^2 to the loss, gradient 2 l w = coupled decay with wd = 2 l.
    w = np.array([0.5, -1.5], "float32")
    l2 = keras.regularizers.L2(5e-4 / 2)
    assert float(keras.ops.convert_to_numpy(l2(w))) == pytest.approx(5e-4 / 2 * np.sum(w**2))


def test_serialization():
    opt = optimizers.SGD(0.1, momentum=0.9, nesterov=True, coupled_weight_decay=5e-4,
                         exclude_from_weight_decay=["bias"])
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, optimizers.SGD)
    assert again.coupled_weight_decay == 5e-4 and again.nesterov
    with pytest.raises(ValueError, match="coupled_weight_decay"):
        optimizers.SGD(coupled_weight_decay=-1.0)


def test_label_smoothing_loss():
    logits = np.array([[2.0, 0.0, -1.0]], "float32")
    log_p = logits - np.log(np.exp(logits).sum())
    loss = optimizers.SparseCategoricalCrossentropy(label_smoothing=0.1)
    expected = 0.9 * -log_p[0, 0] + 0.1 * -log_p.mean()
    got = float(keras.ops.convert_to_numpy(loss(np.array([0]), logits)))
    assert got == pytest.approx(expected, rel=1e-5)
    plain = optimizers.SparseCategoricalCrossentropy()
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(keras.ops.convert_to_numpy(plain(np.array([0]), logits))) == pytest.approx(
        float(keras.ops.convert_to_numpy(keras_loss(np.array([0]), logits))), rel=1e-5
    )
    with pytest.raises(ValueError, match="label_smoothing"):
        optimizers.SparseCategoricalCrossentropy(label_smoothing=1.0)
