"""The run configuration's sections: one frozen dataclass per YAML section.

`Config` holds a whole run (`model`, `data`, `optimizer`, `schedule`,
`training`, `distribution`, `tuner`). This module only describes them: it
imports nothing of the package but two standard-library modules below it
(`data.options.DataSettings`, the record of the `data:` settings, and
`errors`), so every
module that reads a `Config` (the training loop, the run folder,
distribution, tuning) imports it from here. Reading and checking a YAML file is `keras_resnets.training.config`
(`load_config`); the key and value checks are `config_checks`.
"""

import dataclasses
import difflib
from typing import Literal

import yaml

from keras_resnets.data.options import DataSettings
from keras_resnets.errors import UserError

SECTIONS = ("model", "data", "optimizer", "schedule", "training", "distribution", "tuner")
KNOWN_TFDS = ("cifar10", "cifar100", "svhn_cropped", "imagenet2012")
LOCAL_KINDS = "an image folder, a .tar/.tar.gz/.zip archive of one, or an .npz file"


class ConfigError(UserError, ValueError):
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
class DataConfig(DataSettings):
    """`data:` where the images come from and how they are augmented: a
    `source` and the `keras_resnets.data.DataSettings` (their fields, types,
    defaults and meaning are the data layer's; `build_datasets` takes the
    same record inside its `DataOptions`).

    Attributes:
        source: tensorflow-datasets name (`cifar10`, `cifar100`,
            `svhn_cropped`, `imagenet2012`) or a local path (image folder,
            archive, .npz). Relative paths, bare names included, are looked
            up from the current directory, then from the config file's
            folder and its parents; a name found there is a path, otherwise
            it must be a tensorflow-datasets name.
    """

    source: str = dataclasses.field(kw_only=True)


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
        steps_per_execution: train steps per compiled call (passed to
            `compile`; default 1). Larger values remove per-step host
            overhead where steps are short (small models on a GPU); callbacks
            then see every N-th step. Measure with `keras-resnets benchmark
            --steps-per-execution N`.
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
    steps_per_execution: int = 1
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
    space (`keras_resnets.spaces.families`) when the config is loaded.

    Attributes:
        name: `random_search`, `hyperband` or `bayesian_optimization` (also
            `random`, `bayes`, `RandomSearch`, ...).
        family: model family; default the family of `model.name`.
        search_space: dict narrowing the space (see `spaces.families`).
        objective: metric to maximise (`val_accuracy`) or minimise (`val_loss`).
        max_trials: trials to run (RandomSearch, BayesianOptimization; an
            upper bound for Hyperband).
        max_params: optional trainable-parameter budget.
        final_epochs: epochs of the full run that `best_config.yaml`
            describes; default: the epochs each trial trained (the search's
            budget), which the file and the command then point out.
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
    final_epochs: int | None = None
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
                    f.name: _plain(getattr(value, f.name)) for f in section_fields(type(value))
                }
        return out

    def to_yaml(self):
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **sections):
        """A copy with fields of its sections changed, e.g.
        `config.replace(training={"epochs": 3}, data={"padding": 2})`."""
        return dataclasses.replace(self, **{
            section: dataclasses.replace(getattr(self, section), **changes)
            for section, changes in sections.items()
        })


# The sections read field by field from YAML (`model` and `tuner` have
# their own rules: a registry name + free kwargs, and tuner-name aliases).
SECTION_CLASSES = {
    "data": DataConfig,
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
    "training": TrainingConfig,
    "distribution": DistributionConfig,
}


def section_fields(cls):
    """The fields of a section dataclass as its YAML lists them: the
    required ones (`data.source`) first."""
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    return required + [f for f in fields if f not in required]


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
