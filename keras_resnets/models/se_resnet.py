"""Squeeze-and-Excitation ResNets (Hu, Shen, Sun 2018) and ResNets with
stochastic depth (Huang et al. 2016): existing families, one argument each."""

from keras_resnets.models import base
from keras_resnets.models.resnet import FIXED_BY_DEPTH
from keras_resnets.models.resnet import FIXED_BY_IMAGENET_NAME
from keras_resnets.models.resnet import ResNet
from keras_resnets.models.resnet import cifar_resnet
from keras_resnets.models.resnet import imagenet_resnet
from keras_resnets._registry import register_model


@register_model("se-resnet-50", params=28_088_024, paper="arXiv:1709.01507", dataset="imagenet", error=23.29)
@base.builds(ResNet, imagenet_resnet, fixed=FIXED_BY_IMAGENET_NAME)
def se_resnet50(**kwargs):
    """ResNet-50 with an SE module (ratio 16) on every block's branch, after
    its last BN and before the addition (Hu 2018 Fig. 3, Table 2: 28.1M
    parameters, 23.29% top-1 error)."""
    return imagenet_resnet(50, **{"se_ratio": 16, **kwargs})


@register_model("resnet-110-stochastic-depth", params=1_727_962, paper="arXiv:1603.09382", dataset="cifar10", error=5.25)
@base.builds(ResNet, cifar_resnet, fixed=FIXED_BY_DEPTH)
def resnet110_stochastic_depth(**kwargs):
    """ResNet-110 with stochastic depth: block `l` of `L` is dropped with
    probability `0.5 · l / L` (Huang 2016, linear decay to p_L = 0.5;
    5.25% CIFAR-10 error, 6.41% without)."""
    return cifar_resnet(110, **{"drop_path_rate": 0.5, **kwargs})
