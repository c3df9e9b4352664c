"""Search spaces of the residual families: only valid architectures.

Every family's space is a tuple of `Hyperparameter`s: the architecture,
declared by the family's module beside its registered names (`SEARCH_SPACE`
in `keras_resnets/models/<family>.py`, e.g. WRN depth in {10, 16, 22, 28,
40}, k in 1..12, dropout in [0, 0.5]; see `Family`), then the optimiser (`learning_rate`, `weight_decay`, `label_smoothing`) and
the `fit` settings (`batch_size`, `epochs`). Each has a default, a default
range or set of values, and a *valid domain* (the rule the model enforces,
e.g. WRN depth `6n+4`); a user narrows a space with `search_space`:

```python
{"depth": [16, 28],                 # a list: hp.Choice over these values
 "k": {"min": 2, "max": 8},         # a range (also "step", "sampling", "default")
 "dropout_rate": 0.3}               # a scalar: hp.Fixed
```

`resolve_space(family, search_space)` checks every key and value against
the valid domain before anything is built: an unknown key, an empty list, a
range with `min > max`, or a value outside the domain raises a ValueError
naming the key, what is valid and what was received.
"""

import dataclasses
import difflib
import re

from keras_resnets import registry
from keras_resnets.spaces.hyperparameters import Hyperparameter
from keras_resnets.spaces.hyperparameters import narrow
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError


# === Rules ===


def _depth_rule(per_block, offset, minimum):
    def valid(depth):
        return isinstance(depth, int) and depth >= minimum and (depth - offset) % per_block == 0

    return valid


def _int_range(low, high=None):
    return lambda v: isinstance(v, int) and v >= low and (high is None or v <= high)


def _interval(low, high, *, closed_high=False):
    return lambda v: low <= v <= high if closed_high else low <= v < high


def _positive(v):
    return v > 0


def _choice(name, default, values, rule, valid, **kw):
    return Hyperparameter(name, "choice", default, values=tuple(values), rule=rule, valid=valid, **kw)


def _float(name, default, low, high, rule, valid, *, sampling="linear", step=None, group="model"):
    return Hyperparameter(
        name, "float", default, min_value=low, max_value=high, step=step, sampling=sampling,
        rule=rule, valid=valid, group=group,
    )


OPTIMIZER_SPACE = (
    _float("learning_rate", 0.1, 1e-3, 0.5, "a number > 0", _positive, sampling="log", group="optimizer"),
    _float("weight_decay", 5e-4, 1e-5, 1e-3, "a number >= 0", lambda v: v >= 0, sampling="log", group="optimizer"),
    _float("label_smoothing", 0.0, 0.0, 0.2, "a number in [0, 1)", _interval(0.0, 1.0), group="optimizer"),
)
FIT_SPACE = (
    _choice("batch_size", 128, (64, 128, 256), "a positive integer", _int_range(1), group="fit"),
    Hyperparameter("epochs", "int", 1, min_value=1, max_value=1, fixed=True, rule="a positive integer",
                   valid=_int_range(1), group="fit"),
)


# === Families ===
#
# Each family module (`keras_resnets/models/<family>.py`) declares, as plain
# data beside its registered names, a `SEARCH_SPACE` dict, and hands it to its
# family name's entry (`family=True`, `@base.builds(..., search_space=...)`):
# that entry is the family's generic one (`create_model("wrn", depth=10, k=4)`
# builds any architecture of the family). The keys:
#
#   family           the tuner's family name ("wrn")
#   prefixes         registry-name prefixes that select the family (`wrn-28-10`)
#   hyperparameters  name -> {"default", then "values" (a choice) or "min", "max"
#                    and "step" (a range); a bool default is a boolean}, with the
#                    valid domain: "depth": (p, o) for depths p*n+o (n >= 1), or
#                    "valid": "a..b" / "a.." (integers), "[a, b]" / "[a, b)" (numbers)
#   to_kwargs        optional `f(values) -> kwargs of the generic entry`
#   paper_names      registered name -> the kwargs of the generic entry that build
#                    exactly that model
#
# Families are listed in the order their generic names are registered.

_INTEGERS = re.compile(r"(\d+)\.\.(\d*)")
_NUMBERS = re.compile(r"\[([-+.\de]+), ([-+.\de]+)([\])])")
_MISSING = object()


def _domain(name, declared):
    """(rule text, valid callable) of a declared hyperparameter."""
    if "depth" in declared:
        per_block, offset = declared["depth"]
        rule, valid = f"{per_block}n+{offset}", _depth_rule(per_block, offset, per_block + offset)
    elif isinstance(declared["default"], bool):
        return "true or false", None
    elif _INTEGERS.fullmatch(declared.get("valid", "")):
        low, high = _INTEGERS.fullmatch(declared["valid"]).groups()
        low, high = int(low), int(high) if high else None
        if high is not None:
            rule = f"an integer in {low}..{high}"
        else:
            rule = "a positive integer" if low == 1 else f"an integer >= {low}"
        valid = _int_range(low, high)
    elif _NUMBERS.fullmatch(declared.get("valid", "")):
        low, high, bracket = _NUMBERS.fullmatch(declared["valid"]).groups()
        rule = f"a number in {declared['valid']}"
        valid = _interval(float(low), float(high), closed_high=bracket == "]")
    else:
        raise ValueError(  # the family module's declaration: a bug, not the user's
            f"Search space `{name}` declares no valid domain: give `depth` or `valid` "
            f"('a..b', 'a..', '[a, b]', '[a, b)'). Received: {declared!r}"
        )
    if "values" in declared:
        rule += f" (e.g. {', '.join(map(str, declared['values']))})"
    return rule, valid


