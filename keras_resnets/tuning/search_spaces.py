"""Search spaces of the residual families: only valid architectures.

Every family's space is a tuple of `Hyperparameter`s: the architecture
(e.g. WRN depth in {10, 16, 22, 28, 40}, k in 1..12, dropout in [0, 0.5]),
then the optimiser (`learning_rate`, `weight_decay`, `label_smoothing`) and
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
import math

from keras_resnets import registry

# === Hyperparameters ===

KINDS = ("choice", "int", "float", "bool")
RANGE_KEYS = ("min", "max", "step", "sampling", "default", "values")


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One searchable setting.

    Attributes:
        name: the `hp` name (and model / optimizer / fit argument).
        kind: "choice", "int", "float" or "bool".
        default: the value used when the hyperparameter is not searched.
        values: candidate values of a "choice" (or a narrowed int/float).
        min_value, max_value, step, sampling: the range of "int"/"float".
        rule: text of the valid domain, for error messages.
        valid: callable, whether one value lies in the valid domain.
        fixed: whether the value is fixed (`hp.Fixed`).
        group: "model", "optimizer" or "fit".
    """

    name: str
    kind: str
    default: object
    values: tuple = ()
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    sampling: str = "linear"
    rule: str = ""
    valid: object = None
    fixed: bool = False
    group: str = "model"

    def is_valid(self, value):
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind == "int" or (self.kind == "choice" and isinstance(self.default, int)):
            if not isinstance(value, int):
                return False
        elif self.kind in ("float", "choice") and not isinstance(value, (int, float)):
            return False
        return self.valid is None or bool(self.valid(value))

    def candidates(self):
        """All values a draw can return (choice/bool/fixed), or None for a range."""
        if self.fixed:
            return (self.default,)
        if self.kind == "bool":
            return (False, True)
        if self.kind == "choice":
            return self.values
        return None

    def declare(self, hp):
        """Declares this hyperparameter on a `keras_tuner.HyperParameters`
        and returns its value."""
        if self.fixed:
            return hp.Fixed(self.name, self.default)
        if self.kind == "bool":
            return hp.Boolean(self.name, default=self.default)
        if self.kind == "choice":
            return hp.Choice(self.name, list(self.values), default=self.default)
        if self.kind == "int":
            return hp.Int(
                self.name, int(self.min_value), int(self.max_value), step=self.step,
                sampling=self.sampling, default=self.default,
            )
        return hp.Float(
            self.name, float(self.min_value), float(self.max_value), step=self.step,
            sampling=self.sampling, default=self.default,
        )

    def describe(self):
        if self.fixed:
            return f"{self.default!r}"
        if self.kind in ("choice", "bool"):
            return "{" + ", ".join(repr(v) for v in self.candidates()) + "}"
        return f"[{self.min_value}, {self.max_value}] ({self.sampling})"


def _error(family, name, what, received):
    return ValueError(f"Invalid search space for {family} `{name}`: {what}. Received: {name}={received!r}")


def check_value(family, hparam, value, received=None):
    """Raises a ValueError unless `value` lies in `hparam`'s valid domain."""
    if not hparam.is_valid(value):
        raise _error(
            family, hparam.name, f"every value must be {hparam.rule}",
            value if received is None else received,
        )
    return value


