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

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "hypermodels": (
        "ResidualHyperModel", "WideResNetHyperModel", "CifarResNetHyperModel",
        "ShakeShakeHyperModel", "PyramidNetHyperModel", "ResNeXtHyperModel",
        "FractalNetHyperModel", "HYPERMODELS", "ParameterBudgetExceeded", "get_hypermodel",
    ),
    "results": ("SearchFailedError", "export_best_config"),
    "search": ("search",),
    "tuners": ("TUNERS", "recording_tuner", "tuner_class"),
    "keras_resnets.spaces.families": ("FAMILIES", "get_family", "resolve_space"),
    "keras_resnets.spaces.hyperparameters": ("Hyperparameter",),
})
