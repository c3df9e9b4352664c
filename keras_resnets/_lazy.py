"""Registers the package's Keras objects when Keras is imported.

`keras.saving.load_model` finds custom classes (`keras_resnets>WideResNet`,
...) only once their modules ran `register_keras_serializable`. The package
used to import them in `__init__`, which imported Keras and a backend for
every `import keras_resnets` (6-9 s for `keras-resnets --help`). Now
`__init__` is lazy and calls `register_keras_objects_with_keras()`:

* Keras already imported: the models (and with them the layers) are
  imported at once, as before.
* Otherwise a one-shot import hook imports them right after `keras` itself
  is imported, so `import keras_resnets; keras.saving.load_model(...)` keeps
  working while commands that never touch Keras never import it.
"""

import importlib
import sys
import warnings

# The models (and with them the layers), and what a run's saved model
# compiles with (optimizer, schedules, loss): `last.keras` holds them all.
# None of these imports TensorFlow.
_REGISTERING_MODULES = (
    "keras_resnets.models",
    "keras_resnets.training.optimizers",
    "keras_resnets.training.schedules",
)


def _register():
    try:
        for module in _REGISTERING_MODULES:
            importlib.import_module(module)
    except Exception as e:  # never break `import keras` itself
        warnings.warn(
            f"keras_resnets could not register its Keras objects: {type(e).__name__}: {e}",
            stacklevel=3,
        )


class _RegisteringLoader:
    """Runs keras's own loader, then imports keras_resnets' models."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _remove_hook()
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):  # resource readers, get_filename, ...
        return getattr(self._loader, name)


class _KerasImportHook:
    """A one-shot meta-path finder for the top-level `keras` package."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        # Not removed yet: `importlib.util.find_spec("keras")` probes (as
        # TensorFlow's import does) come here too without importing keras.
        spec = None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is not None:
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _remove_hook():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _KerasImportHook)]


def register_keras_objects_with_keras():
    """Imports the models now if Keras is loaded, else when it is."""
    if "keras" in sys.modules:
        _register()
    elif not any(isinstance(f, _KerasImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())


def lazy_exports(package, exports):
    """`__all__` and the PEP 562 `__getattr__` and `__dir__` of a package
    whose public names live in its submodules, each imported only when one
    of its names is first used.

    Args:
        package: the package's `__name__`.
        exports: `{submodule: names}`: the submodule's name relative to the
            package, or its full name when it is another package's
            (`keras_resnets.spaces.families`).

    Returns:
        (`__all__`, sorted; `__getattr__`; `__dir__`).
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in where:
            module = where[name]
            module = importlib.import_module(
                module if module.startswith("keras_resnets.") else f"{package}.{module}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where))

    return sorted(where), __getattr__, __dir__
