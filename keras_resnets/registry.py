"""Model registry: `register_model`, `create_model`, `list_models` (timm-style).

Names are the papers' table labels, lowercased and hyphenated (`resnet-110`,
`wrn-28-10`, `preact-resnet-164`). Lookups ignore case, `-` and `_`, so
`resnet110`, `WRN_28_10` and `preact_resnet164` all resolve.

The built-in models are registered when `keras_resnets.models` is imported,
which imports keras. `list_models` and `model_facts` read the built-in
names and paper facts from `keras_resnets/_model_index.py` instead, so the
command line lists models without importing keras or a backend. That file
is generated from the registrations (`python -m keras_resnets.registry`
rewrites it) and a test checks that it equals them.
"""

import dataclasses
import difflib
import fnmatch
import json
import re

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
            raise ValueError(
                f"Model name {name!r} collides with {_KEYS[key]!r} once "
                "separators are ignored."
            )
        _REGISTRY[name] = ModelSpec(name, fn, params, paper, dataset, error, defaults)
        _KEYS[key] = name
        return fn

    return decorator


def _ensure_loaded():
    import keras_resnets.models  # noqa: F401  (registers the entrypoints)


def _builtin_index():
    """`name -> facts` of the built-in models, without importing keras."""
    from keras_resnets._model_index import MODELS

    return MODELS


def _spec_facts(spec):
    facts = {"params": spec.params, "paper": spec.paper, "dataset": spec.dataset,
             "error": spec.error}
    facts.update(spec.defaults)
    return facts


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
    key = _key(name)
    if key in _KEYS:
        spec = _REGISTRY[_KEYS[key]]
        return {"name": spec.name, **_spec_facts(spec)}
    index = _builtin_index()
    names = {_key(n): n for n in index}
    if key in names:
        return {"name": names[key], **index[names[key]]}
    spec = get_spec(name)  # loads the models: unknown names get its message
    return {"name": spec.name, **_spec_facts(spec)}


def _index_source():
    """The text of `_model_index.py` for the current registrations."""
    _ensure_loaded()

    def literal(value):
        return json.dumps(value) if isinstance(value, str) else repr(value)

    lines = []
    for name in sorted(_REGISTRY, key=_natural_key):
        facts = ", ".join(f"{k}={literal(v)}" for k, v in _spec_facts(_REGISTRY[name]).items())
        lines.append(f"    {json.dumps(name)}: dict({facts}),\n")
    return (
        '"""Paper facts of the built-in models, generated from their registrations\n'
        "by `python -m keras_resnets.registry` (do not edit; a test checks it).\n\n"
        "`keras_resnets.registry.list_models` and `model_facts` read this table so\n"
        'that listing models does not import keras.\n"""\n\n'
        "# fmt: off\n"
        "MODELS = {\n" + "".join(lines) + "}\n"
    )


def get_spec(name):
    """Returns the `ModelSpec` of `name`, raising a ValueError with the
    closest valid names when it is unknown."""
    _ensure_loaded()
    key = _key(name)
    if key not in _KEYS:
        close = difflib.get_close_matches(key, list(_KEYS), n=5, cutoff=0.5)
        hint = ", ".join(_KEYS[k] for k in close) or ", ".join(sorted(_REGISTRY)[:10])
        raise ValueError(
            f"Unknown model name {name!r}. Closest valid names: {hint}. "
            "See keras_resnets.list_models() for all of them."
        )
    return _REGISTRY[_KEYS[key]]


