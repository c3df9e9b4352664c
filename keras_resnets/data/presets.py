"""The papers' preprocessing recipes as data (numpy only).

What the tf.data pipeline (`pipeline.py`) and the TensorFlow-free
`keras.utils.PyDataset` pipeline (`numpy_pipeline.py`) share: the presets,
the published per-channel statistics, how `mean`/`std` are resolved (named,
given, or computed from the training images), the argument checks and the
normalisation constants. Both loaders take their numbers from here, so they
normalise with the same float32 constants.
"""

import numpy as np

from keras_resnets.data.options import DataSettings
from keras_resnets.errors import UserValueError

PRESETS = ("cifar", "svhn", "imagenet", "none")
PADDING_MODES = ("constant", "reflect")
# Where the same-size presets' preprocessing runs: on the host (the pipeline
# ships float32 batches) or on the accelerator (uint8 batches as read;
# `keras_resnets.training.device_input`).
AUGMENT_ON = ("host", "device")
DEVICE_PRESETS = ("cifar", "svhn", "none")

# Per-channel statistics on the [0, 1] pixel scale.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# AlexNet's PCA of ImageNet RGB pixels (Krizhevsky et al., NeurIPS 2012),
# as used by fb.resnet.torch for ResNet training. Columns are eigenvectors.
IMAGENET_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

NAMED_STATISTICS = {
    "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": (CIFAR100_MEAN, CIFAR100_STD),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
}


def check_choice(name, value, choices):
    if value not in choices:
        raise UserValueError(
            f"Invalid value received for argument `{name}`. Expected one of "
            f"{choices}. Received: {name}={value!r}"
        )


def compute_mean_std(images, chunk_size=4096):
    """Per-channel mean and standard deviation of uint8 images.

    uint8 pixels are counted per value (exact integer sums); other dtypes
    are summed in float64.

    Args:
        images: array of shape `(N, H, W, C)` with values in `[0, 255]`.
        chunk_size: int, images per chunk (keeps memory use small).

    Returns:
        `(mean, std)`, two tuples of `C` floats on the `[0, 1]` scale.
    """
    images = np.asarray(images)
    if images.ndim == 1 and images.dtype.kind in "USO":
        raise UserValueError(
            "Per-channel statistics need the decoded images as one array of "
            f"shape (N, H, W, C), but received {len(images):,} image file paths: "
            "load_arrays returns paths when the images differ in size or are "
            "too large to keep in memory (it prints the sizes when they "
            "differ). Set `mean` and `std` (e.g. mean: cifar10, std: cifar10, "
            "or imagenet), or use preset imagenet, which resizes every image. "
            f"Received: images.shape={images.shape}"
        )
    if images.ndim != 4 or len(images) == 0:
        raise UserValueError(
            "Expected a non-empty array of images of shape (N, H, W, C). "
            f"Received: images.shape={images.shape}"
        )
    channels = images.shape[-1]
    if images.dtype == np.uint8:
        # A histogram per channel: exact, and ~3x faster than float sums.
        offsets = (np.arange(channels, dtype=np.int64) * 256).astype(np.int32)
        counts = np.zeros(channels * 256, np.int64)
        for start in range(0, len(images), chunk_size):
            chunk = images[start : start + chunk_size].reshape(-1, channels)
            counts += np.bincount((chunk + offsets).ravel(), minlength=channels * 256)
        counts = counts.reshape(channels, 256).astype(np.float64)
        values = np.arange(256, dtype=np.float64) / 255.0
        total, total_sq = counts @ values, counts @ np.square(values)
    else:
        total = np.zeros(channels, np.float64)
        total_sq = np.zeros(channels, np.float64)
        for start in range(0, len(images), chunk_size):
            chunk = images[start : start + chunk_size].astype(np.float64) / 255.0
            total += chunk.sum(axis=(0, 1, 2))
            total_sq += np.square(chunk).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def resolve_statistics(preset, images, mean, std):
    """The numeric `(mean, std)` a pipeline normalises with: names
    (`"cifar10"`, ...) looked up, the ImageNet preset's defaults filled in,
    and for the CIFAR preset the statistics of `images` where not given."""
    if isinstance(mean, str) or isinstance(std, str):
        name = mean if isinstance(mean, str) else std
        check_choice("mean", name, tuple(NAMED_STATISTICS))
        named_mean, named_std = NAMED_STATISTICS[name]
        mean = named_mean if mean is None or isinstance(mean, str) else mean
        std = named_std if std is None or isinstance(std, str) else std
    if preset == "imagenet":
        mean = IMAGENET_MEAN if mean is None else mean
        std = IMAGENET_STD if std is None else std
    if preset == "cifar" and (mean is None or std is None):
        if not (isinstance(images, np.ndarray) and images.dtype == np.uint8):
            raise UserValueError(
                'preset="cifar" normalises with per-channel statistics; pass '
                '`mean` and `std` (or mean="cifar10") when `images` is not a '
                "uint8 array (file paths come back when images differ in size "
                f"or are large). Received: mean={mean!r}, std={std!r}"
            )
        computed_mean, computed_std = compute_mean_std(images)
        mean = computed_mean if mean is None else mean
        std = computed_std if std is None else std
    for arg, value in (("mean", mean), ("std", std)):
        if value is not None and np.shape(value) not in ((), (3,), (1,)):
            raise UserValueError(
                f"`{arg}` must be a float or 3 per-channel floats on the "
                f"[0, 1] scale. Received: {arg}={value!r}"
            )
    if std is not None and np.any(np.asarray(std) <= 0):
        raise UserValueError(f"`std` must be positive. Received: std={std!r}")
    return mean, std


