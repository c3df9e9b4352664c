"""Training: YAML configs, the papers' optimizer and schedules, `train`.

Public API: `load_config`, `Config`, `ConfigError`, `train`, `evaluate`,
`TrainingDivergedError`, `TrainingInterrupted`, `SGD` (coupled weight decay),
`SparseCategoricalCrossentropy` (label smoothing) and the schedules
`MultiStepDecay`, `CosineAnnealing`, `OneCycle`, `Warmup`.

`train` is the function (its module is `training.trainer`, `evaluate`'s
`training.evaluation`). A run goes down: `config` (YAML -> `Config`) ->
`trainer.train` -> the data pipeline and `recipe` (model, optimizer, loss)
-> `model.fit`.
"""

from keras_resnets.training.config import Config
from keras_resnets.training.config import ConfigError
from keras_resnets.training.config import ConfigTypeError
from keras_resnets.training.config import config_from_dict
from keras_resnets.training.config import load_config
from keras_resnets.training.optimizers import SGD
from keras_resnets.training.optimizers import SparseCategoricalCrossentropy
from keras_resnets.training.schedules import CosineAnnealing
from keras_resnets.training.schedules import MultiStepDecay
from keras_resnets.training.schedules import OneCycle
from keras_resnets.training.schedules import Warmup
from keras_resnets.training.evaluation import evaluate
from keras_resnets.training.trainer import TrainingDivergedError
from keras_resnets.training.trainer import TrainingInterrupted
from keras_resnets.training.trainer import train

__all__ = [
    "Config",
    "ConfigError",
    "ConfigTypeError",
    "CosineAnnealing",
    "MultiStepDecay",
    "OneCycle",
    "SGD",
    "SparseCategoricalCrossentropy",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "Warmup",
    "config_from_dict",
    "evaluate",
    "load_config",
    "train",
]