def create_model(name, **kwargs):
    """Builds the registered model `name`.

    Keyword arguments override the registered defaults; `None` values are
    dropped so that unset config or CLI values never override them. They
    are checked before anything is built (see `check_model_arguments`).
    `weights=` also takes the name of weights shipped in the package for
    this model (e.g. "cifar10"; `keras_resnets.weights.pretrained`), on
    any model; paths and "imagenet" go to the model class.

    Example:
    >>> model = create_model("wrn-16-4", num_classes=100, dropout_rate=0.3)

    Raises:
        ValueError: unknown model name.
        TypeError: unknown argument, or one the name fixes.
    """
    spec = get_spec(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    tag = None
    if isinstance(kwargs.get("weights"), str):
        from keras_resnets.weights import pretrained

        if pretrained.is_weights_tag(kwargs["weights"]):
            tag = kwargs.pop("weights")  # weights shipped in the package
            pretrained.packaged_weights(spec.name, tag)  # unknown: fail before building
    check_model_arguments(spec.name, kwargs)
    model = spec.fn(**kwargs)
    if tag is not None:
        pretrained.load_packaged_weights(model, spec.name, tag)
    return model


def _signature(spec):
    """`(owner, valid, fixed)` of an entrypoint: the class it builds, the
    keyword arguments it accepts (None: unknown) and those its name fixes."""
    import inspect

    model_cls = getattr(spec.fn, "model_class", None)
    if model_cls is not None:
        from keras_resnets.models.base import model_argument_names

        fixed = tuple(getattr(spec.fn, "fixed_arguments", ()))
        builder = getattr(spec.fn, "model_builder", None)
        valid = tuple(n for n in model_argument_names(model_cls, builder) if n not in fixed)
        return model_cls.__name__, valid, fixed
    params = inspect.signature(spec.fn).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None, None, ()
    valid = tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return None, valid, ()


def model_arguments(name):
    """The keyword arguments `create_model(name, ...)` accepts, read from the
    registered constructor's signature without building the model.

    Args:
        name: a registered model name (or alias).

    Returns:
        Tuple of str in signature order, or None when the entrypoint takes
        arbitrary `**kwargs` and declares no model class.
    """
    return _signature(get_spec(name))[1]


def check_model_arguments(name, kwargs, *, prefix=""):
    """Raises a TypeError when `create_model(name, **kwargs)` would get an
    unknown argument (with a "did you mean" hint) or one its name fixes.

    Args:
        name: a registered model name (or alias).
        kwargs: dict or iterable of argument names.
        prefix: str put before argument names in the message (configs use
            "model.").
    """
    spec = get_spec(name)
    owner, valid, fixed = _signature(spec)
    if valid is None:
        return
    where = f"model {spec.name!r}" + (f" ({owner})" if owner else "")
    for key in kwargs:
        if key in fixed:
            raise TypeError(
                f"Argument `{prefix}{key}` is fixed by the model name {spec.name!r}. "
                f"Build keras_resnets.{owner}(...) directly to set it, or pick "
                f"another name from keras_resnets.list_models(). Valid arguments: "
                f"{', '.join(valid)}."
            )
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        from keras_resnets.models.base import unknown_arguments_error

        raise unknown_arguments_error(unknown, valid, where, prefix)


def _natural_key(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


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
    facts = {**_builtin_index(), **{n: _spec_facts(s) for n, s in _REGISTRY.items()}}
    names = [
        n
        for n in facts
        if bool(facts[n].get("family")) == families
        and (fnmatch.fnmatch(n, pattern.lower())
             or fnmatch.fnmatch(_key(n), _key(pattern)))
    ]
    return sorted(names, key=_natural_key)


def family_specs():
    """The `ModelSpec`s of the family names (`register_model(...,
    family=True)`: `wrn`, `cifar-resnet`, ...), in registration order."""
    _ensure_loaded()
    return [spec for spec in _REGISTRY.values() if spec.defaults.get("family")]

if __name__ == "__main__":
    # Rewrites keras_resnets/_model_index.py from the registrations (read
    # through the imported module: the models register there, not in __main__).
    import pathlib

    from keras_resnets import registry

    path = pathlib.Path(registry.__file__).with_name("_model_index.py")
    path.write_text(registry._index_source())
    print(f"wrote {path} ({len(registry._REGISTRY)} models)")
