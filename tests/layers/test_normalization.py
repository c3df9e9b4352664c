"""Tests for BatchNormalization (keras_resnets.layers.normalization): the fused
TensorFlow path must be indistinguishable from keras.layers.BatchNormalization."""

import keras
import numpy as np
import pytest

from keras_resnets.layers import BatchNormalization
from keras_resnets.layers.conv import make_batch_norm
from tests.testing import gradients
from tests.testing import run_serialization_test
from tests.testing import to_numpy

BACKEND = keras.backend.backend()


def pair(**kwargs):
    """Ours and Keras's, built on the same shape, with the same non-trivial weights."""
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    shape = (None, 5, 6, 8) if kwargs.get("axis", -1) in (-1, 3) else (None, 8, 5, 6)
    ours.build(shape)
    theirs.build(shape)
    rng = np.random.default_rng(1)
    values = [rng.normal(size=w.shape).astype("float32") for w in theirs.weights]
    values = [np.abs(v) + 0.5 if "variance" in w.path else v for v, w in zip(values, theirs.weights)]
    theirs.set_weights(values)
    ours.set_weights(values)
    return ours, theirs


def batch(shape=(4, 5, 6, 8)):
    return np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentum": 0.9, "epsilon": 1e-5},
        {"momentum": 0.99, "epsilon": 1e-3, "center": False},
        {"momentum": 0.9, "epsilon": 1e-5, "scale": False},
        {"axis": 1, "momentum": 0.9, "epsilon": 1e-5},  # channels-first: Keras path
    ],
)
def test_matches_keras_batch_normalization(kwargs):
    ours, theirs = pair(**kwargs)
    x = batch() if kwargs.get("axis", -1) == -1 else batch((4, 8, 5, 6))
    for training in (True, False, True):
        np.testing.assert_allclose(
            to_numpy(ours(x, training=training)),
            to_numpy(theirs(x, training=training)),
            rtol=1e-5, atol=1e-5,
        )
    # Moving statistics: Keras's biased batch variance, Keras's momentum.
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-6)
    grad_ours = gradients(lambda t: ours(t, training=True) ** 3, [x])[0]
    grad_theirs = gradients(lambda t: theirs(t, training=True) ** 3, [x])[0]
    np.testing.assert_allclose(grad_ours, grad_theirs, rtol=1e-4, atol=1e-4)


def test_moving_statistics_known_answer():
    layer = BatchNormalization(momentum=0.75, epsilon=1e-5)
    x = batch()
    layer(x, training=True)
    mean = x.mean(axis=(0, 1, 2))
    variance = x.var(axis=(0, 1, 2))  # biased, as Keras keeps it
    np.testing.assert_allclose(to_numpy(layer.moving_mean), 0.25 * mean, rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance), 0.75 + 0.25 * variance, rtol=1e-5
    )
    expected = (x - mean) / np.sqrt(variance + 1e-5)
    np.testing.assert_allclose(to_numpy(layer(x, training=True)), expected, atol=1e-4)


def test_training_step_matches_keras():
    """Two SGD steps through conv + BN: every weight (kernel, gamma, beta,
    moving statistics) ends where Keras's own layer puts it."""

    def build(bn_class):
        keras.utils.set_random_seed(3)
        inputs = keras.Input((6, 6, 3))
        x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
        x = bn_class(momentum=0.9, epsilon=1e-5)(x)
        x = keras.layers.ReLU()(x)
        outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
        return model

    x = batch((8, 6, 6, 3))
    y = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")
    ours, theirs = build(BatchNormalization), build(keras.layers.BatchNormalization)
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the fused kernel is TensorFlow's")
def test_fused_kernel_is_used_where_it_applies():
    import tensorflow as tf

    layer = BatchNormalization()
    x = batch()
    layer.build(x.shape)
    graph = tf.function(lambda t: layer(t, training=True)).get_concrete_function(
        tf.TensorSpec(x.shape)
    ).graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}
    assert layer._fusable(x)
    assert not BatchNormalization(axis=1)._fusable(x)
    assert not BatchNormalization(synchronized=True)._fusable(x)
    assert not BatchNormalization()._fusable(np.zeros((4, 8), "float32"))