def narrow(family, hparam, override):
    """Returns `hparam` narrowed by a user's `override` (scalar, list or
    range dict); raises a ValueError on an empty, contradictory or invalid
    space."""
    name = hparam.name
    if isinstance(override, (list, tuple)):
        if not override:
            raise _error(family, name, f"the list of values is empty; valid values are {hparam.rule}", override)
        values = []
        for v in override:
            check_value(family, hparam, v, override)
            if v not in values:
                values.append(v)
        if len(values) == 1:
            return dataclasses.replace(hparam, default=values[0], fixed=True)
        if hparam.kind == "bool":
            return dataclasses.replace(hparam, fixed=False)
        default = hparam.default if hparam.default in values else values[0]
        return dataclasses.replace(hparam, kind="choice", values=tuple(values), default=default, fixed=False)
    if isinstance(override, dict):
        unknown = [k for k in override if k not in RANGE_KEYS]
        if unknown:
            raise _error(family, name, f"unknown range key {unknown[0]!r}; valid keys are {', '.join(RANGE_KEYS)}", override)
        if "values" in override:
            rest = {k: v for k, v in override.items() if k not in ("values", "default")}
            if rest:
                raise _error(family, name, "give either `values` or `min`/`max`, not both", override)
            narrowed = narrow(family, hparam, list(override["values"]))
            if "default" in override and not narrowed.fixed:
                if override["default"] not in narrowed.values:
                    raise _error(family, name, "the default must be one of the values", override)
                narrowed = dataclasses.replace(narrowed, default=override["default"])
            return narrowed
        if hparam.kind == "bool":
            raise _error(family, name, "a boolean takes true, false or [false, true], not a range", override)
        return _narrow_range(family, hparam, override)
    check_value(family, hparam, override)
    return dataclasses.replace(hparam, default=override, fixed=True)


def _narrow_range(family, hparam, override):
    name = hparam.name
    for key in ("min", "max", "step"):
        value = override.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _error(family, name, f"`{key}` must be a number", override)
    if hparam.kind == "choice":
        base = hparam.values
        low, high = override.get("min", min(base)), override.get("max", max(base))
        if low > high:
            raise _error(family, name, f"min ({low}) is greater than max ({high})", override)
        values = tuple(v for v in base if low <= v <= high)
        if not values:
            raise _error(
                family, name,
                f"no valid value between {low} and {high}; the candidates are "
                f"{', '.join(map(str, base))} ({hparam.rule})", override,
            )
        default = override.get("default", hparam.default)
        if default not in values:
            default = values[0]
        if len(values) == 1:
            return dataclasses.replace(hparam, default=values[0], fixed=True)
        return dataclasses.replace(hparam, values=values, default=default, fixed=False)
    low = override.get("min", hparam.min_value)
    high = override.get("max", hparam.max_value)
    if low > high:
        raise _error(family, name, f"min ({low}) is greater than max ({high})", override)
    for bound in (low, high):
        check_value(family, hparam, int(bound) if hparam.kind == "int" and bound == int(bound) else bound, override)
    sampling = override.get("sampling", hparam.sampling if "min" not in override else "linear")
    if sampling not in ("linear", "log", "reverse_log"):
        raise _error(family, name, "`sampling` must be 'linear', 'log' or 'reverse_log'", override)
    if sampling != "linear" and low <= 0:
        raise _error(family, name, f"{sampling} sampling needs min > 0", override)
    step = override.get("step", hparam.step if "min" not in override and "max" not in override else None)
    if hparam.kind == "int":
        low, high = int(math.ceil(low)), int(math.floor(high))
        if step is None and sampling == "linear":
            step = 1
    if low == high:
        return dataclasses.replace(hparam, default=low, fixed=True)
    default = override.get("default", hparam.default)
    if not (low <= default <= high):
        default = low
    check_value(family, hparam, default, override)
    return dataclasses.replace(
        hparam, min_value=low, max_value=high, step=step, sampling=sampling,
        default=default, fixed=False,
    )


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


def _int_hp(name, default, low, high, rule, valid, **kw):
    return Hyperparameter(name, "int", default, min_value=low, max_value=high, step=1, rule=rule, valid=valid, **kw)


def _choice(name, default, values, rule, valid, **kw):
    return Hyperparameter(name, "choice", default, values=tuple(values), rule=rule, valid=valid, **kw)


def _float(name, default, low, high, rule, valid, *, sampling="linear", step=None, group="model"):
    return Hyperparameter(
        name, "float", default, min_value=low, max_value=high, step=step, sampling=sampling,
        rule=rule, valid=valid, group=group,
    )


