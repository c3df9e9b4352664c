"""Model families. Importing a family module registers its named models."""

from keras_resnets.models.resnet import PreActResNet
from keras_resnets.models.resnet import ResNet
from keras_resnets.models.resnet import cifar_resnet
from keras_resnets.models.resnet import imagenet_resnet
from keras_resnets.models.wide_resnet import WideResNet
