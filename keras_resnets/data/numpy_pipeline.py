"""The TensorFlow-free input pipeline: numpy batches in a `keras.utils.PyDataset`.

`make_dataset` here takes the arguments of `pipeline.make_dataset` (the
tf.data pipeline) and gives the same preprocessing on the host, in numpy:

* evaluation batches are equal to the tf.data pipeline's, to the bit (the
  same float32 multiply-add from `presets.normalization_constants`);
* CIFAR training batches are augmented the same way (pad `padding` pixels
  a side with `padding_mode`, a random crop back to the input size, a random
  horizontal flip, then `(x / 255 - mean) / std`, with zero padding applied
  after normalisation), with random draws from numpy's generator instead of
  TensorFlow's: the same distribution, not the same numbers.

Shuffling permutes the whole set each epoch. With `repeat=True` the dataset
is endless (use `steps_per_epoch`) and batches run across epoch boundaries,
as `shuffle().repeat().batch()` does in tf.data. Every draw is a function of
`(seed, epoch, batch index)`, so a fixed seed gives the same batches.

Supported: the `"cifar"`, `"svhn"` and `"none"` presets on in-memory
`(N, H, W, C)` arrays. The `"imagenet"` preset (per-image resizing) and
file-path sources need the tf.data pipeline.
"""

import math

import keras
import numpy as np

from keras_resnets.data import presets
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

NUMPY_PRESETS = ("cifar", "svhn", "none")


def transform(images, *, preset, training, padding=4, padding_mode="constant", mean=None,
              std=None, rng=None, augment_on="host"):
    """One batch of uint8 `(B, H, W, C)` images preprocessed as `preset`
    does (float32 out); augmented when `training` (CIFAR preset only), with
    draws from the numpy generator `rng`. With `augment_on="device"` the
    batch goes out as it is (uint8), for the accelerator to preprocess."""
    if augment_on == "device":
        return images
    if preset == "none":
        images = images.astype(np.float32)
        if mean is None and std is None:
            return images
        return _normalize(images, mean, std)
    if not (preset == "cifar" and training):
        return _normalize(images, mean, std)
    count, height, width = images.shape[:3]
    inside = None
    if padding > 0:
        # uint8 pixels are cropped (4x less data than float32), then
        # normalised; `inside` marks the pixels that are not padding, which
        # zero padding sets to 0 after normalisation (the mean colour).
        pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
        padded = np.pad(images, pad, mode=padding_mode)
        offset_y = rng.integers(0, 2 * padding + 1, count)
        offset_x = rng.integers(0, 2 * padding + 1, count)
        rows = offset_y[:, None] + np.arange(height)
        cols = offset_x[:, None] + np.arange(width)
        images = padded[np.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :]]
        if padding_mode == "constant":
            inside = ((rows >= padding) & (rows < padding + height))[:, :, None] & (
                (cols >= padding) & (cols < padding + width)
            )[:, None, :]
    flip = rng.random(count) < 0.5
    images = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
    images = _normalize(images, mean, std)
    if inside is None:
        return images
    inside = np.where(flip[:, None, None], inside[:, :, ::-1], inside)
    return np.where(inside[..., None], images, np.float32(0))


def _normalize(images, mean, std):
    scale, offset = presets.normalization_constants(mean, std)
    return images.astype(np.float32) * scale + offset


class ArrayDataset(keras.utils.PyDataset):
    """Batches of `(float32 images, int32 labels)` from in-memory arrays.

    Made by `make_dataset`; see the module docstring. Batches are computed
    in `__getitem__` on the calling thread (`workers=1`), so the order of
    random draws, and with it every batch, depends only on the seed.

    Args:
        images: uint8 array `(N, H, W, C)`.
        labels: int32 array `(N,)`.
        batch_size, training, preset, padding, padding_mode, drop_remainder,
        repeat: as for `make_dataset`.
        mean, std: numeric per-channel statistics (resolved).
        augment_on: `"host"`, or `"device"` for uint8 batches as read.
        seed: int, the base seed.
        start_batch: int, batches of a repeating stream already trained (a
            resumed run's): batch `i` is the stream's batch
            `start_batch + i`, as in `pipeline.make_dataset`.
    """

    def __init__(self, images, labels, *, batch_size, training, preset, padding,
                 padding_mode, mean, std, seed, drop_remainder, repeat, augment_on="host",
                 start_batch=0):
        super().__init__(workers=1, use_multiprocessing=False)
        self.images, self.labels = images, labels
        self.batch_size, self.training, self.repeat = batch_size, training, repeat
        self.drop_remainder = drop_remainder
        self.seed = seed
        self._transform = dict(preset=preset, padding=padding, padding_mode=padding_mode,
                               mean=mean, std=std, augment_on=augment_on)
        self._epoch = 0
        self._orders = {}
        self.start_batch = start_batch if repeat else 0

    @property
    def num_batches(self):
        """Batches per epoch; None (endless) with `repeat=True`."""
        if self.repeat:
            return None
        count = len(self.labels)
        if self.drop_remainder:
            return count // self.batch_size
        return math.ceil(count / self.batch_size)

    def __len__(self):
        if self.repeat:
            raise UserTypeError("A repeating ArrayDataset is endless: it has no len().")
        return self.num_batches

    def _rng(self, *key):
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def _order(self, epoch):
        """The example order of one pass over the data."""
        if not self.training:
            return np.arange(len(self.labels))
        if epoch not in self._orders:
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
            self._orders[epoch] = self._rng(0, epoch).permutation(len(self.labels))
        return self._orders[epoch]

    def _indices(self, index):
        count, size = len(self.labels), self.batch_size
        if not self.repeat:
            return self._order(self._epoch)[index * size : (index + 1) * size]
        start = index * size
        parts = []
        while size > 0:
            epoch, position = divmod(start, count)
            part = self._order(epoch)[position : position + size]
            parts.append(part)
            start, size = start + len(part), size - len(part)
        return np.concatenate(parts)

    def __getitem__(self, index):
        if not self.repeat and not 0 <= index < self.num_batches:
            raise IndexError(f"Batch index out of range. Received: index={index}")
        index += self.start_batch  # a resumed run continues the stream
        indices = self._indices(index)
        images = self.images[indices]
        rng = self._rng(1, self._epoch, index) if self.training else None
        images = transform(images, training=self.training, rng=rng, **self._transform)
        return images, self.labels[indices]

    def on_epoch_end(self):
        if not self.repeat:  # a repeating set counts passes in `_indices`
            self._epoch += 1


