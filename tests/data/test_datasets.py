"""Tests for the readers of keras_resnets.data (`load_arrays`): folder, archive,
.npz and tfds sources (datasets.py, folders.py, archives.py, tfds_source.py,
reference.py)."""

import io
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
from keras_resnets.data import folders
from keras_resnets.data import reference
from keras_resnets.data import tfds_source

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

    monkeypatch.setattr(folders, "decode_images", fail)
    monkeypatch.setattr(folders, "read_archive", fail)
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

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(data.DataUnavailableError) as caught:
        data.load_arrays("cifar100", data_dir=tmp_path, cache_dir=False)
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    for phrase in ("'cifar100'", "image folder", "archive", ".npz", "ConnectionError"):
        assert phrase in message
    assert caught.value.__cause__ is None  # one clear error, no chained traceback


def test_tfds_offline_fails_fast_and_leaves_no_folders(tmp_path, monkeypatch):
    """No network (every name lookup fails, as offline): tfds's own retries
    (10, with back-off: ~200 s) are cut to DOWNLOAD_RETRIES, and the folders
    the attempt made are removed. Nothing leaves this process."""
    pytest.importorskip("tensorflow_datasets")
    import socket

    from tensorflow_datasets.core.download import downloader

    lookups = []

    def no_network(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    data_dir = tmp_path / "new" / "tfds"
    cache = tmp_path / "cache"
    retries = downloader.MAX_RETRIES
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailableError, match=r"'cifar10'.*offline\?.*local copy"):
        data.load_arrays("cifar10", data_dir=str(data_dir), cache_dir=cache)
    seconds = time.perf_counter() - start
    assert seconds < 15, f"took {seconds:.1f} s"
    assert 1 <= len(lookups) <= tfds_source.DOWNLOAD_RETRIES + 1, lookups
    assert downloader.MAX_RETRIES == retries  # restored
    assert not (tmp_path / "new").exists() and not cache.exists()
    # An existing data_dir keeps itself and what was in it, but not the
    # empty folders the attempt made.
    data_dir.mkdir(parents=True)
    (data_dir / "other").mkdir()
    with pytest.raises(data.DataUnavailableError):
        data.load_arrays("cifar10", data_dir=str(data_dir), cache_dir=cache)
    assert sorted(p.name for p in data_dir.rglob("*")) == ["other"]


