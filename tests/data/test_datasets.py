"""Tests for keras_resnets.data.datasets: folder, archive, .npz and tfds readers."""

import os
import pathlib
import tarfile
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from keras_resnets import data
from keras_resnets.data import datasets

CLASSES = ("cat", "airplane", "dog")  # written unsorted on purpose
SHARED_CIFAR10 = (
    pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10-jpg.tar.gz"
)


def _write_image(path, value, size=(8, 8), fmt="png"):
    image = np.full(size + (3,), value, np.uint8)
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(image).numpy())


def _make_folder(root, counts={"train": 2, "test": 1}, size=(8, 8)):
    """root/<split>/<class>/<i>.png, pixel value = 10 * class index in CLASSES."""
    for split, count in counts.items():
        for c, cls in enumerate(CLASSES):
            for i in range(count):
                _write_image(root / split / cls / f"{i}.png", 10 * c, size)
    return root


def _check_cifar_like(splits, info, train=2, test=1):
    assert info.class_names == ("airplane", "cat", "dog")
    assert info.num_classes == 3
    assert info.image_shape == (8, 8, 3)
    images, labels = splits["train"]
    assert images.shape == (3 * train, 8, 8, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(labels), [train] * 3)
    # Pixel value encodes the class: airplane=10, cat=0, dog=20.
    expected = {0: 10, 1: 0, 2: 20}
    for image, label in zip(images, labels):
        assert image[0, 0, 0] == expected[label]
    assert splits["test"][0].shape == (3 * test, 8, 8, 3)
    assert info.num_examples == {"train": 3 * train, "test": 3 * test}


def test_image_folder(tmp_path):
    root = _make_folder(tmp_path / "mydata")
    splits, info = data.load_arrays(root, cache_dir=tmp_path / "cache")
    _check_cifar_like(splits, info)
    assert info.name == "mydata"


def test_image_folder_without_splits_and_jpeg(tmp_path):
    root = tmp_path / "flat"
    for c, cls in enumerate(CLASSES):
        _write_image(root / cls / "a.jpg", 10 * c, fmt="jpeg")
    (root / "README.txt").write_text("not an image")
    splits, info = data.load_arrays(root, cache_dir=False)
    assert set(splits) == {"train"}
    images, labels = splits["train"]
    np.testing.assert_array_equal(np.sort(labels), [0, 1, 2])
    airplane = images[list(labels).index(0)]
    assert abs(int(airplane[0, 0, 0]) - 10) <= 2  # JPEG is lossy


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".zip"])
def test_archive(tmp_path, suffix):
    root = _make_folder(tmp_path / "src" / "mydata")
    archive = tmp_path / f"mydata{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted(root.rglob("*.png")):
                z.write(path, path.relative_to(root.parent).as_posix())
    else:
        with tarfile.open(archive, "w:gz" if suffix.endswith("gz") else "w") as t:
            t.add(root, arcname="mydata")
    splits, info = data.load_arrays(archive, cache_dir=tmp_path / "cache")
    _check_cifar_like(splits, info)
    assert info.name == "mydata"


def test_tar_long_names_and_fallback(tmp_path):
    """Long (pax/GNU) member names are read; odd headers fall back to tarfile."""
    root = _make_folder(tmp_path / ("d" * 120), counts={"train": 1})
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        archive = tmp_path / f"long{fmt}.tar"
        with tarfile.open(archive, "w", format=fmt) as t:
            t.add(root, arcname=root.name)
        splits, info = data.load_arrays(archive, cache_dir=False)
        assert info.class_names == ("airplane", "cat", "dog")
        assert len(splits["train"][1]) == 3


