"""Per-backend fast defaults, chosen by measurement (see docs/benchmarks.md)."""

import os
import warnings

import keras


def has_gpu():
    """Whether the active Keras backend sees a GPU."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return torch.cuda.is_available()
    except Exception:
        return False
    return False


def default_jit_compile():
    """XLA only where it wins: on GPUs. On CPU, TensorFlow's XLA path trains
    1.5-1.8x slower than the plain graph (measured on the project's 2-core
    CPU), and PyTorch has no jit_compile in Keras."""
    if keras.backend.backend() == "torch":
        return False
    return has_gpu()


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels (None off TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # private module moved: we cannot tell
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def warn_if_onednn_off():
    """Warns once when TensorFlow was imported before keras_resnets without
    oneDNN, so the faster CPU kernels could not be switched on."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" or onednn_enabled() is not False:
        return
    warnings.warn(
        "TensorFlow was imported before keras_resnets with its oneDNN CPU kernels "
        "off; CPU training of these models is 1.5-2.5x slower that way. Import keras_resnets "
        "first, or set TF_ENABLE_ONEDNN_OPTS=1 before importing TensorFlow "
        "(TF_ENABLE_ONEDNN_OPTS=0 silences this).",
        stacklevel=3,
    )
