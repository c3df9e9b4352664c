"""Per-backend fast defaults, chosen by measurement (see docs/benchmarks.md)."""

import functools
import os
import pathlib
import platform
import warnings

from keras_resnets.errors import UserValueError

# Keras is imported inside the functions: the CLI's parsers read PRECISIONS
# without loading Keras or a backend.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def has_gpu():
    """Whether the active Keras backend sees a GPU."""
    import keras

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
    import keras

    if keras.backend.backend() == "torch":
        return False
    return has_gpu()


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels (None off TensorFlow)."""
    import keras

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


# === Precision chosen by the processor ===


@functools.lru_cache(maxsize=None)
def _cpuinfo(path="/proc/cpuinfo"):
    """(model name, set of flags) from Linux's cpuinfo; ("", set()) elsewhere."""
    try:
        text = pathlib.Path(path).read_text()
    except OSError:
        return platform.processor() or platform.machine(), frozenset()
    name, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return name or platform.machine(), frozenset(flags)


def cpu_has_bf16_units(flags=None):
    """Whether the CPU computes bfloat16 in hardware (AMX-BF16 or AVX512-BF16).

    Read from Linux's /proc/cpuinfo flags; on other systems the answer is
    False (unknown is treated as no: emulated bfloat16 is ~10x slower).
    """
    flags = _cpuinfo()[1] if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def _gpu_compute_capability():
    """(major, minor) of the first visible GPU, None without one (or unknown)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return tuple(tf.config.experimental.get_device_details(gpus[0])
                             .get("compute_capability") or (0, 0))
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus:
                major, _, minor = str(getattr(gpus[0], "compute_capability", "0.0")).partition(".")
                return int(major), int(minor or 0)
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return tuple(torch.cuda.get_device_capability(0))
    except Exception:
        return None
    return None


def processor_info():
    """What the run ran on, for metrics.json and benchmark records.

    Returns:
        dict: `name` (CPU model name), `bf16_units` (bool, see
        `cpu_has_bf16_units`), `accelerator` (the first GPU's name, or None).
    """
    name, flags = _cpuinfo()
    return {"name": name, "bf16_units": cpu_has_bf16_units(flags), "accelerator": _gpu_name()}


def _gpu_name():
    import keras

    if not has_gpu():
        return None
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return next(d.device_kind for d in jax.devices() if d.platform == "gpu")
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0)
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")[0]
        return tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
    except Exception:
        return "GPU"


def auto_precision():
    """The dtype policy `precision: auto` picks, and why.

    `mixed_bfloat16` on GPUs of compute capability >= 8.0 (A100/H100:
    measured 1.98x on WRN-28-10, docs/benchmarks.md) and on CPUs with
    bfloat16 units (AMX-BF16 / AVX512-BF16: 1.3-2.2x on the AMX machine);
    `float32` elsewhere (emulated bfloat16 on an AVX2-only CPU trained 12x
    slower).

    Returns:
        (policy name, one-line reason).
    """
    capability = _gpu_compute_capability()
    if capability is not None:
        if capability >= (8, 0):
            return "mixed_bfloat16", f"GPU with compute capability {capability[0]}.{capability[1]}"
        return "float32", (f"GPU with compute capability {capability[0]}.{capability[1]} "
                           "(no fast bfloat16)")
    name, flags = _cpuinfo()
    if cpu_has_bf16_units(flags):
        units = "/".join(f for f in BF16_CPU_FLAGS if f in flags)
        return "mixed_bfloat16", f"CPU {name} has bfloat16 units ({units})"
    return "float32", f"CPU {name} has no bfloat16 units"


def resolve_precision(precision="auto"):
    """The Keras dtype policy name for a `precision` setting.

    Args:
        precision: one of `PRECISIONS`; `"auto"` (or None) picks by the
            hardware (`auto_precision`); any other value is returned as is,
            so an explicit choice always wins.

    Returns:
        str, a Keras dtype policy name.
    """
    if precision is None or precision == "auto":
        return auto_precision()[0]
    if precision not in PRECISIONS:
        raise UserValueError(
            "Invalid value received for argument `precision`. Expected one of "
            f"{PRECISIONS}. Received: precision={precision!r}"
        )
    return precision
