"""Export for deployment: TensorFlow SavedModel and ONNX, through Keras's
own `model.export` (no converter code of ours).

`keras_resnets.export_model(model, path)` and `keras-resnets export` take a
model, a `.keras` file or a run folder (loaded with `inference.load_run`,
so this module sits above the run-folder code, not in `weights`).

- `format="savedmodel"`: `model.export(path, format="tf_saved_model")`, an
  inference-only SavedModel for TF-Serving / `tf.saved_model.load` with one
  `serve` endpoint. Needs TensorFlow (a dependency of this package); works
  on the TensorFlow and JAX backends (PyTorch: a one-line ValueError that
  points to ONNX).
- `format="onnx"`: `model.export(path, format="onnx")`, with a dynamic
  batch size. Keras converts with `tf2onnx` on TensorFlow
  (`pip install "keras_resnets[export]"`: tf2onnx, onnx, onnxruntime), with
  `jax2onnx` on JAX (`[export-jax]`) and with `torch.onnx` on PyTorch
  (`[export-torch]`: onnx). Run the file with `onnxruntime`.
- `format="openvino"`: `model.export(path, format="openvino")`, OpenVINO IR
  (`path` ends in `.xml`; the weights go to the `.bin` beside it) with a
  dynamic batch size, through `inference.openvino.export_openvino`. Works
  on TensorFlow and PyTorch (`torch.jit.trace`); on JAX a one-line
  ValueError (jax2tf's XlaCallModule, which OpenVINO cannot convert) says
  to export from TensorFlow; needs `pip install "keras-resnets[deploy]"`.
  Run it with `openvino.Core().compile_model` or
  `inference.openvino.OpenVINOModel("model.xml")`. The model is exported as
  it is: OpenVINO's converter folds the BatchNormalizations into the
  convolutions itself.

The exported model is the network alone: it takes images already
normalised as in training (a run folder's `preprocessing.json` gives the
mean, std and input size) and returns what the model returns: logits for a
run folder's models (`keras-resnets train` builds them with
`classifier_activation="linear"`), softmax probabilities for `create_model`'s
default (`classifier_activation="softmax"`).
"""

import importlib
import os
import tempfile

from keras_resnets.errors import MissingExtraError
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

FORMATS = ("savedmodel", "onnx", "openvino")
# Python packages `model.export(format="onnx")` needs, per Keras backend (Keras
# 3.15: tf2onnx on TensorFlow, jax2onnx on JAX, torch.onnx's TorchScript
# exporter on PyTorch for a dynamic batch size), and the extra installing them.
_ONNX_REQUIREMENTS = {
    "tensorflow": ("tf2onnx", "onnx"),
    "jax": ("jax2onnx", "onnx"),
    "torch": ("onnx",),
}
_ONNX_EXTRAS = {"tensorflow": "export", "jax": "export-jax", "torch": "export-torch"}


def _missing_modules(names):
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def check_output(path, format):
    """Raises a ValueError, before any model is loaded, when `path` cannot
    be written: a file where a SavedModel folder goes (or a folder where an
    ONNX file goes), a file in the way of its folder, or a folder that does
    not take new files (read-only, no permission, /proc). Creates the
    missing parent folders, as the export would.
    """
    path = os.path.abspath(os.fspath(path))
    if format == "savedmodel" and os.path.isfile(path):
        raise UserValueError(
            f"Cannot export to {path!r}: it is a file, and a SavedModel is a folder. "
            "Expected a new or existing folder."
        )
    if format == "onnx" and os.path.isdir(path):
        raise UserValueError(
            f"Cannot export to {path!r}: it is a folder, and ONNX export writes one file. "
            "Expected a file path such as model.onnx."
        )
    if format == "openvino" and (os.path.isdir(path) or not path.endswith(".xml")):
        raise UserValueError(
            f"Cannot export to {path!r}: OpenVINO IR is an .xml file with a .bin beside it. "
            "Expected a file path such as model.xml."
        )
    parent = os.path.dirname(path)
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UserValueError(
            f"Cannot export to {path!r}: {existing!r} is a file, not a folder. "
            "Expected a path in a writable folder."
        )
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserValueError(
            f"Cannot export to {path!r}: the folder {parent!r} does not take new files "
            f"({reason}). Expected a path in a writable folder."
        ) from None


