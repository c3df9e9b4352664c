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
dotted `key=value` overrides (values parsed as YAML), and checks every key and
value before anything is built: an unknown key raises `ConfigError` with a
"did you mean" hint, a wrong type raises `ConfigTypeError` (a `TypeError`),
and a bad value or unknown model name raises `ConfigError` (a `ValueError`).
"""

import dataclasses
import difflib
import os
import pathlib
import re
import types
import typing
from typing import Literal

import yaml

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
SECTIONS = ("model", "data", "optimizer", "schedule", "training", "distribution", "tuner")
KNOWN_TFDS = ("cifar10", "cifar100", "svhn_cropped", "imagenet2012")
LOCAL_KINDS = "an image folder, a .tar/.tar.gz/.zip archive of one, or an .npz file"


class ConfigError(ValueError):
    """A config key or value is invalid (the message names the key)."""


class ConfigTypeError(ConfigError, TypeError):
    """A config value has the wrong type."""


# === Sections ===


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """`model:` a registry name plus keyword arguments for `create_model`.

    `num_classes` and `input_shape` default to the data set's; `None`
    values are dropped, so unset keys keep the registered defaults. Keys
    are checked against the registered constructor's arguments when the
    config is loaded (a typo is a `ConfigError` with a "did you mean").
    """

    name: str
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """`data:` where the images come from and how they are augmented.

    Attributes:
        source: tensorflow-datasets name (`cifar10`, `cifar100`,
            `svhn_cropped`, `imagenet2012`) or a local path (image folder,
            archive, .npz). Relative paths, bare names included, are looked
            up from the current directory, then from the config file's
            folder and its parents; a name found there is a path, otherwise
            it must be a tensorflow-datasets name.
        data_dir: tensorflow-datasets data directory.
        cache_dir: decoded-array cache (default `~/.cache/keras_resnets`).
        preset: `cifar`, `svhn`, `imagenet`, `none`; None infers it.
        validation_size: examples (int) or fraction held out of `train`.
        validation_method: `last` (He 2015's 45k/5k) or `random`.
        padding, padding_mode: CIFAR pad-and-crop (`constant` or `reflect`).
        mean, std: per-channel statistics on the [0, 1] scale, a name
            (`cifar10`, `cifar100`, `imagenet`) or None (computed from the
            training images for the CIFAR preset; the run folder's
            config.yaml records the values used).
        image_size, scale_range, lighting_std: ImageNet preset options.
        eval_batch_size: batch of the evaluation sets (default: batch_size).
        train_limit, test_limit: use only the first N examples (quick runs).
        skip_corrupt: skip image files that cannot be decoded, printing how
            many, instead of stopping with an error that names them
            (default false).
        loader: `auto` (tf.data when TensorFlow is installed, else numpy),
            `tf` (tf.data) or `numpy` (a keras `PyDataset` of numpy batches:
            no TensorFlow needed; presets cifar, svhn, none; the same
            evaluation images, augmentation with numpy's random draws).
    """

    source: str
    data_dir: str | None = None
    cache_dir: str | None = None
    preset: Literal["cifar", "svhn", "imagenet", "none"] | None = None
    validation_size: int | float = 0
    validation_method: Literal["last", "random"] = "last"
    padding: int = 4
    padding_mode: Literal["constant", "reflect"] = "constant"
    mean: str | float | list[float] | None = None
    std: str | float | list[float] | None = None
    image_size: int = 224
    scale_range: list[int] = (256, 480)
    lighting_std: float = 0.1
    eval_batch_size: int | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    skip_corrupt: bool = False
    loader: Literal["auto", "tf", "numpy"] = "auto"


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """`optimizer:` SGD with momentum as in the papers.

    Attributes:
        name: only `sgd`.
        learning_rate: peak (base) learning rate, for the configured
            per-replica batch; see `distribution.lr_scaling`.
        momentum: float in [0, 1).
        nesterov: bool.
        weight_decay: the paper's value (1e-4 ResNet, 5e-4 WRN).
        weight_decay_mode: `coupled` (`g + wd * w` before momentum, as the
            papers' Torch code), `decoupled` (keras's `weight_decay`,
            `w -= lr * wd * w` after the step) or `l2` (a keras L2(wd / 2)
            kernel regularizer in the loss: kernels only, same gradient as
            coupled decay).
        decay_bn_and_bias: decay BN gamma/beta and biases too (default True,
            as the Torch reference code did).
        clipnorm: optional gradient-norm clipping.
    """

    name: Literal["sgd"] = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    weight_decay_mode: Literal["coupled", "decoupled", "l2"] = "coupled"
    decay_bn_and_bias: bool = True
    clipnorm: float | None = None


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """`schedule:` learning rate per iteration.

    Attributes:
        name: `constant`, `step` (lr x gamma at each milestone), `cosine`
            (Loshchilov & Hutter 2016, no restarts) or `onecycle` (Smith
            2018: linear up to the peak, cosine down).
        milestones: step milestones in epochs (may be fractional).
        milestone_steps: step milestones in iterations (He 2015: 32000,
            48000); overrides `milestones`.
        gamma: step factor (0.1, or 0.2 for WRN).
        min_learning_rate: cosine floor.
        warmup_epochs / warmup_steps: warm-up length (steps win).
        warmup_learning_rate: lr at the start of warm-up (default 0 for
            `linear`; He 2015's ResNet-110 used 0.01 `constant`).
        warmup_mode: `linear` (ramp to the schedule) or `constant`.
        pct_start, div_factor, final_div_factor: one-cycle shape (start at
            peak / div_factor, end at start / final_div_factor).
    """

    name: Literal["constant", "step", "cosine", "onecycle"] = "constant"
    milestones: list[float] = ()
    milestone_steps: list[int] | None = None
    gamma: float = 0.1
    min_learning_rate: float = 0.0
    warmup_epochs: float = 0.0
    warmup_steps: int | None = None
    warmup_learning_rate: float | None = None
    warmup_mode: Literal["linear", "constant"] = "linear"
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """`training:` the `model.fit` settings and the run folder.

    Attributes:
        epochs: int.
        batch_size: per-replica batch (global = batch_size x replicas).
        steps_per_epoch: limit the steps per epoch (quick runs); default
            one pass over the training set.
        label_smoothing: float in [0, 1).
        mixed_precision: `auto` (default: `mixed_bfloat16` on hardware with
            fast bfloat16 units, `float32` elsewhere; see
            `keras_resnets.runtime.auto_precision`), `float32`,
            `mixed_bfloat16`, `mixed_float16`; None leaves Keras's global
            dtype policy as it is.
        jit_compile: `auto`, true or false (passed to `compile`).
        seed: seeds keras (weights, dropout) and the data pipeline.
        output_dir: run folder; default `runs/<config file name>`.
        validation_freq: validate every N epochs.
        validate_on_test: when there is no validation split, report the test
            set after each epoch (as the papers' code did) and pick the best
            model on it; false skips per-epoch evaluation.
        top5: also report top-5 accuracy.
        verbose: `auto` (progress bar on a terminal, one line per epoch
            otherwise), 0, 1 or 2 (as `model.fit`).
        tensorboard: write TensorBoard logs.
    """

    epochs: int = 1
    batch_size: int = 128
    steps_per_epoch: int | None = None
    label_smoothing: float = 0.0
    mixed_precision: Literal["auto", "mixed_float16", "mixed_bfloat16", "float32"] | None = "auto"
    jit_compile: Literal["auto"] | bool = "auto"
    seed: int = 0
    output_dir: str | None = None
    validation_freq: int = 1
    validate_on_test: bool = True
    top5: bool = False
    verbose: Literal["auto"] | int = "auto"
    tensorboard: bool = True


@dataclasses.dataclass(frozen=True)
class DistributionConfig:
    """`distribution:` data-parallel training.

    Attributes:
        strategy: `none`, `mirrored` (TF, all local GPUs or `devices`),
            `multi_worker_mirrored` (TF, machines from `TF_CONFIG`),
            `data_parallel` (JAX `keras.distribution.DataParallel`).
        devices: device names (e.g. ["/gpu:0", "/gpu:1"]) or None for all.
        sync_batch_norm: BN statistics over the global batch (TF strategies).
        lr_scaling: `none` (use `optimizer.learning_rate` as written) or
            `linear` (multiply it by the number of replicas, Goyal et al.
            2017, since the global batch grows with them).
    """

    strategy: Literal["none", "mirrored", "multi_worker_mirrored", "data_parallel"] = "none"
    devices: list[str] | None = None
    sync_batch_norm: bool = False
    lr_scaling: Literal["none", "linear"] = "none"


TUNER_NAMES = ("random_search", "hyperband", "bayesian_optimization")
_TUNER_ALIASES = {
    "random": "random_search", "randomsearch": "random_search",
    "bayesian": "bayesian_optimization", "bayesianoptimization": "bayesian_optimization",
    "bayes": "bayesian_optimization",
}


@dataclasses.dataclass(frozen=True)
class TunerConfig:
    """`tuner:` how `keras-resnets tune` searches (unused by `train`).

    `family` and `search_space` are checked against the family's search
    space (`keras_resnets.tuning.search_spaces`) when the config is loaded.

    Attributes:
        name: `random_search`, `hyperband` or `bayesian_optimization` (also
            `random`, `bayes`, `RandomSearch`, ...).
        family: model family; default the family of `model.name`.
        search_space: dict narrowing the space (see `search_spaces`).
        objective: metric to maximise (`val_accuracy`) or minimise (`val_loss`).
        max_trials: trials to run (RandomSearch, BayesianOptimization; an
            upper bound for Hyperband).
        max_params: optional trainable-parameter budget.
        executions_per_trial: trainings per trial (averaged).
        max_epochs, factor, hyperband_iterations: Hyperband.
        num_initial_points, alpha, beta: BayesianOptimization.
        seed: tuner seed; default `training.seed`.
        directory: output folder; default `runs/tune/<config name>`.
        project_name: keras-tuner project name. Defaults to "search".
        overwrite: start afresh instead of resuming. Defaults to False.
        max_consecutive_failed_trials: stop after that many failed trials in
            a row; default max_trials + 1 (pruned trials count as failed).
        verbose: keras-tuner verbosity; default `training.verbose`.
    """

    name: Literal["random_search", "hyperband", "bayesian_optimization"] = "random_search"
    family: str | None = None
    search_space: dict = dataclasses.field(default_factory=dict)
    objective: str = "val_accuracy"
    max_trials: int = 10
    max_params: float | None = None
    executions_per_trial: int = 1
    max_epochs: int | None = None
    factor: int = 3
    hyperband_iterations: int = 1
    num_initial_points: int | None = None
    alpha: float = 1e-4
    beta: float = 2.6
    seed: int | None = None
    directory: str | None = None
    project_name: str = "search"
    overwrite: bool = False
    max_consecutive_failed_trials: int | None = None
    verbose: Literal["auto"] | int | None = None


def tuner_name(name):
    """The canonical name (`TUNER_NAMES`) of a tuner name or alias; a
    `ConfigError` listing the valid ones when unknown."""
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    key = _TUNER_ALIASES.get(key.replace("_", ""), key)
    if key not in TUNER_NAMES:
        close = difflib.get_close_matches(
            str(name).lower(), list(TUNER_NAMES) + list(_TUNER_ALIASES), n=1, cutoff=0.5
        )
        hint = f" Did you mean {_TUNER_ALIASES.get(close[0], close[0])!r}?" if close else ""
        raise ConfigError(
            f"Unknown tuner `tuner.name`.{hint} Valid tuners: {', '.join(TUNER_NAMES)}. "
            f"Received: tuner.name={name!r}"
        )
    return key


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run: one frozen dataclass per YAML section."""

    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    training: TrainingConfig = TrainingConfig()
    distribution: DistributionConfig = DistributionConfig()
    tuner: TunerConfig = TunerConfig()
    path: str | None = None  # the YAML file it came from (not a YAML key)

    def to_dict(self):
        """The YAML-ready dict (model kwargs flattened next to `name`)."""
        out = {}
        for section in SECTIONS:
            value = getattr(self, section)
            if section == "model":
                out[section] = {"name": value.name, **value.kwargs}
            elif section == "tuner":  # what differs from the defaults ({} when unused)
                out[section] = {
                    f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                    if getattr(value, f.name) != getattr(TunerConfig(), f.name)
                }
            else:
                out[section] = {
                    f.name: _plain(getattr(value, f.name))
                    for f in dataclasses.fields(value)
                }
        return out

    def to_yaml(self):
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, section, **changes):
        """A copy with `changes` applied to one section."""
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **changes)}
        )


