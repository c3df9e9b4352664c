"""Model registry: `register_model`, `create_model`, `list_models` (timm-style).

Names are the papers' table labels, lowercased and hyphenated (`resnet-110`,
`wrn-28-10`, `preact-resnet-164`). Lookups ignore case, `-` and `_`, so
`resnet110`, `WRN_28_10` and `preact_resnet164` all resolve.
"""

import dataclasses
import difflib
import fnmatch
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
        **defaults: extra facts kept on the spec.
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

    Example:
    >>> model = create_model("wrn-16-4", num_classes=100, dropout_rate=0.3)

    Raises:
        ValueError: unknown model name.
        TypeError: unknown argument, or one the name fixes.
    """
    spec = get_spec(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    check_model_arguments(spec.name, kwargs)
    return spec.fn(**kwargs)


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


def list_models(pattern="*"):
    """Sorted registered names matching an fnmatch `pattern` (e.g. "wrn*")."""
    _ensure_loaded()
    names = [
        n
        for n in _REGISTRY
        if fnmatch.fnmatch(n, pattern.lower())
        or fnmatch.fnmatch(_key(n), _key(pattern))
    ]
    return sorted(names, key=_natural_key)
