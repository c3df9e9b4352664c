"""The model table: `register_model`, `list_models`, `model_facts` (timm's `_registry`).

This module is the bottom of the package: it imports nothing of ours but
the generated `_model_index.json` (data), and never keras, so every model module
can register its names here and the command line can list them without a
backend. Building a model (`create_model`, `get_spec`, which import the
model modules first) is one layer up, in `keras_resnets.registry`.

Names are the papers' table labels, lowercased and hyphenated (`resnet-110`,
`wrn-28-10`, `preact-resnet-164`). Lookups ignore case, `-` and `_`, so
`resnet110`, `WRN_28_10` and `preact_resnet164` all resolve.
"""

import dataclasses
import difflib
import fnmatch
import functools
import importlib.resources
import json
import re

from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

# name -> ModelSpec, and separator-free key -> name, of the registered models.
_REGISTRY = {}
_KEYS = {}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one named model."""

    name: str
    fn: object
    params: float | None = None
    paper: str | None = None
    dataset: str | None = None
    error: float | None = None
    defaults: dict = dataclasses.field(default_factory=dict)


def _key(name):
    return re.sub(r"[-_\s]", "", str(name).lower())


def _natural_key(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def register_model(name, *, params=None, paper=None, dataset=None, error=None, **defaults):
    """Decorator registering a model entrypoint under `name`.

    Args:
        name: str, the paper's label (lowercase, hyphenated).
        params: trainable parameter count of the default configuration.
        paper: str, arXiv id of the source paper.
        dataset: str, the data set the `params` refer to.
        error: float, the paper's test error (%) for this model.
        **defaults: extra facts kept on the spec (e.g. `flops`; `family=True`
            marks a family name such as `wrn`, which builds any architecture
            of its family and is listed by `list_models(families=True)`).
    """

    def decorator(fn):
        key = _key(name)
        if key in _KEYS and _KEYS[key] != name:
            raise UserValueError(
                f"Model name {name!r} collides with {_KEYS[key]!r} once "
                "separators are ignored."
            )
        _REGISTRY[name] = ModelSpec(name, fn, params, paper, dataset, error, defaults)
        _KEYS[key] = name
        return fn

    return decorator


@functools.cache
def _index():
    """The generated `_model_index.json`: "models" (name -> paper facts),
    "signatures" and "arguments" (`indexed_arguments`); written by
    `python -m keras_resnets.registry`."""
    index = importlib.resources.files("keras_resnets").joinpath("_model_index.json")
    return json.loads(index.read_text(encoding="utf-8"))


def _builtin_index():
    """`name -> facts` of the built-in models, without importing keras."""
    return _index()["models"]


def _spec_facts(spec):
    facts = {"params": spec.params, "paper": spec.paper, "dataset": spec.dataset,
             "error": spec.error}
    facts.update(spec.defaults)
    return facts


def unknown_name_error(name, names):
    """The ValueError for an unknown model `name`, listing the closest of
    `names` (the known names)."""
    keys = {_key(n): n for n in names}
    close = difflib.get_close_matches(_key(name), list(keys), n=5, cutoff=0.5)
    hint = ", ".join(keys[k] for k in close) or ", ".join(sorted(names)[:10])
    return UserValueError(
        f"Unknown model name {name!r}. Closest valid names: {hint}. "
        "See keras_resnets.list_models() for all of them."
    )


def _all_facts():
    """`name -> facts` of the built-in models and of those registered at
    run time (their registration wins)."""
    return {**_builtin_index(), **{n: _spec_facts(s) for n, s in _REGISTRY.items()}}


def model_facts(name):
    """The registration facts of a model, without building or importing it.

    Args:
        name: a registered name or alias (e.g. "resnet20").

    Returns:
        A dict with the registered `name` and its `params`, `paper`,
        `dataset`, `error` (None where not given) and any extra facts (e.g.
        `flops`). Built-in models are read from the generated index, so
        keras is not imported; models registered at run time from their spec.

    Raises:
        ValueError: unknown name, listing the closest valid names.
    """
    facts = _all_facts()
    names = {_key(n): n for n in facts}
    if _key(name) not in names:
        raise unknown_name_error(name, list(facts))
    found = names[_key(name)]
    return {"name": found, **facts[found]}


def list_models(pattern="*", *, families=False):
    """Sorted registered names matching an fnmatch `pattern` (e.g. "wrn*").

    Args:
        pattern: fnmatch pattern, matched against the names and their
            separator-free keys.
        families: list the family names (`wrn`, `cifar-resnet`, ...: any
            architecture, registered with `family=True`) instead of the
            papers' models.

    The built-in names are read from the generated index (no keras import),
    plus any model registered at run time.
    """
    facts = _all_facts()
    names = [
        n
        for n in facts
        if bool(facts[n].get("family")) == families
        and (fnmatch.fnmatch(n, pattern.lower())
             or fnmatch.fnmatch(_key(n), _key(pattern)))
    ]
    return sorted(names, key=_natural_key)


def unknown_arguments_error(unknown, valid, owner, prefix=""):
    """A TypeError naming the unknown keyword arguments, keras-style.

    Args:
        unknown: list of str, the unknown argument names.
        valid: sequence of str, the valid argument names.
        owner: str, what received them (e.g. "WideResNet").
        prefix: str put before argument names (e.g. "model." in configs).

    Returns:
        A TypeError such as "Unknown argument `dropout` for WideResNet. Did
        you mean `dropout_rate`? Valid arguments: depth, k, ...".
    """
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
        if close:
            hints.append((key, close[0]))
    names = ", ".join(f"`{prefix}{k}`" for k in unknown)
    plural = "s" if len(unknown) > 1 else ""
    message = f"Unknown argument{plural} {names} for {owner}."
    if len(unknown) == 1 and hints:
        message += f" Did you mean `{prefix}{hints[0][1]}`?"
    elif hints:
        message += " Did you mean " + ", ".join(
            f"`{prefix}{c}` for `{prefix}{k}`" for k, c in hints
        ) + "?"
    return UserTypeError(f"{message} Valid arguments: {', '.join(valid)}.")


def check_arguments(name, kwargs, owner, valid, fixed, *, prefix=""):
    """Raises a TypeError when `create_model(name, **kwargs)` would get an
    unknown argument (with a "did you mean" hint) or one its name fixes.

    Args:
        name: the registered name.
        kwargs: dict or iterable of argument names.
        owner: the model class name (or None), for the message.
        valid: the arguments the entry accepts; fixed: those its name fixes.
        prefix: str put before argument names in the message ("model.").
    """
    for key in kwargs:
        if key in fixed:
            raise UserTypeError(
                f"Argument `{prefix}{key}` is fixed by the model name {name!r}. "
                f"Build keras_resnets.{owner}(...) directly to set it, or pick "
                f"another name from keras_resnets.list_models(). Valid arguments: "
                f"{', '.join(valid)}."
            )
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        where = f"model {name!r}" + (f" ({owner})" if owner else "")
        raise unknown_arguments_error(unknown, valid, where, prefix)


def indexed_arguments(name):
    """`(owner, valid, fixed)` of a built-in model from the generated index
    (no keras), or None for a model registered at run time or one whose
    entry takes any `**kwargs`."""
    arguments = _index()["arguments"]
    if name in _REGISTRY and name not in arguments:
        return None
    entry = arguments.get(name)
    if entry is None:
        return None
    owner, signature, fixed = entry
    valid = tuple(n for n in _index()["signatures"][signature] if n not in fixed)
    return owner, valid, tuple(fixed)
