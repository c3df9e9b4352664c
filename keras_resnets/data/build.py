"""`build_datasets`: a data source and a `DataOptions` record in, the
train/validation/test inputs of `model.fit` out, as one frozen `Datasets`
record. Keywords override the record's fields, so
`build_datasets(source, batch_size=64)` and
`build_datasets(source, DataOptions(batch_size=64))` are the same call.

The one road from a data set to training: `keras-resnets train`, `evaluate`
and `tune` all come here (through `training.trainer.load_data`, which maps a
config's `data:` and `training:` sections onto these arguments).

Two loaders make the batches, with the same preprocessing (`presets.py`):

* `"tf"`: tf.data (`pipeline.py`), the default where TensorFlow is installed;
* `"numpy"`: a `keras.utils.PyDataset` of numpy batches
  (`numpy_pipeline.py`), for the JAX and PyTorch backends without
  TensorFlow.

`loader="auto"` picks `"tf"` when TensorFlow can be imported, else
`"numpy"`.
"""

import dataclasses
import math

import numpy as np

from keras_resnets.data import datasets
from keras_resnets.data import decode
from keras_resnets.data import errors
from keras_resnets.data import presets
from keras_resnets.data.options import DataSettings
from keras_resnets import runtime
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

LOADERS = ("auto", "tf", "numpy")
# `DataOptions` fields passed on to `load_arrays` and to `make_dataset`.
READ_OPTIONS = (
    "data_dir", "cache_dir", "validation_size", "validation_method", "seed", "download",
    "skip_corrupt",
)
PIPELINE_OPTIONS = (
    "padding", "padding_mode", "image_size", "scale_range", "lighting_std", "shuffle_buffer",
)


@dataclasses.dataclass(frozen=True)
class Datasets:
    """What `build_datasets` made.

    Attributes:
        train: the training input (a `tf.data.Dataset` or a
            `keras.utils.PyDataset`), shuffled and augmented.
        validation: the validation input, or None.
        test: the test input, or None.
        info: the `DatasetInfo` of the source.
        preset: the preprocessing preset used.
        mean, std: the statistics as a run records them: a name
            (`"cifar10"`, ...), the values given, the CIFAR preset's values
            computed from the training images (lists of floats), or None
            (the preset's default).
        input_shape: `(H, W, C)` of the model's input.
        image_size: the ImageNet preset's crop size (None otherwise).
        num_train: int, training examples.
        batch_size: int, the global training batch (all replicas).
        steps_per_epoch: int, training steps per epoch.
        loader: `"tf"` or `"numpy"`, the loader that made the batches.
        augment_on: `"host"`, or `"device"` when `train` ships uint8 batches
            for the accelerator to preprocess.
        device_preprocessing: with `augment_on="device"`, what the
            accelerator must do to `train`'s batches (see
            `device_preprocessing`); None otherwise.
    """

    train: object
    validation: object
    test: object
    info: datasets.DatasetInfo
    preset: str
    mean: object
    std: object
    input_shape: tuple
    image_size: int | None
    num_train: int
    batch_size: int
    steps_per_epoch: int
    loader: str
    augment_on: str = "host"
    device_preprocessing: dict | None = None

    @property
    def num_classes(self):
        return self.info.num_classes

    @property
    def class_names(self):
        return self.info.class_names

    def preprocessing(self):
        """The run's `preprocessing.json`: what a later prediction needs.

        Returns:
            dict with exactly `preset`, `mean`, `std`, `image_size`,
            `input_shape`, `class_names`, `num_classes`.
        """
        return {
            "preset": self.preset,
            "mean": as_list(self.mean),
            "std": as_list(self.std),
            "image_size": self.image_size,
            "input_shape": [None if d is None else int(d) for d in self.input_shape],
            "class_names": [str(c) for c in self.class_names],
            "num_classes": int(self.num_classes),
        }


def as_list(value):
    """Statistics as a config records them: names and None as they are,
    numbers as a list of floats."""
    if value is None or isinstance(value, str):
        return value
    return [float(v) for v in np.ravel(value)]


