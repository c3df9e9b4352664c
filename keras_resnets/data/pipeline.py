"""tf.data input pipelines for `model.fit`, following the papers' recipes
(the presets and statistics are `presets.py`'s, shared with
`numpy_pipeline.py`)."""

import random

import tensorflow as tf

from keras_resnets.data import augment
from keras_resnets.data import presets
from keras_resnets.errors import UserValueError

AUTOTUNE = tf.data.AUTOTUNE


def make_dataset(
    images,
    labels=None,
    *,
    batch_size,
    training,
    preset="cifar",
    padding=4,
    padding_mode="constant",
    mean=None,
    std=None,
    image_size=224,
    scale_range=(256, 480),
    lighting_std=0.1,
    seed=None,
    drop_remainder=False,
    shuffle_buffer=None,
    repeat=False,
    augment_on="host",
    start_batch=0,
):
    """Builds a batched `tf.data.Dataset` of `(float32 images, int32 labels)`.

    Images come out NHWC float32 and labels int32 `(B,)`, so the same dataset
    feeds `model.fit` on every Keras backend. Augmentation runs in parallel
    `tf.data` maps and is reproducible for a fixed `seed`; new random values
    are drawn every epoch.

    Presets (augmentation only when `training=True`):

    * `"cifar"` (He et al. 2015, arXiv:1512.03385, Sec. 4.2): `x/255`, then
      `(x - mean) / std` per channel; then pad `padding` pixels a side and a
      random crop back to the input size, and a random horizontal flip.
      Zero padding comes after normalisation, so padded pixels are the mean
      colour, as in fb.resnet.torch. `mean`/`std` default to the statistics
      of `images` (pass the training set's values for evaluation sets).
    * `"svhn"` (Zagoruyko & Komodakis 2016, arXiv:1605.07146): `x/255`, no
      augmentation.
    * `"imagenet"` (He et al. 2015, Sec. 3.4): shorter side resized to a
      random integer in `scale_range`, random `image_size` crop, horizontal
      flip, `x/255`, AlexNet PCA lighting (std `lighting_std`), then
      `(x - mean) / std` (ImageNet statistics by default). Evaluation:
      shorter side resized to `round(image_size * 256 / 224)`, central
      `image_size` crop.
    * `"none"`: float32 pixels in `[0, 255]`, unchanged (then `mean`/`std`
      if given, on the `[0, 1]` scale).

    Args:
        images: uint8 array `(N, H, W, C)`; a 1-D array of image file paths;
            or a `tf.data.Dataset` of unbatched `(image, label)` pairs (then
            `labels=None`).
        labels: int array `(N,)`, or None when `images` is a dataset.
        batch_size: int, examples per batch (global batch under a
            distribution strategy).
        training: bool, whether to shuffle and augment.
        preset: one of `"cifar"`, `"svhn"`, `"imagenet"`, `"none"`.
        padding: int, CIFAR padding per side. Defaults to 4.
        padding_mode: `"constant"` (zeros) or `"reflect"`.
        mean: per-channel mean on the `[0, 1]` scale (3 floats), or one of
            `"cifar10"`, `"cifar100"`, `"imagenet"`; None for the preset's
            default.
        std: per-channel std on the `[0, 1]` scale, or a name as for `mean`.
        image_size: int, ImageNet crop size. Defaults to 224.
        scale_range: `(low, high)`, ImageNet shorter-side range. Defaults to
            `(256, 480)`.
        lighting_std: float, PCA lighting strength; 0 disables it.
        seed: int or None, seed of the shuffle and augmentation.
        drop_remainder: bool, drop the last partial batch (needed for some
            distribution strategies).
        shuffle_buffer: int, shuffle buffer size. Defaults to the whole data
            set for arrays and 10,000 examples for a `tf.data.Dataset`. A
            repeating stream of arrays permutes each whole pass `p` by
            `(seed, p)` alone instead (`_example_order`).
        repeat: bool, repeat forever (use with `steps_per_epoch`).
        augment_on: `"host"` (default): the batches are preprocessed here,
            float32. `"device"` (presets cifar, svhn, none): the batches are
            the uint8 pixels as read, shuffled but neither normalised nor
            augmented; `training.device_input.DeviceAugmentedModel` does
            both on the accelerator.
        start_batch: int, batches of the stream to pass over first (a
            resumed run's): the batches that follow are equal to the bit to
            those at the same place in the stream from `start_batch=0`
            (order and augmentation draws). Only the shuffled indices and
            the random seeds are skipped, not the images.

    Returns:
        A `tf.data.Dataset` yielding `(images, labels)` batches.

    Example:

    >>> images = np.zeros((8, 32, 32, 3), "uint8"); labels = np.arange(8)
    >>> ds = make_dataset(images, labels, batch_size=4, training=True,
    ...                   mean="cifar10", seed=0)
    >>> [tuple(x.shape) for x in next(iter(ds))]
    [(4, 32, 32, 3), (4,)]
    """
    presets.check_pipeline_arguments(
        preset=preset, padding_mode=padding_mode, batch_size=batch_size, padding=padding,
        scale_range=scale_range, image_size=image_size, augment_on=augment_on,
    )
    is_dataset = isinstance(images, tf.data.Dataset)
    if is_dataset:
        if labels is not None:
            raise UserValueError(
                "When `images` is a tf.data.Dataset of (image, label) pairs, "
                f"`labels` must be None. Received: labels={type(labels).__name__}"
            )
    else:
        images, labels = presets.check_arrays(images, labels)
    mean, std = presets.resolve_statistics(preset, images, mean, std)
    if isinstance(start_batch, bool) or not isinstance(start_batch, int) or start_batch < 0:
        raise UserValueError(
            "Invalid value received for argument `start_batch`. Expected an int >= 0. "
            f"Received: start_batch={start_batch!r}"
        )
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    # A repeating stream is the same for every iterator of the dataset (JAX
    # and PyTorch fits iterate it once to build the model, then again to
    # train) and continues exactly from `start_batch`: its augmentation seeds
    # are not re-drawn per iterator and each pass's order comes from
    # (seed, pass) alone (`_example_order`). A finite dataset draws anew each
    # time it is iterated (each epoch of a `fit` without steps_per_epoch).
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=not repeat).batch(2)
    augment_kwargs = dict(
        preset=preset,
        training=training,
        padding=padding,
        padding_mode=padding_mode,
        mean=mean,
        std=std,
        image_size=image_size,
        scale_range=scale_range,
        lighting_std=lighting_std,
        augment_on=augment_on,
    )
    batch_fn = _batch_transform(**augment_kwargs)
    element_fn = _element_transform(**augment_kwargs)
    # A resumed run passes over `start_batch` batches: their shuffled indices
    # (or file names) and their seeds, one per image for the per-image map.
    if start_batch:
        seeds = seeds.skip(start_batch * (batch_size if element_fn is not None else 1))

    if not is_dataset and images.dtype.kind not in "USO" and element_fn is None:
        # Fast path: shuffle indices, gather whole batches, augment batches.
        images_t = tf.constant(images)
        labels_t = tf.constant(labels)
        ds = _example_order(len(images), training=training, repeat=repeat, seed=seed,
                            shuffle_buffer=shuffle_buffer)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if start_batch:
            ds = ds.skip(start_batch)
        ds = ds.map(
            lambda idx: (tf.gather(images_t, idx), tf.gather(labels_t, idx)),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        if is_dataset:
            ds = images
            if training:
                ds = ds.shuffle(shuffle_buffer or 10_000, seed=seed)
            if repeat:
                ds = ds.repeat()
        else:
            paths_t, labels_t = tf.constant(images), tf.constant(labels)
            ds = _example_order(len(images), training=training, repeat=repeat, seed=seed,
                                shuffle_buffer=shuffle_buffer)
            ds = ds.map(lambda i: (tf.gather(paths_t, i), tf.gather(labels_t, i)))
        if start_batch:
            ds = ds.skip(start_batch * batch_size)
        if not is_dataset and images.dtype.kind in "USO":
            ds = ds.map(_read_image, num_parallel_calls=AUTOTUNE)
        if element_fn is not None:
            ds = tf.data.Dataset.zip((ds, seeds))
            ds = ds.map(element_fn, num_parallel_calls=AUTOTUNE)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if batch_fn is not None:
        ds = tf.data.Dataset.zip((ds, seeds))
        ds = ds.map(batch_fn, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def _example_order(count, *, training, repeat, seed, shuffle_buffer=None):
    """Example indices, one pass over the `count` examples after another.

    Repeating (training) stream: pass `p` is the permutation
    `stateless_shuffle(range(count), (seed, p))`, a function of the seed and
    the pass alone, the same for every iterator of the dataset and for a
    resumed run (`start_batch`). A finite training set is shuffled anew each
    time it is iterated (`shuffle_buffer`, default the whole set).
    """
    order = tf.data.Dataset.range(count)
    if not training:
        return order.repeat() if repeat else order
    if not repeat:
        return order.shuffle(shuffle_buffer or count, seed=seed)
    passes = tf.data.Dataset.counter()
    seed = tf.constant(seed, tf.int64)

    def one_pass(index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, index]))
        return tf.data.Dataset.from_tensor_slices(order)

    return passes.flat_map(one_pass)


