"""The TensorFlow-free loader (`data.make_array_dataset`, `data.loader: numpy`):
the same evaluation batches as tf.data, the same augmentation recipe, and a
`keras-resnets train` on JAX where TensorFlow cannot be imported."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import yaml

from keras_resnets import data
from keras_resnets.data import build
from keras_resnets.data import decode
from tests.testing import make_npz
from tests.testing import crop_offsets_and_flips
from tests.testing import uint8_images

ROOT = pathlib.Path(__file__).resolve().parents[2]

# A meta-path finder that makes every tensorflow module unimportable.
BLOCK_TENSORFLOW = '''
import sys

class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tf_keras"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoTensorFlow())
'''


def _tf_batches(ds):
    return [tuple(np.asarray(t) for t in batch) for batch in ds.as_numpy_iterator()]


def _np_batches(ds):
    return [ds[i] for i in range(ds.num_batches)]


@pytest.mark.parametrize(
    "preset, stats",
    [("cifar", {}), ("cifar", {"mean": "cifar100"}), ("svhn", {}), ("none", {}),
     ("none", {"mean": [0.5, 0.4, 0.3], "std": 0.25})],
)
def test_evaluation_batches_equal_tf_data(preset, stats):
    images, labels = uint8_images(22)
    kwargs = dict(batch_size=5, training=False, preset=preset, **stats)
    tf_batches = _tf_batches(data.make_dataset(images, labels, **kwargs))
    np_batches = _np_batches(data.make_array_dataset(images, labels, **kwargs))
    assert len(np_batches) == len(tf_batches) == 5
    for (x_np, y_np), (x_tf, y_tf) in zip(np_batches, tf_batches):
        assert x_np.dtype == x_tf.dtype == np.float32 and y_np.dtype == y_tf.dtype == np.int32
        np.testing.assert_array_equal(x_np, x_tf)  # to the bit
        np.testing.assert_array_equal(y_np, y_tf)


def test_build_datasets_loaders_agree(tmp_path):
    source = make_npz(tmp_path / "tiny.npz", n_train=40, n_test=12)
    kwargs = dict(batch_size=8, validation_size=8, cache_dir=False, seed=3)
    tf_ds = data.build_datasets(source, loader="tf", **kwargs)
    np_ds = data.build_datasets(source, loader="numpy", **kwargs)
    assert (tf_ds.loader, np_ds.loader) == ("tf", "numpy")
    assert np_ds.preprocessing() == tf_ds.preprocessing()
    assert len(np_ds.preprocessing()["mean"]) == 3 and np_ds.preprocessing()["preset"] == "cifar"
    assert (np_ds.num_train, np_ds.steps_per_epoch, np_ds.num_classes) == (32, 4, 4)
    for split in ("validation", "test"):
        tf_batches = _tf_batches(getattr(tf_ds, split))
        np_batches = _np_batches(getattr(np_ds, split))
        assert len(np_batches) == len(tf_batches)
        for (x_np, y_np), (x_tf, y_tf) in zip(np_batches, tf_batches):
            np.testing.assert_array_equal(x_np, x_tf)
            np.testing.assert_array_equal(y_np, y_tf)


def test_build_datasets_takes_an_options_record(tmp_path):
    """A `DataOptions` record and the same keywords build the same batches;
    keywords override the record without changing it."""
    source = make_npz(tmp_path / "tiny.npz", n_train=40, n_test=12)
    options = data.DataOptions(batch_size=8, validation_size=8, cache_dir=False, loader="numpy")
    by_record = data.build_datasets(source, options, seed=3)
    by_keywords = data.build_datasets(
        source, batch_size=8, validation_size=8, cache_dir=False, loader="numpy", seed=3
    )
    assert options.seed == 0 and by_record.loader == "numpy"
    assert by_record.preprocessing() == by_keywords.preprocessing()
    assert (by_record.num_train, by_record.steps_per_epoch, by_record.batch_size) == (32, 4, 8)
    for split in ("train", "validation", "test"):
        record_batches = _np_batches(getattr(by_record, split))
        keyword_batches = _np_batches(getattr(by_keywords, split))
        assert len(record_batches) == len(keyword_batches) > 0
        for (x_a, y_a), (x_b, y_b) in zip(record_batches, keyword_batches):
            np.testing.assert_array_equal(x_a, x_b)
            np.testing.assert_array_equal(y_a, y_b)
    with pytest.raises(TypeError, match=r"unknown options \['batch'\]\. Expected any of .*'batch_size'"):
        data.build_datasets(source, options, batch=4)
    with pytest.raises(TypeError, match="Expected a DataOptions or None. Received: options=8"):
        data.build_datasets(source, 8)

def _ramp_batches(make, padding_mode, count=576, seed=3):
    # Every image is the same horizontal ramp; with mean=0 and std=1/255 the
    # output is the raw pixel value (zero padding stays 0).
    ramp = np.arange(16, dtype=np.uint8) * 15 + 10
    images = np.repeat(np.tile(ramp[None, :, None], (16, 1, 3))[None], count, axis=0)
    ds = make(images, np.arange(count), batch_size=64, training=True, mean=0.0,
              std=1 / 255.0, seed=seed, padding_mode=padding_mode)
    return ramp, ds


def _offsets_and_flips(ramp, x, padding_mode):
    offsets, flips = crop_offsets_and_flips(ramp, x, padding_mode)
    return np.bincount(offsets, minlength=9) / len(x), np.mean(flips)


@pytest.mark.parametrize("padding_mode", ["constant", "reflect"])
def test_training_augmentation_matches_the_tf_recipe(padding_mode):
    ramp, ds = _ramp_batches(data.make_array_dataset, padding_mode)
    x, y = map(np.concatenate, zip(*_np_batches(ds)))
    assert x.shape == (576, 16, 16, 3) and x.dtype == np.float32
    assert sorted(y) == list(range(576)) and not np.array_equal(y, np.arange(576))
    offsets, flips = _offsets_and_flips(ramp, x, padding_mode)
    _, tf_ds = _ramp_batches(data.make_dataset, padding_mode)
    tf_x = np.concatenate([b[0] for b in _tf_batches(tf_ds)])
    tf_offsets, tf_flips = _offsets_and_flips(ramp, tf_x, padding_mode)
    # Both draw the 9 crop offsets uniformly and flip half the images
    # (576 draws: a frequency is 1/9 +- 0.04 at about 3 standard deviations).
    np.testing.assert_allclose(offsets, 1 / 9, atol=0.04)
    np.testing.assert_allclose(tf_offsets, 1 / 9, atol=0.04)
    assert abs(flips - 0.5) < 0.07 and abs(tf_flips - 0.5) < 0.07
    # Same seed, same batches; the next epoch draws new ones.
    _, again = _ramp_batches(data.make_array_dataset, padding_mode)
    np.testing.assert_array_equal(again[0][0], x[:64])
    ds.on_epoch_end()
    assert not np.array_equal(ds[0][0], x[:64])


def test_repeat_runs_across_epochs_and_drop_remainder():
    images, labels = uint8_images(10)
    ds = data.make_array_dataset(images, labels, batch_size=4, training=True, seed=0,
                                 repeat=True, preset="none")
    assert ds.num_batches is None
    stream = np.concatenate([ds[i][1] for i in range(5)])  # 20 = two passes
    assert sorted(stream[:10]) == sorted(labels) and sorted(stream[10:]) == sorted(labels)
    assert not np.array_equal(stream[:10], stream[10:])  # reshuffled per pass
    ds = data.make_array_dataset(images, labels, batch_size=4, training=False,
                                 drop_remainder=True, preset="svhn")
    assert ds.num_batches == 2 == len(ds)
    np.testing.assert_array_equal(ds[1][1], labels[4:8])  # evaluation keeps the order
    with pytest.raises(IndexError, match="index=2"):
        ds[2]


def test_feeds_keras_fit():
    import keras

    images, labels = uint8_images(16)
    ds = data.make_array_dataset(images, labels, batch_size=4, training=True, seed=0,
                                 repeat=True)
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=2, steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_errors():
    images, labels = uint8_images(4)
    with pytest.raises(ValueError, match="preset 'imagenet' resizes every image and needs"):
        data.make_array_dataset(images, labels, batch_size=2, training=False, preset="imagenet")
    with pytest.raises(ValueError, match="not image file paths"):
        data.make_array_dataset(np.array(["a.png", "b.png"]), [0, 1], batch_size=2,
                                training=False, mean="cifar10")
    with pytest.raises(ValueError, match=r"Expected one of \('auto', 'tf', 'numpy'\)"):
        build.resolve_loader("torch")
    with pytest.raises(ValueError, match="Expected a positive int. Received: batch_size=0"):
        data.make_array_dataset(images, labels, batch_size=0, training=False)


def test_pillow_decodes_folders_like_tensorflow(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            (tmp_path / "src" / split / cls).mkdir(parents=True)
            for i in range(count):
                image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                mode = "L" if i == 1 else "RGB"  # grey is repeated
                picture = Image.fromarray(image[..., 0] if mode == "L" else image, mode)
                picture.save(tmp_path / "src" / split / cls / f"{i}.png")
    (tmp_path / "src" / "train" / "a" / "bad.png").write_bytes(b"\x89PNG cut")
    with_tf, _ = data.load_arrays(tmp_path / "src", cache_dir=False, skip_corrupt=True)
    monkeypatch.setattr(decode, "_BACKEND", "pillow")
    with pytest.raises(data.CorruptImagesError, match="train/a/bad.png"):
        data.load_arrays(tmp_path / "src", cache_dir=False)
    with_pil, info = data.load_arrays(tmp_path / "src", cache_dir=False, skip_corrupt=True)
    assert info.num_examples == {"train": 6, "test": 4}
    for split in ("train", "test"):
        np.testing.assert_array_equal(with_pil[split][0], with_tf[split][0])
        np.testing.assert_array_equal(with_pil[split][1], with_tf[split][1])


# === Without TensorFlow (subprocesses on JAX) ===


def _run_without_tf(tmp_path, args, code=None):
    block = tmp_path / "block_tf"
    block.mkdir(exist_ok=True)
    (block / "sitecustomize.py").write_text(BLOCK_TENSORFLOW)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(block), str(ROOT)])}
    command = [sys.executable, *args, *(["-c", code] if code else [])]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)


def test_import_never_loads_tensorflow_on_jax(tmp_path):
    code = """
