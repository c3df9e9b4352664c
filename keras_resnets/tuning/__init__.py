"""Hyperparameter search over the residual families with KerasTuner.

Public API: the HyperModels (`ResidualHyperModel` and one subclass per
family: `WideResNetHyperModel`, `CifarResNetHyperModel`,
`ShakeShakeHyperModel`, `PyramidNetHyperModel`, `ResNeXtHyperModel`,
`FractalNetHyperModel`), `get_hypermodel`, `ParameterBudgetExceeded`,
`resolve_space` / `FAMILIES` (the search spaces), `search(config)` (the work
behind `keras-resnets tune`), and `add_tune_arguments` / `run_tune` / `main`
for the command line.

Names are resolved lazily, so `from keras_resnets.tuning.search import
add_tune_arguments` (what `cli.py` needs to build its parser) does not
import keras, keras-tuner or tensorflow.
"""

import importlib

_EXPORTS = {
    "ResidualHyperModel": "hypermodels",
    "WideResNetHyperModel": "hypermodels",
    "CifarResNetHyperModel": "hypermodels",
    "ShakeShakeHyperModel": "hypermodels",
    "PyramidNetHyperModel": "hypermodels",
    "ResNeXtHyperModel": "hypermodels",
    "FractalNetHyperModel": "hypermodels",
    "HYPERMODELS": "hypermodels",
    "ParameterBudgetExceeded": "hypermodels",
    "get_hypermodel": "hypermodels",
    "FAMILIES": "search_spaces",
    "Hyperparameter": "search_spaces",
    "get_family": "search_spaces",
    "resolve_space": "search_spaces",
    "TUNERS": "search",
    "TunerConfig": "search",
    "add_tune_arguments": "search",
    "main": "search",
    "run_tune": "search",
    "search": "search",
    "tuner_class": "search",
    "tuner_config": "search",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"keras_resnets.tuning.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'keras_resnets.tuning' has no attribute {name!r}")
