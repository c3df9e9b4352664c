"""Readers: a data set name or a local path in, uint8 arrays out.

Sources (see `load_arrays`):

* a tensorflow-datasets name (`cifar10`, `cifar100`, `svhn_cropped`,
  `imagenet2012`, ...), read from `data_dir`;
* an image folder `root/<class>/<image>` or `root/{train,test,val}/<class>/...`;
* the same folder inside a `.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`, `.tar.xz` or
  `.zip` archive;
* an `.npz` file with `x_train`, `y_train` and optionally `x_test`, `y_test`,
  `x_val`, `y_val` and `class_names`.

Small data sets (all images the same size, at most `MAX_ARRAY_SIDE` pixels a
side) are decoded once and cached as uint8 `.npz` arrays; larger ones come
back as arrays of file paths (archives are extracted into the cache) or, for
tensorflow-datasets, as a `tf.data.Dataset`, and are decoded in the pipeline.
"""

import bz2
import dataclasses
import gzip
import hashlib
import io
import lzma
import os
import pathlib
import tarfile
import tempfile
import zipfile

import numpy as np
import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = TAR_SUFFIXES + (".zip",)
SPLIT_FOLDERS = {
    "train": "train",
    "test": "test",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
}
# tfds split names for the data sets we know; "validation" of imagenet2012 is
# the set the papers report on, so it becomes our "test" split.
TFDS_SPLITS = {
    "cifar10": {"train": "train", "test": "test"},
    "cifar100": {"train": "train", "test": "test"},
    "svhn_cropped": {"train": "train", "test": "test"},
    "imagenet2012": {"train": "train", "test": "validation"},
}
# Largest image side that is decoded into in-memory arrays and cached.
MAX_ARRAY_SIDE = 96
CACHE_VERSION = 2
# Fixed seed of the example order of image folders and archives.
ORDER_SEED = 0
VALIDATION_METHODS = ("last", "random")


class DataUnavailableError(RuntimeError):
    """A data set cannot be read (e.g. offline, or not downloaded yet)."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `load_arrays` found.

    Attributes:
        name: str, the tfds name or the file/folder name of the source.
        num_classes: int.
        class_names: tuple of str; label `i` is `class_names[i]`.
        image_shape: `(H, W, C)`, or `(None, None, C)` when sizes vary.
        num_examples: dict, split name -> number of examples (-1 if unknown).
    """

    name: str
    num_classes: int
    class_names: tuple
    image_shape: tuple
    num_examples: dict


def default_cache_dir():
    """`$KERAS_RESNETS_CACHE`, else `~/.cache/keras_resnets`."""
    return pathlib.Path(
        os.environ.get("KERAS_RESNETS_CACHE")
        or pathlib.Path.home() / ".cache" / "keras_resnets"
    )


