"""`data.augment_on: device` (keras_resnets.training.device_input): the host
ships uint8 training batches and the compiled train step normalises, pads,
crops and flips them, with the host pipelines' numbers and distribution."""

import keras
import numpy as np
import pytest
import yaml

from keras_resnets import data
from keras_resnets import training
from keras_resnets.data import decode
from keras_resnets.data import presets
from keras_resnets.data.numpy_pipeline import transform
from keras_resnets.training import device_input
from keras_resnets.training.trainer import load_data
from tests import testing
from tests.testing import crop_offsets_and_flips
from tests.testing import make_npz
from tests.testing import to_numpy

LOADERS = ["numpy"] + (["tf"] if decode.tensorflow_available() else [])


def first_batch(dataset):
    if hasattr(dataset, "__getitem__"):
        return dataset[0]
    return next(iter(dataset.as_numpy_iterator()))


@pytest.mark.parametrize("loader", LOADERS)
def test_training_batches_are_the_uint8_pixels_evaluation_is_unchanged(tmp_path, loader):
    source = make_npz(tmp_path / "tiny.npz", n_train=32, n_test=16)
    common = dict(batch_size=8, cache_dir=False, loader=loader, seed=1)
    host = data.build_datasets(source, **common)
    device = data.build_datasets(source, augment_on="device", **common)
    assert (host.augment_on, host.device_preprocessing) == ("host", None)
    x, y = first_batch(device.train)
    assert x.dtype == np.uint8 and x.shape == (8, 8, 8, 3) and y.dtype == np.int32
    raw = np.load(source)["x_train"]
    # Shuffled whole images, untouched.
    for image in np.asarray(x):
        assert any(np.array_equal(image, r) for r in raw)
    np.testing.assert_array_equal(first_batch(device.test)[0], first_batch(host.test)[0])
    spec = device.device_preprocessing
    scale, offset = presets.normalization_constants(host.mean, host.std)
    assert spec == {"scale": scale.tolist(), "offset": offset.tolist(), "augment": True,
                    "padding": 4, "padding_mode": "constant"}
    assert device.preprocessing() == host.preprocessing()  # what predict needs is the same


def test_imagenet_preset_is_refused_with_what_is_valid(tmp_path):
    source = make_npz(tmp_path / "tiny.npz", n_train=16, n_test=8)
    with pytest.raises(ValueError, match=r"presets \('cifar', 'svhn', 'none'\).*augment_on='host'"):
        data.build_datasets(source, batch_size=8, cache_dir=False, preset="imagenet",
                            mean="imagenet", std="imagenet", augment_on="device", loader="numpy")
    with pytest.raises(ValueError, match=r"augment_on.*\('host', 'device', 'auto'\).*'gpu'"):
        data.build_datasets(source, batch_size=8, cache_dir=False, augment_on="gpu",
                            loader="numpy")


def inner_model(input_shape=(16, 16, 3)):
    inputs = keras.Input(input_shape)
    outputs = keras.layers.Flatten()(inputs)  # the identity, flattened
    return keras.Model(inputs, outputs)


def test_inference_normalises_exactly_as_the_host():
    images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    mean, std = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
    spec = data.build.device_preprocessing("cifar", mean, std, 4, "constant")
    model = device_input.DeviceAugmentedModel(inner_model(), spec, seed=0)
    host = transform(images, preset="cifar", training=False, mean=mean, std=std)
    np.testing.assert_array_equal(to_numpy(model(images)), host.reshape(6, -1))
    # Float batches (the host's evaluation sets) go through untouched.
    np.testing.assert_array_equal(to_numpy(model(host)), host.reshape(6, -1))


@pytest.mark.parametrize("padding_mode", ["constant", "reflect"])
def test_training_augmentation_has_the_host_distribution(padding_mode):
    # The ramp of the host pipelines' tests, normalised with mean 0, std 1/255:
    # the output is the pixel value, and zero padding is 0.
    ramp = np.arange(16, dtype=np.uint8) * 15 + 10
    images = np.repeat(np.tile(ramp[None, :, None], (16, 1, 3))[None], 576, axis=0)
    spec = data.build.device_preprocessing("cifar", 0.0, 1 / 255.0, 4, padding_mode)
    model = device_input.DeviceAugmentedModel(inner_model(), spec, seed=2)
    x = to_numpy(model(images, training=True)).reshape(images.shape)
    offsets, flips = crop_offsets_and_flips(ramp, x, padding_mode)
    np.testing.assert_allclose(np.bincount(offsets, minlength=9) / 576, 1 / 9, atol=0.04)
    assert abs(np.mean(flips) - 0.5) < 0.07
    if padding_mode == "constant":  # rows shifted too, padded with the mean colour (0)
        assert 0.3 < (x[:, 0, 6, 0] == 0).mean() < 0.6


