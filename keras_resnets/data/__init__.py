"""Data sets and input pipelines: tf.data where TensorFlow is installed, a
numpy `keras.utils.PyDataset` otherwise. Importing this package never
imports TensorFlow; `make_dataset` (tf.data) imports it on first use.

Public API:

* `load_arrays(source, *, data_dir=None, cache_dir=None, validation_size=0,
  validation_method="last", seed=0, download=True, skip_corrupt=False)
  -> (splits, info)`:
  reads a tensorflow-datasets name (`"cifar10"`, `"cifar100"`,
  `"svhn_cropped"`, `"imagenet2012"`) or a local image folder
  (`root/<class>/*` or `root/{train,test,val}/<class>/*`), a `.tar[.gz]` /
  `.zip` archive of one, or an `.npz` file (`x_train`, `y_train`, `x_test`,
  `y_test`). `splits` maps `"train"`, `"validation"`, `"test"` to
  `(images, labels)`: uint8 `(N, H, W, 3)` arrays and int32 labels (class
  order = sorted folder names; folder/archive examples in a fixed
  pseudo-random order, so a "last N" holdout mixes all classes). Small data sets are decoded once and cached
  as `.npz` under `cache_dir` (default `~/.cache/keras_resnets`). Files that
  do not decode raise `CorruptImagesError` naming them, or are skipped with
  `skip_corrupt=True`. `info.name` is `"cifar10"`/`"cifar100"` for a local
  copy only when its size and published statistics match the original.
* `make_dataset(images, labels=None, *, batch_size, training,
  preset="cifar", padding=4, padding_mode="constant", mean=None, std=None,
  image_size=224, scale_range=(256, 480), lighting_std=0.1, seed=None,
  drop_remainder=False, shuffle_buffer=None, repeat=False)`: a batched,
  prefetched `tf.data.Dataset` of float32 NHWC images and int32 labels,
  augmented as the papers did (`preset` = `"cifar"`, `"svhn"`,
  `"imagenet"` or `"none"`).
* `make_array_dataset(...)`: the same arguments and preprocessing without
  TensorFlow, a `keras.utils.PyDataset` of numpy batches (equal evaluation
  batches; augmentation with numpy's random draws). Presets `"cifar"`,
  `"svhn"`, `"none"` on in-memory arrays.
* `build_datasets(source, options=None, **changes) -> Datasets`: the one
  road from a source to `model.fit` (train, evaluate and tune use it).
  `DataOptions` is the frozen record of its settings: the `DataSettings`
  a run's `data:` config section names and the run's own (`batch_size=128`,
  `eval_batch_size`, `num_replicas=1`, `preset`, `validation_size=0`,
  `validation_method="last"`, `mean`, `std`, `seed=0`, `start_epoch`,
  `drop_remainder`, `repeat`, `shard_evaluation`, `steps_per_epoch`,
  `train_limit`, `test_limit`, `loader="auto"`, `data_dir`, `cache_dir`,
  `download=True`, `skip_corrupt`, and `make_dataset`'s `padding`,
  `padding_mode`, `image_size`, `scale_range`, `lighting_std`,
  `shuffle_buffer`); keywords override its fields. `Datasets` is a frozen
  record: `train`, `validation`, `test`, `info`, `preset`, `mean`, `std`,
  `input_shape`, `image_size`, `num_train`, `batch_size`, `steps_per_epoch`,
  `loader`, `num_classes`, `class_names`, `preprocessing()`. `loader`:
  `"tf"`, `"numpy"` or `"auto"` (tf when TensorFlow can be imported).
* `DatasetInfo` (`name`, `num_classes`, `class_names`, `image_shape`,
  `num_examples`, `lossy`), `DataUnavailableError` (a `RuntimeError`, raised
  when a tensorflow-datasets set cannot be loaded, e.g. offline),
  `MissingPackageError` (a `DataUnavailableError` naming a package that a
  source or option needs, e.g. tensorflow for tfds names),
  `CorruptImagesError` (a `ValueError` naming undecodable files), `infer_preset`,
  `compute_mean_std`, and the constants `CIFAR10_MEAN`, `CIFAR10_STD`,
  `CIFAR100_MEAN`, `CIFAR100_STD`, `IMAGENET_MEAN`, `IMAGENET_STD`.

Example:

```python
from keras_resnets import data

ds = data.build_datasets(
    "../shared/data/cifar10-jpg.tar.gz", batch_size=128, validation_size=5000
)
model.fit(ds.train, validation_data=ds.validation, epochs=...)
```
"""

import importlib

from keras_resnets.data.build import LOADERS
from keras_resnets.data.build import DataOptions
from keras_resnets.data.build import Datasets
from keras_resnets.data.build import build_datasets
from keras_resnets.data.datasets import DatasetInfo
from keras_resnets.data.datasets import load_arrays
from keras_resnets.data.errors import CorruptImagesError
from keras_resnets.data.errors import DataUnavailableError
from keras_resnets.data.errors import MissingPackageError
from keras_resnets.data.options import DataSettings
from keras_resnets.data.presets import CIFAR10_MEAN
from keras_resnets.data.presets import CIFAR10_STD
from keras_resnets.data.presets import CIFAR100_MEAN
from keras_resnets.data.presets import CIFAR100_STD
from keras_resnets.data.presets import IMAGENET_MEAN
from keras_resnets.data.presets import IMAGENET_STD
from keras_resnets.data.presets import compute_mean_std
from keras_resnets.data.presets import infer_preset

# Loaded on first use: tf.data imports TensorFlow, the PyDataset keras.
_LAZY = {
    "make_dataset": ("keras_resnets.data.pipeline", "make_dataset"),
    "make_array_dataset": ("keras_resnets.data.numpy_pipeline", "make_dataset"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_resnets.data' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LOADERS",
    "CorruptImagesError",
    "DataOptions",
    "DataSettings",
    "DataUnavailableError",
    "DatasetInfo",
    "Datasets",
    "MissingPackageError",
    "build_datasets",
    "compute_mean_std",
    "infer_preset",
    "load_arrays",
    "make_array_dataset",
    "make_dataset",
]
