"""Run configuration: YAML -> validated, frozen dataclasses.

A config file has fixed sections (see `configs/` for one file per paper):

```yaml
model:          # `name` (a registry name) + keyword arguments of create_model
  name: wrn-28-10
  dropout_rate: 0.3
data:           # source + pipeline options of keras_resnets.data
  source: cifar10        # a tfds name, or a local path (or --data PATH)
  validation_size: 0
optimizer:      # SGD with (Nesterov) momentum and weight decay
  learning_rate: 0.1
  momentum: 0.9
  nesterov: true
  weight_decay: 5.0e-4
  weight_decay_mode: coupled                   # coupled | decoupled | l2
schedule:       # constant | step | cosine | onecycle (+ warm-up)
  name: step
  milestones: [60, 120, 160]
  gamma: 0.2
training:       # epochs, batch size, label smoothing, precision, output
  epochs: 200
  batch_size: 128
distribution:   # none | mirrored | multi_worker_mirrored | data_parallel
  strategy: none
tuner:          # `keras-resnets tune` only (keras_resnets.tuning); empty otherwise
  name: random_search    # random_search | hyperband | bayesian_optimization
  max_trials: 20
  search_space: {depth: [16, 28], k: {min: 2, max: 10}}
```

`load_config(path, overrides)` reads the file with `yaml.safe_load`, applies
dotted `key=value` overrides (values parsed as YAML, as `--set` gives them)
or `(key, value)` pairs (typed values, as the command line's flags give
them), and checks every key and
value before anything is built: an unknown key raises `ConfigError` with a
"did you mean" hint, a wrong type raises `ConfigTypeError` (a `TypeError`),
and a bad value or unknown model name raises `ConfigError` (a `ValueError`).

The sections' dataclasses (`Config`, `DataConfig`, ...) are defined in
`config_sections` and the YAML-only checks in `config_checks`; both are
re-exported here. This module adds what needs the rest of the package: the
registry (`model.name` and its arguments), the data sets (`data.source`)
and the families' search spaces (`tuner:`, `keras_resnets.spaces`).
"""

import dataclasses
import os
import pathlib

import yaml

from keras_resnets.training.config_checks import build_section
from keras_resnets.training.config_checks import check_keys
from keras_resnets.training.config_checks import check_values
from keras_resnets.training.config_checks import section_of
from keras_resnets.training.config_sections import KNOWN_TFDS
from keras_resnets.training.config_sections import LOCAL_KINDS
from keras_resnets.training.config_sections import SECTION_CLASSES
from keras_resnets.training.config_sections import SECTIONS
from keras_resnets.training.config_sections import TUNER_NAMES
from keras_resnets.training.config_sections import Config
from keras_resnets.training.config_sections import ConfigError
from keras_resnets.training.config_sections import ConfigTypeError
from keras_resnets.training.config_sections import DataConfig
from keras_resnets.training.config_sections import DistributionConfig
from keras_resnets.training.config_sections import ModelConfig
from keras_resnets.training.config_sections import OptimizerConfig
from keras_resnets.training.config_sections import ScheduleConfig
from keras_resnets.training.config_sections import TrainingConfig
from keras_resnets.training.config_sections import TunerConfig
from keras_resnets.training.config_sections import tuner_name
from keras_resnets.errors import UserFileNotFoundError

# === Loading ===


