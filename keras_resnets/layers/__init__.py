"""Reusable residual-network layers (keras.ops only, every backend)."""

from keras_resnets.layers.conv import Shortcut
from keras_resnets.layers.residual import PreActBlock
from keras_resnets.layers.residual import ResNetBlock
from keras_resnets.layers.residual import WideResNetBlock
