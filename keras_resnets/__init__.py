"""keras_resnets: residual networks for Keras 3, exact to the papers."""

# Before anything imports TensorFlow: turn on its oneDNN CPU kernels, which
# TensorFlow leaves off on CPUs without AVX-512 (2-2.5x faster convolutions on
# the project's AMD CPU). Set TF_ENABLE_ONEDNN_OPTS=0 to opt out.
from keras_resnets import _env

_TF_IMPORTED_FIRST = _env.prefer_onednn()

from keras_resnets import layers  # noqa: E402
from keras_resnets import models  # noqa: E402
from keras_resnets.flops import count_flops  # noqa: E402
from keras_resnets.flops import count_trainable_params  # noqa: E402
from keras_resnets.fold import fold_batch_norm  # noqa: E402
from keras_resnets.models import FractalNet  # noqa: E402
from keras_resnets.models import PreActResNet  # noqa: E402
from keras_resnets.models import PyramidNet  # noqa: E402
from keras_resnets.models import ResNet  # noqa: E402
from keras_resnets.models import ResNeXt  # noqa: E402
from keras_resnets.models import ShakeShakeResNet  # noqa: E402
from keras_resnets.models import WideResNet  # noqa: E402
from keras_resnets.registry import create_model  # noqa: E402
from keras_resnets.registry import get_spec  # noqa: E402
from keras_resnets.registry import list_models  # noqa: E402

__version__ = "0.1.0"

if _TF_IMPORTED_FIRST:
    from keras_resnets.runtime import warn_if_onednn_off

    warn_if_onednn_off()