def _hyperparameter(name, declared):
    rule, valid = _domain(name, declared)
    default = declared["default"]
    if isinstance(default, bool):
        return Hyperparameter(name, "bool", default, rule=rule)
    if "values" in declared:
        return _choice(name, default, declared["values"], rule, valid)
    kind = "int" if isinstance(default, int) else "float"
    return Hyperparameter(
        name, kind, default, min_value=declared["min"], max_value=declared["max"],
        step=declared.get("step", 1 if kind == "int" else None),
        sampling=declared.get("sampling", "linear"), rule=rule, valid=valid,
    )


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A model family as the tuner sees it (from its module's `SEARCH_SPACE`).

    Attributes:
        name: the tuner's family name ("wrn", "resnet", ...).
        prefixes: registry-name prefixes of the family (to infer it).
        generic: the registry's family name (`wrn`, `cifar-resnet`, ...):
            `create_model(generic, **arch)` builds any architecture of the
            family, with no paper numbers. Trials build unregistered
            architectures through it and exported configs name them by it.
        space: the architecture hyperparameters.
        paper_names: registered name -> the kwargs of `generic` that build
            exactly that model.
        to_kwargs: `f(values) -> dict`, hyperparameter values -> kwargs of
            the generic entry (None: the values themselves).
    """

    name: str
    prefixes: tuple
    generic: str
    space: tuple
    paper_names: dict
    to_kwargs: object = None

    @classmethod
    def from_declaration(cls, declared, generic):
        """The family a `SEARCH_SPACE` declares, built by the registry's
        family name `generic`."""
        return cls(
            name=declared["family"],
            prefixes=tuple(declared.get("prefixes", ())),
            generic=generic,
            space=tuple(_hyperparameter(n, d) for n, d in declared["hyperparameters"].items()),
            paper_names=dict(declared.get("paper_names", {})),
            to_kwargs=declared.get("to_kwargs"),
        )

    @property
    def name_keys(self):
        """The kwargs a paper name fixes (those of any `paper_names` entry)."""
        return tuple(dict.fromkeys(k for fixed in self.paper_names.values() for k in fixed))

    def arch_kwargs(self, values):
        arch = {h.name: values[h.name] for h in self.space}
        return self.to_kwargs(arch) if self.to_kwargs else arch

    def paper_name(self, kwargs):
        """The paper name whose architecture `kwargs` (of the generic entry)
        build, or None: every kwarg a paper name fixes must be equal, and one
        that name leaves unset must be unset."""
        for name, fixed in self.paper_names.items():
            if all(_plain(kwargs.get(k, _MISSING)) == _plain(fixed.get(k, _MISSING))
                   for k in self.name_keys):
                return name
        return None


_FAMILIES = {}


def families():
    """`name -> Family` of every registry family name whose entry declares
    a search space (`base.builds(..., search_space=...)`), in registration
    order (imports the models)."""
    specs = registry.family_specs()
    key = tuple(spec.name for spec in specs)
    if key not in _FAMILIES:
        found = {}
        for spec in specs:
            declared = getattr(spec.fn, "search_space", None)
            if declared is not None:
                family = Family.from_declaration(declared, generic=spec.name)
                found[family.name] = family
        _FAMILIES.clear()
        _FAMILIES[key] = found
    return _FAMILIES[key]


def __getattr__(name):
    if name == "FAMILIES":  # the declared families, loaded on first use
        return families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_family(name):
    """The `Family` of a family name ("wrn"), its registry family name
    ("cifar-resnet") or a registry name of one ("wrn-28-10")."""
    if isinstance(name, Family):
        return name
    found = families()
    key = str(name).lower().replace("_", "-")
    if key in found:
        return found[key]
    for family in found.values():
        if key == family.generic or any(key.startswith(p) for p in family.prefixes):
            return family
    close = difflib.get_close_matches(key, list(found), n=1, cutoff=0.4)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UserValueError(
        f"Unknown model family {name!r}.{hint} Valid families: {', '.join(found)} "
        "(or a registry name of one, e.g. wrn-28-10)."
    )


def full_space(family):
    """All hyperparameters of a family: architecture, optimizer, fit."""
    return get_family(family).space + OPTIMIZER_SPACE + FIT_SPACE


def resolve_space(family, search_space=None, *, defaults=None):
    """Validates a user's `search_space` against a family's space.

    Args:
        family: family name or registry name.
        search_space: dict `name -> scalar | list | range dict`, or None.
        defaults: dict `name -> value` replacing defaults (e.g. a config's
            learning rate); a default outside the range is ignored, a
            default for `epochs` fixes it.

    Returns:
        An ordered dict `name -> Hyperparameter`.

    Raises:
        ValueError: unknown key, empty or contradictory range, invalid value.
        TypeError: `search_space` is not a mapping.
    """
    fam = get_family(family)
    space = {h.name: h for h in full_space(fam)}
    search_space = {} if search_space is None else search_space
    if not isinstance(search_space, dict):
        raise UserTypeError(
            f"`search_space` must be a dict of hyperparameter name -> value, list or "
            f"range. Received: search_space={search_space!r}"
        )
    for name, value in (defaults or {}).items():
        h = space.get(name)
        if h is None or value is None or not h.is_valid(value):
            continue
        if h.fixed:
            space[name] = dataclasses.replace(h, default=value)
        elif h.candidates() is not None:
            if value in h.candidates():
                space[name] = dataclasses.replace(h, default=value)
        elif h.min_value <= value <= h.max_value:
            space[name] = dataclasses.replace(h, default=value)
    for name, override in search_space.items():
        if name not in space:
            close = difflib.get_close_matches(str(name), list(space), n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserValueError(
                f"Unknown hyperparameter {name!r} for the {fam.name} search space.{hint} "
                f"Valid keys: {', '.join(space)}. Received: search_space={search_space!r}"
            )
        h = space[name]
        if h.fixed and name == "epochs" and isinstance(override, dict):
            h = dataclasses.replace(h, fixed=False, max_value=max(h.max_value, override.get("max", 1)))
        space[name] = narrow(fam.name, h, override)
    return space


def split_model_kwargs(family, model_kwargs, search_space=None):
    """Splits a config's `model:` kwargs for a search: those that are
    hyperparameters of the family fix them (they join `search_space`), the
    others go to every model.

    Returns:
        (search_space, model_kwargs), new dicts.

    Raises:
        ValueError: a kwarg is also in `search_space`, or sets an argument
            the searched hyperparameters set (e.g. FractalNet's
            `stackwise_num_filters`, set by `width`).
    """
    fam = get_family(family)
    names = {h.name for h in full_space(fam)}
    search_space, rest = dict(search_space or {}), {}
    for key, value in dict(model_kwargs or {}).items():
        if key in names:
            if key in search_space:
                raise UserValueError(
                    f"`{key}` is both a model kwarg (fixed) and in `tuner.search_space`; keep one. "
                    f"Received: model.{key}={value!r}, tuner.search_space.{key}={search_space[key]!r}"
                )
            search_space[key] = value
        else:
            rest[key] = value
    check_model_kwargs(fam, rest)
    return search_space, rest


def check_model_kwargs(family, model_kwargs):
    """Raises a ValueError when fixed `model_kwargs` repeat what the search
    sets: a hyperparameter or an architecture argument derived from them."""
    fam = get_family(family)
    searched = {h.name for h in full_space(fam)}
    searched |= set(fam.arch_kwargs({h.name: h.default for h in fam.space}))
    clash = [k for k in model_kwargs if k in searched]
    if clash:
        raise UserValueError(
            f"`model_kwargs` repeats the searched hyperparameter `{clash[0]}`; put a "
            f"fixed value in `search_space` instead. Received: model_kwargs={dict(model_kwargs)!r}"
        )


def exact_registry_name(family, arch, **kwargs):
    """The registered paper name of exactly the model `create_model(generic,
    **arch, **kwargs)` builds, or None (see `model_section`)."""
    name = model_section(family, arch, **kwargs)["name"]
    return None if name == get_family(family).generic else name


def model_section(family, arch, **kwargs):
    """The `model:` config section (`name` + kwargs) of an architecture.

    `arch` and `kwargs` are kwargs of the family's generic entry. When they
    build exactly a paper-table model (`Family.paper_name`: e.g. depth 16
    and k 4 is wrn-16-4, and no kwarg changes what the name fixes) the
    section is that registered name plus the other kwargs; otherwise the
    family's generic name with every kwarg (e.g. `name: wrn, depth: 10,
    k: 4`). The name never contradicts the kwargs, and a run trained from
    the section reports no other model's paper error. Building the section
    (`create_model(section.pop("name"), **section)`) builds the same model
    either way.

    Raises:
        ValueError: `kwargs` repeat an architecture kwarg with another value.
    """
    fam = get_family(family)
    clash = [k for k in kwargs if k in arch and _plain(kwargs[k]) != _plain(arch[k])]
    if clash:
        raise UserValueError(
            f"The model kwarg `{clash[0]}` contradicts the searched architecture. "
            f"Received: {clash[0]}={kwargs[clash[0]]!r} and {arch!r}"
        )
    effective = {**arch, **kwargs}
    name = fam.paper_name(effective)
    if name is not None:
        rest = {k: v for k, v in effective.items() if k not in fam.paper_names[name]}
        try:
            spec = registry.get_spec(name)
            registry.check_model_arguments(spec.name, rest)  # nothing the name fixes
        except (TypeError, ValueError):
            name = None
        else:
            return {"name": spec.name, **rest}
    return {"name": fam.generic, **effective}