_SECTION_CLASSES = {
    "data": DataConfig,
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
    "training": TrainingConfig,
    "distribution": DistributionConfig,
}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# === Loading ===


def load_config(path, overrides=(), *, check_paths=True):
    """Reads a YAML config, applies `key=value` overrides and validates it.

    Args:
        path: str or Path of the YAML file.
        overrides: iterable of `"section.key=value"` strings (values parsed
            with `yaml.safe_load`, so `1e-3`, `true`, `[60, 120]` work).
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
        raise FileNotFoundError(f"Config file not found. Received: path={str(path)!r}")
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
    _check_keys(raw, SECTIONS, "")
    for section in SECTIONS:
        if section in raw and raw[section] is None:
            raw[section] = {}
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigTypeError(
                f"Config section `{section}` must be a mapping. "
                f"Received: {section}={raw[section]!r}"
            )
    model = _build_model(raw.get("model"))
    sections = {}
    for name, cls in _SECTION_CLASSES.items():
        sections[name] = _build_section(name, cls, raw.get(name, {}))
    data = sections["data"]
    data = dataclasses.replace(data, source=_resolve_source(data.source, path, check_paths))
    sections["data"] = data
    raw_tuner = dict(raw.get("tuner") or {})
    _check_keys(raw_tuner, [f.name for f in dataclasses.fields(TunerConfig)], "tuner.")
    if "name" in raw_tuner:
        raw_tuner["name"] = tuner_name(raw_tuner["name"])
    if raw_tuner.get("search_space", {}) is None:
        del raw_tuner["search_space"]
    config = Config(
        model=model,
        tuner=_build_section("tuner", TunerConfig, raw_tuner),
        path=str(path) if path is not None else None,
        **sections,
    )
    _check_values(config)
    if raw_tuner:
        _check_search_space(config)
    return config


def apply_override(raw, item):
    """Applies one `"a.b=value"` override to the nested dict `raw` in place."""
    if "=" not in item:
        raise ConfigError(
            f"An override must look like section.key=value. Received: {item!r}"
        )
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        where = _section_of(key.strip()) if len(parts) == 1 and parts[0] else None
        hint = f" Did you mean `{where}`?" if where else ""
        raise ConfigError(
            f"An override key must be dotted, e.g. training.epochs=1.{hint} Received: {key!r}"
        )
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    _check_keys({parts[0]: None}, SECTIONS, "")
    node = raw
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


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


def _section_of(key):
    """`section.key` of the section that has `key` (or its alias), or None."""
    key = _KEY_ALIASES.get(str(key).lower(), str(key).lower())
    for section, cls in _SECTION_CLASSES.items():
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
    return _section_of(key) if prefix else None


def _check_keys(mapping, valid, prefix):
    for key in mapping:
        if key not in valid:
            close = _suggest(key, valid, prefix)
            hint = f" Did you mean `{close}`?" if close else ""
            where = f"in section `{prefix[:-1]}`" if prefix else "at the top level"
            raise ConfigError(
                f"Unknown config key `{prefix}{key}`.{hint} Valid keys {where}: "
                f"{', '.join(valid)}."
            )


def _build_model(raw):
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
    from keras_resnets import registry

    try:
        spec = registry.get_spec(name)
    except ValueError as e:
        raise ConfigError(f"model.name: {e}") from None
    kwargs = {k: v for k, v in raw.items() if k != "name"}
    # The registered constructor's signature, read without building it.
    try:
        registry.check_model_arguments(spec.name, kwargs, prefix="model.")
    except TypeError as e:
        raise ConfigError(str(e)) from None
    return ModelConfig(name=spec.name, kwargs=kwargs)


def _build_section(name, cls, raw):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(raw, list(fields), f"{name}.")
    values = {}
    for key, value in raw.items():
        values[key] = _check_type(f"{name}.{key}", value, cls.__annotations__[key])
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


def _looks_like_path(text):
    lower = text.lower()
    return (
        "/" in text or os.sep in text or text.startswith((".", "~"))
        or lower.endswith((".tar", ".tar.gz", ".tgz", ".zip", ".npz", ".tar.bz2", ".tar.xz"))
    )


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
    if not _looks_like_path(source):
        from keras_resnets.data import datasets  # imports tensorflow: only here.

        if datasets.is_tfds_name(source):
            return source
        raise ConfigError(
            datasets.unknown_source_message(source, key="data.source", looked_in=folders)
        )
    raise ConfigError(
        f"`data.source` not found: no file or folder at {source!r} (looked in "
        f"the current directory and beside the config). Expected {LOCAL_KINDS}, "
        f"or a tensorflow-datasets name ({', '.join(KNOWN_TFDS)}). "
        f"Received: data.source={source!r}"
    )


def _positive(key, value, *, strict=True, allow_none=False):
    if value is None and allow_none:
        return
    if value is None or (value <= 0 if strict else value < 0):
        bound = "> 0" if strict else ">= 0"
        raise ConfigError(f"`{key}` must be {bound}. Received: {key}={value!r}")


def _check_values(config):
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
    if not isinstance(config.model.kwargs, dict):
        raise ConfigTypeError("`model` must be a mapping")
    for key in ("max_trials", "executions_per_trial", "max_epochs", "factor",
                "hyperband_iterations", "num_initial_points", "max_consecutive_failed_trials",
                "max_params"):
        _positive(f"tuner.{key}", getattr(config.tuner, key), allow_none=True)


def _check_search_space(config):
    """Checks `tuner.family` and `tuner.search_space` (with the `model:`
    kwargs that fix hyperparameters) against the family's search space."""
    from keras_resnets.tuning import search_spaces  # the registry's data; no keras-tuner

    tuner = config.tuner
    try:
        family = search_spaces.get_family(tuner.family or config.model.name)
    except ValueError as e:
        raise ConfigError(f"tuner.family (default: model.name): {e}") from None
    try:
        space, _ = search_spaces.split_model_kwargs(family, config.model.kwargs, tuner.search_space)
        search_spaces.resolve_space(family, space)
    except ValueError as e:
        raise ConfigError(f"tuner.search_space: {e}") from None
