"""Inference from a run folder: `load_run(run_dir)` and `keras-resnets predict`.

A run folder of `keras-resnets train` holds the model (`best.keras`,
`last.keras`) and, in `preprocessing.json`, what evaluation feeds it:

```json
{"preset": "cifar", "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616],
 "image_size": 224, "input_shape": [32, 32, 3], "class_names": ["airplane", ...],
 "num_classes": 10}
```

Runs written before `preprocessing.json` existed are read from their
`config.yaml` (`data.preset`, `data.mean`, `data.std`, `data.image_size`);
their class names are unknown and become `"0"`, ..., `"N-1"` (with a
warning).

Images are preprocessed by the evaluation transform of the input pipelines
themselves (`training=False`; numpy's `numpy_pipeline.transform`, equal to
the tf.data pipeline's to the bit, and tf.data's resizing for `"imagenet"`,
which needs TensorFlow), so `predict` feeds the model exactly what
`model.evaluate` on the run's test pipeline does: `"cifar"` normalises with the run's per-channel statistics, `"svhn"`
scales to `[0, 1]`, `"imagenet"` resizes the shorter side to
`round(image_size * 256 / 224)`, takes the central `image_size` crop and
normalises, `"none"` passes `[0, 255]` pixels (normalised when the run has
statistics). Files are decoded with PIL as RGB, which gives the same pixels
as the pipeline's TensorFlow decoder for JPEG (libjpeg's accurate DCT) and
the lossless formats.

This module imports nothing heavy at import time (keras, TensorFlow and PIL
are imported inside the functions), so `add_predict_arguments` can build a
parser cheaply; note that `import keras_resnets` itself still imports keras.
"""

import json
import pathlib
import warnings

import numpy as np

PREPROCESSING_FILE = "preprocessing.json"
PREPROCESSING_KEYS = (
    "preset", "mean", "std", "image_size", "input_shape", "class_names", "num_classes",
)
WHICH = ("best", "last")
IMAGE_FORMATS = "JPEG, PNG, BMP or GIF"


# === Loading a run ===


def load_run(run_dir, which="best"):
    """Loads a trained model with the preprocessing and class names of its run.

    Importing `keras_resnets` registers its custom layers, which loading a
    `.keras` file of its models needs; `load_run` does that itself. The model
    is loaded without its training configuration (`compile=False`).

    Args:
        run_dir: a run folder written by `keras-resnets train`, or a `.keras`
            file inside one.
        which: `"best"` (`best.keras`, the best validation accuracy) or
            `"last"` (`last.keras`, the last epoch). Ignored when `run_dir`
            is a `.keras` file.

    Returns:
        A `Predictor`.

    Raises:
        FileNotFoundError: no run folder, no `<which>.keras` in it, or
            neither `preprocessing.json` nor `config.yaml`.
        ValueError: a bad `which` or an unreadable `preprocessing.json` /
            `config.yaml`.

    Example:

    >>> run = keras_resnets.load_run("runs/resnet-20_cifar10")
    >>> run.predict_files(["cat.png"], top_k=3)
    """
    if which not in WHICH:
        raise ValueError(
            f"Invalid value received for argument `which`. Expected one of {WHICH}. "
            f"Received: which={which!r}"
        )
    model_path, folder = _model_path(run_dir, which)
    metadata = _read_metadata(folder)

    import keras

    import keras_resnets  # noqa: F401  (registers the custom layers)

    model = keras.saving.load_model(str(model_path), compile=False)
    class_names = metadata.pop("class_names")
    if class_names is None:
        num_classes = int(model.output_shape[-1])
        class_names = [str(i) for i in range(num_classes)]
        warnings.warn(
            f"{folder} has no {PREPROCESSING_FILE} (a run from before it existed): class "
            f"names are unknown, using '0'..'{num_classes - 1}'.",
            stacklevel=2,
        )
    return Predictor(model, class_names=class_names, model_path=str(model_path), **metadata)


def _model_path(run_dir, which):
    path = pathlib.Path(run_dir).expanduser()
    if path.is_file():
        if path.suffix != ".keras":
            raise ValueError(
                "Expected a run folder or a `.keras` file. "
                f"Received: run_dir={str(run_dir)!r}"
            )
        return path, path.parent
    if not path.is_dir():
        raise FileNotFoundError(
            f"No run folder at {str(path)!r}. Expected a folder written by "
            "`keras-resnets train` (holding best.keras / last.keras) or a .keras file."
        )
    model_path = path / f"{which}.keras"
    if not model_path.is_file():
        present = sorted(p.name for p in path.glob("*.keras") if not p.name.startswith("."))
        if present:
            hint = f"it holds {', '.join(present)}"
            other = WHICH[1 - WHICH.index(which)]
            if f"{other}.keras" in present:
                hint += f": use which={other!r} (--{other})"
        else:
            hint = "it holds no .keras model (has training saved an epoch yet?)"
        raise FileNotFoundError(f"No model {model_path.name} in run folder {str(path)!r}; {hint}.")
    return model_path, path


