"""Shared test helpers: the layer and model contracts every class must meet."""

import json

import keras
import numpy as np
from keras import ops


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def gradients(fn, inputs):
    """Gradients of `sum(fn(*inputs))` w.r.t. each input, on any backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            y = tf.reduce_sum(fn(*tensors))
        return [g.numpy() for g in tape.gradient(y, tensors)]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def total(*args):
            return jnp.sum(fn(*args))

        grads = jax.grad(total, argnums=tuple(range(len(inputs))))(
            *[jnp.asarray(x) for x in inputs]
        )
        return [np.asarray(g) for g in grads]
    import torch

    tensors = [torch.tensor(np.asarray(x), requires_grad=True) for x in inputs]
    torch.sum(fn(*tensors)).backward()
    return [t.grad.numpy() for t in tensors]


def run_serialization_test(layer):
    """get_config -> from_config -> get_config JSON round trip."""
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert json.dumps(clone.get_config(), sort_keys=True, default=str) == json.dumps(
        config, sort_keys=True, default=str
    )
    serialized = keras.saving.serialize_keras_object(layer)
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(layer)
    return clone


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    *,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    tmp_path=None,
    run_training=True,
    run_mixed_precision=True,
):
    """The layer contract: config round trip, build and weight counts, symbolic
    and eager calls, deterministic inference, one fit step, .keras round trip,
    mixed precision."""
    layer = cls(**init_kwargs)
    run_serialization_test(layer)

    # Build from a shape and count weights.
    shape = tuple(input_data.shape)
    layer = cls(**init_kwargs)
    layer.build(shape)
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

    # Symbolic call agrees with compute_output_shape.
    symbolic = cls(**init_kwargs)(keras.KerasTensor((None,) + shape[1:]))
    assert tuple(symbolic.shape[1:]) == tuple(expected_output_shape[1:])
    assert tuple(layer.compute_output_shape(shape)) == tuple(expected_output_shape)

    # Eager inference is deterministic and has the right shape.
    out1 = to_numpy(layer(input_data, training=False))
    out2 = to_numpy(layer(input_data, training=False))
    assert out1.shape == tuple(expected_output_shape)
    np.testing.assert_array_equal(out1, out2)
    train_out = to_numpy(layer(input_data, training=True))
    assert train_out.shape == tuple(expected_output_shape)

    # A model holding the layer fits one step and saves / loads.
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, cls(**init_kwargs)(inputs))
    if run_training:
        model.compile(
            optimizer="sgd",
            loss="mse",
            jit_compile=keras.backend.backend() != "torch",
        )
        y = np.zeros(tuple(expected_output_shape), "float32")
        model.fit(np.asarray(input_data), y, batch_size=shape[0], epochs=1, verbose=0)
    if tmp_path is not None:
        path = str(tmp_path / f"{cls.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            to_numpy(loaded(input_data, training=False)),
            to_numpy(model(input_data, training=False)),
            rtol=1e-5,
            atol=1e-5,
        )

    if run_mixed_precision:
        for policy in ("mixed_float16", "mixed_bfloat16"):
            mp_layer = cls(**init_kwargs, dtype=policy)
            out = mp_layer(ops.cast(input_data, "float32"))
            dtype = keras.backend.standardize_dtype(out.dtype)
            assert dtype == policy.split("_")[1], (policy, dtype)
            for w in mp_layer.trainable_weights:
                assert keras.backend.standardize_dtype(w.dtype) == "float32"
    return layer


def run_model_test(model_fn, input_data, expected_output_shape, tmp_path=None):
    """A model builds, predicts the right shape, round-trips its config and
    (when `tmp_path` is given) a .keras file with identical predictions."""
    model = model_fn()
    out = to_numpy(model(input_data, training=False))
    assert out.shape == tuple(expected_output_shape)
    clone = model.__class__.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    if tmp_path is not None:
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)  # safe_mode=True by default
        np.testing.assert_allclose(
            to_numpy(loaded(input_data, training=False)), out, rtol=1e-5, atol=1e-5
        )
    return model
