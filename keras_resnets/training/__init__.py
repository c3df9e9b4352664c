"""Training: YAML configs, the papers' optimizer and schedules, `train`.

Public API: `load_config`, `Config`, `ConfigError`, `train`, `evaluate`,
`TrainingDivergedError`, `TrainingInterrupted`, `SGD` (coupled weight decay),
`SparseCategoricalCrossentropy` (label smoothing) and the schedules
`MultiStepDecay`, `CosineAnnealing`, `OneCycle`, `Warmup`.
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
from keras_resnets.training.train import TrainingDivergedError
from keras_resnets.training.train import TrainingInterrupted
from keras_resnets.training.train import evaluate
from keras_resnets.training.train import train

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
