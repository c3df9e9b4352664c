"""Key and value checks of the run configuration (`config_sections`).

Every check raises `ConfigError` (a `ValueError`) or `ConfigTypeError` (a
`TypeError`) with the key, what is valid and what was received; an unknown
key gets a "did you mean" hint (a close key, an alias such as `lr`, or the
section that has it). These checks read only the YAML values: the ones
that need the registry, the data sets or the search spaces are in
`keras_resnets.training.config`.
"""

import dataclasses
import difflib
import re
import types
import typing
from typing import Literal

from keras_resnets.training.config_sections import KNOWN_TFDS
from keras_resnets.training.config_sections import LOCAL_KINDS
from keras_resnets.training.config_sections import SECTION_CLASSES
from keras_resnets.training.config_sections import ConfigError
from keras_resnets.training.config_sections import ConfigTypeError
from keras_resnets.training.config_sections import section_fields

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

# Abbreviations difflib cannot match to the key they stand for.
_KEY_ALIASES = {
    "lr": "learning_rate", "learningrate": "learning_rate", "base_lr": "learning_rate",
    "wd": "weight_decay", "decay": "weight_decay", "l2": "weight_decay",
    "mom": "momentum", "bs": "batch_size", "batch": "batch_size",
    "epoch": "epochs", "n_epochs": "epochs", "num_epochs": "epochs",
    "steps": "steps_per_epoch", "precision": "mixed_precision", "amp": "mixed_precision",
    "jit": "jit_compile", "xla": "jit_compile", "out": "output_dir", "output": "output_dir",
    "dataset": "source", "data": "source", "path": "source",
}


def section_of(key):
    """`section.key` of the section that has `key` (or its alias), or None."""
    key = _KEY_ALIASES.get(str(key).lower(), str(key).lower())
    for section, cls in SECTION_CLASSES.items():
        if key in {f.name for f in dataclasses.fields(cls)}:
            return f"{section}.{key}"
    return None


def _suggest(key, valid, prefix):
    """The "did you mean" of an unknown `prefix + key`: a close key of the
    same section, an alias (`lr` -> `learning_rate`), or the section that
    has the key (`training.momentum` -> `optimizer.momentum`)."""
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    if close:
        return f"{prefix}{close[0]}"
    alias = _KEY_ALIASES.get(str(key).lower())
    if alias in valid:
        return f"{prefix}{alias}"
    return section_of(key) if prefix else None


def check_keys(mapping, valid, prefix):
    """Raises a `ConfigError` with a "did you mean" for the first key of
    `mapping` not in `valid` (`prefix`: "section." or "" at the top level)."""
    for key in mapping:
        if key not in valid:
            close = _suggest(key, valid, prefix)
            hint = f" Did you mean `{close}`?" if close else ""
            where = f"in section `{prefix[:-1]}`" if prefix else "at the top level"
            raise ConfigError(
                f"Unknown config key `{prefix}{key}`.{hint} Valid keys {where}: "
                f"{', '.join(valid)}."
            )


def build_section(name, cls, raw):
    """The section dataclass `cls` from its YAML dict: keys and types checked,
    numbers converted, missing required keys named."""
    fields = {f.name: f for f in section_fields(cls)}
    check_keys(raw, list(fields), f"{name}.")
    values = {}
    for key, value in raw.items():
        values[key] = _check_type(f"{name}.{key}", value, fields[key].type)
    missing = [
        k for k, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        and k not in values
    ]
    if missing:
        key = f"{name}.{missing[0]}"
        if key == "data.source":
            raise ConfigError(
                "Missing required key `data.source` (or --data PATH): a "
                f"tensorflow-datasets name ({', '.join(KNOWN_TFDS)}) or the path "
                f"of {LOCAL_KINDS}."
            )
        raise ConfigError(f"Missing required key `{key}`.")
    return cls(**values)


def _type_name(tp):
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return {bool: "true/false", int: "an int", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _matches(value, tp):
    """Returns (ok, converted)."""
    if tp is type(None):
        return value is None, value
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp) and type(value) in (
            type(a) for a in typing.get_args(tp)
        ), value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, converted = _matches(value, arg)
            if ok:
                return True, converted
        return False, value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return False, value
        (item,) = typing.get_args(tp)
        out = []
        for v in value:
            ok, converted = _matches(v, item)
            if not ok:
                return False, value
            out.append(converted)
        return True, tuple(out)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            # YAML 1.1 reads `1e-3` (no dot) as a string; accept it as a number.
            return True, float(value)
        return False, value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is dict:
        return isinstance(value, dict), value
    return isinstance(value, tp), value


