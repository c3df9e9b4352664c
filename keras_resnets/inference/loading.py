"""A run folder's model and preprocessing: `load_run` (see the package
docstring for `preprocessing.json` and the `config.yaml` fallback)."""

import json
import pathlib
import warnings

from keras_resnets.inference.predictor import Predictor
from keras_resnets.errors import UserFileNotFoundError
from keras_resnets.errors import UserValueError

PREPROCESSING_FILE = "preprocessing.json"
PREPROCESSING_KEYS = (
    "preset", "mean", "std", "image_size", "input_shape", "class_names", "num_classes",
)
WHICH = ("best", "last")
RUNTIMES = ("keras", "openvino")


class RunFileWarning(UserWarning):
    """A run folder lacks the model asked for (`best.keras`) and its
    `last.keras` is used instead; the command line prints it as one line."""


def run_model_file(run_dir, which="best"):
    """The `.keras` file of a run folder (or the `.keras` file given).

    `which="best"` falls back to `last.keras`, with a `RunFileWarning`,
    when the run has no `best.keras` (no epoch was evaluated yet).

    Returns:
        `(model file, run folder)` as `pathlib.Path`s.

    Raises:
        FileNotFoundError: no such folder, or neither model in it.
        ValueError: a file that is not a `.keras` file.
    """
    return _model_path(run_dir, which)


def load_run(run_dir, which="best", *, runtime="keras", precision=None, threads=None):
    """Loads a trained model with the preprocessing and class names of its run.

    Importing `keras_resnets` registers its custom layers, which loading a
    `.keras` file of its models needs; `load_run` does that itself. The model
    is loaded without its training configuration (`compile=False`).

    With `runtime="openvino"` the Keras model is converted with Keras's
    exporter and run by the OpenVINO runtime (`inference.openvino.
    OpenVINOModel`; `pip install "keras-resnets[deploy]"`): the same
    preprocessing, the same top-1 in float32.

    Args:
        run_dir: a run folder written by `keras-resnets train`, or a `.keras`
            file inside one.
        which: `"best"` (`best.keras`, the best validation accuracy; a run
            without one, where no epoch was evaluated yet, gives
            `last.keras` with a `RunFileWarning`) or `"last"` (`last.keras`,
            the last epoch). Ignored when `run_dir` is a `.keras` file.
        runtime: `"keras"` (the default: the Keras model on the current
            backend) or `"openvino"`.
        precision: with `runtime="openvino"`, `"float32"` (the default)
            or `"bfloat16"` (OpenVINO's inference precision hint).
        threads: with `runtime="openvino"`, inference threads (default:
            the physical cores).

    Returns:
        A `Predictor` (its `model` is an `OpenVINOModel` with
        `runtime="openvino"`).

    Raises:
        FileNotFoundError: no run folder, no `<which>.keras` in it, or
            neither `preprocessing.json` nor `config.yaml`.
        ValueError: a bad `which`, `runtime` or `precision`, or an
            unreadable `preprocessing.json` / `config.yaml`.
        ImportError: `runtime="openvino"` without the `openvino` package.

    Example:

    >>> run = keras_resnets.load_run("runs/resnet-20_cifar10")
    >>> run.predict_files(["cat.png"], top_k=3)
    >>> fast = keras_resnets.load_run("runs/resnet-20_cifar10", runtime="openvino")
    """
    if which not in WHICH:
        raise UserValueError(
            f"Invalid value received for argument `which`. Expected one of {WHICH}. "
            f"Received: which={which!r}"
        )
    if runtime not in RUNTIMES:
        raise UserValueError(
            f"Invalid value received for argument `runtime`. Expected one of {RUNTIMES}. "
            f"Received: runtime={runtime!r}"
        )
    if runtime == "keras" and (precision is not None or threads is not None):
        raise UserValueError(
            "`precision` and `threads` apply to runtime='openvino' only. Received: "
            f"runtime='keras', precision={precision!r}, threads={threads!r}"
        )
    if runtime == "openvino":
        from keras_resnets.inference import openvino

        openvino.check_precision(precision or "float32")
        openvino.require_openvino()  # before any model is loaded
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
    if runtime == "openvino":
        model = openvino.OpenVINOModel(model, precision=precision or "float32", threads=threads)
    return Predictor(model, class_names=class_names, model_path=str(model_path), **metadata)


def _model_path(run_dir, which):
    path = pathlib.Path(run_dir).expanduser()
    if path.is_file():
        if path.suffix != ".keras":
            raise UserValueError(
                "Expected a run folder or a `.keras` file. "
                f"Received: run_dir={str(run_dir)!r}"
            )
        return path, path.parent
    if not path.is_dir():
        raise UserFileNotFoundError(
            f"No run folder at {str(path)!r}. Expected a folder written by "
            "`keras-resnets train` (holding best.keras / last.keras) or a .keras file."
        )
    model_path = path / f"{which}.keras"
    fallback = path / "last.keras"
    if which == "best" and not model_path.is_file() and fallback.is_file():
        # A run with no evaluated epoch (shorter than training.validation_freq,
        # or stopped before its first evaluation) has no best model yet.
        warnings.warn(
            f"{str(path)!r} has no best.keras (no epoch of the run was evaluated yet); "
            "using last.keras.",
            RunFileWarning,
            stacklevel=3,
        )
        return fallback, path
    if not model_path.is_file():
        present = sorted(p.name for p in path.glob("*.keras") if not p.name.startswith("."))
        if present:
            hint = f"it holds {', '.join(present)}"
            other = WHICH[1 - WHICH.index(which)]
            if f"{other}.keras" in present:
                hint += f": use which={other!r} (--{other})"
        else:
            hint = "it holds no .keras model (has training saved an epoch yet?)"
        raise UserFileNotFoundError(f"No model {model_path.name} in run folder {str(path)!r}; {hint}.")
    return model_path, path


def _read_metadata(folder):
    """The preprocessing of a run: `preprocessing.json`, else `config.yaml`."""
    json_file = folder / PREPROCESSING_FILE
    if json_file.is_file():
        try:
            meta = json.loads(json_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserValueError(f"{json_file} is not valid JSON: {e}") from None
        missing = [k for k in PREPROCESSING_KEYS if not isinstance(meta, dict) or k not in meta]
        if missing:
            raise UserValueError(
                f"{json_file} lacks the keys {missing}. Expected a JSON object with the "
                f"keys {list(PREPROCESSING_KEYS)}."
            )
        class_names = meta["class_names"]
        if class_names is not None and (
            not isinstance(class_names, list) or len(class_names) != meta["num_classes"]
        ):
            raise UserValueError(
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
    raise UserFileNotFoundError(
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
        raise UserValueError(f"Cannot read the preprocessing from {config_file}: {e}") from None
    return dict(
        preset=data.preset, mean=data.mean, std=data.std, image_size=data.image_size,
        class_names=None, source=data.source,
    )
