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

A file that cannot be decoded as an image stops loading with a
`CorruptImagesError` that names it, unless `skip_corrupt=True`. A local copy
is named after a reference data set (`cifar10`, `cifar100`) only when its
size and per-channel training statistics match the original's, so a
re-encoded (e.g. JPEG) copy keeps its own name.
"""

import bz2
import contextlib
import dataclasses
import difflib
import gzip
import hashlib
import io
import lzma
import os
import pathlib
import re
import tarfile
import tempfile
import zipfile

import numpy as np

from keras_resnets.data import presets
from keras_resnets.data.decode import decode_images
from keras_resnets.data.decode import read_one

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = TAR_SUFFIXES + (".zip",)
LOCAL_KINDS = "an image folder, a .tar/.tar.gz/.zip archive of one, or an .npz file"
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
# 3: the cache records skipped corrupt files and whether images were JPEG.
CACHE_VERSION = 3
# Fixed seed of the example order of image folders and archives.
ORDER_SEED = 0
VALIDATION_METHODS = ("last", "random")
# Reference data sets recognised in local copies by their size and their
# published per-channel training statistics (`presets.NAMED_STATISTICS`).
REFERENCE_DATASETS = {
    "cifar10": {"num_classes": 10, "train": 50000, "test": 10000, "image_shape": (32, 32, 3)},
    "cifar100": {"num_classes": 100, "train": 50000, "test": 10000, "image_shape": (32, 32, 3)},
}
# Largest difference from the published training mean and std, on the 0-255
# scale, of a copy that counts as the original. The original CIFAR-10 pixels
# are within 0.01; the JPEG (quality 75) copy is 0.03 off in mean but 0.46
# off in std.
STATISTICS_TOLERANCE = 0.1
# Attempts tensorflow-datasets makes per download (its default is 11).
DOWNLOAD_RETRIES = 1
# Bad files named in an error message.
MAX_LISTED_FILES = 5


class DataUnavailableError(RuntimeError):
    """A data set cannot be read (e.g. offline, or not downloaded yet)."""


class MissingPackageError(DataUnavailableError):
    """A source or option needs a package that is not installed (e.g.
    tensorflow-datasets names without TensorFlow); the message names it.

    Attributes:
        package: str, the pip name of the missing package.
    """

    def __init__(self, message, package=""):
        super().__init__(message)
        self.package = package


class CorruptImagesError(ValueError):
    """Image files that cannot be decoded; the message names them.

    Attributes:
        files: list of str, the bad files, relative to the folder or archive.
        total: int, number of image files in the data set.
    """

    def __init__(self, message, files=(), total=0):
        super().__init__(message)
        self.files = list(files)
        self.total = total


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `load_arrays` found.

    Attributes:
        name: str, the data set really read: the tfds name; `"cifar10"` or
            `"cifar100"` for a local copy whose size and training statistics
            match the original's; otherwise the file or folder name (with
            `-jpeg` or `-unverified` appended when that name claims a
            reference data set it does not match, e.g. a JPEG copy saved as
            `cifar10.tar.gz`).
        num_classes: int.
        class_names: tuple of str; label `i` is `class_names[i]`.
        image_shape: `(H, W, C)`, or `(None, None, C)` when sizes vary.
        num_examples: dict, split name -> number of examples (-1 if unknown).
        lossy: True when images were read from JPEG files (lossy: a JPEG copy
            of CIFAR has slightly different pixels than the original), False
            for lossless files, tensorflow-datasets and verified originals,
            None when unknown (an unrecognised `.npz`).
    """

    name: str
    num_classes: int
    class_names: tuple
    image_shape: tuple
    num_examples: dict
    lossy: bool | None = None


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
    skip_corrupt=False,
):
    """Loads a data set as `{split: (images, labels)}` plus a `DatasetInfo`.

    Args:
        source: a tensorflow-datasets name (`"cifar10"`, `"cifar100"`,
            `"svhn_cropped"`, `"imagenet2012"`, ...) or a local path: an image
            folder, an archive of one (`.tar[.gz|.bz2|.xz]`, `.tgz`, `.zip`)
            or an `.npz` file. A path that exists wins over a tfds name.
            Class order is the sorted folder names; folder/archive examples
            come in a fixed pseudo-random order (the same on every machine),
            `.npz` and tfds in their own.
        data_dir: str, tensorflow-datasets data directory (tfds names only).
        cache_dir: str, where decoded arrays and extracted archives are kept.
            Defaults to `default_cache_dir()`; `False` disables the cache.
        validation_size: int (number of examples) or float in `(0, 1)`
            (fraction of the training set) held out of `"train"` as
            `"validation"`. `0` (default) holds out nothing.
        validation_method: `"last"` (the last examples, e.g. He et al.'s
            45k/5k CIFAR split) or `"random"` (a holdout drawn with `seed`).
        seed: int, seed of the random holdout.
        download: bool, whether tensorflow-datasets may download. A set
            that is not prepared in `data_dir` is downloaded with few
            retries, so an offline machine fails in seconds, and a failed
            download leaves no new empty folders behind.
        skip_corrupt: bool, skip image files that cannot be decoded (a
            one-line count is printed) instead of raising
            `CorruptImagesError`. Defaults to False.

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
        CorruptImagesError: (a `ValueError`) image files cannot be decoded
            and `skip_corrupt` is False; the message names them.
        FileNotFoundError: a local path does not exist.
        ValueError: bad arguments, an unreadable layout, or a `source` that
            is neither a file nor a tfds name.
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
        splits, class_names, facts = _load_local(path, cache_dir, skip_corrupt)
        name, lossy = _local_name(_strip_suffix(path.name), splits, class_names, facts)
    elif _looks_like_path(str(source)):
        raise FileNotFoundError(
            f"No image folder, archive or .npz file at this path. "
            f"Received: source={str(source)!r}"
        )
    else:
        splits, class_names = _load_tfds(str(source), data_dir, cache_dir, download)
        name, lossy = str(source), False
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
        lossy=lossy,
    )
    return splits, info


def unknown_source_message(source, *, key="source", looked_in=None):
    """The one-line error for a `source` that is neither a file nor a
    tensorflow-datasets name.

    Args:
        source: str, the name received.
        key: str, how the message names the argument (e.g. `"data.source"`).
        looked_in: list of folders searched for a file of that name; defaults
            to the current directory.

    Returns:
        str.
    """
    folders = [pathlib.Path(p) for p in (looked_in or [pathlib.Path.cwd()])]
    # The names we know and the entries where the source was looked for
    # (e.g. a mistyped folder) come before the other tfds names.
    nearby = list(TFDS_SPLITS)
    for folder in folders[:2]:
        with contextlib.suppress(OSError):
            nearby += sorted(entry.name for entry in folder.iterdir())
    close = difflib.get_close_matches(str(source), nearby, n=1) or (
        difflib.get_close_matches(str(source), _tfds_names(), n=1)
    )
    hint = f" Did you mean {close[0]!r}?" if close else ""
    where = ", ".join(str(f) for f in folders[:2])
    if len(folders) > 2:
        where += " and its parents"
    return (
        f"Invalid value received for `{key}`: no file or folder named "
        f"{str(source)!r} (looked in {where}) and no tensorflow-datasets data "
        f"set of that name.{hint} Expected a tensorflow-datasets name "
        f"({', '.join(TFDS_SPLITS)}, or any other tfds name) or the path of "
        f"{LOCAL_KINDS}. Received: {key}={str(source)!r}"
    )


def is_tfds_name(name):
    """Whether `name` is a tensorflow-datasets data set name (registered
    builder; a `/config` or `:version` suffix is allowed)."""
    if name in TFDS_SPLITS:
        return True
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return False
    base = re.split(r"[/:]", name, maxsplit=1)[0]
    try:
        tfds.builder_cls(base)
    except ValueError:  # DatasetNotFoundError, or a malformed name.
        return False
    return True


def _tfds_names():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return []
    return list(tfds.list_builders(with_community_datasets=False))


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


def _load_local(path, cache_dir, skip_corrupt):
    """`(splits, class_names, facts)` of a local folder, archive or .npz;
    `facts` has `lossy` and, when known, the matched `reference` name."""
    lower = path.name.lower()
    if path.is_dir():
        return _load_image_folder(path, cache_dir, skip_corrupt)
    if lower.endswith(".npz"):
        return (*_load_npz(path), {"lossy": None})
    if lower.endswith(ARCHIVE_SUFFIXES):
        return _load_archive(path, cache_dir, skip_corrupt)
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


# === Naming ===


def _local_name(stem, splits, class_names, facts):
    """`(name, lossy)` of a local source: the reference name its size and
    statistics match, else the file stem (marked when the stem claims a
    reference data set, e.g. a JPEG copy saved as `cifar10.tar.gz`)."""
    lossy = facts.get("lossy")
    if "reference" in facts:  # matched when decoded, and cached
        reference = facts["reference"]
    else:
        reference = _match_reference(splits, len(class_names))
    if reference is not None:
        return reference, bool(lossy)
    if re.sub(r"[-_ ]", "", stem.lower()) in REFERENCE_DATASETS:
        return f"{stem}-{'jpeg' if lossy else 'unverified'}", lossy
    return stem, lossy


def _match_reference(splits, num_classes):
    """The `REFERENCE_DATASETS` name whose split sizes, image shape, classes
    and published training mean/std (within `STATISTICS_TOLERANCE` on the
    0-255 scale) the splits match, or None."""
    if "train" not in splits or "test" not in splits:
        return None
    images = splits["train"][0]
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8):
        return None
    for name, facts in REFERENCE_DATASETS.items():
        if (
            num_classes == facts["num_classes"]
            and images.shape == (facts["train"], *facts["image_shape"])
            and len(splits["test"][1]) == facts["test"]
        ):
            mean, std = presets.compute_mean_std(images)
            ref_mean, ref_std = presets.NAMED_STATISTICS[name]
            gap = 255 * np.max(np.abs(np.r_[mean, std] - np.r_[ref_mean, ref_std]))
            if gap <= STATISTICS_TOLERANCE:
                return name
    return None


# === Image folders and archives ===


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

    Returns `({split: (payloads, labels, relpaths)}, class_names)`. Examples
    are sorted by (class, path), then put in a fixed pseudo-random order
    (seed `ORDER_SEED`), so the result does not depend on archive order and
    the first or last N examples (e.g. a "last" validation holdout) mix all
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
    for split, cls, relpath, payload in parsed:
        payloads, labels, relpaths = grouped.setdefault(split, ([], [], []))
        payloads.append(payload)
        labels.append(label_of[cls])
        relpaths.append(relpath)
    splits = {}
    for split, columns in grouped.items():
        order = np.random.default_rng(ORDER_SEED).permutation(len(columns[1]))
        splits[split] = tuple([column[i] for i in order] for column in columns)
    return splits, class_names


def _is_jpeg_set(indexed):
    return any(
        name.lower().endswith(JPEG_EXTENSIONS)
        for _, _, names in indexed.values()
        for name in names
    )


def _archive_key(path):
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CACHE_VERSION}"
    return f"{_strip_suffix(path.name)}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def _read_cache(cache_file):
    """`(splits, class_names, meta)` from a cache file, or None. `meta` has
    `skipped` (files that did not decode), `total`, `lossy` and
    `reference`."""
    if cache_file is None or not cache_file.exists():
        return None
    with np.load(cache_file, allow_pickle=False) as data:
        class_names = [str(c) for c in data["class_names"]]
        splits = {}
        for split in ("train", "validation", "test"):
            if f"x_{split}" in data.files:
                splits[split] = (data[f"x_{split}"], data[f"y_{split}"])
        lossy = int(data["lossy"])
        meta = {
            "skipped": [str(name) for name in data["skipped"]],
            "total": int(data["total"]),
            "lossy": None if lossy < 0 else bool(lossy),
            "reference": str(data["reference"]) or None,
        }
    return splits, class_names, meta


def _write_cache(cache_file, splits, class_names, *, skipped, total, lossy, reference):
    if cache_file is None:
        return
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "class_names": np.asarray(class_names, dtype=str),
        "skipped": np.asarray(sorted(skipped), dtype=str),
        "total": np.int64(total),
        "lossy": np.int8(-1 if lossy is None else int(lossy)),
        "reference": np.asarray(reference or ""),
    }
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


def _from_cache(cached, skip_corrupt, label):
    splits, class_names, meta = cached
    _handle_corrupt(meta["skipped"], meta["total"], skip_corrupt, label)
    return splits, class_names, {"lossy": meta["lossy"], "reference": meta["reference"]}


def _handle_corrupt(failed, total, skip_corrupt, label):
    """Raises `CorruptImagesError` naming `failed` files, or prints how many
    are skipped when `skip_corrupt`."""
    if not failed:
        return
    failed = sorted(failed)
    count = len(failed)
    files = "file" if count == 1 else "files"
    if not skip_corrupt:
        listed = ", ".join(failed[:MAX_LISTED_FILES])
        if count > MAX_LISTED_FILES:
            listed += f" and {count - MAX_LISTED_FILES} more"
        raise CorruptImagesError(
            f"{count} {files} of {total:,} in {label} could not be decoded as "
            f"images: {listed}; remove them, or set data.skip_corrupt: true "
            "(skip_corrupt=True in load_arrays) to skip them.",
            files=failed,
            total=total,
        )
    images = "image" if count == 1 else "images"
    print(f"skipped {count} corrupt {images} of {total:,} in {label} (first: {failed[0]})")


def _note_mixed_sizes(sizes, label):
    """Prints the image sizes found, when they differ."""
    ranked = sorted(sizes.items(), key=lambda item: -item[1][0])
    parts = [
        f"{h}x{w} ({count:,} {'file' if count == 1 else 'files'}, e.g. {first})"
        for (h, w), (count, first) in ranked[:3]
    ]
    more = f" and {len(ranked) - 3} more sizes" if len(ranked) > 3 else ""
    print(
        f"Images in {label} differ in size: {', '.join(parts)}{more}; they are "
        "kept as file paths and resized by the imagenet preset (the cifar, "
        "svhn and none presets need images of one size)."
    )


def _load_image_folder(path, cache_dir, skip_corrupt, label=None):
    label = label or str(path)
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
        return _from_cache(cached, skip_corrupt, label)
    indexed, class_names = _index(items)
    lossy = _is_jpeg_set(indexed)
    splits, failed, sizes = _decode_splits(indexed, from_files=True)
    _handle_corrupt(failed, len(items), skip_corrupt, label)
    if splits is None:  # large or mixed sizes: decode in the pipeline.
        if sizes:
            _note_mixed_sizes(sizes, label)
        return _as_path_splits(indexed, exclude=failed), class_names, {"lossy": lossy}
    # Only a complete decode is cached; skipped files are recorded in it.
    facts = {"lossy": lossy, "reference": _match_reference(splits, len(class_names))}
    _write_cache(cache_file, splits, class_names, skipped=failed, total=len(items), **facts)
    return splits, class_names, facts


def _load_archive(path, cache_dir, skip_corrupt):
    key = _archive_key(path)
    cache_file = _cache_file(cache_dir, key)
    cached = _read_cache(cache_file)
    if cached is not None:
        return _from_cache(cached, skip_corrupt, str(path))
    extracted = None if cache_dir is False else pathlib.Path(cache_dir) / key
    if extracted is None or not extracted.is_dir():
        members = _read_archive(path)
        # Read up to the first image that decodes: its size decides whether
        # the archive is decoded into arrays or extracted.
        head, probe = [], None
        for member in members:
            head.append(member)
            probe = read_one(member[1], from_files=False)
            if probe is not None:
                break
        if not head:
            raise ValueError(
                "Found no images in the archive. Expected "
                "root/<class>/<image> or root/train/<class>/<image>. "
                f"Received: source={str(path)!r}"
            )
        splits = None
        if probe is None or max(probe.shape[:2]) <= MAX_ARRAY_SIDE:
            indexed, class_names = _index([*head, *members])
            splits, failed, _ = _decode_splits(indexed, from_files=False)
        members.close()
        if splits is not None:
            total = sum(len(labels) for _, labels, _ in indexed.values())
            _handle_corrupt(failed, total, skip_corrupt, str(path))
            facts = {
                "lossy": _is_jpeg_set(indexed),
                "reference": _match_reference(splits, len(class_names)),
            }
            _write_cache(cache_file, splits, class_names, skipped=failed, total=total, **facts)
            return splits, class_names, facts
        if extracted is None:
            raise ValueError(
                "The archive holds large or mixed-size images, which are "
                "extracted into the cache directory; pass a cache_dir. "
                "Received: cache_dir=False"
            )
        _extract(path, extracted)
    return _load_image_folder(extracted, False, skip_corrupt, label=str(path))


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


def _as_path_splits(indexed, exclude=()):
    exclude = set(exclude)
    out = {}
    for split, (payloads, labels, names) in indexed.items():
        keep = [i for i, name in enumerate(names) if name not in exclude]
        out[split] = (
            np.asarray([payloads[i] for i in keep], dtype=str),
            np.asarray([labels[i] for i in keep], np.int32),
        )
    return out


def _decode_splits(indexed, *, from_files):
    """Decodes every split into uint8 arrays.

    Returns:
        `(splits, failed, sizes)`. `failed` lists the names of the files
        that could not be read or decoded. `splits` maps each split to
        `(images, labels)` without them, or is None when the images are
        larger than `MAX_ARRAY_SIDE` or differ in size; for the latter
        `sizes` maps each `(H, W)` to `(count, first file name)`.
    """
    failed, probe = [], None
    for payloads, _, names in indexed.values():
        for payload, name in zip(payloads, names):
            probe = read_one(payload, from_files)
            if probe is not None:
                break
            failed.append(name)
        if probe is not None:
            break
    if probe is not None and max(probe.shape[:2]) > MAX_ARRAY_SIDE:
        return None, failed, {}
    splits, failed, sizes, mixed = {}, [], {}, False
    for split, (payloads, labels, names) in indexed.items():
        images, bad, shapes = decode_images(payloads, from_files=from_files)
        failed += [names[i] for i in bad]
        keep = np.setdiff1d(np.arange(len(labels)), np.asarray(bad, np.int64))
        if images is None:
            mixed = True
            found = [(tuple(shape), names[index], 1) for index, shape in shapes]
        else:
            found = [(tuple(images.shape[1:3]), names[keep[0]], len(images))] if len(keep) else []
        for shape, name, number in found:
            count, first = sizes.get(shape, (0, name))
            sizes[shape] = (count + number, first)
        if len(keep):
            splits[split] = (images, np.asarray(labels, np.int32)[keep])
    if mixed or len(sizes) > 1:
        return None, failed, sizes
    return splits, failed, {}


# === tensorflow-datasets ===

_LOCAL_COPY_HINT = (
    "Without internet, pass a local copy as `source` instead: an image folder "
    "(root/train/<class>/*.jpg, root/test/<class>/*.jpg), an archive of one "
    "(.tar, .tar.gz, .zip), or an .npz file with x_train, y_train, x_test, "
    "y_test; or point `data_dir` at a prepared tfds directory."
)


def _offline_message(name, data_dir, error):
    detail = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return (
        f"Could not load the tensorflow-datasets data set {name!r} "
        f"(data_dir={data_dir!r}); it is not prepared there and could not be "
        f"downloaded (offline?). Cause: {detail}. {_LOCAL_COPY_HINT}"
    )


@contextlib.contextmanager
def _few_download_retries():
    """Lowers tensorflow-datasets' download retries for one call.

    tfds retries a failed request 10 times with exponential back-off
    (urllib3 `Retry(total=10, backoff_factor=0.2)`), about 200 s on a machine
    without network, and `tfds.download.DownloadConfig` has no option for
    it; so the module constant it reads is lowered, then restored.
    """
    try:
        from tensorflow_datasets.core.download import downloader
    except ImportError:  # another tfds layout: keep its retries.
        downloader = None
    old = getattr(downloader, "MAX_RETRIES", None)
    if old is not None:
        downloader.MAX_RETRIES = min(old, DOWNLOAD_RETRIES)
    try:
        yield
    finally:
        if old is not None:
            downloader.MAX_RETRIES = old


@contextlib.contextmanager
def _removing_new_empty_dirs(folders):
    """On an exception, removes the empty folders created under `folders`
    (and those of `folders` that did not exist) during the block."""
    folders = [pathlib.Path(f) for f in folders]
    before = {f: (set(os.listdir(f)) if f.is_dir() else None) for f in folders}
    try:
        yield
    except BaseException:
        # Deepest first, so a folder emptied by its children goes too.
        for folder in sorted(folders, key=lambda f: -len(f.parts)):
            if not folder.is_dir():
                continue
            old = before[folder]
            new = [folder / n for n in os.listdir(folder) if old is None or n not in old]
            for child in new:
                _remove_empty_tree(child)
            if old is None:
                _remove_empty_tree(folder)
        raise


def _remove_empty_tree(path):
    """Removes `path` and its subfolders, bottom-up, where they are empty."""
    if not path.is_dir() or path.is_symlink():
        return
    for dirpath, _, _ in os.walk(path, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)  # fails (and is kept) when not empty.


def _import_tfds(name):
    """`tensorflow_datasets`, or a `MissingPackageError` naming what to
    install (it needs tensorflow too)."""
    try:
        import tensorflow_datasets as tfds  # slow import; only when needed.
    except ImportError as error:
        package = "tensorflow-datasets" if "tensorflow_datasets" in str(error) else "tensorflow"
        raise MissingPackageError(
            f"The data set {name!r} is a tensorflow-datasets name, and reading it needs "
            f"the tensorflow-datasets and tensorflow packages; {package} cannot be "
            f"imported ({type(error).__name__}: {error}). {_LOCAL_COPY_HINT}",
            package=package,
        ) from None
    return tfds


def _tfds_builder(name, data_dir):
    tfds = _import_tfds(name)
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(unknown_source_message(name)) from None
    except Exception as error:  # tfds raises many types; we report one.
        raise DataUnavailableError(_offline_message(name, data_dir, error)) from None


def _prepare_tfds(builder, name, data_dir, download):
    """Downloads and prepares `builder` unless it is prepared in `data_dir`."""
    if builder.is_prepared():
        return
    root = pathlib.Path(builder.data_dir_root)
    if not download:
        raise DataUnavailableError(
            f"The tensorflow-datasets data set {name!r} is not prepared in "
            f"{str(root)!r} and download=False. {_LOCAL_COPY_HINT}"
        )
    # What tfds creates: the data_dir (and missing parents), <name>/<version>,
    # downloads/<name>, ...
    missing = [p for p in root.parents if not p.exists()]
    folders = [
        *missing,
        root,
        root / builder.name,
        pathlib.Path(builder.data_dir).parent,
        root / "downloads",
        root / "downloads" / builder.name,
        root / "downloads" / "extracted",
        root / "downloads" / "manual",
    ]
    try:
        with _removing_new_empty_dirs(folders), _few_download_retries():
            builder.download_and_prepare()
    except Exception as error:  # tfds raises many types; we report one.
        raise DataUnavailableError(_offline_message(name, data_dir, error)) from None


def _load_tfds(name, data_dir, cache_dir, download):
    split_map = TFDS_SPLITS.get(name, {"train": "train", "test": "test"})
    small = name in TFDS_SPLITS and name != "imagenet2012"
    cache_file = None
    if small and cache_dir is not False:
        text = f"{name}|{data_dir and os.path.abspath(data_dir)}|{CACHE_VERSION}"
        key = f"tfds-{name}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"
        cache_file = _cache_file(cache_dir, key)
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached[:2]
    builder = _tfds_builder(name, data_dir)
    import tensorflow as tf  # installed: tensorflow-datasets imported it.

    _prepare_tfds(builder, name, data_dir, download)
    ours, theirs = zip(*split_map.items())
    try:
        datasets = builder.as_dataset(split=list(theirs), as_supervised=True)
    except Exception as error:  # tfds raises many types; we report one.
        raise DataUnavailableError(_offline_message(name, data_dir, error)) from None
    class_names = list(builder.info.features["label"].names)
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
        _write_cache(
            cache_file, splits, class_names, skipped=(), total=0, lossy=False, reference=name
        )
    return splits, class_names