def test_tfds_not_prepared_without_download(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    def never(*args, **kwargs):
        raise AssertionError("download attempted with download=False")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", never)
    with pytest.raises(data.DataUnavailableError, match="not prepared in .* download=False"):
        data.load_arrays("cifar100", data_dir=str(tmp_path / "tfds"), download=False)
    assert not (tmp_path / "tfds").exists()


def test_unknown_source_name(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowers").mkdir()
    for typo, hint in (("cifar11", "cifar10"), ("flowrs", "flowers")):
        with pytest.raises(ValueError) as caught:
            data.load_arrays(typo, data_dir=str(tmp_path / "tfds"), cache_dir=False)
        message = str(caught.value)
        assert f"no file or folder named '{typo}' (looked in {tmp_path})" in message
        assert "no tensorflow-datasets data set of that name" in message
        assert f"Did you mean '{hint}'?" in message
        assert "cifar10, cifar100, svhn_cropped, imagenet2012" in message
        assert "\n" not in message and not isinstance(caught.value, data.DataUnavailableError)
    assert tfds_source.is_tfds_name("mnist") and not tfds_source.is_tfds_name("flowrs")


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
    # A JPEG copy: its statistics miss CIFAR-10's (std by ~0.46 of 255), so
    # it keeps its own name, even when saved under CIFAR-10's.
    assert info.name == "cifar10-jpg" and info.lossy is True
    assert reference.local_name("cifar10", splits, info.class_names, {"lossy": True}) == (
        "cifar10-jpeg", True
    )
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


# === Corrupt images ===


def _make_corrupt_folder(root):
    """`_make_folder` plus a text file named .jpg and a truncated JPEG."""
    from PIL import Image

    _make_folder(root)  # 6 train + 3 test good images
    (root / "train" / "cat" / "notes.jpg").write_text("not an image")
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buffer, "JPEG")
    (root / "test" / "dog" / "cut.jpg").write_bytes(buffer.getvalue()[:200])
    return root


def _pack(root, suffix):
    """An archive of the folder `root` (members under `root.name/`)."""
    archive = root.parent / f"{root.name}{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(root.parent).as_posix())
    else:
        with tarfile.open(archive, "w:gz") as t:
            t.add(root, arcname=root.name)
    return archive


def _corrupt_source(tmp_path, kind):
    root = _make_corrupt_folder(tmp_path / "src" / "mydata")
    if kind == "folder":
        return root, ""
    return _pack(root, kind), "mydata/"


@pytest.mark.parametrize("kind", ["folder", ".tar.gz", ".zip"])
def test_corrupt_images_are_named(tmp_path, kind):
    source, prefix = _corrupt_source(tmp_path, kind)
    cache = tmp_path / "cache"
    with pytest.raises(data.CorruptImagesError) as caught:
        data.load_arrays(source, cache_dir=cache)
    error = caught.value
    assert isinstance(error, ValueError)  # the CLI prints it as one line, exit 2
    bad = [f"{prefix}test/dog/cut.jpg", f"{prefix}train/cat/notes.jpg"]
    assert error.files == bad and error.total == 11
    message = str(error)
    assert message.startswith(f"2 files of 11 in {source} could not be decoded as images: ")
    assert f"{bad[0]}, {bad[1]}; remove them" in message
    assert "data.skip_corrupt: true" in message and "different sizes" not in message
    assert "\n" not in message and caught.value.__cause__ is None
    assert not list(cache.glob("*.npz"))  # a failed decode is never cached


@pytest.mark.parametrize("kind", ["folder", ".tar.gz", ".zip"])
def test_skip_corrupt(tmp_path, kind, capsys, monkeypatch):
    source, prefix = _corrupt_source(tmp_path, kind)
    cache = tmp_path / "cache"
    splits, info = data.load_arrays(source, cache_dir=cache, skip_corrupt=True)
    line = f"skipped 2 corrupt images of 11 in {source} (first: {prefix}test/dog/cut.jpg)"
    assert capsys.readouterr().out.strip() == line
    _check_cifar_like(splits, info)
    assert info.name == "mydata" and info.lossy is True  # it holds .jpg files
    assert len(list(cache.glob("*.npz"))) == 1

    # The cache records the skipped files: switching the flag back raises
    # again (without decoding), and skipping again prints the same line.
    def fail(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(folders, "decode_images", fail)
    monkeypatch.setattr(folders, "read_archive", fail)
    with pytest.raises(data.CorruptImagesError, match="2 files of 11"):
        data.load_arrays(source, cache_dir=cache)
    again, _ = data.load_arrays(source, cache_dir=cache, skip_corrupt=True)
    assert capsys.readouterr().out.strip() == line
    np.testing.assert_array_equal(again["train"][0], splits["train"][0])


def test_corrupt_images_with_preset_none(tmp_path, capsys):
    root = _make_corrupt_folder(tmp_path / "mydata")
    with pytest.raises(data.CorruptImagesError, match="train/cat/notes.jpg"):
        data.build_datasets(root, preset="none", cache_dir=False, batch_size=4)
    ds = data.build_datasets(
        root, preset="none", cache_dir=False, batch_size=4, skip_corrupt=True
    )
    train, test, info = ds.train, ds.test, ds.info
    assert "skipped 2 corrupt images of 11" in capsys.readouterr().out
    x, _ = next(iter(train))
    assert x.dtype == tf.float32 and tuple(x.shape) == (4, 8, 8, 3)
    assert float(tf.reduce_max(x)) <= 20 and info.num_examples == {"test": 3, "train": 6}
    assert sum(int(tf.shape(y)[0]) for _, y in test) == 3


def test_every_image_corrupt(tmp_path):
    root = tmp_path / "junk"
    for cls in CLASSES:
        (root / cls).mkdir(parents=True)
        (root / cls / "a.png").write_bytes(b"\x89PNG but cut short")
    with pytest.raises(data.CorruptImagesError, match=r"^3 files of 3 in .*: airplane/a.png, "):
        data.load_arrays(root, cache_dir=False)
    with pytest.raises(ValueError, match="Found no training images"):
        data.load_arrays(root, cache_dir=False, skip_corrupt=True)


def test_mixed_sizes_are_not_corrupt(tmp_path, capsys):
    """Small images of different sizes stay file paths, with their own
    message; statistics on them say why."""
    root = tmp_path / "mixed"
    for c, cls in enumerate(CLASSES):
        _write_image(root / "train" / cls / "a.png", c, size=(8, 8))
    _write_image(root / "train" / "dog" / "b.png", 0, size=(9, 7))
    splits, info = data.load_arrays(root, cache_dir=tmp_path / "cache")
    paths = splits["train"][0]
    assert paths.dtype.kind == "U" and len(paths) == 4 and info.image_shape == (None, None, 3)
    out = capsys.readouterr().out
    assert "differ in size: 8x8 (3 files, e.g. train/" in out
    assert "9x7 (1 file, e.g. train/dog/b.png)" in out
    assert not list((tmp_path / "cache").glob("*.npz"))
    with pytest.raises(ValueError, match=r"received 4 image file paths.*differ in size"):
        data.compute_mean_std(paths)
    with pytest.raises(ValueError, match="returns paths when the images differ in size"):
        data.build_datasets(root, preset="cifar", cache_dir=False)


# === Data set names ===


def _npz(path, train, test, num_classes=10, size=4, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (train, size, size, 3), dtype=np.uint8),
        y_train=np.arange(train) % num_classes,
        x_test=rng.integers(0, 256, (test, size, size, 3), dtype=np.uint8),
        y_test=np.arange(test) % num_classes,
    )
    return path


def test_small_npz_named_cifar10_is_not_cifar10(tmp_path):
    _, info = data.load_arrays(_npz(tmp_path / "cifar10.npz", 20, 10), cache_dir=False)
    assert info.name == "cifar10-unverified" and info.lossy is None
    _, info = data.load_arrays(_npz(tmp_path / "tiny.npz", 20, 10), cache_dir=False)
    assert info.name == "tiny"


def test_reference_statistics_decide_the_name(tmp_path, monkeypatch):
    """A copy is named cifar10 when its size and training statistics match
    the reference within STATISTICS_TOLERANCE (0-255 scale), whatever its
    file name; a copy that misses them keeps its own name."""
    path = _npz(tmp_path / "arrays.npz", 40, 10)
    x_train = np.load(path)["x_train"]
    mean, std = data.compute_mean_std(x_train)
    facts = {"num_classes": 10, "train": 40, "test": 10, "image_shape": (4, 4, 3)}
    monkeypatch.setitem(reference.REFERENCE_DATASETS, "cifar10", facts)
    off = 0.9 * reference.STATISTICS_TOLERANCE / 255
    monkeypatch.setitem(
        reference.presets.NAMED_STATISTICS, "cifar10", ([m + off for m in mean], std)
    )
    _, info = data.load_arrays(path, cache_dir=False)
    assert info.name == "cifar10" and info.lossy is False
    off = 1.1 * reference.STATISTICS_TOLERANCE / 255
    monkeypatch.setitem(
        reference.presets.NAMED_STATISTICS, "cifar10", (mean, [s - off for s in std])
    )
    _, info = data.load_arrays(path, cache_dir=False)
    assert info.name == "arrays" and info.lossy is None
    # Right statistics but another size is not the reference either.
    monkeypatch.setitem(reference.presets.NAMED_STATISTICS, "cifar10", (mean, std))
    monkeypatch.setitem(reference.REFERENCE_DATASETS, "cifar10", {**facts, "test": 11})
    _, info = data.load_arrays(path, cache_dir=False)
    assert info.name == "arrays"


SHARED_CIFAR10_NPZ = SHARED_CIFAR10.with_name("cifar10.npz")


def _require_shared(path):
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared data is missing: {path}")
        pytest.skip(f"needs the shared data at {path}")


@pytest.fixture(scope="module")
def shared_cifar10_npz():
    """The original CIFAR-10 (170 MB), loaded once for this module."""
    _require_shared(SHARED_CIFAR10_NPZ)
    return data.load_arrays(SHARED_CIFAR10_NPZ, cache_dir=False)


@pytest.mark.data
def test_shared_cifar10_npz_is_named_cifar10(shared_cifar10_npz):
    splits, info = shared_cifar10_npz
    assert info.name == "cifar10" and info.lossy is False
    assert info.num_examples == {"train": 50000, "test": 10000}
    mean, std = data.compute_mean_std(splits["train"][0])
    # Published CIFAR-10 training statistics (0-255 scale).
    np.testing.assert_allclose(np.array(mean) * 255, [125.307, 122.950, 113.865], atol=0.01)
    np.testing.assert_allclose(np.array(std) * 255, [62.993, 62.089, 66.705], atol=0.01)
    # Dropping the lowest bit of every pixel (a lossy copy) is not CIFAR-10.
    x_train, y_train = splits["train"]
    changed = {**splits, "train": (x_train & 0xFE, y_train)}
    assert reference.local_name("data", changed, info.class_names, {}) == ("data", None)
