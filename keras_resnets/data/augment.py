"""Image augmentation and normalisation ops for tf.data pipelines.

Batch ops (`random_pad_crop_batch`, `random_flip_batch`) work on a whole
batch of same-size images at once, which is what makes the CIFAR pipeline
fast. Element ops (`random_rescale`, `random_crop`, `pca_lighting`,
`resize_shorter_side`, `center_crop`) work on one image of any size, for the
ImageNet recipe. Randomness always comes from a stateless seed (a `[2]`
int tensor), so a pipeline built with a fixed seed is reproducible.
"""

import tensorflow as tf

from keras_resnets.data.presets import IMAGENET_PCA_EIGVAL
from keras_resnets.data.presets import IMAGENET_PCA_EIGVEC
from keras_resnets.data.presets import normalization_constants


def normalize(images, mean=None, std=None):
    """Scale uint8 pixels to `[0, 1]`, then apply `(x - mean) / std`.

    Args:
        images: uint8 or float tensor with values in `[0, 255]`.
        mean: per-channel mean on the `[0, 1]` scale, or `None` for no shift.
        std: per-channel std on the `[0, 1]` scale, or `None` for no scaling.

    Returns:
        A float32 tensor.
    """
    scale, offset = normalization_constants(mean, std)
    return tf.cast(images, tf.float32) * tf.constant(scale) + tf.constant(offset)


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