def _check_type(key, value, tp):
    ok, converted = _matches(value, tp)
    if ok:
        return converted
    # A right type with a value outside a Literal is a ValueError.
    literals = _literal_args(tp)
    if literals and isinstance(value, str) and all(isinstance(a, str) for a in literals if a is not None):
        close = difflib.get_close_matches(value, [a for a in literals if isinstance(a, str)], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Invalid value for `{key}`.{hint} Expected one of "
            f"{', '.join(repr(a) for a in literals if a is not None)}. Received: {key}={value!r}"
        )
    raise ConfigTypeError(
        f"Wrong type for `{key}`: expected {_type_name(tp)}. Received: {key}={value!r} "
        f"({type(value).__name__})"
    )


def _literal_args(tp):
    origin = typing.get_origin(tp)
    if origin is Literal:
        return list(typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(tp):
            out += _literal_args(arg)
        return out
    return []



def _positive(key, value, *, strict=True, allow_none=False):
    if value is None and allow_none:
        return
    if value is None or (value <= 0 if strict else value < 0):
        bound = "> 0" if strict else ">= 0"
        raise ConfigError(f"`{key}` must be {bound}. Received: {key}={value!r}")


def check_values(config):
    """Checks the ranges of a `Config`'s values (the types are checked already)."""
    o, s, t, d = config.optimizer, config.schedule, config.training, config.data
    _positive("optimizer.learning_rate", o.learning_rate)
    if not 0 <= o.momentum < 1:
        raise ConfigError(
            f"`optimizer.momentum` must be in [0, 1). Received: optimizer.momentum={o.momentum!r}"
        )
    if o.nesterov and o.momentum == 0:
        raise ConfigError(
            "`optimizer.nesterov` needs a momentum > 0. Received: optimizer.momentum=0.0"
        )
    _positive("optimizer.weight_decay", o.weight_decay, strict=False)
    _positive("optimizer.clipnorm", o.clipnorm, allow_none=True)
    _positive("schedule.gamma", s.gamma)
    _positive("schedule.min_learning_rate", s.min_learning_rate, strict=False)
    _positive("schedule.warmup_epochs", s.warmup_epochs, strict=False)
    if s.warmup_steps is not None:
        _positive("schedule.warmup_steps", s.warmup_steps, strict=False)
    if s.warmup_learning_rate is not None:
        _positive("schedule.warmup_learning_rate", s.warmup_learning_rate, strict=False)
    for key, values in (("milestones", s.milestones), ("milestone_steps", s.milestone_steps)):
        values = list(values or ())
        if any(v <= 0 for v in values) or values != sorted(values):
            raise ConfigError(
                f"`schedule.{key}` must be increasing and positive. "
                f"Received: schedule.{key}={values!r}"
            )
    if s.name == "step" and not (s.milestones or s.milestone_steps):
        raise ConfigError(
            "schedule.name=step needs `schedule.milestones` (epochs) or "
            "`schedule.milestone_steps` (iterations). Received: none"
        )
    if not 0 < s.pct_start < 1:
        raise ConfigError(
            f"`schedule.pct_start` must be in (0, 1). Received: schedule.pct_start={s.pct_start!r}"
        )
    _positive("schedule.div_factor", s.div_factor)
    _positive("schedule.final_div_factor", s.final_div_factor)
    _positive("training.epochs", t.epochs)
    _positive("training.batch_size", t.batch_size)
    _positive("training.steps_per_epoch", t.steps_per_epoch, allow_none=True)
    _positive("training.validation_freq", t.validation_freq)
    _positive("training.steps_per_execution", t.steps_per_execution)
    if not 0 <= t.label_smoothing < 1:
        raise ConfigError(
            "`training.label_smoothing` must be in [0, 1). "
            f"Received: training.label_smoothing={t.label_smoothing!r}"
        )
    if t.verbose not in ("auto", 0, 1, 2):
        raise ConfigError(
            f"`training.verbose` must be 'auto', 0, 1 or 2. Received: training.verbose={t.verbose!r}"
        )
    _positive("data.padding", d.padding, strict=False)
    _positive("data.eval_batch_size", d.eval_batch_size, allow_none=True)
    _positive("data.train_limit", d.train_limit, allow_none=True)
    _positive("data.test_limit", d.test_limit, allow_none=True)
    _positive("data.validation_size", d.validation_size, strict=False)
    if len(d.scale_range) != 2:
        raise ConfigError(
            f"`data.scale_range` must be [low, high]. Received: data.scale_range={list(d.scale_range)!r}"
        )
    if d.augment_on == "device" and d.preset == "imagenet":
        raise ConfigError(
            "`data.augment_on: device` ships same-size uint8 batches (presets cifar, svhn, "
            "none); the imagenet preset resizes every image on the host. Use "
            "`data.augment_on: host`. Received: data.preset=imagenet, data.augment_on=device"
        )
    if not isinstance(config.model.kwargs, dict):
        raise ConfigTypeError("`model` must be a mapping")
    for key in ("max_trials", "executions_per_trial", "max_epochs", "factor",
                "hyperband_iterations", "num_initial_points", "max_consecutive_failed_trials",
                "max_params", "final_epochs"):
        _positive(f"tuner.{key}", getattr(config.tuner, key), allow_none=True)

