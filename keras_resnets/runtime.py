"""Per-backend fast defaults, chosen by measurement (see docs/benchmarks.md)."""

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
