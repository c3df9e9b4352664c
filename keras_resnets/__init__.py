"""keras_resnets: residual networks for Keras 3, exact to the papers."""

from keras_resnets import layers
from keras_resnets import models
from keras_resnets.flops import count_flops
from keras_resnets.flops import count_trainable_params
from keras_resnets.models import FractalNet
from keras_resnets.models import PreActResNet
from keras_resnets.models import PyramidNet
from keras_resnets.models import ResNet
from keras_resnets.models import ResNeXt
from keras_resnets.models import ShakeShakeResNet
from keras_resnets.models import WideResNet
from keras_resnets.registry import create_model
from keras_resnets.registry import get_spec
from keras_resnets.registry import list_models

__version__ = "0.1.0"
