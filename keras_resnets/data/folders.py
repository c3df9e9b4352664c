"""Image folders and archives of them: class folders in, uint8 arrays out.

The layout is `root/<class>/<image>` or `root/{train,test,val}/<class>/...`.
Small data sets (all images the same size, at most `MAX_ARRAY_SIDE` pixels a
side) are decoded once and cached as uint8 arrays (`cache.py`); larger or
mixed-size ones come back as arrays of file paths (archives are extracted
into the cache first) and are decoded in the pipeline. Files that do not
decode are reported by `errors.handle_corrupt`.
"""

import hashlib
import os
import pathlib

import numpy as np

from keras_resnets.data.archives import extract
from keras_resnets.data.archives import read_archive
from keras_resnets.data.archives import strip_suffix
from keras_resnets.data.cache import CACHE_VERSION
from keras_resnets.data.cache import cache_path
from keras_resnets.data.cache import read_cache
from keras_resnets.data.cache import write_cache
from keras_resnets.data.decode import decode_images
from keras_resnets.data.decode import read_one
from keras_resnets.data.errors import handle_corrupt
from keras_resnets.data.reference import match_reference
from keras_resnets.errors import UserValueError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
SPLIT_FOLDERS = {
    "train": "train",
    "test": "test",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
}
# Largest image side that is decoded into in-memory arrays and cached.
MAX_ARRAY_SIDE = 96
# Fixed seed of the example order of image folders and archives.
ORDER_SEED = 0


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
    return f"{strip_suffix(path.name)}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"


def _from_cache(cached, skip_corrupt, label):
    splits, class_names, meta = cached
    handle_corrupt(meta["skipped"], meta["total"], skip_corrupt, label)
    return splits, class_names, {"lossy": meta["lossy"], "reference": meta["reference"]}


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


def load_image_folder(path, cache_dir, skip_corrupt, label=None):
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
    cache_file = cache_path(cache_dir, f"{path.name}-{digest}")
    cached = read_cache(cache_file)
    if cached is not None:
        return _from_cache(cached, skip_corrupt, label)
    indexed, class_names = _index(items)
    lossy = _is_jpeg_set(indexed)
    splits, failed, sizes = _decode_splits(indexed, from_files=True)
    handle_corrupt(failed, len(items), skip_corrupt, label)
    if splits is None:  # large or mixed sizes: decode in the pipeline.
        if sizes:
            _note_mixed_sizes(sizes, label)
        return _as_path_splits(indexed, exclude=failed), class_names, {"lossy": lossy}
    # Only a complete decode is cached; skipped files are recorded in it.
    facts = {"lossy": lossy, "reference": match_reference(splits, len(class_names))}
    write_cache(cache_file, splits, class_names, skipped=failed, total=len(items), **facts)
    return splits, class_names, facts


def load_archive(path, cache_dir, skip_corrupt):
    key = _archive_key(path)
    cache_file = cache_path(cache_dir, key)
    cached = read_cache(cache_file)
    if cached is not None:
        return _from_cache(cached, skip_corrupt, str(path))
    extracted = None if cache_dir is False else pathlib.Path(cache_dir) / key
    if extracted is None or not extracted.is_dir():
        members = read_archive(path, _parse_member)
        # Read up to the first image that decodes: its size decides whether
        # the archive is decoded into arrays or extracted.
        head, probe = [], None
        for member in members:
            head.append(member)
            probe = read_one(member[1], from_files=False)
            if probe is not None:
                break
        if not head:
            raise UserValueError(
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
            handle_corrupt(failed, total, skip_corrupt, str(path))
            facts = {
                "lossy": _is_jpeg_set(indexed),
                "reference": match_reference(splits, len(class_names)),
            }
            write_cache(cache_file, splits, class_names, skipped=failed, total=total, **facts)
            return splits, class_names, facts
        if extracted is None:
            raise UserValueError(
                "The archive holds large or mixed-size images, which are "
                "extracted into the cache directory; pass a cache_dir. "
                "Received: cache_dir=False"
            )
        extract(path, extracted)
    return load_image_folder(extracted, False, skip_corrupt, label=str(path))


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
