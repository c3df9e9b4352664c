"""Shared test helpers: the layer and model contracts every class must meet.

The one place for them (keras-hub's `TestCase` methods, written as functions
for pytest): every test under tests/ uses these instead of local copies.

- `run_layer_test`: config round trip, build and weight / seed-generator
  counts, symbolic and eager calls, deterministic inference, seed
  reproducibility and the Monte-Carlo training mean of stochastic layers,
  one compiled fit step, `.keras` round trip, mixed precision.
- `run_model_test`: output shape, config JSON round trip, the same weight
  paths and shapes, identical outputs with copied weights, `.keras` round trip.
- `run_serialization_test`, `run_seed_test`, `run_expectation_test`: the
  parts of `run_layer_test`, callable on their own.
- `to_numpy`, `value_and_grads`, `gradients`: backend-independent utilities.
- `make_npz`: a tiny learnable `.npz` data set; `write_config`: a tiny
  run's YAML config reading it; `uint8_images`, `float_images`: random
  images; `cifar10_test_set`: the original CIFAR-10 test images and labels
  from ../shared/data (skips where absent, fails under CI=true).
"""

import json
import math
import os
import pathlib
import statistics

import keras
import numpy as np
import yaml
from keras import ops

BACKEND = keras.backend.backend()
EPS32 = float(np.finfo("float32").eps)
CIFAR10 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10.npz"


def make_npz(path, n_train=192, n_test=32, size=8, seed=0):
    """Colour-coded 4-class images (learnable in a few steps)."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 4, n)
        x = rng.integers(0, 60, (n, size, size, 3)).astype("uint8")
        for c in range(3):
            x[y == c, :, :, c] += 150
        return x, y.astype("int32")

    (xt, yt), (xs, ys) = split(n_train), split(n_test)
    np.savez(path, x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    return path


def write_config(folder, *, name="tiny.yaml", source=None, images=None, **sections):
    """Writes a run's YAML config into `folder`; returns its path.

    Args:
        folder: where the config goes (and the data, without `source`).
        name: the config's file name.
        source: `data.source`. Default: `folder/tiny.npz`, made by
            `make_npz(**images)` unless it is there, with `data.cache_dir`
            `folder/cache`.
        images: `make_npz`'s keyword arguments.
        **sections: the config's sections as dicts (`model`, `optimizer`,
            `training`, ...); `data` adds to the source's keys.
    """
    folder = pathlib.Path(folder)
    data = {}
    if source is None:
        source = folder / "tiny.npz"
        if not source.exists():
            make_npz(source, **(images or {}))
        data["cache_dir"] = str(folder / "cache")
    raw = {**sections, "data": {"source": str(source), **data, **sections.get("data", {})}}
    path = folder / name
    path.write_text(yaml.safe_dump(raw))
    return path


def uint8_images(n, size=8, seed=0):
    """`(images, labels)`: `n` random uint8 `(size, size, 3)` images and the
    labels 0, 1, 2, 3, 0, ..."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % 4


def float_images(size, n=2, seed=1, normal=False):
    """`n` random float32 `(size, size, 3)` images: uniform in [-1, 1), or
    standard normal."""
    rng = np.random.default_rng(seed)
    shape = (n, size, size, 3)
    return (rng.normal(size=shape) if normal else rng.uniform(-1, 1, shape)).astype("float32")


