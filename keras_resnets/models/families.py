"""Family names: any valid architecture of a family, without paper numbers.

`wrn`, `cifar-resnet`, `shake-shake`, `pyramidnet`, `cifar-resnext` and
`fractalnet` build the architecture their keyword arguments describe, e.g.
`create_model("wrn", depth=10, k=4)` is a WRN-10-4. No paper table has most
of these architectures, so their specs carry the family's paper but no
parameter count or error, and `list_models()` leaves them out (they are
marked `family=True`; `list_models(families=True)` lists them). They fix no
argument; `create_model` checks the others as for every entry.
`keras-resnets tune` exports a best trial under its family name when no
paper-table name matches it, so training it builds that architecture and
does not report another model's published error.
"""

from keras_resnets.models import base
from keras_resnets.models.fractalnet import FractalNet
from keras_resnets.models.pyramidnet import PyramidNet
from keras_resnets.models.resnet import ResNet
from keras_resnets.models.resnet import cifar_resnet
from keras_resnets.models.resnext import ResNeXt
from keras_resnets.models.resnext import cifar_resnext
from keras_resnets.models.shake_shake import ShakeShakeResNet
from keras_resnets.models.wide_resnet import WideResNet
from keras_resnets._registry import register_model


@register_model("wrn", paper="arXiv:1605.07146", dataset="cifar10", family=True)
@base.builds(WideResNet)
def wrn(*, depth, k, **kwargs):
    """Wide ResNet WRN-`depth`-`k`: depth 6n+4, widening factor k >= 1."""
    return WideResNet(depth, k, **kwargs)


@register_model("cifar-resnet", paper="arXiv:1512.03385", dataset="cifar10", family=True)
@base.builds(ResNet, cifar_resnet)
def cifar_resnet_family(*, depth, **kwargs):
    """CIFAR ResNet of depth 6n+2 (`preactivation=True`: He 2016's v2)."""
    return cifar_resnet(depth, **kwargs)


@register_model("shake-shake", paper="arXiv:1705.07485", dataset="cifar10", family=True)
@base.builds(ShakeShakeResNet)
def shake_shake(*, depth, width, **kwargs):
    """Shake-Shake `depth`-2x`width`d: depth 6n+2, first-stage width."""
    return ShakeShakeResNet(depth, width, **kwargs)


@register_model("pyramidnet", paper="arXiv:1610.02915", dataset="cifar10", family=True)
@base.builds(PyramidNet)
def pyramidnet(*, depth, alpha, **kwargs):
    """PyramidNet of depth 6n+2 and widening step `alpha` (`shakedrop=True`:
    with ShakeDrop)."""
    return PyramidNet(depth, alpha, **kwargs)


@register_model("cifar-resnext", paper="arXiv:1611.05431", dataset="cifar10", family=True)
@base.builds(ResNeXt, cifar_resnext)
def cifar_resnext_family(*, depth, cardinality, base_width, **kwargs):
    """CIFAR ResNeXt-`depth` (9n+2), `cardinality`x`base_width`d."""
    return cifar_resnext(depth, cardinality, base_width, **kwargs)


@register_model("fractalnet", paper="arXiv:1605.07648", dataset="cifar10", family=True)
@base.builds(FractalNet)
def fractalnet(*, num_columns, **kwargs):
    """FractalNet with `num_columns` columns (`stackwise_num_filters` sets
    the block widths)."""
    return FractalNet(num_columns, **kwargs)