def load_arrays(
    source,
    *,
    data_dir=None,
    cache_dir=None,
    validation_size=0,
    validation_method="last",
    seed=0,
    download=True,
):
    """Loads a data set as `{split: (images, labels)}` plus a `DatasetInfo`.

    Args:
        source: a tensorflow-datasets name (`"cifar10"`, `"cifar100"`,
            `"svhn_cropped"`, `"imagenet2012"`, ...) or a local path: an image
            folder, an archive of one (`.tar[.gz|.bz2|.xz]`, `.tgz`, `.zip`)
            or an `.npz` file. Class order is the sorted folder names;
            folder/archive examples come in a fixed pseudo-random order
            (the same on every machine), `.npz` and tfds in their own.
        data_dir: str, tensorflow-datasets data directory (tfds names only).
        cache_dir: str, where decoded arrays and extracted archives are kept.
            Defaults to `default_cache_dir()`; `False` disables the cache.
        validation_size: int (number of examples) or float in `(0, 1)`
            (fraction of the training set) held out of `"train"` as
            `"validation"`. `0` (default) holds out nothing.
        validation_method: `"last"` (the last examples, e.g. He et al.'s
            45k/5k CIFAR split) or `"random"` (a holdout drawn with `seed`).
        seed: int, seed of the random holdout.
        download: bool, whether tensorflow-datasets may download.

    Returns:
        `(splits, info)`. `splits` maps `"train"`, `"test"` (when present) and
        `"validation"` to `(images, labels)`: `images` is a uint8 array
        `(N, H, W, 3)`, or, for large or mixed-size images, a 1-D array of
        file paths (or a `tf.data.Dataset` of `(image, label)` pairs for
        large tensorflow-datasets sets, with `labels=None`); `labels` is an
        int32 array `(N,)`. `info` is a `DatasetInfo`.

    Raises:
        DataUnavailableError: a tensorflow-datasets set cannot be loaded
            (offline, or not prepared in `data_dir`).
        FileNotFoundError: a local path does not exist.
        ValueError: bad arguments or an unreadable layout.
    """
    if validation_method not in VALIDATION_METHODS:
        raise ValueError(
            "Invalid value received for argument `validation_method`. "
            f"Expected one of {VALIDATION_METHODS}. "
            f"Received: validation_method={validation_method!r}"
        )
    if cache_dir is None:
        cache_dir = default_cache_dir()
    path = pathlib.Path(os.path.expanduser(str(source)))
    if path.exists():
        splits, class_names = _load_local(path, cache_dir)
        name = _strip_suffix(path.name)
    elif _looks_like_path(str(source)):
        raise FileNotFoundError(
            f"No image folder, archive or .npz file at this path. "
            f"Received: source={str(source)!r}"
        )
    else:
        splits, class_names = _load_tfds(str(source), data_dir, cache_dir, download)
        name = str(source)
    if "train" not in splits:
        raise ValueError(
            f"Found no training images in {str(source)!r}. Expected "
            "root/<class>/<image> or root/train/<class>/<image>."
        )
    splits = _hold_out(splits, validation_size, validation_method, seed)
    images = splits["train"][0]
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        image_shape = tuple(int(d) for d in images.shape[1:])
    else:
        image_shape = (None, None, 3)
    num_examples = {
        split: (-1 if labels is None else int(len(labels)))
        for split, (_, labels) in splits.items()
    }
    info = DatasetInfo(
        name=name,
        num_classes=len(class_names),
        class_names=tuple(class_names),
        image_shape=image_shape,
        num_examples=num_examples,
    )
    return splits, info


# === Validation holdout ===


def _hold_out(splits, validation_size, method, seed):
    if validation_size is None or validation_size == 0:
        return splits
    images, labels = splits["train"]
    if labels is None:  # a tf.data.Dataset: hold out the first examples.
        if not isinstance(validation_size, int) or validation_size < 0:
            raise ValueError(
                "For a streamed data set, `validation_size` must be a "
                f"positive int. Received: validation_size={validation_size!r}"
            )
        out = dict(splits)
        out["train"] = (images.skip(validation_size), None)
        out["validation"] = (images.take(validation_size), None)
        return out
    total = len(labels)
    if isinstance(validation_size, float) and 0 < validation_size < 1:
        count = int(round(validation_size * total))
    elif isinstance(validation_size, (int, np.integer)) and 0 < validation_size < total:
        count = int(validation_size)
    else:
        raise ValueError(
            "Invalid value received for argument `validation_size`. Expected "
            f"an int in [0, {total}) or a float in (0, 1). "
            f"Received: validation_size={validation_size!r}"
        )
    if "validation" in splits:
        raise ValueError(
            "The data set already has a validation split; set "
            f"validation_size=0. Received: validation_size={validation_size!r}"
        )
    if method == "last":
        train_idx, val_idx = np.arange(total - count), np.arange(total - count, total)
    else:
        order = np.random.default_rng(seed).permutation(total)
        train_idx, val_idx = np.sort(order[count:]), np.sort(order[:count])
    out = dict(splits)
    out["train"] = (images[train_idx], labels[train_idx])
    out["validation"] = (images[val_idx], labels[val_idx])
    return out


# === Local sources ===


def _strip_suffix(name):
    for suffix in ARCHIVE_SUFFIXES + (".npz",):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _looks_like_path(text):
    return (
        os.sep in text
        or "/" in text
        or text.startswith((".", "~"))
        or text.lower().endswith(ARCHIVE_SUFFIXES + (".npz",))
    )


def _load_local(path, cache_dir):
    lower = path.name.lower()
    if path.is_dir():
        return _load_image_folder(path, cache_dir)
    if lower.endswith(".npz"):
        return _load_npz(path)
    if lower.endswith(ARCHIVE_SUFFIXES):
        return _load_archive(path, cache_dir)
    raise ValueError(
        "Unsupported file type. Expected an image folder, an archive "
        f"({', '.join(ARCHIVE_SUFFIXES)}) or an .npz file. "
        f"Received: source={str(path)!r}"
    )


