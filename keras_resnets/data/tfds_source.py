"""tensorflow-datasets access: names, download and preparation, reading.

TensorFlow and tensorflow-datasets are imported only when a tfds name is
read. A set that is not prepared in `data_dir` is downloaded with few
retries, so an offline machine fails in seconds with a `DataUnavailableError`
naming a local alternative, and a failed download leaves no new empty folders
behind. The small sets (`cifar10`, `cifar100`, `svhn_cropped`) are decoded
once into the array cache; larger ones come back as `tf.data.Dataset`s.
"""

import contextlib
import difflib
import hashlib
import os
import pathlib
import re

import numpy as np

from keras_resnets.data.cache import CACHE_VERSION
from keras_resnets.data.cache import cache_path
from keras_resnets.data.cache import read_cache
from keras_resnets.data.cache import write_cache
from keras_resnets.data.errors import DataUnavailableError
from keras_resnets.data.errors import MissingPackageError
from keras_resnets.errors import UserValueError

LOCAL_KINDS = "an image folder, a .tar/.tar.gz/.zip archive of one, or an .npz file"
# tfds split names for the data sets we know; "validation" of imagenet2012 is
# the set the papers report on, so it becomes our "test" split.
TFDS_SPLITS = {
    "cifar10": {"train": "train", "test": "test"},
    "cifar100": {"train": "train", "test": "test"},
    "svhn_cropped": {"train": "train", "test": "test"},
    "imagenet2012": {"train": "train", "test": "validation"},
}
# Attempts tensorflow-datasets makes per download (its default is 11).
DOWNLOAD_RETRIES = 1


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
        raise UserValueError(unknown_source_message(name)) from None
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


def load_tfds(name, data_dir, cache_dir, download):
    split_map = TFDS_SPLITS.get(name, {"train": "train", "test": "test"})
    small = name in TFDS_SPLITS and name != "imagenet2012"
    cache_file = None
    if small and cache_dir is not False:
        text = f"{name}|{data_dir and os.path.abspath(data_dir)}|{CACHE_VERSION}"
        key = f"tfds-{name}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"
        cache_file = cache_path(cache_dir, key)
        cached = read_cache(cache_file)
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
        write_cache(
            cache_file, splits, class_names, skipped=(), total=0, lossy=False, reference=name
        )
    return splits, class_names
