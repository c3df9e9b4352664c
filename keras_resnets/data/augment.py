"""Image augmentation and normalisation ops for tf.data pipelines.

Batch ops (`random_pad_crop_batch`, `random_flip_batch`) work on a whole
batch of same-size images at once, which is what makes the CIFAR pipeline
fast. Element ops (`random_rescale`, `random_crop`, `pca_lighting`,
`resize_shorter_side`, `center_crop`) work on one image of any size, for the
ImageNet recipe. Randomness always comes from a stateless seed (a `[2]`
int tensor), so a pipeline built with a fixed seed is reproducible.
"""

import numpy as np
import tensorflow as tf

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
        raise ValueError(
            "Per-channel statistics need the decoded images as one array of "
            f"shape (N, H, W, C), but received {len(images):,} image file paths: "
            "load_arrays returns paths when the images differ in size or are "
            "too large to keep in memory (it prints the sizes when they "
            "differ). Set `mean` and `std` (e.g. mean: cifar10, std: cifar10, "
            "or imagenet), or use preset imagenet, which resizes every image. "
            f"Received: images.shape={images.shape}"
        )
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
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


def normalize(images, mean=None, std=None):
    """Scale uint8 pixels to `[0, 1]`, then apply `(x - mean) / std`.

    Args:
        images: uint8 or float tensor with values in `[0, 255]`.
        mean: per-channel mean on the `[0, 1]` scale, or `None` for no shift.
        std: per-channel std on the `[0, 1]` scale, or `None` for no scaling.

    Returns:
        A float32 tensor.
    """
    # One multiply-add: x * (1 / (255 * std)) - mean / std.
    mean = np.zeros(1) if mean is None else np.asarray(mean, np.float64)
    std = np.ones(1) if std is None else np.asarray(std, np.float64)
    scale = tf.constant(1.0 / (255.0 * std), tf.float32)
    offset = tf.constant(-mean / std, tf.float32)
    return tf.cast(images, tf.float32) * scale + offset


def split_seed(seed, num):
    """Splits a `[2]` stateless seed into `num` independent seeds."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


def random_pad_crop_batch(images, seed, padding=4, padding_mode="constant"):
    """Pads each image by `padding` pixels and takes a random crop of the
    original size (He et al. 2015, CIFAR recipe), for a whole batch at once.

    Args:
        images: tensor `(B, H, W, C)`.
        seed: `[2]` int tensor, the stateless seed.
        padding: int, pixels added on each side.
        padding_mode: `"constant"` (zeros) or `"reflect"`.

    Returns:
        A tensor with the shape and dtype of `images`.
    """
    if padding == 0:
        return images
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(
        images,
        [[0, 0], [padding, padding], [padding, padding], [0, 0]],
        mode=padding_mode.upper(),
    )
    seed_y, seed_x = split_seed(seed, 2)
    offset_y = tf.random.stateless_uniform(
        [batch], seed_y, 0, 2 * padding + 1, dtype=tf.int32
    )
    offset_x = tf.random.stateless_uniform(
        [batch], seed_x, 0, 2 * padding + 1, dtype=tf.int32
    )
    rows = offset_y[:, None] + tf.range(height)[None, :]
    cols = offset_x[:, None] + tf.range(width)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    return tf.ensure_shape(out, images.shape)


def random_flip_batch(images, seed):
    """Flips each image of a `(B, H, W, C)` batch left-right with p=0.5."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0]], seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, [2]), images)


def _resize_to_shorter_side(image, side):
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, side)
    return tf.image.resize(image, new_shape, method="bilinear", antialias=True)


def random_rescale(image, seed, scale_range=(256, 480)):
    """Resizes so the shorter side is a random integer in `scale_range`
    (inclusive), the scale augmentation of He et al. 2015 (ImageNet).

    Returns a float32 image with values in `[0, 255]`.
    """
    low, high = scale_range
    side = tf.random.stateless_uniform([], seed, low, high + 1, dtype=tf.int32)
    return _resize_to_shorter_side(image, side)


def resize_shorter_side(image, side):
    """Resizes so the shorter side is `side` (float32 output, `[0, 255]`)."""
    return _resize_to_shorter_side(image, tf.constant(side, tf.int32))


def random_crop(image, seed, size):
    """A random `size` x `size` crop of one `(H, W, C)` image."""
    channels = image.shape[-1] or tf.shape(image)[-1]
    return tf.image.stateless_random_crop(image, [size, size, channels], seed)


def center_crop(image, size):
    """The central `size` x `size` crop of one `(H, W, C)` image."""
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def pca_lighting(image, seed, std=0.1):
    """AlexNet PCA colour augmentation: adds `V @ (alpha * lambda)` to every
    pixel, with `alpha ~ N(0, std)` per image (Krizhevsky et al. 2012).

    Args:
        image: float tensor `(H, W, 3)` on the `[0, 1]` scale.
        seed: `[2]` int tensor.
        std: float, standard deviation of `alpha`.

    Returns:
        A float32 tensor of the same shape.
    """
    if std == 0:
        return image
    alpha = tf.random.stateless_normal([3], seed, stddev=std)
    eigval = tf.constant(IMAGENET_PCA_EIGVAL, tf.float32)
    eigvec = tf.constant(IMAGENET_PCA_EIGVEC, tf.float32)
    rgb = tf.linalg.matvec(eigvec, alpha * eigval)
    return image + rgb
