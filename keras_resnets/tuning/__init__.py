"""Hyperparameter search over the residual families with KerasTuner.

Public API: the HyperModels (`ResidualHyperModel` and one subclass per
family: `WideResNetHyperModel`, `CifarResNetHyperModel`,
`ShakeShakeHyperModel`, `PyramidNetHyperModel`, `ResNeXtHyperModel`,
`FractalNetHyperModel`), `get_hypermodel`, `ParameterBudgetExceeded`,
`resolve_space` / `FAMILIES` (the search spaces each family module declares),
`search(config)` (the work behind `keras-resnets tune`; its arguments are
`cli.py`'s, its `tuner:` section a `keras_resnets.training.config.TunerConfig`),
`tuner_class` / `recording_tuner` (keras-tuner classes),
`export_best_config` and `SearchFailedError` (no trial completed).

Modules: `hypermodels`, `search` (`search(config)`), `tuners` (keras-tuner
classes), `results` (results table, best config); the search spaces are
`keras_resnets.spaces` (below training, which checks a `tuner:` section
with them). Names are resolved lazily, so importing this
package imports neither keras nor keras-tuner.
"""

from keras_resnets._lazy import lazy_exports

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
    "SearchFailedError": "results",
    "get_hypermodel": "hypermodels",
    "FAMILIES": "keras_resnets.spaces.families",
    "Hyperparameter": "keras_resnets.spaces.hyperparameters",
    "get_family": "keras_resnets.spaces.families",
    "resolve_space": "keras_resnets.spaces.families",
    "TUNERS": "tuners",
    "recording_tuner": "tuners",
    "export_best_config": "results",
    "search": "search",
    "tuner_class": "tuners",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
