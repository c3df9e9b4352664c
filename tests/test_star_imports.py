"""`from X import *` works for the package and every module with an `__all__`:
each name `__all__` lists resolves (the lazy packages' names included).

Modules are found with pkgutil from the source tree (no import at
collection) and imported one per test; `__main__` modules are skipped,
since importing one runs its command.
"""

import importlib
import pathlib
import pkgutil

import pytest

import keras_resnets

PACKAGE_DIR = pathlib.Path(keras_resnets.__file__).parent


def _module_names(path=PACKAGE_DIR, prefix="keras_resnets"):
    names = [prefix]
    for info in pkgutil.iter_modules([str(path)]):
        if info.name == "__main__":
            continue
        name = f"{prefix}.{info.name}"
        if info.ispkg:
            names += _module_names(path / info.name, name)
        else:
            names.append(name)
    return names


MODULES = _module_names()


def test_the_walk_finds_the_packages():
    for name in ("keras_resnets", "keras_resnets.tuning", "keras_resnets.tuning.search",
                 "keras_resnets.layers.seeds", "keras_resnets.fold"):
        assert name in MODULES
    assert not any(name.endswith("__main__") for name in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is not None:
        assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
        missing = [n for n in exported if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    namespace = {}
    exec(f"from {name} import *", namespace)  # without __all__: the public globals
    assert set(exported or ()) <= set(namespace)


def test_a_stale_name_is_caught(monkeypatch):
    """The check above fails on the bug it is for (#24: `main` in
    `keras_resnets.tuning.__all__` after `search.main` was removed)."""
    tuning = importlib.import_module("keras_resnets.tuning")
    monkeypatch.setattr(tuning, "__all__", [*tuning.__all__, "main"])
    with pytest.raises(AssertionError, match="lacks: \\['main'\\]"):
        test_every_name_in_all_resolves("keras_resnets.tuning")