def _bool(name, default):
    return Hyperparameter(name, "bool", default, rule="true or false")


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


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family as the tuner sees it.

    Attributes:
        name: short family name ("wrn", "resnet", ...).
        prefixes: registry-name prefixes of the family (to infer it).
        generic: the registry's family name (`wrn`, `cifar-resnet`, ...,
            see `keras_resnets.models.families`): `create_model(generic,
            **arch)` builds any architecture of the family, with no paper
            numbers. Trials build unregistered architectures through it and
            exported configs name them by it.
        space: the architecture hyperparameters.
        registered_name: `f(arch) -> str`, the paper-table registry name of
            exactly this architecture (the name may not be registered).
        name_keys: the builder kwargs a registry name fixes (not passed to
            `create_model` when the architecture is registered).
        to_kwargs: `f(values) -> dict`, hyperparameter values -> kwargs of
            the generic entry.
    """

    name: str
    prefixes: tuple
    generic: str
    space: tuple
    registered_name: object
    name_keys: tuple = ("depth",)
    to_kwargs: object = None

    def arch_kwargs(self, values):
        arch = {h.name: values[h.name] for h in self.space}
        return self.to_kwargs(arch) if self.to_kwargs else arch


def _fractal_kwargs(values):
    w = values["width"]
    return {
        "num_columns": values["num_columns"],
        "stackwise_num_filters": [w, 2 * w, 4 * w, 8 * w, 8 * w],
        "local_drop_rate": values["local_drop_rate"],
    }


def _fractal_name(arch):
    if list(arch["stackwise_num_filters"]) == [64, 128, 256, 512, 512]:
        return {3: "fractalnet-20", 4: "fractalnet-40"}.get(arch["num_columns"])
    return None


_RATE_RULE = "a number in [0, 1)"

FAMILIES = {
    f.name: f
    for f in (
        Family(
            "wrn", ("wrn-",), "wrn",
            (
                _choice("depth", 16, (10, 16, 22, 28, 40), "6n+4 (e.g. 10, 16, 22, 28, 40)",
                        _depth_rule(6, 4, 10)),
                _int_hp("k", 4, 1, 12, "an integer in 1..12", _int_range(1, 12)),
                _float("dropout_rate", 0.0, 0.0, 0.5, "a number in [0, 0.5]",
                       _interval(0.0, 0.5, closed_high=True)),
            ),
            lambda a: f"wrn-{a['depth']}-{a['k']}", ("depth", "k"),
        ),
        Family(
            "resnet", ("resnet-", "preact-resnet-", "cifar-resnet"), "cifar-resnet",
            (
                _choice("depth", 20, (8, 14, 20, 32, 44, 56, 110), "6n+2 (e.g. 20, 32, 44, 56, 110)",
                        _depth_rule(6, 2, 8)),
                _bool("preactivation", False),
            ),
            lambda a: None if a["preactivation"] else f"resnet-{a['depth']}",
            ("depth", "preactivation"),
        ),
        Family(
            "shake-shake", ("shake-shake-",), "shake-shake",
            (
                _choice("depth", 26, (8, 14, 20, 26), "6n+2 (e.g. 14, 20, 26)", _depth_rule(6, 2, 8)),
                _choice("width", 32, (16, 32, 64, 96), "a positive integer (e.g. 32, 64, 96)",
                        _int_range(1)),
            ),
            lambda a: f"shake-shake-{a['depth']}-2x{a['width']}d", ("depth", "width"),
        ),
        Family(
            "pyramidnet", ("pyramidnet-",), "pyramidnet",
            (
                _choice("depth", 110, (20, 32, 56, 110), "6n+2 (e.g. 20, 56, 110)", _depth_rule(6, 2, 8)),
                Hyperparameter("alpha", "int", 48, min_value=12, max_value=300, step=12,
                               rule="an integer in 1..300", valid=_int_range(1, 300)),
                _bool("shakedrop", False),
            ),
            lambda a: f"pyramidnet-{a['depth']}-a{a['alpha']}" + ("-shakedrop" if a["shakedrop"] else ""),
            ("depth", "alpha", "shakedrop"),
        ),
        Family(
            "resnext", ("resnext-", "cifar-resnext"), "cifar-resnext",
            (
                _choice("depth", 29, (11, 20, 29), "9n+2 (e.g. 11, 20, 29)", _depth_rule(9, 2, 11)),
                _choice("cardinality", 8, (2, 4, 8, 16), "a positive integer (e.g. 2, 4, 8, 16)",
                        _int_range(1)),
                _choice("base_width", 64, (4, 8, 16, 32, 64), "a positive integer (e.g. 4, 16, 64)",
                        _int_range(1)),
            ),
            lambda a: f"resnext-{a['depth']}-{a['cardinality']}x{a['base_width']}d",
            ("depth", "cardinality", "base_width"),
        ),
        Family(
            "fractalnet", ("fractalnet-",), "fractalnet",
            (
                _int_hp("num_columns", 3, 1, 4, "an integer in 1..5", _int_range(1, 5)),
                _choice("width", 64, (16, 32, 64), "a positive integer (first block's channels)",
                        _int_range(1)),
                _float("local_drop_rate", 0.15, 0.0, 0.3, _RATE_RULE, _interval(0.0, 1.0)),
            ),
            _fractal_name, ("num_columns", "stackwise_num_filters"), _fractal_kwargs,
        ),
    )
}


def get_family(name):
    """The `Family` of a family name ("wrn") or a registry name ("wrn-28-10")."""
    if isinstance(name, Family):
        return name
    key = str(name).lower().replace("_", "-")
    if key in FAMILIES:
        return FAMILIES[key]
    for family in FAMILIES.values():
        if any(key.startswith(p) for p in family.prefixes):
            return family
    close = difflib.get_close_matches(key, list(FAMILIES), n=1, cutoff=0.4)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown model family {name!r}.{hint} Valid families: {', '.join(FAMILIES)} "
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
        raise TypeError(
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
            raise ValueError(
                f"Unknown hyperparameter {name!r} for the {fam.name} search space.{hint} "
                f"Valid keys: {', '.join(space)}. Received: search_space={search_space!r}"
            )
        h = space[name]
        if h.fixed and name == "epochs" and isinstance(override, dict):
            h = dataclasses.replace(h, fixed=False, max_value=max(h.max_value, override.get("max", 1)))
        space[name] = narrow(fam.name, h, override)
    return space


def exact_registry_name(family, arch):
    """The registered name of exactly this architecture, or None."""
    fam = get_family(family)
    name = fam.registered_name(arch)
    if name is None:
        return None
    try:
        registry.get_spec(name)
    except ValueError:
        return None
    return registry.get_spec(name).name


def model_section(family, arch, **kwargs):
    """The `model:` config section (`name` + kwargs) of an architecture.

    A paper-table architecture (e.g. wrn-16-4) is written as its registered
    name plus the kwargs the name does not fix; any other one under the
    family's generic name with every architecture kwarg (e.g. `name: wrn,
    depth: 10, k: 4`), so the name never contradicts the kwargs and a run
    trained from it reports no other model's paper error.
    """
    fam = get_family(family)
    name = exact_registry_name(fam, arch)
    if name is not None:
        rest = {k: v for k, v in arch.items() if k not in fam.name_keys}
        return {"name": name, **rest, **kwargs}
    return {"name": fam.generic, **arch, **kwargs}


def create_architecture(family, arch, **kwargs):
    """Builds the model of `arch` (kwargs of the family's generic entry).

    Builds exactly what `model_section(family, arch, **kwargs)` names:
    registered architectures through their registry name, the others
    through the family's generic name (`create_model("wrn", depth=10,
    k=4)`). `None` kwargs are dropped, as `create_model` does.
    """
    section = model_section(family, arch, **kwargs)
    return registry.create_model(section.pop("name"), **section)
