"""`Predictor`: a classifier with its run's evaluation preprocessing and
class names."""

import pathlib

import numpy as np

from keras_resnets.inference.images import as_image_list
from keras_resnets.inference.images import read_image
from keras_resnets.errors import UserValueError


class Predictor:
    """A Keras classifier with the preprocessing and class names of its run.

    Args:
        model: a Keras model with a classifier head, `(N, H, W, 3)` in, or
            an `inference.openvino.OpenVINOModel` of one.
        preset: `"cifar"`, `"svhn"`, `"imagenet"` or `"none"`: the evaluation
            transform of `keras_resnets.data.make_dataset`. None infers it as
            `keras-resnets train` did (from `source` and the input size).
        mean: per-channel mean on the `[0, 1]` scale (3 floats) or a name
            (`"cifar10"`, `"cifar100"`, `"imagenet"`); None for the preset's
            default (required for `"cifar"`).
        std: as `mean`.
        image_size: int, the `"imagenet"` preset's crop size (None, as
            `preprocessing.json` has it for the other presets: unused).
        class_names: sequence of `num_classes` names; defaults to
            `"0"`, ..., `"N-1"`.
        model_path: str, where the model was loaded from (informative).
        source: the run's `data.source`, only used to infer a missing
            `preset`.

    Attributes:
        model, preset, mean, std, image_size, class_names, num_classes,
        input_shape (`(H, W, C)` of the model), output_activation (the
        classifier's activation), outputs_logits (True when `predict`
        applies the softmax), model_path.
    """

    def __init__(self, model, *, preset="cifar", mean=None, std=None, image_size=224,
                 class_names=None, model_path=None, source=None):
        from keras_resnets.data import presets

        self.model = model
        self.model_path = model_path
        output_shape = tuple(model.output_shape)
        if len(output_shape) != 2:
            raise UserValueError(
                "Expected a classifier whose output is (batch, num_classes); build the "
                f"model with include_top=True. Received: output_shape={output_shape}"
            )
        self.num_classes = int(output_shape[-1])
        self.input_shape = tuple(model.input_shape[1:])
        if preset is None:
            preset = _infer_preset(source, self.input_shape)
        presets.check_choice("preset", preset, presets.PRESETS)
        named = isinstance(mean, str) or isinstance(std, str)
        if preset == "cifar" and not named and (mean is None or std is None):
            raise UserValueError(
                'preset="cifar" normalises with the training set\'s per-channel '
                "statistics, which the run must record. Received: "
                f"mean={mean!r}, std={std!r}"
            )
        mean, std = presets.resolve_statistics(preset, None, mean, std)
        self.preset = preset
        self.mean = None if mean is None else [float(v) for v in np.ravel(mean)]
        self.std = None if std is None else [float(v) for v in np.ravel(std)]
        if image_size is None and preset != "imagenet":
            # Only the imagenet preset crops; train writes null for the others.
            image_size = self.input_shape[0] or 224
        if not isinstance(image_size, (int, np.integer)) or image_size < 1:
            raise UserValueError(
                "Invalid value received for argument `image_size`. Expected a positive "
                f"int. Received: image_size={image_size!r}"
            )
        self.image_size = int(image_size)
        if class_names is None:
            class_names = [str(i) for i in range(self.num_classes)]
        class_names = [str(c) for c in class_names]
        if len(class_names) != self.num_classes:
            raise UserValueError(
                f"Expected {self.num_classes} class names (the model's outputs). "
                f"Received: {len(class_names)} class_names={class_names!r}"
            )
        self.class_names = tuple(class_names)
        self.output_activation = _output_activation(model)
        self.outputs_logits = self.output_activation in ("linear", None)

    def __repr__(self):
        return (
            f"Predictor(model={self.model.name!r}, preset={self.preset!r}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"model_path={self.model_path!r})"
        )

    def preprocess(self, images, *, names=None):
        """The model's input for `images`, as the evaluation pipeline makes it.

        Args:
            images: one uint8 image `(H, W, C)` (C = 1, 3 or 4; alpha is
                dropped, grey is repeated, as the pipeline's decoder does),
                a uint8 batch `(N, H, W, C)`, or a list of images (of any
                sizes for the `"imagenet"` preset).
            names: optional list of one name per image, used in errors.

        Returns:
            float32 array `(N, H, W, 3)`.
        """
        images = as_image_list(images)
        if names is None:
            names = [f"image {i}" for i in range(len(images))]
        if self.preset == "imagenet":
            import tensorflow as tf

            from keras_resnets.data import pipeline

            transform = pipeline._element_transform(
                preset="imagenet", training=False, mean=self.mean, std=self.std,
                image_size=self.image_size, scale_range=None, lighting_std=0.0,
            )
            return np.stack([
                transform((tf.constant(image), 0), None)[0].numpy() for image in images
            ])
        expected = tuple(self.input_shape[:2])
        for image, name in zip(images, names):
            size = image.shape[:2]
            if None not in expected and size != expected:
                raise UserValueError(
                    f"{name} is {size[0]}x{size[1]} but the model takes {expected[0]}x"
                    f"{expected[1]} images (preset {self.preset!r} does not resize). "
                    f"Received: shape={image.shape}"
                )
        from keras_resnets.data import numpy_pipeline

        # The evaluation transform, bit-equal to the tf.data pipeline's.
        return numpy_pipeline.transform(
            np.stack(images), preset=self.preset, training=False, mean=self.mean, std=self.std
        )

    def predict(self, images, *, batch_size=32):
        """Class probabilities of images.

        A softmax is applied when the model outputs logits (a linear
        classifier, as `keras-resnets train` builds); a softmax classifier's
        outputs are returned as they are.

        Args:
            images: as for `preprocess` (uint8 pixels).
            batch_size: int, images per model call. Defaults to 32.

        Returns:
            float32 array `(N, num_classes)` (a single image gives N = 1).
        """
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise UserValueError(
                "Invalid value received for argument `batch_size`. Expected a positive "
                f"int. Received: batch_size={batch_size!r}"
            )
        images = as_image_list(images)
        return self._predict(images, [f"image {i}" for i in range(len(images))], batch_size)

    def _predict(self, images, names, batch_size):
        outputs = []
        for start in range(0, len(images), batch_size):
            x = self.preprocess(images[start : start + batch_size],
                                names=names[start : start + batch_size])
            outputs.append(np.asarray(self.model.predict_on_batch(x), np.float64))
        out = np.concatenate(outputs)
        if self.outputs_logits:
            out = np.exp(out - out.max(axis=-1, keepdims=True))
            out /= out.sum(axis=-1, keepdims=True)
        return out.astype(np.float32)

    def predict_files(self, paths, *, top_k=5, batch_size=32):
        """The `top_k` most probable classes of each image file.

        Args:
            paths: an image file path (JPEG, PNG, BMP or GIF) or a list of them.
            top_k: int >= 1, classes per image (at most `num_classes`).
                Defaults to 5.
            batch_size: int, images decoded and predicted at a time.

        Returns:
            One dict per file, in order: `{"path": str, "predictions":
            [{"class_name": str, "index": int, "probability": float}, ...]}`,
            most probable first.
        """
        if isinstance(paths, (str, pathlib.PurePath)):
            paths = [paths]
        paths = [str(p) for p in paths]
        if not paths:
            raise UserValueError("Expected at least one image file. Received: paths=[]")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise UserValueError(
                "Invalid value received for argument `top_k`. Expected an int >= 1. "
                f"Received: top_k={top_k!r}"
            )
        k = min(int(top_k), self.num_classes)
        results = []
        for start in range(0, len(paths), batch_size):
            chunk = paths[start : start + batch_size]
            probs = self._predict([read_image(p) for p in chunk], chunk, batch_size)
            for path, p in zip(chunk, probs):
                order = np.argsort(-p, kind="stable")[:k]
                results.append({
                    "path": path,
                    "predictions": [
                        {"class_name": self.class_names[i], "index": int(i),
                         "probability": float(p[i])}
                        for i in order
                    ],
                })
        return results


def _output_activation(model):
    """The classifier's activation: our models record it; otherwise the last
    layer's (a Softmax layer counts as "softmax")."""
    import keras

    activation = getattr(model, "classifier_activation", None)
    if activation is None:
        layer = model.layers[-1]
        if isinstance(layer, keras.layers.Softmax):
            return "softmax"
        activation = layer.get_config().get("activation", "linear")
    if isinstance(activation, dict):  # a serialized activation object
        activation = activation.get("config", {}).get("name") or activation.get("class_name")
    if callable(activation):
        activation = getattr(activation, "__name__", None)
    return activation


def _infer_preset(source, input_shape):
    """`data.infer_preset` for a run whose config.yaml left `data.preset`
    unset: the data set's name and the model's input size decide."""
    import types

    from keras_resnets import data as data_lib
    from keras_resnets.data import archives

    source = str(source or "")
    path = pathlib.Path(source)
    name = archives.strip_suffix(path.name) if archives.looks_like_path(source) else source
    return data_lib.infer_preset(types.SimpleNamespace(name=name, image_shape=input_shape))