import json, sys
import keras_resnets
from keras_resnets import create_model, layers, list_models, models, registry, data, training
from keras_resnets import cli, inference
from keras_resnets.training import train
from keras_resnets.data import build
model = create_model("resnet-20", input_shape=(8, 8, 3), num_classes=4)
errors = []
for call in (lambda: build.resolve_loader("tf"),
             lambda: data.load_arrays("cifar100", cache_dir=False)):
    try:
        call()
    except data.MissingPackageError as e:
        errors.append([e.package, str(e)])
print(json.dumps({"loaded": sorted(m for m in sys.modules if m.startswith("tensorflow")),
                  "auto": build.resolve_loader("auto"), "errors": errors}))
"""
    result = _run_without_tf(tmp_path, [], code)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [] and out["auto"] == "numpy"
    (tf_package, tf_error), (tfds_package, tfds_error) = out["errors"]
    assert tf_package == "tensorflow" and "use data.loader: numpy" in tf_error
    assert tfds_package == "tensorflow-datasets"
    assert "'cifar100' is a tensorflow-datasets name, and reading it needs" in tfds_error
    assert "\n" not in tf_error + tfds_error


@pytest.mark.parametrize("augment_on", ["host", "device"])
def test_cli_train_on_jax_without_tensorflow(tmp_path, augment_on):
    """`keras-resnets train` where `import tensorflow` fails: numpy loader,
    metrics.json, a model that loads and predicts; with the augmentation on
    the host (numpy) or in the jitted train step (uint8 batches)."""
    make_npz(tmp_path / "tiny.npz", n_train=96, n_test=24)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "model: {name: resnet-20}\n"
        f"data: {{source: {tmp_path / 'tiny.npz'}, cache_dir: {tmp_path / 'cache'}}}\n"
        "training: {epochs: 1, batch_size: 16, steps_per_epoch: 2, jit_compile: false,"
        " verbose: 2, validate_on_test: false}\n"
    )
    run_dir = tmp_path / "out"
    result = _run_without_tf(tmp_path, ["-m", "keras_resnets.cli", "train", str(config),
                                        "--output", str(run_dir),
                                        "--set", "data.train_limit=64",
                                        "--set", f"data.augment_on={augment_on}"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "TensorBoard logs are not written: they need the tensorflow package" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["backend"] == "jax"
    assert metrics["epochs"] == 1 and metrics["train_examples"] == 64
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["augment_on"] == augment_on
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    preprocessing = json.loads((run_dir / "preprocessing.json").read_text())
    assert preprocessing["preset"] == "cifar" and len(preprocessing["mean"]) == 3
    code = f"""
import json, sys
import keras, numpy as np
import keras_resnets  # registers the package's layers for loading
model = keras.models.load_model({str(run_dir / "last.keras")!r})
logits = model.predict(np.zeros((2, 8, 8, 3), "float32"), verbose=0)
print(json.dumps({{"shape": list(logits.shape), "finite": bool(np.isfinite(logits).all()),
                  "tf": any(m.startswith("tensorflow") for m in sys.modules)}}))
"""
    loaded = _run_without_tf(tmp_path, [], code)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert out == {"shape": [2, 4], "finite": True, "tf": False}