def make_dataset(images, labels=None, *, batch_size, training, seed=None, drop_remainder=False,
                 shuffle_buffer=None, repeat=False, start_batch=0, **preprocessing):
    """Builds an `ArrayDataset`: `pipeline.make_dataset`'s batches without
    TensorFlow.

    Arguments are those of `pipeline.make_dataset`, with the same defaults
    (`presets.PREPROCESSING_DEFAULTS` for `**preprocessing`: `preset`,
    `padding`, `padding_mode`, `mean`, `std`, `image_size`, `scale_range`,
    `lighting_std`, `augment_on`); the ImageNet options are checked but unused, and
    `shuffle_buffer` is ignored (every epoch permutes the whole set, as the
    tf.data pipeline does by default for arrays).

    Returns:
        An `ArrayDataset` (a `keras.utils.PyDataset`) for `model.fit`.

    Raises:
        ValueError: bad arguments, or a preset or source only the tf.data
            pipeline supports (`"imagenet"`, file paths).

    Example:

    >>> images = np.zeros((8, 32, 32, 3), "uint8"); labels = np.arange(8)
    >>> ds = make_dataset(images, labels, batch_size=4, training=True,
    ...                   mean="cifar10", seed=0)
    >>> [tuple(x.shape) for x in ds[0]]
    [(4, 32, 32, 3), (4,)]
    """
    del shuffle_buffer  # a tf.data option
    unknown = sorted(set(preprocessing) - set(presets.PREPROCESSING_DEFAULTS))
    if unknown:
        raise UserTypeError(
            f"make_dataset() got unexpected keyword arguments {unknown}. Expected "
            f"{sorted(presets.PREPROCESSING_DEFAULTS)}."
        )
    options = {**presets.PREPROCESSING_DEFAULTS, **preprocessing}
    preset, padding, mean, std = (options[k] for k in ("preset", "padding", "mean", "std"))
    presets.check_pipeline_arguments(
        batch_size=batch_size,
        **{k: options[k] for k in ("preset", "padding_mode", "padding", "scale_range",
                                   "image_size", "augment_on")},
    )
    if preset not in NUMPY_PRESETS:
        raise UserValueError(
            f"The numpy data loader supports the presets {NUMPY_PRESETS}; preset "
            f"{preset!r} resizes every image and needs the tf.data loader "
            "(data.loader: tf, which needs the tensorflow package). "
            f"Received: preset={preset!r}"
        )
    if labels is None or not hasattr(images, "__len__"):
        raise UserValueError(
            "The numpy data loader reads in-memory arrays; a streamed data set "
            "needs the tf.data loader (data.loader: tf, which needs the tensorflow "
            f"package). Received: images={type(images).__name__}"
        )
    images, labels = presets.check_arrays(images, labels)
    if images.dtype.kind in "USO":
        raise UserValueError(
            "The numpy data loader reads in-memory arrays, not image file paths "
            "(the reader keeps large or mixed-size images as paths); use the tf.data "
            "loader (data.loader: tf, which needs the tensorflow package). "
            f"Received: {len(images):,} file paths"
        )
    mean, std = presets.resolve_statistics(preset, images, mean, std)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**63)
    return ArrayDataset(
        images, labels, batch_size=int(batch_size), training=training, preset=preset,
        padding=int(padding), padding_mode=options["padding_mode"], mean=mean, std=std,
        seed=int(seed), drop_remainder=drop_remainder, repeat=repeat,
        augment_on=options["augment_on"], start_batch=int(start_batch),
    )
