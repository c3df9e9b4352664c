"""`DataSettings`: the data settings a run names, in one record.

The fields a run's `data:` config section sets besides its `source`
(`training.config_sections.DataConfig` is this record plus `source`) and
the first fields of `build.DataOptions` (this record plus what the
training loop decides: batch size, replicas, seed, ...). One schema, typed
for the config checks (`Literal` choices), with the defaults of both
loaders (`presets.PREPROCESSING_DEFAULTS` reads its own from here).

Standard library only: the config layer reads it without numpy or keras.
"""

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Where the images come from and how they are augmented.

    Attributes:
        data_dir: tensorflow-datasets data directory.
        cache_dir: decoded-array cache (default `~/.cache/keras_resnets`;
            `build_datasets` also takes False: no cache).
        preset: `cifar`, `svhn`, `imagenet`, `none`; None infers it from
            the data set (`presets.infer_preset`).
        validation_size: examples (int) or fraction held out of `train`
            (e.g. 5000 for He et al.'s 45k/5k CIFAR split).
        validation_method: `last` (He 2015's 45k/5k) or `random` (seeded).
        padding, padding_mode: CIFAR pad-and-crop (`constant` or `reflect`).
        mean, std: per-channel statistics on the [0, 1] scale, a name
            (`cifar10`, `cifar100`, `imagenet`) or None (computed from the
            training images for the CIFAR preset, the same values for all
            three sets; the run folder's config.yaml records the values
            used).
        image_size, scale_range, lighting_std: ImageNet preset options.
        eval_batch_size: batch of the evaluation sets per replica (default:
            the training batch size).
        train_limit, test_limit: use only the first N training / evaluation
            examples (quick runs).
        skip_corrupt: skip image files that cannot be decoded, printing how
            many, instead of stopping with a `CorruptImagesError` that names
            them (default false).
        loader: `auto` (tf.data when TensorFlow is installed, else numpy),
            `tf` (tf.data) or `numpy` (a keras `PyDataset` of numpy batches:
            no TensorFlow needed; presets cifar, svhn, none; the same
            evaluation images, augmentation with numpy's random draws).
        augment_on: `auto` (default: `device` where the backend sees a GPU
            and the preset allows it, `host` elsewhere; config.yaml records
            the choice), `host` (the loader normalises and augments, float32
            batches) or `device`: the training batches are the uint8 pixels
            and the compiled train step normalises, pads, crops and flips
            them on the accelerator (`training.device_input`; a quarter of
            the bytes to ship, no host augmentation). Presets cifar, svhn,
            none; evaluation is preprocessed on the host either way, and
            `tune` always augments on the host.
    """

    data_dir: str | None = None
    cache_dir: str | None = None
    preset: Literal["cifar", "svhn", "imagenet", "none"] | None = None
    validation_size: int | float = 0
    validation_method: Literal["last", "random"] = "last"
    padding: int = 4
    padding_mode: Literal["constant", "reflect"] = "constant"
    mean: str | float | list[float] | None = None
    std: str | float | list[float] | None = None
    image_size: int = 224
    scale_range: list[int] = (256, 480)
    lighting_std: float = 0.1
    eval_batch_size: int | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    skip_corrupt: bool = False
    loader: Literal["auto", "tf", "numpy"] = "auto"
    augment_on: Literal["auto", "host", "device"] = "auto"

    def settings(self):
        """`{name: value}` of the `DataSettings` fields (a subclass's own
        fields left out)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(DataSettings)}