def check_source(source):
    """Raises a TypeError / ValueError unless `source` is a `keras.Model`,
    an existing `.keras` file or a folder (read nothing)."""
    if hasattr(source, "export") and hasattr(source, "inputs"):  # a keras.Model
        return
    if not isinstance(source, (str, os.PathLike)):
        raise UserTypeError(
            "`model` must be a keras.Model, a .keras file or a run folder. "
            f"Received: model={source!r}"
        )
    path = os.fspath(source)
    if not os.path.isdir(path) and (not os.path.isfile(path) or not path.endswith(".keras")):
        raise UserValueError(
            "`model` must be a keras.Model, an existing .keras file or a run folder. "
            f"Received: model={path!r}"
            + ("" if os.path.exists(path) else " (no such file or folder)")
        )


def load_for_export(source, which="best"):
    """A `keras.Model` from a model, a `.keras` file or a run folder.

    Args:
        source: a `keras.Model`, the path to a `.keras` file, or a run
            folder written by `keras-resnets train`.
        which: "best" or "last", the run folder's model to take (a run
            without best.keras falls back to last.keras with a warning; see
            `inference.load_run`).
    """
    import keras

    if isinstance(source, keras.Model):
        return source
    check_source(source)
    path = os.fspath(source)
    if os.path.isdir(path):
        from keras_resnets.inference import load_run

        return load_run(path, which=which).model
    import keras_resnets  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=False)


def export_model(model, path, format="savedmodel", *, which="best", verbose=False):
    """Exports a model for inference as a SavedModel, an ONNX file or
    OpenVINO IR.

    Args:
        model: a `keras.Model`, a `.keras` file or a run folder.
        path: output: a folder for "savedmodel", a file (`.onnx`) for "onnx",
            an `.xml` file for "openvino" (the `.bin` is written beside it).
        format: "savedmodel", "onnx" or "openvino".
        which: with a run folder, its "best" or "last" model.
        verbose: let Keras print its export messages.

    Returns:
        `path`.

    Raises:
        ValueError: unknown format, a bad `model`, an output that cannot be
            written (`check_output`), or SavedModel on the PyTorch backend.
        ImportError: a converter the backend needs is not installed; the
            message names the pip packages.

    Example:
    >>> model = keras_resnets.create_model("resnet-20")
    >>> export_model(model, "resnet20_savedmodel")
    >>> export_model(model, "resnet20.onnx", format="onnx")
    >>> export_model(model, "resnet20.xml", format="openvino")
    """
    if format not in FORMATS:
        raise UserValueError(
            f"`format` must be one of {FORMATS}. Received: format={format!r}"
        )
    check_source(model)
    check_output(path, format)
    import keras

    backend = keras.backend.backend()
    if format == "savedmodel" and backend not in ("tensorflow", "jax"):
        raise UserValueError(
            "SavedModel export runs on the tensorflow and jax backends (Keras's "
            f"model.export(format='tf_saved_model')); this is {backend!r}. Use "
            "format='onnx' (--format onnx), or KERAS_BACKEND=tensorflow."
        )
    if format == "onnx":
        needed = _ONNX_REQUIREMENTS.get(backend)
        if needed is None:
            raise UserValueError(
                f"Keras exports ONNX on the tensorflow, jax and torch backends; "
                f"this is {backend!r}."
            )
        missing = _missing_modules(needed)
        if missing:
            raise MissingExtraError(
                f"ONNX export on the {backend} backend needs {', '.join(needed)}: "
                f"pip install {' '.join(missing)} (or pip install "
                f"'keras_resnets[{_ONNX_EXTRAS[backend]}]')"
            )
    if format == "openvino":
        from keras_resnets.inference import openvino

        openvino.require_openvino()  # before the model is loaded
        return openvino.export_openvino(load_for_export(model, which=which), path,
                                        verbose=verbose)
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
