"""Model registry: `create_model`, `get_spec`, `list_models` (timm-style).

Two layers, as in timm's `_registry` and `_factory`:

- `keras_resnets._registry` holds the table (`register_model`,
  `list_models`, `model_facts`). It imports nothing of ours and no keras,
  so every model module registers there and the command line lists models
  without a backend. Its names are re-exported here.
- This module sits above the models: `get_spec` and `create_model` import
  `keras_resnets.models` first (which registers the built-in models and
  imports keras), check the arguments and build.

`list_models` and `model_facts` read the built-in names and paper facts
from `keras_resnets/_model_index.json`. That file is generated from the
registrations (`python -m keras_resnets.registry` rewrites it, and the
README's model table from it) and tests check that both equal them.
"""

import json

from keras_resnets._registry import _REGISTRY
from keras_resnets._registry import _KEYS
from keras_resnets._registry import ModelSpec
from keras_resnets._registry import _key
from keras_resnets._registry import _natural_key
from keras_resnets._registry import _spec_facts
from keras_resnets._registry import check_arguments
from keras_resnets._registry import list_models
from keras_resnets._registry import model_facts
from keras_resnets._registry import register_model
from keras_resnets._registry import unknown_name_error

__all__ = [
    "ModelSpec",
    "build",
    "check_model_arguments",
    "create_model",
    "family_specs",
    "get_spec",
    "list_models",
    "model_arguments",
    "model_facts",
    "register_model",
]


def _ensure_loaded():
    import keras_resnets.models  # noqa: F401  (registers the entrypoints)


def _index_text():
    """The text of `_model_index.json` for the current registrations: one
    line per model (diffs stay readable)."""
    _ensure_loaded()
    models, signatures, arguments = {}, {}, {}
    for name in sorted(_REGISTRY, key=_natural_key):
        spec = _REGISTRY[name]
        models[name] = _spec_facts(spec)
        owner, valid, fixed = _signature(spec)
        if valid is None:
            continue
        builder = getattr(spec.fn, "model_builder", None)
        key = f"{builder.__name__}/{owner}" if builder else (owner or name)
        model_cls = getattr(spec.fn, "model_class", None)
        if model_cls is not None:
            from keras_resnets.models.base import model_argument_names

            names = model_argument_names(model_cls, builder)  # valid = names - fixed
        else:
            names = valid
        signatures.setdefault(key, list(names))
        arguments[name] = [owner, key, list(fixed)]

    def section(title, entries):
        rows = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in entries.items())
        return f"  {json.dumps(title)}: {{\n{rows}\n  }}"

    return "{\n" + ",\n".join([
        f'  "about": {json.dumps(INDEX_ABOUT)}',
        section("models", models),
        section("signatures", dict(sorted(signatures.items()))),
        section("arguments", arguments),
    ]) + "\n}\n"


INDEX_ABOUT = (
    "Generated from the registrations by `python -m keras_resnets.registry`; do not edit "
    "(tests/test_cli.py checks it). models: name -> paper facts (list_models, model_facts); "
    "signatures: keyword arguments of each model class (after its builder's), in signature "
    "order; arguments: name -> [model class, signatures key, the arguments the name fixes] "
    "(a config's model: section is checked against them without keras)."
)


def get_spec(name):
    """Returns the `ModelSpec` of `name`, raising a ValueError with the
    closest valid names when it is unknown."""
    _ensure_loaded()
    key = _key(name)
    if key not in _KEYS:
        raise unknown_name_error(name, list(_REGISTRY))
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
    given = [k for k, v in kwargs.items() if v is not None and not _is_weights_tag(k, v)]
    check_model_arguments(spec.name, given)
    return build(spec.name, **kwargs)


def build(name, **kwargs):
    """Builds the registered model `name` from arguments checked already:
    `create_model` without `check_model_arguments`. The training recipe
    builds this way, since `training.config` checked the `model:` section
    when it loaded the config (each check once).

    Raises:
        ValueError: unknown model name or weights tag.
    """
    spec = get_spec(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    tag = None
    if _is_weights_tag("weights", kwargs.get("weights")):
        from keras_resnets.weights import pretrained

        tag = kwargs.pop("weights")  # weights shipped in the package
        pretrained.packaged_weights(spec.name, tag)  # unknown: fail before building
    model = spec.fn(**kwargs)
    if tag is not None:
        pretrained.load_packaged_weights(model, spec.name, tag)
    return model


def _is_weights_tag(key, value):
    """Whether `key=value` names weights shipped in the package."""
    if key != "weights" or not isinstance(value, str):
        return False
    from keras_resnets.weights import pretrained

    return pretrained.is_weights_tag(value)


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
    check_arguments(spec.name, kwargs, owner, valid, fixed, prefix=prefix)


def family_specs():
    """The `ModelSpec`s of the family names (`register_model(...,
    family=True)`: `wrn`, `cifar-resnet`, ...), in registration order."""
    _ensure_loaded()
    return [spec for spec in _REGISTRY.values() if spec.defaults.get("family")]


# The README's model table sits between these lines.
README_TABLE_START = "<!-- model table: generated by `python -m keras_resnets.registry` -->"
README_TABLE_END = "<!-- end of model table -->"


def readme_table():
    """The README's model table (Markdown), one row per built-in paper name
    in `list_models()` order, from the generated index."""
    from keras_resnets._registry import _builtin_index

    facts = _builtin_index()
    names = sorted((n for n in facts if not facts[n].get("family")), key=_natural_key)
    rows = [
        "| name | trainable params | paper | paper's test error % (data set) |",
        "|---|---|---|---|",
    ]
    for name in names:
        f = facts[name]
        result = f["dataset"] if f["error"] is None else f"{f['error']} ({f['dataset']})"
        rows.append(f"| `{name}` | {f['params']:,} | {f['paper']} | {result} |")
    return "\n".join(rows) + "\n"


def replace_readme_table(text):
    """`text` (the README) with the model table between its markers
    replaced by `readme_table()`."""
    head, start, rest = text.partition(README_TABLE_START + "\n")
    _, end, tail = rest.partition(README_TABLE_END)
    if not start or not end:
        raise ValueError(
            f"The README has no model table markers ({README_TABLE_START!r} ... "
            f"{README_TABLE_END!r})."
        )
    return head + start + readme_table() + end + tail


if __name__ == "__main__":
    # Rewrites keras_resnets/_model_index.json from the registrations, then the
    # model table of the checkout's README.md from the index.
    import pathlib

    path = pathlib.Path(__file__).with_name("_model_index.json")
    path.write_text(_index_text())
    print(f"wrote {path} ({len(_REGISTRY)} models)")
    readme = path.parents[1] / "README.md"
    if readme.exists():
        readme.write_text(replace_readme_table(readme.read_text()))
        print(f"wrote the model table of {readme}")