def resolve_loader(loader):
    """`"tf"` or `"numpy"` for a `loader` argument (`"auto"`: tf when
    TensorFlow can be imported).

    Raises:
        ValueError: an unknown loader.
        MissingPackageError: `"tf"` without TensorFlow.
    """
    presets.check_choice("loader", loader, LOADERS)
    if loader == "numpy":
        return "numpy"
    if decode.tensorflow_available():
        return "tf"
    if loader == "tf":
        raise errors.MissingPackageError(
            "The tf.data loader (data.loader: tf) needs the tensorflow package, which "
            "is not installed; use data.loader: numpy (or auto). Received: loader='tf'",
            package="tensorflow",
        )
    return "numpy"


def resolve_augment_on(augment_on, preset):
    """`"host"` or `"device"` for an `augment_on` argument.

    `"auto"` gives `"device"` where the Keras backend sees a GPU and the
    preset ships same-size images (`presets.DEVICE_PRESETS`), `"host"`
    elsewhere. On a CPU the host pipelines run beside the train step, while
    the same ops inside it cost ResNet-20 5-13% of its step (TensorFlow,
    2-core AMD EPYC, docs/benchmarks.md); a GPU outruns the host's
    augmentation instead (13-20k images/s on that CPU, numpy / tf.data).
    """
    presets.check_choice("augment_on", augment_on, presets.AUGMENT_ON + ("auto",))
    if augment_on != "auto":
        return augment_on
    return "device" if preset in presets.DEVICE_PRESETS and runtime.has_gpu() else "host"


def device_preprocessing(preset, mean, std, padding, padding_mode):
    """What the accelerator does to uint8 training batches so they equal in
    distribution the host pipelines' (`augment_on="device"`).

    Returns:
        dict: `scale`, `offset` (per-channel float lists with `x * scale +
        offset == (x / 255 - mean) / std`: the host pipelines' float32
        constants), `augment` (bool: pad, crop and flip, the CIFAR preset),
        `padding`, `padding_mode`.
    """
    if preset == "none" and mean is None and std is None:
        scale, offset = np.ones(1, np.float32), np.zeros(1, np.float32)  # pixels as they are
    else:
        mean, std = presets.resolve_statistics(preset, None, mean, std)
        scale, offset = presets.normalization_constants(mean, std)
    return {
        "scale": [float(v) for v in np.ravel(scale)],
        "offset": [float(v) for v in np.ravel(offset)],
        "augment": preset == "cifar",
        "padding": int(padding),
        "padding_mode": padding_mode,
    }


def _limit(pair, limit):
    images, labels = pair
    if limit is None or labels is None:
        return images, labels
    return images[:limit], labels[:limit]