def _load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if not {"x_train", "y_train"} <= keys:
            raise ValueError(
                "An .npz source needs the keys x_train and y_train (and "
                f"optionally x_test, y_test, x_val, y_val, class_names). "
                f"Received: keys={sorted(keys)}"
            )
        splits = {}
        for split, suffix in (("train", "train"), ("test", "test"), ("validation", "val")):
            if f"x_{suffix}" in keys:
                images = np.asarray(data[f"x_{suffix}"])
                if images.ndim == 3:
                    images = images[..., None]
                labels = np.asarray(data[f"y_{suffix}"]).reshape(-1).astype(np.int32)
                if len(images) != len(labels):
                    raise ValueError(
                        f"x_{suffix} and y_{suffix} differ in length. Received: "
                        f"x_{suffix}.shape={images.shape}, y_{suffix}.shape={labels.shape}"
                    )
                splits[split] = (images, labels)
        if "class_names" in keys:
            class_names = [str(c) for c in data["class_names"]]
        else:
            num = int(max(labels.max() for _, labels in splits.values())) + 1
            class_names = [str(i) for i in range(num)]
    return splits, class_names


def _parse_member(relpath):
    """`(split, class)` of an image at `relpath` (posix), or None."""
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    name = parts[-1]
    if (
        len(parts) < 2
        or not name.lower().endswith(IMAGE_EXTENSIONS)
        or any(p.startswith(".") or p == "__MACOSX" for p in parts)
    ):
        return None
    split = "train"
    if len(parts) >= 3 and parts[-3].lower() in SPLIT_FOLDERS:
        split = SPLIT_FOLDERS[parts[-3].lower()]
    return split, parts[-2]


def _index(items):
    """Groups `(relpath, payload)` items into splits with sorted classes.

    Returns `({split: (payloads, labels)}, class_names)`. Examples are
    sorted by (class, path), then put in a fixed pseudo-random order (seed
    `ORDER_SEED`), so the result does not depend on archive order and the
    first or last N examples (e.g. a "last" validation holdout) mix all
    classes instead of holding one class.
    """
    parsed = []
    for relpath, payload in items:
        found = _parse_member(relpath)
        if found is not None:
            parsed.append((found[0], found[1], relpath, payload))
    class_names = sorted({cls for _, cls, _, _ in parsed})
    label_of = {cls: i for i, cls in enumerate(class_names)}
    parsed.sort(key=lambda p: (p[0], label_of[p[1]], p[2]))
    grouped = {}
    for split, cls, _, payload in parsed:
        payloads, labels = grouped.setdefault(split, ([], []))
        payloads.append(payload)
        labels.append(label_of[cls])
    splits = {}
    for split, (payloads, labels) in grouped.items():
        order = np.random.default_rng(ORDER_SEED).permutation(len(labels))
        splits[split] = ([payloads[i] for i in order], [labels[i] for i in order])
    return splits, class_names


def _archive_key(path):
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CACHE_VERSION}"
    return f"{_strip_suffix(path.name)}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def _read_cache(cache_file):
    if cache_file is None or not cache_file.exists():
        return None
    with np.load(cache_file, allow_pickle=False) as data:
        class_names = [str(c) for c in data["class_names"]]
        splits = {}
        for split in ("train", "validation", "test"):
            if f"x_{split}" in data.files:
                splits[split] = (data[f"x_{split}"], data[f"y_{split}"])
    return splits, class_names


def _write_cache(cache_file, splits, class_names):
    if cache_file is None:
        return
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"class_names": np.asarray(class_names, dtype=str)}
    for split, (images, labels) in splits.items():
        arrays[f"x_{split}"] = images
        arrays[f"y_{split}"] = labels
    # Write then rename, so a concurrent reader never sees a partial file.
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=cache_file.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, cache_file)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _cache_file(cache_dir, key):
    if cache_dir is False:
        return None
    return pathlib.Path(cache_dir) / f"{key}.npz"


