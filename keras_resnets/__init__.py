"""keras_resnets: residual networks for Keras 3, exact to the papers.

The public names are loaded on first use (PEP 562), so `import
keras_resnets` and the `keras-resnets` command line (`--help`,
`list-models`) start without importing Keras or a backend. The package's
Keras objects (models, layers) are still registered for `.keras` loading
whenever Keras is imported, before or after this package (see `_lazy`).
"""

import importlib

# Before anything imports TensorFlow: turn on its oneDNN CPU kernels, which
# TensorFlow leaves off on CPUs without AVX-512 (2-2.5x faster convolutions on
# the project's AMD CPU). Set TF_ENABLE_ONEDNN_OPTS=0 to opt out.
from keras_resnets import _env

_TF_IMPORTED_FIRST = _env.prefer_onednn()

__version__ = "0.1.0"

# Public name -> (module, attribute); attribute None: the module itself.
_LAZY = {
    "layers": ("keras_resnets.layers", None),
    "models": ("keras_resnets.models", None),
    "count_flops": ("keras_resnets.flops", "count_flops"),
    "count_trainable_params": ("keras_resnets.flops", "count_trainable_params"),
    "fold_batch_norm": ("keras_resnets.fold", "fold_batch_norm"),
    "export_model": ("keras_resnets.export", "export_model"),
    "FractalNet": ("keras_resnets.models", "FractalNet"),
    "PreActResNet": ("keras_resnets.models", "PreActResNet"),
    "PyramidNet": ("keras_resnets.models", "PyramidNet"),
    "ResNet": ("keras_resnets.models", "ResNet"),
    "ResNeXt": ("keras_resnets.models", "ResNeXt"),
    "ShakeShakeResNet": ("keras_resnets.models", "ShakeShakeResNet"),
    "WideResNet": ("keras_resnets.models", "WideResNet"),
    "create_model": ("keras_resnets.registry", "create_model"),
    "get_spec": ("keras_resnets.registry", "get_spec"),
    "list_models": ("keras_resnets.registry", "list_models"),
    "load_run": ("keras_resnets.inference", "load_run"),
    "OpenVINOModel": ("keras_resnets.inference", "OpenVINOModel"),
    "hide_backend_logs": ("keras_resnets._quiet", "hide_backend_logs"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_resnets' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


from keras_resnets import _lazy  # noqa: E402

_lazy.register_keras_objects_with_keras()

if _TF_IMPORTED_FIRST:
    from keras_resnets.runtime import warn_if_onednn_off

    warn_if_onednn_off()