@dataclasses.dataclass(frozen=True)
class DataOptions(DataSettings):
    """Everything `build_datasets` takes besides the source, as one record:
    the `DataSettings` a run's `data:` section names (see there: preset,
    validation split, statistics, augmentation, loader, ...) and what the
    training loop decides.

    Attributes:
        batch_size: int, training batch size per replica. Defaults to 128.
        num_replicas: int, devices the batches are split over; the batches
            built are `num_replicas` times the per-replica sizes.
        seed: int, seeds the holdout, the shuffle and the augmentation.
        start_epoch: int, epochs of the training stream already trained: the
            training set starts at batch `start_epoch * steps_per_epoch` of
            the stream that `start_epoch=0` gives, so a resumed run sees
            exactly the batches (order and augmentation draws) that the
            uninterrupted run saw. Needs `repeat=True`.
        drop_remainder: bool, drop the training set's last partial batch
            (a static batch shape).
        repeat: bool, repeat the training set forever (use with
            `steps_per_epoch`).
        shard_evaluation: bool, evaluation batches must split evenly over
            `num_replicas` devices (JAX DataParallel): a last batch that
            does not is dropped. Otherwise evaluation keeps every example.
        steps_per_epoch: int, training steps per epoch; defaults to one
            pass over the training set.
        download: bool, whether tensorflow-datasets may download.
        shuffle_buffer: passed to `make_dataset` (same default).
    """

    batch_size: int = 128
    num_replicas: int = 1
    seed: int = 0
    start_epoch: int = 0
    drop_remainder: bool = False
    repeat: bool = False
    shard_evaluation: bool = False
    steps_per_epoch: int | None = None
    download: bool = True
    shuffle_buffer: int | None = None

    def replace(self, **changes):
        """A copy with `changes`; an unknown name is a TypeError that lists
        the valid ones."""
        names = [field.name for field in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise UserTypeError(
                f"build_datasets() got unknown options {unknown}. Expected any of "
                f"{names}. Received: {', '.join(f'{k}={changes[k]!r}' for k in unknown)}"
            )
        return dataclasses.replace(self, **changes)

    def pick(self, names):
        """`{name: value}` of the fields `names`."""
        return {name: getattr(self, name) for name in names}


def build_datasets(source, options=None, **changes):
    """Loads `source` and builds the train, validation and test inputs.

    Args:
        source: as for `load_arrays` (tfds name or local path).
        options: a `DataOptions`, or None for the defaults.
        **changes: `DataOptions` fields that override `options` (e.g.
            `batch_size=64`, `preset="none"`, `cache_dir=False`).

    Returns:
        A `Datasets`; `validation` / `test` are None when the data set has
        no such split.

    Raises:
        TypeError: a keyword that is not a `DataOptions` field.

    Example:

    >>> ds = build_datasets("cifar10.npz", batch_size=128, validation_size=5000)
    >>> model.fit(ds.train, validation_data=ds.validation, epochs=...)
    """
    if options is None:
        options = DataOptions()
    elif not isinstance(options, DataOptions):
        raise UserTypeError(
            "Invalid value received for argument `options`. Expected a DataOptions "
            f"or None. Received: options={options!r}"
        )
    options = options.replace(**changes)
    loader = resolve_loader(options.loader)
    splits, info = datasets.load_arrays(source, **options.pick(READ_OPTIONS))
    preset = options.preset or presets.infer_preset(info)
    train_images, train_labels = _limit(splits["train"], options.train_limit)
    if train_labels is None:
        raise UserValueError(
            f"source={str(source)!r} is a streamed data set of unknown size; training "
            "needs an in-memory or file-list source."
        )
    mean, std = presets.recorded_statistics(preset, train_images, options.mean, options.std)
    if loader == "tf":
        from keras_resnets.data.pipeline import make_dataset
    else:
        from keras_resnets.data.numpy_pipeline import make_dataset
    augment_on = resolve_augment_on(options.augment_on, preset)
    common = dict(preset=preset, mean=mean, std=std, **options.pick(PIPELINE_OPTIONS))
    global_batch = options.batch_size * options.num_replicas
    num_train = len(train_labels)
    steps_per_epoch = options.steps_per_epoch or math.ceil(num_train / global_batch)
    if options.start_epoch and not options.repeat:
        raise UserValueError(
            "`start_epoch` continues a repeating training stream; set repeat=True. "
            f"Received: start_epoch={options.start_epoch}, repeat=False"
        )
    train = make_dataset(
        train_images, train_labels, batch_size=global_batch, training=True,
        seed=options.seed, repeat=options.repeat, drop_remainder=options.drop_remainder,
        augment_on=augment_on, start_batch=options.start_epoch * steps_per_epoch, **common,
    )
    eval_batch = (options.eval_batch_size or options.batch_size) * options.num_replicas
    evaluation = {}
    for split in ("validation", "test"):
        if split in splits:
            images, labels = _limit(splits[split], options.test_limit)
            # JAX DataParallel needs batches divisible by the device count:
            # only a last batch that is not loses its examples.
            last = len(labels) % eval_batch
            drop = options.shard_evaluation and last % options.num_replicas != 0
            evaluation[split] = make_dataset(
                images, labels, batch_size=eval_batch, training=False, drop_remainder=drop,
                **common,
            )
    image_size = options.image_size if preset == "imagenet" else None
    input_shape = (image_size, image_size, 3) if image_size else tuple(info.image_shape)
    return Datasets(
        train=train,
        validation=evaluation.get("validation"),
        test=evaluation.get("test"),
        info=info,
        preset=preset,
        mean=mean,
        std=std,
        input_shape=input_shape,
        image_size=image_size,
        num_train=num_train,
        batch_size=global_batch,
        steps_per_epoch=steps_per_epoch,
        loader=loader,
        augment_on=augment_on,
        device_preprocessing=device_preprocessing(
            preset, mean, std, options.padding, options.padding_mode
        ) if augment_on == "device" else None,
    )
