"""Tests for keras_resnets.data.pipeline: presets, shapes, dtypes, seeding."""

import tarfile

import numpy as np
import pytest
import tensorflow as tf

from keras_resnets import data
from tests.testing import crop_offsets_and_flips
from tests.testing import uint8_images


def _all(ds):
    xs, ys = zip(*ds.as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


def test_cifar_eval_normalises_to_zero_mean_unit_std():
    images, labels = uint8_images(16)
    ds = data.make_dataset(images, labels, batch_size=5, training=False)
    shapes = [tuple(x.shape) for x, _ in ds.as_numpy_iterator()]
    assert shapes == [(5, 8, 8, 3)] * 3 + [(1, 8, 8, 3)]  # no drop_remainder
    x, y = _all(ds)
    assert x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, labels)  # evaluation keeps the order
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1, atol=1e-4)


def test_cifar_named_statistics():
    images = np.full((2, 4, 4, 3), 255, np.uint8)
    ds = data.make_dataset(images, [0, 1], batch_size=2, training=False, mean="cifar10")
    x, _ = _all(ds)
    expected = (1 - np.array(data.CIFAR10_MEAN)) / np.array(data.CIFAR10_STD)
    np.testing.assert_allclose(x[0, 0, 0], expected, rtol=1e-5)


@pytest.mark.parametrize("padding_mode", ["constant", "reflect"])
def test_cifar_training_crops_and_flips(padding_mode):
    # Every image is the same horizontal ramp; with mean=0 and std=1/255 the
    # output is the raw pixel value, so each row must be the ramp padded by
    # 4, cropped at one of 9 offsets and maybe flipped: 18 known answers.
    # Rows 4..11 of a 16x16 crop always come from the image, never the padding.
    ramp = np.arange(16, dtype=np.uint8) * 15 + 10
    images = np.repeat(np.tile(ramp[None, :, None], (16, 1, 3))[None], 64, axis=0)
    labels = np.arange(64)
    kwargs = dict(batch_size=16, training=True, mean=0.0, std=1 / 255.0, seed=3)
    ds = data.make_dataset(images, labels, padding_mode=padding_mode, **kwargs)
    x, y = _all(ds)
    assert x.shape == (64, 16, 16, 3) and sorted(y) == list(range(64))
    assert not np.array_equal(y, labels)  # shuffled
    offsets, flips = crop_offsets_and_flips(ramp, x, padding_mode)
    assert len(set(offsets)) >= 5 and 10 < sum(flips) < 54
    # Same seed, same batches; a second pass (epoch) draws new values.
    np.testing.assert_array_equal(
        x, _all(data.make_dataset(images, labels, padding_mode=padding_mode, **kwargs))[0]
    )
    assert not np.array_equal(x, _all(ds)[0])


def test_svhn_and_none_presets():
    images, labels = uint8_images(4)
    x, _ = _all(data.make_dataset(images, labels, batch_size=4, training=True, preset="svhn"))
    assert x.min() >= 0 and x.max() <= 1
    np.testing.assert_allclose(np.sort(x.ravel()), np.sort(images.ravel() / 255.0), rtol=1e-6)
    x, _ = _all(data.make_dataset(images, labels, batch_size=4, training=False, preset="none"))
    np.testing.assert_array_equal(x, images.astype(np.float32))


def test_drop_remainder_and_repeat():
    images, labels = uint8_images(10)
    ds = data.make_dataset(
        images, labels, batch_size=4, training=True, drop_remainder=True, seed=0
    )
    assert ds.element_spec[0].shape.as_list() == [4, 8, 8, 3]
    assert len(list(ds)) == 2
    ds = data.make_dataset(images, labels, batch_size=4, training=True, repeat=True, seed=0)
    assert len(list(ds.take(7))) == 7