def _load_image_folder(path, cache_dir):
    items, stats = [], []
    for dirpath, _, filenames in os.walk(path):
        for filename in filenames:
            full = os.path.join(dirpath, filename)
            relpath = pathlib.Path(os.path.relpath(full, path)).as_posix()
            if _parse_member(relpath) is not None:
                stat = os.stat(full)
                items.append((relpath, full))
                stats.append(f"{relpath}|{stat.st_size}|{stat.st_mtime_ns}")
    # The key covers every image's name, size and mtime, so edits invalidate it.
    digest = hashlib.sha1(
        "\n".join([str(path.resolve()), str(CACHE_VERSION)] + sorted(stats)).encode()
    ).hexdigest()[:16]
    cache_file = _cache_file(cache_dir, f"{path.name}-{digest}")
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    indexed, class_names = _index(items)
    splits = _decode_splits(indexed, from_files=True)
    if splits is None:  # large or mixed sizes: decode in the pipeline.
        return _as_path_splits(indexed), class_names
    _write_cache(cache_file, splits, class_names)
    return splits, class_names


def _load_archive(path, cache_dir):
    key = _archive_key(path)
    cache_file = _cache_file(cache_dir, key)
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    extracted = None if cache_dir is False else pathlib.Path(cache_dir) / key
    if extracted is None or not extracted.is_dir():
        members = _read_archive(path)
        first = next(members, None)
        if first is None:
            raise ValueError(
                "Found no images in the archive. Expected "
                "root/<class>/<image> or root/train/<class>/<image>. "
                f"Received: source={str(path)!r}"
            )
        splits = None
        if max(_decode_one(first[1]).shape[:2]) <= MAX_ARRAY_SIDE:
            indexed, class_names = _index([first, *members])
            splits = _decode_splits(indexed, from_files=False)
        members.close()
        if splits is not None:
            _write_cache(cache_file, splits, class_names)
            return splits, class_names
        if extracted is None:
            raise ValueError(
                "The archive holds large or mixed-size images, which are "
                "extracted into the cache directory; pass a cache_dir. "
                "Received: cache_dir=False"
            )
        _extract(path, extracted)
    return _load_image_folder(extracted, False)


def _read_archive(path):
    """Yields `(relpath, bytes)` for every image file in a tar or zip."""
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.is_dir() and _parse_member(member.filename):
                    yield member.filename, archive.read(member)
        return
    seen = set()
    try:
        with _open_compressed(path) as stream:
            for name, data in _iter_tar(stream):
                if _parse_member(name):
                    seen.add(name)
                    yield name, data
        return
    except _TarFormatError:
        pass  # an unusual header: let tarfile read the rest.
    with tarfile.open(path, "r|*") as archive:
        for member in archive:
            if member.isfile() and member.name not in seen and _parse_member(member.name):
                yield member.name, archive.extractfile(member).read()


class _TarFormatError(Exception):
    pass


def _open_compressed(path):
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        return io.BufferedReader(gzip.open(path, "rb"), 1 << 20)
    if magic[:3] == b"BZh":
        return io.BufferedReader(bz2.open(path, "rb"), 1 << 20)
    if magic[:6] == b"\xfd7zXZ\x00":
        return io.BufferedReader(lzma.open(path, "rb"), 1 << 20)
    return open(path, "rb", buffering=1 << 20)


def _iter_tar(stream):
    """A fast sequential tar reader (ustar, GNU long names, pax paths).

    `tarfile` spends ~50 us of Python per member, which dominates reading
    an archive of 60,000 small images; this reads ~10x faster. Anything it
    does not understand raises `_TarFormatError`.
    """
    long_name = None
    while True:
        header = stream.read(512)
        if len(header) < 512 or header == bytes(512):
            return
        checksum = header[148:156].split(b"\0")[0].strip()
        expected = sum(header[:148]) + 8 * 32 + sum(header[156:])
        try:
            if int(checksum or b"0", 8) != expected:
                raise _TarFormatError("bad checksum")
            size_field = header[124:136]
            if size_field[0] & 0x80:
                raise _TarFormatError("base-256 size")
            size = int(size_field.split(b"\0")[0].strip() or b"0", 8)
        except ValueError as error:
            raise _TarFormatError(str(error)) from None
        kind = header[156:157]
        data = stream.read(size)
        stream.read(-size % 512)
        if kind == b"L":
            long_name = data.split(b"\0")[0].decode("utf-8", "surrogateescape")
            continue
        if kind == b"x":
            for record in data.decode("utf-8", "surrogateescape").split("\n"):
                key, _, value = record.partition(" ")[2].partition("=")
                if key == "path":
                    long_name = value
            continue
        if kind not in (b"0", b"\0", b"7"):
            long_name = None  # directories, links, global pax headers, ...
            if kind not in (b"1", b"2", b"3", b"4", b"5", b"6", b"g"):
                raise _TarFormatError(f"member type {kind!r}")
            continue
        name = header[:100].split(b"\0")[0].decode("utf-8", "surrogateescape")
        if header[257:262] == b"ustar":
            prefix = header[345:500].split(b"\0")[0].decode("utf-8", "surrogateescape")
            if prefix:
                name = f"{prefix}/{name}"
        yield (long_name or name), data
        long_name = None


