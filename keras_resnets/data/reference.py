"""Recognising a local copy of a reference data set (CIFAR-10/100).

A local copy is named after a reference data set only when its size and
per-channel training statistics match the original's, so a re-encoded (e.g.
JPEG) copy keeps its own name.
"""

import re

import numpy as np

from keras_resnets.data import presets

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


def local_name(stem, splits, class_names, facts):
    """`(name, lossy)` of a local source: the reference name its size and
    statistics match, else the file stem (marked when the stem claims a
    reference data set, e.g. a JPEG copy saved as `cifar10.tar.gz`)."""
    lossy = facts.get("lossy")
    if "reference" in facts:  # matched when decoded, and cached
        reference = facts["reference"]
    else:
        reference = match_reference(splits, len(class_names))
    if reference is not None:
        return reference, bool(lossy)
    if re.sub(r"[-_ ]", "", stem.lower()) in REFERENCE_DATASETS:
        return f"{stem}-{'jpeg' if lossy else 'unverified'}", lossy
    return stem, lossy


def match_reference(splits, num_classes):
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
