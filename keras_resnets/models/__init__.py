"""Model families. Importing a family module registers its named models and
its family name (`wrn`, `cifar-resnet`, ...: any valid architecture of the
family, listed by `list_models(families=True)`).

One import line per family module. Their order is the order of the family
names (`registry.family_specs()`, the tuner's "Valid families").
"""

from keras_resnets.models.wide_resnet import WideResNet
from keras_resnets.models.resnet import PreActResNet
from keras_resnets.models.resnet import ResNet
from keras_resnets.models.resnet import cifar_resnet
from keras_resnets.models.resnet import imagenet_resnet
from keras_resnets.models.shake_shake import ShakeShakeResNet
from keras_resnets.models.pyramidnet import PyramidNet
from keras_resnets.models.resnext import ResNeXt
from keras_resnets.models.fractalnet import FractalNet
from keras_resnets.models import se_resnet  # noqa: F401  (se-resnet-50, resnet-110-stochastic-depth)