def load_config(path, overrides=(), *, check_paths=True):
    """Reads a YAML config, applies `key=value` overrides and validates it.

    Args:
        path: str or Path of the YAML file.
        overrides: iterable of `"section.key=value"` strings (values parsed
            with `yaml.safe_load`, so `1e-3`, `true`, `[60, 120]` work) or
            `("section.key", value)` pairs (the value as it is), applied in
            order.
        check_paths: whether a local `data.source` must exist.

    Returns:
        A validated `Config`.

    Raises:
        ConfigError: unknown key, bad value, unknown model name, missing data.
        ConfigTypeError: wrong type.
        FileNotFoundError: `path` does not exist.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserFileNotFoundError(f"Config file not found. Received: path={str(path)!r}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if raw is None:
        raw = {}
    return config_from_dict(raw, overrides, path=path, check_paths=check_paths)


def config_from_dict(raw, overrides=(), *, path=None, check_paths=True):
    """Validates a dict (as read from YAML) into a `Config`; see `load_config`."""
    if not isinstance(raw, dict):
        raise ConfigTypeError(
            f"A config must be a mapping of sections {SECTIONS}. "
            f"Received: {type(raw).__name__}"
        )
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for item in overrides:
        apply_override(raw, item)
    check_keys(raw, SECTIONS, "")
    for section in SECTIONS:
        if section in raw and raw[section] is None:
            raw[section] = {}
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigTypeError(
                f"Config section `{section}` must be a mapping. "
                f"Received: {section}={raw[section]!r}"
            )
    # The model first; a built-in model's name and arguments are checked
    # against the generated index, so a typo costs no backend import.
    model = _build_model(*_model_name(raw.get("model")))
    sections = {}
    for name, cls in SECTION_CLASSES.items():
        sections[name] = build_section(name, cls, raw.get(name, {}))
    data = sections["data"]
    data = dataclasses.replace(data, source=_resolve_source(data.source, path, check_paths))
    sections["data"] = data
    raw_tuner = dict(raw.get("tuner") or {})
    check_keys(raw_tuner, [f.name for f in dataclasses.fields(TunerConfig)], "tuner.")
    if "name" in raw_tuner:
        raw_tuner["name"] = tuner_name(raw_tuner["name"])
    if raw_tuner.get("search_space", {}) is None:
        del raw_tuner["search_space"]
    config = Config(
        model=model,
        tuner=build_section("tuner", TunerConfig, raw_tuner),
        path=str(path) if path is not None else None,
        **sections,
    )
    check_values(config)
    if raw_tuner:
        _check_search_space(config)
    return config


def apply_override(raw, item):
    """Applies one override to the nested dict `raw` in place: an
    `"a.b=value"` string (the value parsed as YAML) or an `("a.b", value)`
    pair (the value as it is)."""
    if isinstance(item, tuple):
        key, value = item
    elif "=" not in item:
        raise ConfigError(
            f"An override must look like section.key=value. Received: {item!r}"
        )
    else:
        key, text = item.split("=", 1)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        where = section_of(key.strip()) if len(parts) == 1 and parts[0] else None
        hint = f" Did you mean `{where}`?" if where else ""
        raise ConfigError(
            f"An override key must be dotted, e.g. training.epochs=1.{hint} Received: {key!r}"
        )
    check_keys({parts[0]: None}, SECTIONS, "")
    node = raw
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _model_name(raw):
    """`(registered name, kwargs)` of the `model:` section, checked against
    the model table without importing keras (`_registry.model_facts`)."""
    if not raw or "name" not in raw:
        raise ConfigError(
            "Missing required key `model.name`: a registry name such as "
            "resnet-20 or wrn-28-10 (see `keras-resnets list-models`)."
        )
    name = raw["name"]
    if not isinstance(name, str):
        raise ConfigTypeError(
            f"`model.name` must be a string. Received: model.name={name!r}"
        )
    from keras_resnets._registry import model_facts

    try:
        name = model_facts(name)["name"]
    except ValueError as e:
        raise ConfigError(f"model.name: {e}") from None
    return name, {k: v for k, v in raw.items() if k != "name"}


def _build_model(name, kwargs):
    """The `ModelConfig`, its arguments checked against the registered
    constructor's signature (nothing is built): a built-in model's from the
    generated index (no keras), one registered at run time from its entry."""
    from keras_resnets import _registry

    indexed = _registry.indexed_arguments(name)
    try:
        if indexed is not None:
            _registry.check_arguments(name, kwargs, *indexed, prefix="model.")
        else:
            from keras_resnets import registry

            registry.check_model_arguments(name, kwargs, prefix="model.")
    except TypeError as e:
        raise ConfigError(str(e)) from None
    return ModelConfig(name=name, kwargs=kwargs)


def _resolve_source(source, path, check_paths):
    """Resolves `data.source`: a name or relative path that exists in the
    current directory, else in the config's folder or one of its parents,
    becomes that path; otherwise it must be a tensorflow-datasets name."""
    candidate = pathlib.Path(os.path.expanduser(source))
    if candidate.is_absolute():
        folders = []
        tried = [candidate]
    else:
        folders = [pathlib.Path.cwd()]
        if path is not None:
            folder = pathlib.Path(path).resolve().parent
            folders += [folder, *folder.parents]
        tried = [d / candidate for d in folders]
    for option in tried:
        if option.exists():
            return os.path.normpath(str(option))
    if not check_paths or source in KNOWN_TFDS:
        return source
    from keras_resnets.data import archives
    from keras_resnets.data import tfds_source

    if not archives.looks_like_path(source):
        if tfds_source.is_tfds_name(source):
            return source
        raise ConfigError(
            tfds_source.unknown_source_message(source, key="data.source", looked_in=folders)
        )
    raise ConfigError(
        f"`data.source` not found: no file or folder at {source!r} (looked in "
        f"the current directory and beside the config). Expected {LOCAL_KINDS}, "
        f"or a tensorflow-datasets name ({', '.join(KNOWN_TFDS)}). "
        f"Received: data.source={source!r}"
    )


def _check_search_space(config):
    """Checks `tuner.family` and `tuner.search_space` (with the `model:`
    kwargs that fix hyperparameters) against the family's search space."""
    from keras_resnets.spaces import families  # the models' declarations; no keras-tuner

    tuner = config.tuner
    try:
        family = families.get_family(tuner.family or config.model.name)
    except ValueError as e:
        raise ConfigError(f"tuner.family (default: model.name): {e}") from None
    try:
        space, _ = families.split_model_kwargs(family, config.model.kwargs, tuner.search_space)
        families.resolve_space(family, space)
    except ValueError as e:
        raise ConfigError(f"tuner.search_space: {e}") from None


__all__ = [
    "KNOWN_TFDS", "LOCAL_KINDS", "SECTIONS", "TUNER_NAMES", "Config", "ConfigError",
    "ConfigTypeError", "DataConfig", "DistributionConfig", "ModelConfig", "OptimizerConfig",
    "ScheduleConfig", "TrainingConfig", "TunerConfig", "apply_override", "config_from_dict",
    "load_config", "tuner_name",
]
