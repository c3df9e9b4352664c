"""`Hyperparameter`: one searchable setting, its valid domain, and how a
user's `search_space` entry narrows it (`narrow`).

A user narrows a hyperparameter with a scalar (`hp.Fixed`), a list
(`hp.Choice` over these values) or a range dict (`min`, `max`, `step`,
`sampling`, `default`, or `values`); every value is checked against the
valid domain, and an empty, contradictory or invalid space raises a
ValueError naming the key, what is valid and what was received.
"""

import dataclasses
import math

from keras_resnets.errors import UserValueError

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
    return UserValueError(f"Invalid search space for {family} `{name}`: {what}. Received: {name}={received!r}")


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
