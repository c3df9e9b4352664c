"""The decoded-array cache: uint8 `.npz` files under `default_cache_dir()`.

Small data sets (image folders, archives, the small tensorflow-datasets sets)
are decoded once and kept as one `.npz` per source, keyed by what was read
(paths, sizes, mtimes, `CACHE_VERSION`). A cache file also records the files
skipped as corrupt, their total, whether the images were JPEG (`lossy`) and
the reference data set they matched, so a cached load reports the same.
"""

import os
import pathlib
import tempfile

import numpy as np

# 3: the cache records skipped corrupt files and whether images were JPEG.
CACHE_VERSION = 3


def default_cache_dir():
    """`$KERAS_RESNETS_CACHE`, else `~/.cache/keras_resnets`."""
    return pathlib.Path(
        os.environ.get("KERAS_RESNETS_CACHE")
        or pathlib.Path.home() / ".cache" / "keras_resnets"
    )


def cache_path(cache_dir, key):
    if cache_dir is False:
        return None
    return pathlib.Path(cache_dir) / f"{key}.npz"


def read_cache(cache_file):
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


def write_cache(cache_file, splits, class_names, *, skipped, total, lossy, reference):
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