def _read_metadata(folder):
    """The preprocessing of a run: `preprocessing.json`, else `config.yaml`."""
    json_file = folder / PREPROCESSING_FILE
    if json_file.is_file():
        try:
            meta = json.loads(json_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{json_file} is not valid JSON: {e}") from None
        missing = [k for k in PREPROCESSING_KEYS if not isinstance(meta, dict) or k not in meta]
        if missing:
            raise ValueError(
                f"{json_file} lacks the keys {missing}. Expected a JSON object with the "
                f"keys {list(PREPROCESSING_KEYS)}."
            )
        class_names = meta["class_names"]
        if class_names is not None and (
            not isinstance(class_names, list) or len(class_names) != meta["num_classes"]
        ):
            raise ValueError(
                f"{json_file}: `class_names` must be a list of `num_classes` "
                f"({meta['num_classes']}) names. Received: class_names={class_names!r}"
            )
        return dict(
            preset=meta["preset"], mean=meta["mean"], std=meta["std"],
            image_size=meta["image_size"], class_names=class_names,
        )
    config_file = folder / "config.yaml"
    if config_file.is_file():
        return _metadata_from_config(config_file)
    raise FileNotFoundError(
        f"Run folder {str(folder)!r} has neither {PREPROCESSING_FILE} nor config.yaml, "
        "so the images' preprocessing is unknown. Expected a folder written by "
        "`keras-resnets train`."
    )


def _metadata_from_config(config_file):
    import yaml

    from keras_resnets.training.config import config_from_dict

    try:
        raw = yaml.safe_load(config_file.read_text())
        data = config_from_dict(raw, check_paths=False).data
    except (yaml.YAMLError, ValueError, TypeError) as e:
        raise ValueError(f"Cannot read the preprocessing from {config_file}: {e}") from None
    return dict(
        preset=data.preset, mean=data.mean, std=data.std, image_size=data.image_size,
        class_names=None, source=data.source,
    )


def _infer_preset(source, input_shape):
    """`data.infer_preset` for a run whose config.yaml left `data.preset`
    unset: the data set's name and the model's input size decide."""
    import types

    from keras_resnets import data as data_lib
    from keras_resnets.data import datasets

    source = str(source or "")
    path = pathlib.Path(source)
    name = datasets._strip_suffix(path.name) if datasets._looks_like_path(source) else source
    return data_lib.infer_preset(types.SimpleNamespace(name=name, image_shape=input_shape))


# === Predictor ===


class Predictor:
    """A Keras classifier with the preprocessing and class names of its run.

    Args:
        model: a Keras model with a classifier head, `(N, H, W, 3)` in.
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
            raise ValueError(
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
            raise ValueError(
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
            raise ValueError(
                "Invalid value received for argument `image_size`. Expected a positive "
                f"int. Received: image_size={image_size!r}"
            )
        self.image_size = int(image_size)
        if class_names is None:
            class_names = [str(i) for i in range(self.num_classes)]
        class_names = [str(c) for c in class_names]
        if len(class_names) != self.num_classes:
            raise ValueError(
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
        images = _as_image_list(images)
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
                raise ValueError(
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
            raise ValueError(
                "Invalid value received for argument `batch_size`. Expected a positive "
                f"int. Received: batch_size={batch_size!r}"
            )
        images = _as_image_list(images)
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
            raise ValueError("Expected at least one image file. Received: paths=[]")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(
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


def _as_image_list(images):
    """A list of uint8 `(H, W, 3)` arrays."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    elif isinstance(images, np.ndarray) or not isinstance(images, (list, tuple)):
        images = [images]
    out = []
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise ValueError(
                "Expected uint8 images (pixel values 0-255), as decoded from image files. "
                f"Received: image {i} of dtype={image.dtype}"
            )
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or 0 in image.shape:
            raise ValueError(
                "Expected images of shape (H, W, C) with C = 1, 3 or 4, or a batch "
                f"(N, H, W, C). Received: image {i} of shape={image.shape}"
            )
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        out.append(image[..., :3])
    if not out:
        raise ValueError("Expected at least one image. Received: an empty batch")
    return out


def read_image(path):
    """Decodes an image file into a uint8 RGB array `(H, W, 3)` with PIL.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is not a JPEG, PNG, BMP or GIF image.
    """
    from PIL import Image
    from PIL import UnidentifiedImageError

    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {str(path)!r}.")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(
            f"Cannot decode {str(path)!r} as an image ({type(e).__name__}). "
            f"Expected a {IMAGE_FORMATS} file."
        ) from None


# === Command line ===


def add_predict_arguments(subparsers):
    """Adds the `predict` subcommand to an argparse `subparsers`."""
    predict = subparsers.add_parser(
        "predict", help="top-k classes of image files with a run folder's model"
    )
    predict.add_argument("run", help="run folder of `keras-resnets train` (or a .keras in one)")
    predict.add_argument("images", nargs="+", help=f"image files ({IMAGE_FORMATS})")
    predict.add_argument("--top-k", type=int, default=5, help="classes shown per image (default 5)")
    which = predict.add_mutually_exclusive_group()
    which.add_argument("--best", dest="which", action="store_const", const="best",
                       help="use best.keras (the default)")
    which.add_argument("--last", dest="which", action="store_const", const="last",
                       help="use last.keras")
    predict.set_defaults(which="best")
    predict.add_argument("--batch-size", type=int, default=32, help="images per model call")
    predict.add_argument("--json", action="store_true", help="one JSON object per image and line")
    return predict


def format_prediction(result):
    """One human-readable line: `path: name 0.9123, name 0.0456, ...`."""
    classes = ", ".join(
        f"{p['class_name']} {p['probability']:.4f}" for p in result["predictions"]
    )
    return f"{result['path']}: {classes}"


def run_predict(args):
    """Runs `keras-resnets predict` for parsed `args`; prints one line per
    image and returns the exit status (0). Warnings (e.g. unknown class
    names) go to stderr as one line each."""
    import sys

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        predictor = load_run(args.run, which=args.which)
    for w in caught:
        print(f"keras-resnets: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    results = predictor.predict_files(
        args.images, top_k=args.top_k, batch_size=getattr(args, "batch_size", 32)
    )
    for result in results:
        print(json.dumps(result) if args.json else format_prediction(result))
    return 0


__all__ = ["Predictor", "add_predict_arguments", "format_prediction", "load_run",
           "read_image", "run_predict"]
