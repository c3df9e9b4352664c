"""Training: YAML configs, the papers' optimizer and schedules, `train`.

Public API: `load_config`, `Config`, `ConfigError`, `train`, `evaluate`,
`TrainingDivergedError`, `TrainingInterrupted`, `SGD` (coupled weight decay),
`SparseCategoricalCrossentropy` (label smoothing) and the schedules
`MultiStepDecay`, `CosineAnnealing`, `OneCycle`, `Warmup`.

`train` is the function (its module is `training.trainer`, `evaluate`'s
`training.evaluation`). A run goes down: `config` (YAML -> `Config`) ->
`trainer.train` -> the data pipeline and `recipe` (model, optimizer, loss)
-> `model.fit`.

Names are resolved lazily (PEP 562): importing this package, or
`training.config`, imports no keras, so a config is checked (and a typo
reported) without starting a backend.
"""

from keras_resnets._lazy import lazy_exports

_EXPORTS = {
    "Config": "config",
    "ConfigError": "config",
    "ConfigTypeError": "config",
    "config_from_dict": "config",
    "load_config": "config",
    "SGD": "optimizers",
    "SparseCategoricalCrossentropy": "optimizers",
    "CosineAnnealing": "schedules",
    "MultiStepDecay": "schedules",
    "OneCycle": "schedules",
    "Warmup": "schedules",
    "evaluate": "evaluation",
    "TrainingDivergedError": "trainer",
    "TrainingInterrupted": "trainer",
    "train": "trainer",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