@pytest.mark.parametrize("training", [True, False])
def test_imagenet_preset(training):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 20, 30, 3), dtype=np.uint8)
    ds = data.make_dataset(
        images,
        np.arange(6),
        batch_size=3,
        training=training,
        preset="imagenet",
        image_size=8,
        scale_range=(10, 16),
        seed=0,
    )
    x, y = _all(ds)
    assert x.shape == (6, 8, 8, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert np.isfinite(x).all()


def test_imagenet_preset_from_paths_and_mixed_sizes(tmp_path):
    paths = []
    for i, shape in enumerate([(20, 30), (40, 25), (30, 30)]):
        path = tmp_path / f"{i}.png"
        path.write_bytes(tf.io.encode_png(np.zeros(shape + (3,), np.uint8)).numpy())
        paths.append(str(path))
    ds = data.make_dataset(
        np.array(paths), [0, 1, 2], batch_size=2, training=True, preset="imagenet",
        image_size=8, scale_range=(10, 12), seed=0,
    )  # fmt: skip
    x, _ = _all(ds)
    assert x.shape == (3, 8, 8, 3)


def test_build_datasets_from_archive(tmp_path):
    root = tmp_path / "src" / "tiny"
    rng = np.random.default_rng(0)
    for split, count in (("train", 10), ("test", 4)):
        for cls in ("a", "b"):
            for i in range(count):
                image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                (root / split / cls).mkdir(parents=True, exist_ok=True)
                (root / split / cls / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(root, arcname="tiny")
    ds = data.build_datasets(
        archive, batch_size=4, validation_size=4, cache_dir=tmp_path / "cache"
    )
    train, val, test, info = ds.train, ds.validation, ds.test, ds.info
    assert ds.loader == "tf" and ds.preset == "cifar" and ds.num_train == 16
    assert data.infer_preset(info) == "cifar"
    assert info.num_examples == {"train": 16, "validation": 4, "test": 8}
    assert sum(len(y) for _, y in train.as_numpy_iterator()) == 16
    assert sum(len(y) for _, y in val.as_numpy_iterator()) == 4
    assert sum(len(y) for _, y in test.as_numpy_iterator()) == 8
    x, _ = _all(test)
    assert abs(float(x.mean())) < 0.3  # train statistics, roughly centred


def test_feeds_keras_fit():
    import keras

    images, labels = uint8_images(8)
    ds = data.make_dataset(images, labels, batch_size=4, training=True, seed=0)
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_errors():
    images, labels = uint8_images(4)
    with pytest.raises(ValueError, match="Received: preset='autoaugment'"):
        data.make_dataset(images, labels, batch_size=2, training=True, preset="autoaugment")
    with pytest.raises(ValueError, match="Received: padding_mode='edge'"):
        data.make_dataset(images, labels, batch_size=2, training=True, padding_mode="edge")
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        data.make_dataset(images, labels, batch_size=0, training=True)
    with pytest.raises(ValueError, match="Received: len\\(images\\)=4, len\\(labels\\)=3"):
        data.make_dataset(images, labels[:3], batch_size=2, training=True)
    with pytest.raises(ValueError, match="Received: mean='mnist'"):
        data.make_dataset(images, labels, batch_size=2, training=True, mean="mnist")
    with pytest.raises(ValueError, match="Received: scale_range="):
        data.make_dataset(
            images, labels, batch_size=2, training=True, preset="imagenet", scale_range=(300, 200)
        )


# === A stream that resumes (issue 24) ===


def _stream(make, start, count, peek=False):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 8, 8, 3)).astype("uint8")
    y = np.arange(40) % 4
    ds = make(x, y, batch_size=8, training=True, seed=3, repeat=True, drop_remainder=True,
              padding_mode="reflect", start_batch=start)
    if hasattr(ds, "as_numpy_iterator"):
        if peek:  # what a JAX/PyTorch fit does before training: one look
            next(ds.as_numpy_iterator())
        it = ds.as_numpy_iterator()
        return [next(it) for _ in range(count)]
    return [ds[i] for i in range(count)]


@pytest.mark.parametrize("loader", ["tf", "numpy"])
@pytest.mark.parametrize("peek", [False, True])
def test_start_batch_continues_the_stream_exactly(loader, peek):
    """Batches 7.. of a stream from `start_batch=7` are the stream's own,
    to the bit (order and augmentation), also after another iterator."""
    if loader == "tf":
        from keras_resnets.data.pipeline import make_dataset
    else:
        from keras_resnets.data.numpy_pipeline import make_dataset
    whole = _stream(make_dataset, 0, 12)
    resumed = _stream(make_dataset, 7, 5, peek=peek)
    for (x1, y1), (x2, y2) in zip(whole[7:], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    labels = np.concatenate([y for _, y in whole[:5]])  # pass 1: 40 examples once each
    assert sorted(np.bincount(labels)) == [10, 10, 10, 10]
    assert not np.array_equal(whole[0][1], whole[5][1])  # pass 2 has another order
