"""Reusable residual-network layers (keras.ops only, every backend)."""

from keras_resnets.layers.normalization import BatchNormalization
from keras_resnets.layers.augmentation import RandomPadCrop
from keras_resnets.layers.conv import Shortcut
from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.layers.residual import WideResNetBlock
from keras_resnets.layers.attention import SqueezeExcite
from keras_resnets.layers.regularization import DropPath
from keras_resnets.layers.regularization import Dropout
from keras_resnets.layers.shake import ShakeDrop
from keras_resnets.layers.shake import ShakeShake
from keras_resnets.layers.regularization import StochasticDepth
from keras_resnets.layers.regularization import drop_path_rates
from keras_resnets.layers.seeds import ReplicaSeedGenerator
from keras_resnets.layers.shake import shakedrop_probabilities