def _extract(path, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            archive.extractall(tmp)
    else:
        with tarfile.open(path, "r:*") as archive:
            archive.extractall(tmp, filter="data")
    os.replace(tmp, target)


def _as_path_splits(indexed):
    return {
        split: (np.asarray(payloads, dtype=str), np.asarray(labels, np.int32))
        for split, (payloads, labels) in indexed.items()
    }


def _decode_one(data):
    # INTEGER_ACCURATE matches PIL/libjpeg's default and is faster than
    # decode_image's default (INTEGER_FAST).
    return tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )


def _decode_splits(indexed, *, from_files):
    """Decodes every split into uint8 arrays, or returns None when the images
    are larger than `MAX_ARRAY_SIDE` or differ in size."""
    if not indexed:
        return {}
    first = next(iter(indexed.values()))[0][0]
    first = tf.io.read_file(first) if from_files else first
    height, width, _ = _decode_one(first).shape
    if max(height, width) > MAX_ARRAY_SIDE:
        return None
    splits = {}
    for split, (payloads, labels) in indexed.items():
        images = decode_images(payloads, from_files=from_files)
        if images is None or images.shape[1:3] != (height, width):
            return None
        splits[split] = (images, np.asarray(labels, np.int32))
    return splits


def decode_images(payloads, *, from_files=False, batch_size=2048):
    """Decodes same-size JPEG/PNG/BMP/GIF images into one uint8 array.

    Decoding runs in a parallel `tf.data` map.

    Args:
        payloads: list of encoded image bytes, or of file paths.
        from_files: bool, whether `payloads` are file paths.
        batch_size: int, images decoded per step.

    Returns:
        A uint8 array `(N, H, W, 3)`, or None when the sizes differ.
    """
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(payloads, dtype=tf.string))
    if from_files:
        ds = ds.map(tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_decode_one, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    try:
        batches = list(ds.as_numpy_iterator())
    except tf.errors.InvalidArgumentError:
        return None  # batching failed: images of different sizes
    return np.concatenate(batches, axis=0)


# === tensorflow-datasets ===


def _offline_message(name, data_dir, error):
    detail = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return (
        f"Could not load the tensorflow-datasets data set {name!r} "
        f"(data_dir={data_dir!r}); it is not prepared there and could not be "
        f"downloaded (offline?). Cause: {detail}. Without internet, pass a "
        "local copy as `source` instead: an image folder "
        "(root/train/<class>/*.jpg, root/test/<class>/*.jpg), an archive of "
        "one (.tar, .tar.gz, .zip), or an .npz file with x_train, y_train, "
        "x_test, y_test; or point `data_dir` at a prepared tfds directory."
    )


def _load_tfds(name, data_dir, cache_dir, download):
    import tensorflow_datasets as tfds  # slow import; only when needed.

    split_map = TFDS_SPLITS.get(name, {"train": "train", "test": "test"})
    small = name in TFDS_SPLITS and name != "imagenet2012"
    cache_file = None
    if small and cache_dir is not False:
        text = f"{name}|{data_dir and os.path.abspath(data_dir)}|{CACHE_VERSION}"
        key = f"tfds-{name}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"
        cache_file = _cache_file(cache_dir, key)
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    ours, theirs = zip(*split_map.items())
    try:
        datasets, tfds_info = tfds.load(
            name,
            split=list(theirs),
            data_dir=data_dir,
            download=download,
            as_supervised=True,
            with_info=True,
        )
    except Exception as error:  # tfds raises many types; we report one.
        raise DataUnavailableError(_offline_message(name, data_dir, error)) from None
    class_names = list(tfds_info.features["label"].names)
    splits = {}
    for split, ds in zip(ours, datasets):
        ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int32)))
        if not small:
            splits[split] = (ds, None)
            continue
        images, labels = [], []
        for x, y in ds.batch(4096).prefetch(2).as_numpy_iterator():
            images.append(x)
            labels.append(y)
        splits[split] = (np.concatenate(images), np.concatenate(labels))
    if small:
        _write_cache(cache_file, splits, class_names)
    return splits, class_names
