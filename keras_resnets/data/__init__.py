"""Data sets and tf.data input pipelines (the only package that imports
tensorflow, besides the distribution code in `training/`).

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
* `build_datasets(source, *, batch_size=128, eval_batch_size=None,
  preset=None, validation_size=0, validation_method="last", mean=None,
  std=None, seed=0, drop_remainder=False, repeat=False, data_dir=None,
  cache_dir=None, download=True, skip_corrupt=False, **pipeline_kwargs)
  -> (train_ds, val_ds, test_ds, info)`.
* `DatasetInfo` (`name`, `num_classes`, `class_names`, `image_shape`,
  `num_examples`, `lossy`), `DataUnavailableError` (a `RuntimeError`, raised
  when a tensorflow-datasets set cannot be loaded, e.g. offline),
  `CorruptImagesError` (a `ValueError` naming undecodable files), `infer_preset`,
  `compute_mean_std`, and the constants `CIFAR10_MEAN`, `CIFAR10_STD`,
  `CIFAR100_MEAN`, `CIFAR100_STD`, `IMAGENET_MEAN`, `IMAGENET_STD`.

Example:

```python
from keras_resnets import data

train_ds, val_ds, test_ds, info = data.build_datasets(
    "../shared/data/cifar10-jpg.tar.gz", batch_size=128, validation_size=5000
)
model.fit(train_ds, validation_data=val_ds, epochs=...)
```
"""

from keras_resnets.data.augment import CIFAR10_MEAN
from keras_resnets.data.augment import CIFAR10_STD
from keras_resnets.data.augment import CIFAR100_MEAN
from keras_resnets.data.augment import CIFAR100_STD
from keras_resnets.data.augment import IMAGENET_MEAN
from keras_resnets.data.augment import IMAGENET_STD
from keras_resnets.data.augment import compute_mean_std
from keras_resnets.data.datasets import CorruptImagesError
from keras_resnets.data.datasets import DataUnavailableError
from keras_resnets.data.datasets import DatasetInfo
from keras_resnets.data.datasets import load_arrays
from keras_resnets.data.pipeline import build_datasets
from keras_resnets.data.pipeline import infer_preset
from keras_resnets.data.pipeline import make_dataset

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CorruptImagesError",
    "DataUnavailableError",
    "DatasetInfo",
    "build_datasets",
    "compute_mean_std",
    "infer_preset",
    "load_arrays",
    "make_dataset",
]
