"""Augmentation on the accelerator (`data.augment_on: device`).

With the host pipelines (`keras_resnets.data`) the host normalises, pads,
crops and flips every training batch and ships float32 pixels: four bytes a
channel, and host work that a GPU training ResNet-20 at tens of thousands of
images a second outruns. With `augment_on: device` the training pipeline
ships the uint8 pixels as they are read, and `DeviceAugmentedModel` does the
same preprocessing as the first ops of the compiled train step:

    uint8 -> x * scale + offset   (keras.layers.Rescaling: (x/255 - mean)/std)
          -> RandomPadCrop         (pad with 0 after normalisation: the mean colour)
          -> RandomFlip            (horizontal, per image)

the same distribution as the host pipelines' (not the same draws). Every op
is `keras.ops`/`keras.random`, so it is the same on TensorFlow, JAX and
PyTorch, seeded by `training.seed`, and per replica under a `tf.distribute`
strategy (`RandomPadCrop` by itself, Keras's `RandomFlip` through
`distribute.per_replica_seeds`).

Only the training set is shipped raw; validation and test batches are the
host's float32 ones and pass through unchanged, so `evaluate`, `predict`
and the saved models see exactly what they see without this option. The
files the run writes (`last.keras`, `best.keras`) hold the model alone
(`deployed_model`), never the wrapper.
"""

import keras

from keras_resnets.layers.augmentation import RandomPadCrop


class DeviceAugmentedModel(keras.Model):
    """The model `fit` trains when the host ships uint8 training batches.

    Args:
        model: the model being trained (its weights are this model's).
        spec: `Datasets.device_preprocessing` (`data.build.device_preprocessing`):
            `scale`, `offset` (per channel), `augment` (whether to pad, crop
            and flip: the CIFAR preset), `padding`, `padding_mode`.
        seed: int, seed of the crop offsets (the flips use `seed + 1`).

    Call: uint8 images are normalised (and augmented when `training`);
    float images are taken as already preprocessed and go to `model` as
    they are.
    """

    def __init__(self, model, spec, seed=None, **kwargs):
        super().__init__(name=kwargs.pop("name", "device_augmented"), **kwargs)
        self.network = model
        # float32 whatever the policy: the host pipelines normalise in float32.
        self.normalize = keras.layers.Rescaling(
            spec["scale"], spec["offset"], dtype="float32", name="normalize"
        )
        self.augment = None
        if spec["augment"]:
            self.augment = [
                RandomPadCrop(spec["padding"], spec["padding_mode"], seed=seed,
                              dtype="float32", name="random_pad_crop"),
                keras.layers.RandomFlip("horizontal", seed=None if seed is None else seed + 1,
                                        dtype="float32", name="random_flip"),
            ]

    @property
    def deployed_model(self):
        """The model being trained, without the input stage."""
        return self.network

    def build(self, input_shape):
        self.network.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        if keras.backend.standardize_dtype(inputs.dtype) == "uint8":
            inputs = self.normalize(inputs)
            if training and self.augment is not None:
                for layer in self.augment:
                    inputs = layer(inputs, training=True)
        return self.network(inputs, training=training)


def deployed_model(model):
    """The model a run saves: `model` itself, or the trained model inside a
    `DeviceAugmentedModel`."""
    return getattr(model, "deployed_model", model)


def wrap(model, datasets, seed):
    """`model` wrapped for `datasets` when they ship uint8 training batches
    (`datasets.augment_on == "device"`), else `model` unchanged."""
    spec = datasets.device_preprocessing
    if spec is None:
        return model
    wrapped = DeviceAugmentedModel(model, spec, seed=seed)
    wrapped.build((None, *datasets.input_shape))
    return wrapped


__all__ = ["DeviceAugmentedModel", "deployed_model", "wrap"]
