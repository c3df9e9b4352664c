"""Readers: a data set name or a local path in, uint8 arrays out.

Sources (see `load_arrays`):

* a tensorflow-datasets name (`cifar10`, `cifar100`, `svhn_cropped`,
  `imagenet2012`, ...), read from `data_dir` (`tfds_source.py`);
* an image folder `root/<class>/<image>` or `root/{train,test,val}/<class>/...`
  (`folders.py`);
* the same folder inside a `.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`, `.tar.xz` or
  `.zip` archive (`folders.py`, `archives.py`);
* an `.npz` file with `x_train`, `y_train` and optionally `x_test`, `y_test`,
  `x_val`, `y_val` and `class_names` (here).

Small data sets are decoded once and cached as uint8 `.npz` arrays
(`cache.py`); larger ones come back as arrays of file paths or, for
tensorflow-datasets, as a `tf.data.Dataset`, and are decoded in the pipeline.

A file that cannot be decoded as an image stops loading with a
`CorruptImagesError` that names it, unless `skip_corrupt=True`. A local copy
is named after a reference data set (`cifar10`, `cifar100`) only when its
size and per-channel training statistics match the original's
(`reference.py`), so a re-encoded (e.g. JPEG) copy keeps its own name.

Imports go one way: this module reads through `folders` and `tfds_source`,
which use `archives`, `cache`, `decode`, `reference` and `errors`; none of
them imports this module.
"""

import dataclasses
import os
import pathlib

import numpy as np

from keras_resnets.data.archives import ARCHIVE_SUFFIXES
from keras_resnets.data.archives import looks_like_path
from keras_resnets.data.archives import strip_suffix
from keras_resnets.data.cache import default_cache_dir
from keras_resnets.data.folders import load_archive
from keras_resnets.data.folders import load_image_folder
from keras_resnets.data.reference import local_name
from keras_resnets.data.tfds_source import load_tfds
from keras_resnets.errors import UserFileNotFoundError
from keras_resnets.errors import UserValueError

VALIDATION_METHODS = ("last", "random")


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
        raise UserValueError(
            "Invalid value received for argument `validation_method`. "
            f"Expected one of {VALIDATION_METHODS}. "
            f"Received: validation_method={validation_method!r}"
        )
    if cache_dir is None:
        cache_dir = default_cache_dir()
    path = pathlib.Path(os.path.expanduser(str(source)))
    if path.exists():
        splits, class_names, facts = _load_local(path, cache_dir, skip_corrupt)
        name, lossy = local_name(strip_suffix(path.name), splits, class_names, facts)
    elif looks_like_path(str(source)):
        raise UserFileNotFoundError(
            f"No image folder, archive or .npz file at this path. "
            f"Received: source={str(source)!r}"
        )
    else:
        splits, class_names = load_tfds(str(source), data_dir, cache_dir, download)
        name, lossy = str(source), False
    if "train" not in splits:
        raise UserValueError(
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


def _hold_out(splits, validation_size, method, seed):
    if validation_size is None or validation_size == 0:
        return splits
    images, labels = splits["train"]
    if labels is None:  # a tf.data.Dataset: hold out the first examples.
        if not isinstance(validation_size, int) or validation_size < 0:
            raise UserValueError(
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
        raise UserValueError(
            "Invalid value received for argument `validation_size`. Expected "
            f"an int in [0, {total}) or a float in (0, 1). "
            f"Received: validation_size={validation_size!r}"
        )
    if "validation" in splits:
        raise UserValueError(
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


def _load_local(path, cache_dir, skip_corrupt):
    """`(splits, class_names, facts)` of a local folder, archive or .npz;
    `facts` has `lossy` and, when known, the matched `reference` name."""
    lower = path.name.lower()
    if path.is_dir():
        return load_image_folder(path, cache_dir, skip_corrupt)
    if lower.endswith(".npz"):
        return (*_load_npz(path), {"lossy": None})
    if lower.endswith(ARCHIVE_SUFFIXES):
        return load_archive(path, cache_dir, skip_corrupt)
    raise UserValueError(
        "Unsupported file type. Expected an image folder, an archive "
        f"({', '.join(ARCHIVE_SUFFIXES)}) or an .npz file. "
        f"Received: source={str(path)!r}"
    )


def _load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if not {"x_train", "y_train"} <= keys:
            raise UserValueError(
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
                    raise UserValueError(
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