def recorded_statistics(preset, train_images, mean, std):
    """The `(mean, std)` a run records (config.yaml, preprocessing.json):
    names and given values as they are; for the CIFAR preset, what is
    missing computed from the training images, as lists of floats."""
    if preset == "cifar" and (mean is None or std is None):
        computed_mean, computed_std = compute_mean_std(train_images)
        mean = [float(v) for v in np.ravel(computed_mean)] if mean is None else mean
        std = [float(v) for v in np.ravel(computed_std)] if std is None else std
    return mean, std


def normalization_constants(mean=None, std=None):
    """float32 `(scale, offset)` with `x * scale + offset ==
    (x / 255 - mean) / std`, computed in float64: one multiply-add."""
    mean = np.zeros(1) if mean is None else np.asarray(mean, np.float64)
    std = np.ones(1) if std is None else np.asarray(std, np.float64)
    scale = (1.0 / (255.0 * std)).astype(np.float32)
    offset = (-mean / std).astype(np.float32)
    return scale, offset


# `make_dataset`'s preprocessing arguments and their defaults (both loaders):
# a run's (`DataSettings`) where it names them.
PREPROCESSING_DEFAULTS = {
    "preset": "cifar",
    **{name: getattr(DataSettings, name) for name in (
        "padding", "padding_mode", "mean", "std", "image_size", "scale_range", "lighting_std")},
    "augment_on": "host",
}


def check_pipeline_arguments(
    *, preset, padding_mode, batch_size, padding, scale_range, image_size, augment_on="host"
):
    """The argument checks of `make_dataset` (both loaders)."""
    check_choice("preset", preset, PRESETS)
    check_choice("padding_mode", padding_mode, PADDING_MODES)
    check_choice("augment_on", augment_on, AUGMENT_ON)
    if augment_on == "device" and preset not in DEVICE_PRESETS:
        raise UserValueError(
            f"augment_on='device' ships same-size uint8 batches, which the presets "
            f"{DEVICE_PRESETS} allow; preset {preset!r} resizes every image on the host. "
            f"Use augment_on='host'. Received: preset={preset!r}, augment_on='device'"
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserValueError(
            "Invalid value received for argument `batch_size`. Expected a "
            f"positive int. Received: batch_size={batch_size!r}"
        )
    if not isinstance(padding, (int, np.integer)) or padding < 0:
        raise UserValueError(
            "Invalid value received for argument `padding`. Expected an int "
            f">= 0. Received: padding={padding!r}"
        )
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise UserValueError(
            "Invalid value received for argument `scale_range`. Expected "
            f"(low, high) with 0 < low <= high. Received: scale_range={scale_range!r}"
        )
    if scale_range[0] < image_size:
        raise UserValueError(
            "The smallest rescaled side must be at least `image_size`. "
            f"Received: scale_range={scale_range!r}, image_size={image_size!r}"
        )


def check_arrays(images, labels):
    """`images` and `labels` as arrays (labels int32), checked."""
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1).astype(np.int32)
    if len(images) != len(labels) or len(images) == 0:
        raise UserValueError(
            "`images` and `labels` must be non-empty and of equal length. "
            f"Received: len(images)={len(images)}, len(labels)={len(labels)}"
        )
    if images.dtype.kind not in "USO" and images.ndim != 4:
        raise UserValueError(
            "Expected `images` of shape (N, H, W, C) or a 1-D array of "
            f"file paths. Received: images.shape={images.shape}"
        )
    return images, labels


def infer_preset(info):
    """The paper recipe for a data set: `"svhn"` for SVHN, `"imagenet"` for
    ImageNet or large/mixed-size images, else `"cifar"`."""
    name = info.name.lower()
    if name.startswith("svhn"):
        return "svhn"
    height, width = info.image_shape[:2]
    if "imagenet" in name or height is None or max(height, width) > 64:
        return "imagenet"
    return "cifar"
