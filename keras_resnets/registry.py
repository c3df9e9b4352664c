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
    dropped so that unset config or CLI values never override them.

    Example:
    >>> model = create_model("wrn-16-4", num_classes=100, dropout_rate=0.3)
    """
    spec = get_spec(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    return spec.fn(**kwargs)


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