def randomize_bn_statistics(model, seed=0, variance=(0.5, 1.5)):
    """Gives every BatchNormalization of `model` random moving statistics
    (mean ~ N(0, 0.1), variance uniform in `variance`), so that inference-mode
    BN does real work in a test."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.1, shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(*variance, shape).astype("float32"))
    return model


def cifar10_test_set():
    """`(x_test uint8 NHWC, y_test int)` of the original CIFAR-10.

    Skips where ../shared/data/cifar10.npz is absent (a user's fresh clone);
    fails instead under CI=true, where the data must be there.
    """
    import pytest

    if not CIFAR10.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared data is missing: {CIFAR10}")
        pytest.skip(f"needs the original CIFAR-10 at {CIFAR10}")
    with np.load(CIFAR10) as data:
        return data["x_test"], data["y_test"].ravel()


def run_python(script, env=None, timeout=600):
    """Runs `script` in a fresh Python process at the repository root (a
    backend or device setup of its own); returns its stdout, fails on a
    non-zero exit with the end of its stderr."""
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=timeout, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def value_and_grads(fn, inputs):
    """`fn(*inputs)` and the gradients of `sum(fn(*inputs))` w.r.t. each input.

    One forward pass gives both, so the random draws behind the value and
    the gradients are the same.
    """
    inputs = [np.asarray(x, dtype="float32") for x in inputs]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xs = [tf.constant(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = fn(*xs)
            loss = tf.reduce_sum(y)
        grads = tape.gradient(loss, xs)
    elif BACKEND == "jax":
        import jax

        def loss(*xs):
            y = fn(*xs)
            return jax.numpy.sum(y), y

        argnums = tuple(range(len(inputs)))
        (_, y), grads = jax.value_and_grad(loss, argnums=argnums, has_aux=True)(
            *inputs
        )
    elif BACKEND == "torch":
        import torch

        xs = [torch.tensor(x, requires_grad=True) for x in inputs]
        y = fn(*xs)
        y.sum().backward()
        grads = [x.grad for x in xs]
        y = y.detach()
    else:
        raise NotImplementedError(f"no gradient helper for backend {BACKEND}")
    return to_numpy(y), [to_numpy(g) for g in grads]


def gradients(fn, inputs):
    """Gradients of `sum(fn(*inputs))` w.r.t. each input, on any backend."""
    return value_and_grads(fn, inputs)[1]


def _config_json(config):
    # No `default=`: a config that is not plain JSON cannot go into a .keras file.
    return json.dumps(config, sort_keys=True)


def run_serialization_test(layer, init_kwargs=()):
    """`get_config` -> `from_config` -> `get_config` JSON round trip, and
    keras (de)serialization. Every key of `init_kwargs` must be in the config."""
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() lacks the constructor argument {key!r}"
    clone = layer.__class__.from_config(config)
    assert _config_json(clone.get_config()) == _config_json(config)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is type(layer)
    assert revived.get_config() == config
    return clone


def _shapes(data):
    return [tuple(x.shape) for x in data]


def _seed_generators(layer):
    """The distinct seed generators of `layer` and all its sub-layers."""
    found = {}
    for sublayer in layer._flatten_layers(include_self=True, recursive=True):
        for generator in sublayer._seed_generators:
            found[id(generator)] = generator
    return list(found.values())


def _twin(cls, init_kwargs, reference, call_in, **overrides):
    """A new layer with `reference`'s weights (and config changed by `overrides`)."""
    layer = cls(**{**init_kwargs, **overrides})
    layer(call_in, training=False)  # builds it
    layer.set_weights(reference.get_weights())
    return layer


def run_seed_test(cls, init_kwargs, input_data, *, reference=None):
    """A seeded stochastic layer is reproducible: two layers with the same
    seed (and the same weights) give the same training-mode output, and a
    different seed gives a different one."""
    assert init_kwargs.get("seed") is not None, (
        "test stochastic layers with an explicit `seed` in init_kwargs"
    )
    call_in = input_data
    if reference is None:
        reference = cls(**init_kwargs)
        reference(call_in, training=False)
    a = _twin(cls, init_kwargs, reference, call_in)
    b = _twin(cls, init_kwargs, reference, call_in)
    other = _twin(cls, init_kwargs, reference, call_in, seed=init_kwargs["seed"] + 1)
    first = to_numpy(a(call_in, training=True))
    np.testing.assert_array_equal(first, to_numpy(b(call_in, training=True)))
    assert not np.array_equal(first, to_numpy(other(call_in, training=True))), (
        "a different seed gave the same training-mode output"
    )
    # The generator advances: the same layer's next call draws anew.
    assert not np.array_equal(first, to_numpy(a(call_in, training=True)))


def student_t_quantile(p, dof):
    """Upper `p` quantile of Student's t with `dof` degrees of freedom.

    Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun
    26.7.5), accurate to a few parts in a thousand for `dof` >= 30.
    """
    z = statistics.NormalDist().inv_cdf(1.0 - p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3


def _mean_within_error(samples, expected, what, false_alarm_rate, comparisons):
    """Each element of the samples' mean is `expected` within t standard errors."""
    n = samples.shape[0]
    mean = samples.mean(axis=0)
    std_error = samples.std(axis=0, ddof=1) / math.sqrt(n)
    t = student_t_quantile(false_alarm_rate / (2 * comparisons), n - 1)
    rounding = 4 * EPS32 * np.abs(samples).max(axis=0)
    excess = np.abs(mean - expected) - (t * std_error + rounding)
    assert np.all(excess <= 0), (
        f"training-mode mean differs from the inference output ({what}) by more "
        f"than t={t:.2f} standard errors at {int(np.sum(excess > 0))} of "
        f"{np.size(excess)} places (largest excess {np.max(excess):.3g})"
    )


def run_expectation_test(
    layer, input_data, *, draws=4096, calls=256, false_alarm_rate=1e-6
):
    """The training-mode mean of a stochastic layer equals its inference output.

    Monte Carlo. One training call on `draws` stacked copies of the batch
    gives `draws` independent samples where the layer draws per example; if
    the copies come out identical (one draw per batch, e.g.
    `ShakeShake(level="batch")`), `calls` separate calls give the samples.
    Two checks, each `|mean - inference| <= t * s / sqrt(n)` plus float32
    rounding, with `s` the samples' standard deviation and `t` the Student-t
    quantile (`n - 1` degrees of freedom) for a two-sided false-alarm rate of
    `false_alarm_rate` over all comparisons together (Bonferroni):

    - every element of the output;
    - the output projected on the inference output, `<y, I> / <I, I>`, whose
      mean must be 1: one comparison, so it catches a small scale error
      (a few percent) that the per-element bound is too wide to see.
    """
    multi = isinstance(input_data, list)
    data = input_data if multi else [input_data]
    batch = data[0].shape[0]
    inference = to_numpy(layer(input_data, training=False)).astype("float64")

    def sample(copies):
        tiled = [np.concatenate([np.asarray(x)] * copies, axis=0) for x in data]
        y = to_numpy(layer(tiled if multi else tiled[0], training=True))
        return y.astype("float64").reshape((copies, batch) + inference.shape[1:])

    samples = sample(draws)
    if np.all(samples == samples[:1]):  # one draw shared by the whole batch
        samples = np.concatenate([sample(1) for _ in range(calls)])
    assert np.any(samples != samples[:1]), "the training-mode output never varied"
    comparisons = inference.size + 1
    _mean_within_error(samples, inference, "per element", false_alarm_rate, comparisons)
    norm = float(np.sum(inference * inference))
    if norm > 0:
        axes = tuple(range(1, samples.ndim))
        projected = np.sum(samples * inference, axis=axes) / norm
        _mean_within_error(
            projected[:, None], np.ones(1), "projected", false_alarm_rate, comparisons
        )


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    *,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    expected_num_seed_generators=None,
    stochastic=False,
    expectation=None,
    tmp_path=None,
    run_training=True,
    run_mixed_precision=True,
):
    """The layer contract (STYLE.md section 4), in order:

    1. `get_config` -> `from_config` JSON round trip and keras serialization;
    2. `build(shape)` and the weight and seed-generator counts;
    3. a symbolic call: shape and dtype against `compute_output_shape`;
    4. eager inference twice (identical), training mode (same shape);
    5. `stochastic=True`: `run_seed_test`, and, unless `expectation=False`
       (e.g. blocks whose BatchNormalization uses batch statistics in
       training), `run_expectation_test`;
    6. one compiled fit step of `Dense -> layer` (finite loss);
    7. with `tmp_path`: `.keras` save and load, equal weights and outputs;
    8. mixed_float16 / mixed_bfloat16: compute dtype in both modes, finite
       outputs, float32 variables.

    `input_data` is an array, or a list of arrays for multi-input layers.
    """
    multi = isinstance(input_data, list)
    data = input_data if multi else [input_data]
    call_in = data if multi else data[0]
    shapes = _shapes(data)
    expected_output_shape = tuple(expected_output_shape)

    # 1. Config round trip.
    run_serialization_test(cls(**init_kwargs), init_kwargs)

    # 2. Build from a shape; count weights and seed generators.
    layer = cls(**init_kwargs)
    layer.build(shapes if multi else shapes[0])
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    if expected_num_seed_generators is not None:
        assert len(_seed_generators(layer)) == expected_num_seed_generators

    # 3. Symbolic call agrees with compute_output_shape.
    symbolic_shapes = [(None,) + s[1:] for s in shapes]
    symbolic_in = [keras.KerasTensor(s) for s in symbolic_shapes]
    symbolic_layer = cls(**init_kwargs)
    symbolic = symbolic_layer(symbolic_in if multi else symbolic_in[0])
    assert tuple(symbolic.shape[1:]) == expected_output_shape[1:]
    assert keras.backend.standardize_dtype(symbolic.dtype) == symbolic_layer.compute_dtype
    assert tuple(
        symbolic_layer.compute_output_shape(symbolic_shapes if multi else symbolic_shapes[0])
    ) == tuple(symbolic.shape)
    assert tuple(layer.compute_output_shape(shapes if multi else shapes[0])) == (
        expected_output_shape
    )

    # 4. Eager inference is deterministic; training keeps the shape.
    out1 = to_numpy(layer(call_in, training=False))
    out2 = to_numpy(layer(call_in, training=False))
    assert out1.shape == expected_output_shape
    np.testing.assert_array_equal(out1, out2)
    assert to_numpy(layer(call_in, training=True)).shape == expected_output_shape

    # 5. Stochastic layers: seeds reproduce, and the training mean is the inference.
    if stochastic:
        run_seed_test(cls, init_kwargs, call_in, reference=layer)
        if expectation is not False:
            run_expectation_test(cls(**init_kwargs), call_in)
    else:
        assert not expectation, "expectation=True needs stochastic=True"

    # 6. One compiled fit step, gradients flowing through the layer.
    inputs = [keras.Input(shape=s[1:]) for s in shapes]
    dense = [keras.layers.Dense(s[-1])(i) for s, i in zip(shapes, inputs)]
    outputs = cls(**init_kwargs)(dense if multi else dense[0])
    model = keras.Model(inputs if multi else inputs[0], outputs)
    if run_training:
        model.compile(optimizer="sgd", loss="mse", jit_compile=BACKEND != "torch")
        history = model.fit(
            call_in,
            np.zeros(expected_output_shape, "float32"),
            batch_size=shapes[0][0],
            epochs=1,
            verbose=0,
        )
        assert np.isfinite(history.history["loss"][0])

    # 7. .keras save and load.
    if tmp_path is not None:
        path = str(tmp_path / f"{cls.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)  # safe_mode=True by default
        for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(
            to_numpy(loaded(call_in, training=False)),
            to_numpy(model(call_in, training=False)),
            rtol=1e-6,
            atol=1e-6,
        )

    # 8. Mixed precision.
    if run_mixed_precision:
        for policy in ("mixed_float16", "mixed_bfloat16"):
            compute = policy.split("_")[1]
            mixed = cls(**init_kwargs, dtype=policy)
            assert mixed.compute_dtype == compute
            for training in (False, True):
                y = mixed(call_in, training=training)
                dtype = keras.backend.standardize_dtype(y.dtype)
                assert dtype == compute, (policy, training, dtype)
                assert np.all(np.isfinite(to_numpy(ops.cast(y, "float32"))))
            for weight in mixed.weights:
                assert keras.backend.standardize_dtype(weight.dtype) == "float32"
    return layer


def _weight_layout(model):
    """Path, shape and trainability of every weight, in order."""
    trainable = {id(w) for w in model.trainable_weights}
    return [(w.path, tuple(w.shape), id(w) in trainable) for w in model.weights]


def run_model_test(model_fn, input_data, expected_output_shape, tmp_path=None):
    """The model contract:

    - `model_fn()` builds and predicts `expected_output_shape`;
    - `from_config(get_config())` gives the same config (as JSON), the same
      parameter count, the same weight paths, shapes and trainability (no
      auto-numbered sub-layer names), and, with the
      original's weights copied in, identical outputs;
    - with `tmp_path`: a `.keras` file reloads with the same config, the same
      weights and the same outputs.
    """
    model = model_fn()
    out = to_numpy(model(input_data, training=False))
    assert out.shape == tuple(expected_output_shape)

    config = model.get_config()
    clone = model.__class__.from_config(config)
    assert _config_json(clone.get_config()) == _config_json(config)
    assert clone.count_params() == model.count_params()
    assert _weight_layout(clone) == _weight_layout(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        to_numpy(clone(input_data, training=False)), out, rtol=1e-6, atol=1e-6
    )

    if tmp_path is not None:
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)  # safe_mode=True by default
        assert _config_json(loaded.get_config()) == _config_json(config)
        assert _weight_layout(loaded) == _weight_layout(model)
        for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(
            to_numpy(loaded(input_data, training=False)), out, rtol=1e-5, atol=1e-5
        )
    return model


def crop_offsets_and_flips(ramp, x, padding_mode, crop=16, pad=4):
    """Which random crop (offset along the ramp's axis) and flip made each
    augmented image of `x` from a 1-D `ramp` image padded by `pad`: returns
    `(offsets, flips)`, one entry per image. Row 6 of a 16x16 crop always
    comes from the image, never the padding."""
    padded = np.pad(ramp, pad, mode=padding_mode).astype(np.float32)
    candidates = {}
    for offset in range(2 * pad + 1):
        window = padded[offset : offset + crop]
        candidates[tuple(window)] = (offset, False)
        candidates[tuple(window[::-1])] = (offset, True)
    found = [candidates[tuple(np.round(row, 3))] for row in x[:, 6, :, 0]]
    offsets, flips = zip(*found)
    return offsets, flips