def test_large_images_come_back_as_paths(tmp_path):
    root = tmp_path / "big"
    for c, cls in enumerate(CLASSES):
        _write_image(root / "train" / cls / "a.png", c, size=(120, 100 + c))
    splits, info = data.load_arrays(root, cache_dir=tmp_path / "cache")
    paths, labels = splits["train"]
    assert paths.dtype.kind == "U" and len(paths) == 3
    assert os.path.exists(paths[0]) and info.image_shape == (None, None, 3)
    np.testing.assert_array_equal(np.sort(labels), [0, 1, 2])
    # A tar of the same folder is extracted into the cache.
    archive = tmp_path / "big.tar"
    with tarfile.open(archive, "w") as t:
        t.add(root, arcname="big")
    splits, _ = data.load_arrays(archive, cache_dir=tmp_path / "cache")
    assert str(tmp_path / "cache") in splits["train"][0][0]


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8),
        y_train=np.array([[0], [1], [2], [0], [1], [2]]),
        x_test=rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8),
        y_test=np.array([1, 2]),
    )
    splits, info = data.load_arrays(path)
    assert splits["train"][0].shape == (6, 4, 4, 3)
    assert splits["train"][1].dtype == np.int32 and splits["train"][1].shape == (6,)
    assert info.num_classes == 3 and info.class_names == ("0", "1", "2")
    np.savez(tmp_path / "bad.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="x_train and y_train"):
        data.load_arrays(tmp_path / "bad.npz")


def test_cache_hit_does_not_decode(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "mydata")
    archive = tmp_path / "mydata.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(root, arcname="mydata")
    cache = tmp_path / "cache"
    first, _ = data.load_arrays(archive, cache_dir=cache)
    assert len(list(cache.glob("mydata-*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(datasets, "decode_images", fail)
    monkeypatch.setattr(datasets, "_read_archive", fail)
    second, info = data.load_arrays(archive, cache_dir=cache)
    np.testing.assert_array_equal(first["train"][0], second["train"][0])
    assert info.class_names == ("airplane", "cat", "dog")
    # Touching the archive changes the key, so it is decoded again.
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(AssertionError, match="decoded again"):
        data.load_arrays(archive, cache_dir=cache)


@pytest.mark.parametrize("method", ["last", "random"])
def test_validation_split(tmp_path, method):
    root = _make_folder(tmp_path / "mydata", counts={"train": 4})
    splits, info = data.load_arrays(
        root, cache_dir=False, validation_size=3, validation_method=method, seed=1
    )
    assert len(splits["train"][1]) == 9 and len(splits["validation"][1]) == 3
    assert info.num_examples == {"train": 9, "validation": 3}
    whole, _ = data.load_arrays(root, cache_dir=False)
    if method == "last":
        np.testing.assert_array_equal(splits["validation"][0], whole["train"][0][-3:])
        np.testing.assert_array_equal(splits["train"][0], whole["train"][0][:-3])
    merged = np.concatenate([splits["train"][1], splits["validation"][1]])
    np.testing.assert_array_equal(np.sort(merged), np.sort(whole["train"][1]))
    fraction, _ = data.load_arrays(root, cache_dir=False, validation_size=0.25)
    assert len(fraction["validation"][1]) == 3


def test_errors(tmp_path):
    root = _make_folder(tmp_path / "mydata", counts={"train": 1})
    with pytest.raises(ValueError, match="Received: validation_size=3"):
        data.load_arrays(root, cache_dir=False, validation_size=3)
    with pytest.raises(ValueError, match="Received: validation_method='first'"):
        data.load_arrays(root, validation_method="first")
    with pytest.raises(FileNotFoundError, match="Received: source="):
        data.load_arrays(tmp_path / "missing.tar.gz")


def test_tfds_mock(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        splits, info = data.load_arrays("cifar10", cache_dir=tmp_path, data_dir=tmp_path)
    assert set(splits) == {"train", "test"}
    images, labels = splits["train"]
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int32
    assert info.num_classes == 10 and len(info.class_names) == 10
    # The second call is served from the .npz cache, without tfds.
    again, _ = data.load_arrays("cifar10", cache_dir=tmp_path, data_dir=tmp_path)
    np.testing.assert_array_equal(again["train"][0], images)


def test_tfds_offline_error(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve storage.googleapis.com")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(data.DataUnavailableError) as caught:
        data.load_arrays("cifar100", data_dir=tmp_path, cache_dir=False)
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    for phrase in ("'cifar100'", "image folder", "archive", ".npz", "ConnectionError"):
        assert phrase in message
    assert caught.value.__cause__ is None  # one clear error, no chained traceback


@pytest.mark.data
def test_shared_cifar10_archive(tmp_path):
    if not SHARED_CIFAR10.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the CIFAR-10 archive is missing: {SHARED_CIFAR10}")
        pytest.skip(f"needs the shared CIFAR-10 archive at {SHARED_CIFAR10}")
    start = time.perf_counter()
    splits, info = data.load_arrays(SHARED_CIFAR10, cache_dir=tmp_path)
    decode_seconds = time.perf_counter() - start
    assert info.num_classes == 10 and info.image_shape == (32, 32, 3)
    assert info.class_names == (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    )  # fmt: skip
    assert splits["train"][0].shape == (50000, 32, 32, 3)
    assert splits["test"][0].shape == (10000, 32, 32, 3)
    assert splits["train"][0].dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(splits["train"][1]), [5000] * 10)
    np.testing.assert_array_equal(np.bincount(splits["test"][1]), [1000] * 10)
    # The fixed example order mixes classes, so He et al.'s "last 5k" holdout
    # is not a single class.
    assert np.bincount(splits["train"][1][-5000:]).min() > 400
    start = time.perf_counter()
    cached, _ = data.load_arrays(SHARED_CIFAR10, cache_dir=tmp_path)
    cached_seconds = time.perf_counter() - start
    np.testing.assert_array_equal(cached["test"][0], splits["test"][0])
    print(f"CIFAR-10 archive: decode {decode_seconds:.1f} s, cached {cached_seconds:.2f} s")