def test_no_augmentation_for_svhn_and_raw_pixels_for_none():
    images = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    svhn = device_input.DeviceAugmentedModel(
        inner_model(), data.build.device_preprocessing("svhn", None, None, 4, "constant")
    )
    expected = transform(images, preset="svhn", training=True)
    np.testing.assert_array_equal(to_numpy(svhn(images, training=True)), expected.reshape(4, -1))
    none = device_input.DeviceAugmentedModel(
        inner_model(), data.build.device_preprocessing("none", None, None, 4, "constant")
    )
    np.testing.assert_array_equal(
        to_numpy(none(images, training=True)), images.reshape(4, -1).astype("float32")
    )


def write_config(folder, augment_on, epochs=1):
    return testing.write_config(
        folder, images={"n_train": 64, "n_test": 16},
        model={"name": "resnet-20", "depth": 8},
        data={"augment_on": augment_on, "loader": "numpy"},
        optimizer={"learning_rate": 0.05},
        training={"epochs": epochs, "batch_size": 16, "steps_per_epoch": 2, "jit_compile": False,
                  "verbose": 0, "validate_on_test": True, "tensorboard": False,
                  "output_dir": str(folder / "run")},
    )


def test_train_saves_the_model_alone_and_resumes(tmp_path, capsys):
    config = training.load_config(write_config(tmp_path, "device"))
    metrics = training.train(config)
    run = tmp_path / "run"
    assert metrics["status"] == "finished" and np.isfinite(metrics["test_loss"])
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["augment_on"] == "device"
    for name in ("last.keras", "best.keras"):
        model = keras.saving.load_model(run / name)  # safe_mode: no Lambda, no wrapper
        assert not isinstance(model, device_input.DeviceAugmentedModel)
        assert keras.backend.standardize_dtype(model.inputs[0].dtype) == "float32"
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert trainable == metrics["trainable_params"]
    # The saved model on the host's evaluation batches gives the run's test accuracy.
    ds = load_data(config)
    result = keras.saving.load_model(run / "last.keras")
    result.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    accuracy = result.evaluate(ds.test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    # A longer run resumes from the backup (the wrapper's weights and RNG state).
    longer = training.load_config(write_config(tmp_path, "device", epochs=2))
    capsys.readouterr()
    metrics = training.train(longer)
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out
    assert metrics["epochs"] == 2
    assert len((run / "log.csv").read_text().strip().splitlines()) == 3


def test_config_refuses_imagenet_on_the_device(tmp_path):
    path = write_config(tmp_path, "device")
    raw = yaml.safe_load(path.read_text())
    raw["data"].update(preset="imagenet")
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(training.ConfigError, match="augment_on: device.*imagenet preset"):
        training.load_config(path)


def test_steps_per_execution_trains_whole_epochs(tmp_path):
    path = write_config(tmp_path, "host", epochs=1)
    raw = yaml.safe_load(path.read_text())
    raw["training"].update(steps_per_execution=2, steps_per_epoch=4)
    path.write_text(yaml.safe_dump(raw))
    config = training.load_config(path)
    if keras.backend.backend() == "torch":
        with pytest.raises(training.ConfigError, match="must be 1 on the PyTorch backend"):
            training.train(config)
        return
    metrics = training.train(config)
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 4
    raw["training"].update(steps_per_epoch=3, output_dir=str(tmp_path / "other"))
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(training.ConfigError, match=r"divide the 3 steps.*\[1, 3\]"):
        training.train(training.load_config(path))


def test_auto_is_the_host_on_a_cpu_and_the_device_on_a_gpu(monkeypatch):
    from keras_resnets.data import build

    assert data.DataOptions().augment_on == "auto"
    monkeypatch.setattr(build.runtime, "has_gpu", lambda: False)
    assert build.resolve_augment_on("auto", "cifar") == "host"
    monkeypatch.setattr(build.runtime, "has_gpu", lambda: True)
    assert [build.resolve_augment_on("auto", p) for p in presets.PRESETS] == [
        "device", "device", "host", "device"]  # cifar, svhn, imagenet, none
    assert build.resolve_augment_on("host", "cifar") == "host"