def test_mixed_precision_and_serialization(tmp_path):
    layer = make_batch_norm(dtype="mixed_float16", name="bn")
    assert isinstance(layer, BatchNormalization)
    x = batch()
    out = layer(x.astype("float16"), training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.moving_mean.dtype == "float32"
    run_serialization_test(BatchNormalization(momentum=0.8, epsilon=2e-5, center=False))
    inputs = keras.Input((5, 6, 8))
    model = keras.Model(inputs, BatchNormalization()(inputs))
    model(x, training=True)
    path = str(tmp_path / "bn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True
    assert type(loaded.layers[-1]) is BatchNormalization
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6, atol=1e-6)


def test_synchronized_is_accepted_and_kept_on_every_backend(tmp_path):
    """A model trained with synchronized BN on TensorFlow must load on JAX
    and PyTorch, whose Keras layer rejects `synchronized=True`."""
    layer = BatchNormalization(synchronized=True, momentum=0.9)
    assert layer.get_config()["synchronized"] is True
    assert layer.synchronized is (BACKEND == "tensorflow")
    assert BatchNormalization.from_config(layer.get_config()).get_config()["synchronized"]
    plain, _ = pair(momentum=0.9, epsilon=1e-5)
    synced = BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)
    synced.build((None, 5, 6, 8))
    synced.set_weights(plain.get_weights())
    x = batch()
    # One device: synchronized statistics are the batch's own.
    np.testing.assert_allclose(
        to_numpy(synced(x, training=True)), to_numpy(plain(x, training=True)),
        rtol=1e-5, atol=1e-5,
    )
    inputs = keras.Input((5, 6, 8))
    model = keras.Model(inputs, synced(inputs))
    path = str(tmp_path / "synced.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].get_config()["synchronized"] is True
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_half_precision_inputs_match_float32(policy):
    """Under a mixed policy the fused kernel reads the half-precision
    activations as they are (statistics in float32 inside it): outputs,
    moving statistics and input gradients agree with the float32 layer to
    the precision of the half type."""
    half = policy.split("_")[1]
    ours = BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy)
    full, _ = pair(momentum=0.9, epsilon=1e-5)
    ours.build((None, 5, 6, 8))
    ours.set_weights(full.get_weights())
    # Values exact in the half type, so both layers see the same numbers.
    x = batch().astype(half).astype("float32")
    out = ours(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == half
    tol = 2e-2 if half == "bfloat16" else 2e-3
    np.testing.assert_allclose(
        to_numpy(out).astype("float32"), to_numpy(full(x, training=True)), rtol=tol, atol=tol
    )
    for a, b in zip(ours.weights, full.weights):
        assert a.dtype == "float32"
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-5)

    def cubed(layer):
        return lambda t: keras.ops.cast(layer(t, training=True), "float32") ** 3

    grad_half, grad_full = gradients(cubed(ours), [x])[0], gradients(cubed(full), [x])[0]
    scale = np.abs(grad_full).max()
    np.testing.assert_allclose(grad_half / scale, grad_full / scale, atol=4 * tol)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the fused kernel is TensorFlow's")
def test_fused_kernel_reads_bfloat16_without_a_float32_copy():
    import tensorflow as tf

    layer = BatchNormalization(dtype="mixed_bfloat16")
    layer.build((4, 5, 6, 8))
    graph = tf.function(lambda t: layer(t, training=True)).get_concrete_function(
        tf.TensorSpec((4, 5, 6, 8), tf.bfloat16)
    ).graph
    fused = [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]
    assert [op.get_attr("T") for op in fused] == [tf.bfloat16]
    assert [op.get_attr("U") for op in fused] == [tf.float32]