def _read_image(path, label):
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=3, expand_animations=False
    )
    return image, label


def _batch_transform(*, preset, training, padding, padding_mode, mean, std, augment_on,
                     **_):
    """The per-batch map for same-size presets, or None for ImageNet."""
    if preset == "imagenet":
        return None

    def transform(batch, seed):
        images, labels = batch
        labels = tf.cast(labels, tf.int32)
        if augment_on == "device":
            return images, labels
        if preset == "none":
            images = tf.cast(images, tf.float32)
            if mean is not None or std is not None:
                images = augment.normalize(images, mean, std)
            return images, labels
        if not (preset == "cifar" and training):
            return augment.normalize(images, mean, std), labels
        # Crop and flip the uint8 pixels (4x less data than float32), then
        # normalise. Zero padding must be zero *after* normalisation (the
        # mean colour), so a channel of ones goes through the same crop and
        # marks the pixels that came from the padding.
        crop_seed, flip_seed = augment.split_seed(seed, 2)
        mark_padding = padding_mode == "constant" and padding > 0
        if mark_padding:
            images = tf.concat([images, tf.ones_like(images[..., :1])], axis=-1)
        images = augment.random_pad_crop_batch(
            images, crop_seed, padding=padding, padding_mode=padding_mode
        )
        images = augment.random_flip_batch(images, flip_seed)
        if not mark_padding:
            return augment.normalize(images, mean, std), labels
        inside = tf.cast(images[..., -1:], tf.float32)
        return augment.normalize(images[..., :-1], mean, std) * inside, labels

    return transform


def _element_transform(
    *, preset, training, mean, std, image_size, scale_range, lighting_std, **_
):  # `augment_on` is always "host" here (check_pipeline_arguments)
    """The per-image map of the ImageNet preset, or None for the others."""
    if preset != "imagenet":
        return None
    eval_side = int(round(image_size * 256 / 224))

    def transform(example, seed):
        image, label = example
        if training:
            scale_seed, crop_seed, flip_seed, light_seed = augment.split_seed(seed, 4)
            image = augment.random_rescale(image, scale_seed, scale_range)
            image = augment.random_crop(image, crop_seed, image_size)
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
            image = image / 255.0
            image = augment.pca_lighting(image, light_seed, lighting_std)
        else:
            image = augment.resize_shorter_side(image, eval_side)
            image = augment.center_crop(image, image_size) / 255.0
        image = (image - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
        image = tf.ensure_shape(image, (image_size, image_size, 3))
        return image, tf.cast(label, tf.int32)

    return transform
