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

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("Config", "ConfigError", "ConfigTypeError", "config_from_dict", "load_config"),
    "optimizers": ("SGD", "SparseCategoricalCrossentropy"),
    "schedules": ("CosineAnnealing", "MultiStepDecay", "OneCycle", "Warmup"),
    "evaluation": ("evaluate",),
    "trainer": ("TrainingDivergedError", "TrainingInterrupted", "train"),
})
