"""Export for deployment: TensorFlow SavedModel and ONNX, through Keras's
own `model.export` (no converter code of ours).

`keras_resnets.export_model(model, path)` and `keras-resnets export` take a
model, a `.keras` file or a run folder (loaded with `inference.load_run`,
so this module sits above the run-folder code, not in `weights`).

- `format="savedmodel"`: `model.export(path, format="tf_saved_model")`, an
  inference-only SavedModel for TF-Serving / `tf.saved_model.load` with one
  `serve` endpoint. Needs TensorFlow (a dependency of this package); works
  on the TensorFlow and JAX backends.
- `format="onnx"`: `model.export(path, format="onnx")`. On TensorFlow
  (and JAX, through jax2tf) Keras converts with `tf2onnx`
  (`pip install tf2onnx onnx`); on PyTorch it uses `torch.onnx`
  (`pip install onnx onnxscript`), with a fixed batch size of 1 (Keras's
  torch exporter has no dynamic shapes). Run the file with `onnxruntime`.

The exported model is the network alone: it takes images already
normalised as in training (a run folder's `preprocessing.json` gives the
mean, std and input size) and returns what the model returns (softmax
probabilities, or logits for `classifier_activation=None`).
"""

import importlib
import os

FORMATS = ("savedmodel", "onnx")
# Python packages `model.export(format="onnx")` needs, per Keras backend.
_ONNX_REQUIREMENTS = {
    "tensorflow": ("tf2onnx", "onnx"),
    "jax": ("tf2onnx", "onnx"),
    "torch": ("onnx", "onnxscript"),
}


def _missing_modules(names):
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def load_for_export(source, which="best"):
    """A `keras.Model` from a model, a `.keras` file or a run folder.

    Args:
        source: a `keras.Model`, the path to a `.keras` file, or a run
            folder written by `keras-resnets train`.
        which: "best" or "last", the run folder's model to take.
    """
    import keras

    if isinstance(source, keras.Model):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "`model` must be a keras.Model, a .keras file or a run folder. "
            f"Received: model={source!r}"
        )
    path = os.fspath(source)
    if os.path.isdir(path):
        from keras_resnets.inference import load_run

        return load_run(path, which=which).model
    if not os.path.isfile(path) or not path.endswith(".keras"):
        raise ValueError(
            "`model` must be a keras.Model, an existing .keras file or a run folder. "
            f"Received: model={path!r}"
            + ("" if os.path.exists(path) else " (no such file or folder)")
        )
    import keras_resnets  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=False)


def export_model(model, path, format="savedmodel", *, which="best", verbose=False):
    """Exports a model for inference as a SavedModel or an ONNX file.

    Args:
        model: a `keras.Model`, a `.keras` file or a run folder.
        path: output: a folder for "savedmodel", a file (`.onnx`) for "onnx".
        format: "savedmodel" or "onnx".
        which: with a run folder, its "best" or "last" model.
        verbose: let Keras print its export messages.

    Returns:
        `path`.

    Raises:
        ValueError: unknown format, or a bad `model`.
        ImportError: a converter the backend needs is not installed; the
            message names the pip packages.

    Example:
    >>> model = keras_resnets.create_model("resnet-20")
    >>> export_model(model, "resnet20_savedmodel")
    >>> export_model(model, "resnet20.onnx", format="onnx")
    """
    if format not in FORMATS:
        raise ValueError(
            f"`format` must be one of {FORMATS}. Received: format={format!r}"
        )
    import keras

    backend = keras.backend.backend()
    if format == "onnx":
        needed = _ONNX_REQUIREMENTS.get(backend)
        if needed is None:
            raise ValueError(
                f"Keras exports ONNX on the tensorflow, jax and torch backends; "
                f"this is {backend!r}."
            )
        missing = _missing_modules(needed)
        if missing:
            raise ImportError(
                f"ONNX export on the {backend} backend needs {', '.join(needed)}: "
                f"pip install {' '.join(missing)}"
            )
    model = load_for_export(model, which=which)
    path = os.fspath(path)
    keras_format = "tf_saved_model" if format == "savedmodel" else "onnx"
    # The input signature from the model's own inputs: Keras's ONNX exporter
    # otherwise refuses a functional model never called (fresh or loaded).
    signature = [
        keras.InputSpec(shape=(None,) + tuple(t.shape[1:]), dtype=t.dtype, name=t.name)
        for t in model.inputs
    ]
    model.export(
        path, format=keras_format, verbose=verbose,
        input_signature=[signature[0] if len(signature) == 1 else signature],
    )
    return path
