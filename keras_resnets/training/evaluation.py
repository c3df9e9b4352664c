"""`evaluate(...)`: the work behind `keras-resnets evaluate`.

Reads a run folder's `config.yaml` (`config_from_dict`), rebuilds its test
pipeline (`trainer.load_data`) and evaluates `last.keras` or `best.keras`.
The package's Keras objects (models, layers, the optimizer, schedules and
loss that a saved model compiles with) are registered when keras is
imported (see `keras_resnets._lazy`), so `load_model` finds them.
"""

import pathlib

import keras
import yaml

from keras_resnets import data as data_lib
from keras_resnets.training.config import config_from_dict
from keras_resnets.training.config_sections import ConfigError
from keras_resnets.training.trainer import load_data
from keras_resnets.errors import UserFileNotFoundError
from keras_resnets.errors import UserValueError


def evaluate(target, *, source=None, batch_size=None, which="last", verbose=0):
    """Test accuracy of a run folder's model (or a `.keras` file).

    Args:
        target: a run folder (uses its `config.yaml` for the data pipeline
            and `<which>.keras`) or a `.keras` file (its folder's
            `config.yaml` if present, else `source` with the inferred preset).
        source: data set (tfds name or path); defaults to the run's.
        batch_size: evaluation batch size.
        which: `"last"` or `"best"` (a run without `best.keras` uses
            `last.keras`, with a warning).

    Returns:
        dict with `test_accuracy`, `test_error`, `test_loss`, `examples`.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise UserValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    target = pathlib.Path(target)
    if target.is_dir():
        from keras_resnets.inference.loading import run_model_file

        model_path, run_dir = run_model_file(target, which)  # best: falls back to last
    else:
        model_path, run_dir = target, target.parent
    if not model_path.is_file():
        raise UserFileNotFoundError(
            f"No model at {str(model_path)!r}: pass a run folder holding "
            "last.keras/best.keras or a .keras file."
        )
    config_file = run_dir / "config.yaml"
    if config_file.is_file():
        raw = yaml.safe_load(config_file.read_text())
        if source is not None:
            raw["data"]["source"] = str(source)
        config = config_from_dict(raw)
        if batch_size:
            config = config.replace("data", eval_batch_size=batch_size)
        ds, source, test_limit = load_data(config), config.data.source, config.data.test_limit
    elif source is not None:
        ds, test_limit = data_lib.build_datasets(str(source), eval_batch_size=batch_size), None
    else:
        raise ConfigError(
            f"{str(target)!r} has no config.yaml beside it; pass --data (a "
            "tensorflow-datasets name or a local path)."
        )
    if ds.test is None:
        raise ConfigError(f"data.source={str(source)!r} has no test split to evaluate.")
    model = keras.models.load_model(str(model_path))
    result = model.evaluate(ds.test, verbose=verbose, return_dict=True)
    accuracy = float(result["accuracy"]) if "accuracy" in result else float(
        next(v for k, v in result.items() if "accuracy" in k)
    )
    examples = ds.info.num_examples.get("test", -1)
    if test_limit:
        examples = min(examples, test_limit)
    return {
        "model": str(model_path),
        "test_accuracy": accuracy,
        "test_error": 100.0 * (1.0 - accuracy),
        "test_loss": float(result["loss"]),
        "examples": examples,
    }
