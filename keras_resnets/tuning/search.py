"""`search(config)`: the work behind `keras-resnets tune CONFIG.yaml`.

The config is a training config (same `model`, `data`, `optimizer`,
`schedule`, `training`, `distribution` sections as `keras-resnets train`)
whose `tuner:` section says how to search:

```yaml
tuner:
  name: random_search          # random_search | hyperband | bayesian_optimization
  family: wrn                  # default: the family of model.name
  max_trials: 20
  max_params: 3.0e+6           # prune larger models before training
  search_space:                # narrows the family's space (see search_spaces)
    depth: [16, 22, 28]
    k: {min: 2, max: 10}
    learning_rate: {min: 0.02, max: 0.2, sampling: log}
  overwrite: false             # false: the same command resumes the search
```

`model:` kwargs that are hyperparameter names (e.g. `dropout_rate: 0.3`)
fix that hyperparameter; other kwargs are passed to every model; the name
only selects the family. The optimizer/training values are the defaults of
`learning_rate`, `weight_decay`, `label_smoothing`, `batch_size`; `epochs`
is fixed to `training.epochs` unless searched (Hyperband: its `max_epochs`).

The output folder (`tuner.directory`, default `runs/tune/<config name>`) holds

```
search_config.yaml   the resolved config the search ran with
tuner/<project>/     keras-tuner's state: trials, checkpoints, oracle (resume)
results.csv          one row per trial: trial, status, val accuracy, params, time, hps
results.md           the same as a markdown table, best first
best_config.yaml     the best trial as a config for `keras-resnets train`
```

The best config names the trial's architecture by its paper-table registry
name when it has one (`wrn-16-4`), else by the family's generic name with
every architecture kwarg (`name: wrn`, `depth: 10`, `k: 4`), so a run trained
from it never reports another model's paper error.
"""

import csv
import dataclasses
import difflib
import json
import pathlib
import sys
import time

TUNERS = {
    "random_search": "RandomSearch",
    "hyperband": "Hyperband",
    "bayesian_optimization": "BayesianOptimization",
}
ALIASES = {
    "random": "random_search", "randomsearch": "random_search",
    "bayesian": "bayesian_optimization", "bayesianoptimization": "bayesian_optimization",
    "bayes": "bayesian_optimization",
}
RESULT_FILES = ("search_config.yaml", "results.csv", "results.md", "best_config.yaml")
TRIAL_RECORD = "keras_resnets_trial.json"


def _config_error(message):
    from keras_resnets.training.config import ConfigError

    return ConfigError(message)


def tuner_class(name):
    """The keras_tuner class of a tuner name; ValueError listing the valid
    ones when unknown."""
    import keras_tuner

    key = str(name).lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key.replace("_", ""), key)
    if key not in TUNERS:
        close = difflib.get_close_matches(str(name).lower(), list(TUNERS) + list(ALIASES), n=1, cutoff=0.5)
        hint = f" Did you mean {ALIASES.get(close[0], close[0])!r}?" if close else ""
        raise _config_error(
            f"Unknown tuner `tuner.name`.{hint} Valid tuners: {', '.join(TUNERS)}. "
            f"Received: tuner.name={name!r}"
        )
    return key, getattr(keras_tuner, TUNERS[key])


# === The `tuner:` section ===


@dataclasses.dataclass(frozen=True)
class TunerConfig:
    """`tuner:` how to search.

    Attributes:
        name: `random_search`, `hyperband` or `bayesian_optimization`.
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

    name: str = "random_search"
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
    verbose: int | str | None = None


def _number(key, value, *, integer=False, positive=True, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise _config_error(f"`tuner.{key}` must be {kind}. Received: tuner.{key}={value!r}")
    if integer:
        if value != int(value):
            raise _config_error(f"`tuner.{key}` must be an integer. Received: tuner.{key}={value!r}")
        value = int(value)
    if positive and value <= 0:
        raise _config_error(f"`tuner.{key}` must be > 0. Received: tuner.{key}={value!r}")
    return value


def tuner_config(raw):
    """Validates a `tuner:` dict into a `TunerConfig` (before anything is built)."""
    raw = dict(raw or {})
    fields = [f.name for f in dataclasses.fields(TunerConfig)]
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.5)
            hint = f" Did you mean `tuner.{close[0]}`?" if close else ""
            raise _config_error(
                f"Unknown config key `tuner.{key}`.{hint} Valid keys in section `tuner`: "
                f"{', '.join(fields)}."
            )
    name, _ = tuner_class(raw.get("name", "random_search"))
    raw["name"] = name
    for key in ("max_trials", "executions_per_trial", "max_epochs", "factor",
                "hyperband_iterations", "num_initial_points", "max_consecutive_failed_trials"):
        if key in raw:
            raw[key] = _number(key, raw[key], integer=True)
    if "max_params" in raw:
        raw["max_params"] = _number("max_params", raw["max_params"])
    if raw.get("search_space") is None:
        raw["search_space"] = {}
    if not isinstance(raw["search_space"], dict):
        raise _config_error(
            "`tuner.search_space` must be a mapping of hyperparameter -> value, list or "
            f"range. Received: tuner.search_space={raw['search_space']!r}"
        )
    if not isinstance(raw.get("overwrite", False), bool):
        raise _config_error(f"`tuner.overwrite` must be true/false. Received: {raw['overwrite']!r}")
    return TunerConfig(**raw)


def output_dir(config, tuner=None):
    tuner = tuner or tuner_config(config.tuner)
    if tuner.directory:
        return pathlib.Path(tuner.directory)
    stem = pathlib.Path(config.path).stem if config.path else config.model.name
    return pathlib.Path("runs") / "tune" / stem


# === Search ===


def make_hypermodel(config, tuner=None, *, num_train_examples=None, num_classes=10,
                    input_shape=(32, 32, 3), num_replicas=1, configure_model=None):
    """The `ResidualHyperModel` a config describes (validates the space)."""
    from keras_resnets.tuning import hypermodels
    from keras_resnets.tuning import search_spaces

    tuner = tuner or tuner_config(config.tuner)
    family = search_spaces.get_family(tuner.family or config.model.name)
    names = {h.name for h in search_spaces.full_space(family)}
    search_space = dict(tuner.search_space)
    model_kwargs = {}
    for key, value in config.model.kwargs.items():
        if key in names:
            if key in search_space:
                raise _config_error(
                    f"`{key}` is both a model kwarg (fixed) and in `tuner.search_space`; keep one. "
                    f"Received: model.{key}={value!r}, tuner.search_space.{key}={search_space[key]!r}"
                )
            search_space[key] = value
        else:
            model_kwargs[key] = value
    o, t = config.optimizer, config.training
    defaults = {
        "learning_rate": o.learning_rate, "weight_decay": o.weight_decay,
        "label_smoothing": t.label_smoothing, "batch_size": t.batch_size,
        "epochs": tuner.max_epochs if tuner.name == "hyperband" and tuner.max_epochs else t.epochs,
    }
    if "batch_size" not in search_space:
        search_space["batch_size"] = t.batch_size
    multiplier = num_replicas if config.distribution.lr_scaling == "linear" else 1
    try:
        hypermodel = hypermodels.get_hypermodel(
            family.name, search_space=search_space, defaults=defaults, input_shape=input_shape,
            num_classes=num_classes, max_params=tuner.max_params, model_kwargs=model_kwargs,
            optimizer=config.optimizer, schedule=config.schedule,
            num_train_examples=num_train_examples, steps_per_epoch=t.steps_per_epoch,
            num_replicas=num_replicas, jit_compile=t.jit_compile, configure_model=configure_model,
            learning_rate_multiplier=multiplier,
        )
    except ValueError as e:
        raise _config_error(f"tuner.search_space: {e}") from None
    return hypermodel


class _Datasets:
    """`x(batch_size)` for `ResidualHyperModel.fit`: the train pipelines,
    built once per batch size."""

    def __init__(self, config, context):
        self.config, self.context, self._cache = config, context, {}

    def __call__(self, batch_size):
        if batch_size not in self._cache:
            from keras_resnets.training.train import load_data

            config = self.config.replace("training", batch_size=int(batch_size))
            ds = load_data(
                config, num_replicas=self.context.num_replicas,
                drop_remainder=self.context.needs_drop_remainder,
            )
            if self.context.strategy is not None and ds.loader == "tf":
                ds = dataclasses.replace(ds, train=ds.train.apply(self.context.prepare_dataset))
            self._cache[batch_size] = ds
        return self._cache[batch_size]


def _count(n):
    """12300000 -> "12.3M", 677274 -> "677k"."""
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    if n >= 1e3:
        return f"{n / 1e3:.3g}k"
    return f"{n:g}"


def _tuner_config_module():
    """keras-tuner's internal config (its `DEBUG` prints the traceback of
    every failed trial); None if a keras-tuner version moved it."""
    import importlib

    try:
        return importlib.import_module("keras_tuner.src.config")
    except ImportError:
        return None


def recording_tuner(base):
    """`base` (a keras_tuner tuner class) with `run_trial` writing each
    trial's parameters, time and status (completed / pruned / failed) to its
    trial folder, one line instead of a traceback per pruned trial, and
    without keras-tuner's unconditional tensorboard import on the TensorFlow
    backend when no TensorBoard callback is used."""
    from keras_resnets.tuning.hypermodels import ParameterBudgetExceeded

    class RecordingTuner(base):
        _pruned_message = None
        _debug = None

        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            if any(type(c).__name__ == "TensorBoard" for c in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

        def run_trial(self, trial, *args, **kwargs):
            start, status = time.time(), "failed"
            try:
                result = super().run_trial(trial, *args, **kwargs)
                status = "completed"
                return result
            except ParameterBudgetExceeded:
                status = "pruned"
                self._prune(trial)
                raise
            finally:
                folder = pathlib.Path(self.get_trial_dir(trial.trial_id))
                folder.mkdir(parents=True, exist_ok=True)
                record = {
                    "status": status,
                    "params": self.hypermodel.last_params,
                    "time_s": round(time.time() - start, 3),
                }
                (folder / TRIAL_RECORD).write_text(json.dumps(record))

        def _prune(self, trial):
            # Pruning is a normal event: keras-tuner would print the
            # traceback of the exception (its DEBUG flag, on by default);
            # keep its message to one line and turn DEBUG off until
            # `on_trial_end`.
            hm = self.hypermodel
            self._pruned_message = (
                f"trial {trial.trial_id} pruned: {_count(hm.last_params)} parameters > "
                f"max_params {_count(hm.max_params)}"
            )
            config = _tuner_config_module()
            if config is not None and self._debug is None:
                self._debug, config.DEBUG = config.DEBUG, False
            if getattr(self.oracle, "verbose", 1) not in (0, "0"):
                print(self._pruned_message, flush=True)

        def on_trial_end(self, trial):
            if self._pruned_message is not None:
                trial.message = self._pruned_message
                self._pruned_message = None
                config = _tuner_config_module()
                if config is not None and self._debug is not None:
                    config.DEBUG, self._debug = self._debug, None
            super().on_trial_end(trial)

    RecordingTuner.__name__ = f"Recording{base.__name__}"
    return RecordingTuner


def make_tuner(config, hypermodel, tuner=None, *, distribution_strategy=None, directory=None):
    """The keras-tuner tuner of `config.tuner` (resumes unless `overwrite`)."""
    tuner = tuner or tuner_config(config.tuner)
    _, base = tuner_class(tuner.name)
    import keras_tuner

    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(
            tuner.objective, "min" if "loss" in tuner.objective else "max"
        ),
        seed=tuner.seed if tuner.seed is not None else config.training.seed,
        executions_per_trial=tuner.executions_per_trial,
        max_consecutive_failed_trials=tuner.max_consecutive_failed_trials or tuner.max_trials + 1,
        distribution_strategy=distribution_strategy,
        directory=str(directory or output_dir(config, tuner) / "tuner"),
        project_name=tuner.project_name,
        overwrite=tuner.overwrite,
    )
    cls = recording_tuner(base)
    if tuner.name == "hyperband":
        return cls(
            max_epochs=tuner.max_epochs or config.training.epochs, factor=tuner.factor,
            hyperband_iterations=tuner.hyperband_iterations, **common,
        )
    if tuner.name == "bayesian_optimization":
        return cls(
            max_trials=tuner.max_trials, num_initial_points=tuner.num_initial_points,
            alpha=tuner.alpha, beta=tuner.beta, **common,
        )
    return cls(max_trials=tuner.max_trials, **common)


def search(config, *, verbose=None):
    """Runs the search `config.tuner` describes; see the module docstring.

    Args:
        config: a validated `Config` (`keras_resnets.training.load_config`).
        verbose: overrides `tuner.verbose` / `training.verbose`.

    Returns:
        dict with `output_dir`, `rows` (the results table), `best` (the best
        row or None) and `best_config` (path or None).

    Raises:
        ConfigError (ValueError): bad `tuner` section, search space, tuner
            name, or data without a validation split; all before any trial.
    """
    import keras

    from keras_resnets.training import distribute

    tuner = tuner_config(config.tuner)
    previous_policy = keras.mixed_precision.global_policy()
    context = distribute.make_context(config.distribution)
    context.activate()
    try:
        if config.training.mixed_precision:
            from keras_resnets.runtime import resolve_precision

            keras.mixed_precision.set_global_policy(resolve_precision(config.training.mixed_precision))
        return _search(config, tuner, context, verbose)
    finally:
        context.deactivate()
        keras.mixed_precision.set_global_policy(previous_policy)


def _search(config, tuner, context, verbose):
    import keras

    from keras_resnets.data.build import as_list

    t = config.training
    make_hypermodel(config, tuner)  # validate the space before loading data
    datasets = _Datasets(config, context)
    first = datasets(t.batch_size)
    if first.validation is None and tuner.objective.startswith("val_"):
        raise _config_error(
            f"tuner.objective={tuner.objective!r} needs a validation split: set "
            "data.validation_size (e.g. 5000 for CIFAR); tuning on the test set would "
            "bias the reported test error."
        )
    hypermodel = make_hypermodel(
        config, tuner, num_train_examples=first.num_train,
        num_classes=first.num_classes, input_shape=first.input_shape,
        num_replicas=context.num_replicas, configure_model=context.configure_model,
    )
    out = output_dir(config, tuner)
    out.mkdir(parents=True, exist_ok=True)
    resolved = config.replace("data", mean=as_list(first.mean), std=as_list(first.std))
    (out / "search_config.yaml").write_text(
        f"# Resolved config written by keras-resnets tune{_source(config)}.\n" + resolved.to_yaml()
    )
    keras.utils.set_random_seed(t.seed)
    kt = make_tuner(config, hypermodel, tuner, distribution_strategy=context.strategy)
    fit_verbose = t.verbose if verbose is None else verbose
    kt.search(
        datasets,
        verbose=fit_verbose if tuner.verbose is None else tuner.verbose,
        validation_freq=t.validation_freq,
    )
    rows = results_table(kt, hypermodel)
    write_results(rows, out)
    print(format_markdown(rows))
    best_path, best = None, None
    completed = [r for r in rows if r["status"] == "completed" and r["objective"] is not None]
    if completed:
        best = completed[0]
        best_path = export_best_config(resolved, hypermodel, best, out / "best_config.yaml",
                                       objective=tuner.objective)
        print(f"Best trial {best['trial']}: {tuner.objective}={best['objective']:.4f}, "
              f"{best['params']} parameters; training config: {best_path}")
    else:
        print("No trial completed: no best_config.yaml written.")
    return {"output_dir": str(out), "rows": rows, "best": best,
            "best_config": str(best_path) if best_path else None}


def _source(config):
    return f" (from {config.path})" if config.path else ""


# === Results ===


def results_table(kt, hypermodel):
    """One row per trial: `trial`, `status`, `objective` (best value),
    `params`, `time_s`, `hyperparameters`; best first."""
    objective = kt.oracle.objective
    rows = []
    for trial_id, trial in kt.oracle.trials.items():
        record_path = pathlib.Path(kt.get_trial_dir(trial_id)) / TRIAL_RECORD
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        status = str(trial.status).split(".")[-1].lower()
        if record.get("status") == "pruned":
            status = "pruned"
        value = None
        if trial.metrics.exists(objective.name):
            value = trial.metrics.get_best_value(objective.name)
        hps = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        rows.append({
            "trial": trial_id,
            "status": status,
            "objective": None if value is None else float(value),
            "params": record.get("params"),
            "time_s": record.get("time_s"),
            "hyperparameters": hps,
        })
    sign = -1 if objective.direction == "max" else 1
    rows.sort(key=lambda r: (r["objective"] is None, sign * (r["objective"] or 0), r["trial"]))
    return rows


def _hp_names(rows):
    names = []
    for row in rows:
        for name in row["hyperparameters"]:
            if name not in names:
                names.append(name)
    return names


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_results(rows, folder):
    """Writes `results.csv` and `results.md` into `folder`."""
    folder = pathlib.Path(folder)
    names = _hp_names(rows)
    with (folder / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "status", "best_objective", "params", "time_s", *names])
        for r in rows:
            writer.writerow([r["trial"], r["status"], r["objective"], r["params"], r["time_s"],
                             *[r["hyperparameters"].get(n) for n in names]])
    (folder / "results.md").write_text(format_markdown(rows) + "\n")


def format_markdown(rows):
    """The results as a markdown table, best first."""
    names = _hp_names(rows)
    header = ["trial", "status", "best val", "params", "time (s)", *names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["trial"], r["status"], _fmt(r["objective"]), _fmt(r["params"]), _fmt(r["time_s"]),
                 *[_fmt(r["hyperparameters"].get(n)) for n in names]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def export_best_config(config, hypermodel, row, path, *, objective="val_accuracy"):
    """Writes the best trial as a training config YAML (validated with the
    training config loader) and returns its path."""
    import yaml

    from keras_resnets.training.config import config_from_dict

    values = {n: h.default for n, h in hypermodel.space.items()}
    values.update(row["hyperparameters"])
    raw = config.to_dict()
    raw.pop("tuner", None)
    raw["model"] = hypermodel.model_section(values)
    raw["optimizer"]["learning_rate"] = float(values["learning_rate"])
    raw["optimizer"]["weight_decay"] = float(values["weight_decay"])
    raw["training"]["label_smoothing"] = float(values["label_smoothing"])
    raw["training"]["batch_size"] = int(values["batch_size"])
    raw["training"]["epochs"] = int(values["epochs"])
    raw["training"]["output_dir"] = None
    config_from_dict(raw)  # the loader `keras-resnets train` uses must accept it
    path = pathlib.Path(path)
    header = (
        f"# Best trial {row['trial']} of keras-resnets tune{_source(config)}: "
        f"{objective}={row['objective']:.4f}, {row['params']} trainable parameters.\n"
        f"# Train it with: keras-resnets train {path}\n"
    )
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    return path


# === Command line ===


def add_tune_arguments(subparsers):
    """Adds the `tune` subcommand to an argparse `subparsers`."""
    tune = subparsers.add_parser(
        "tune", help="hyperparameter search from a YAML config's `tuner` section (resumes)"
    )
    tune.add_argument(
        "config", help="YAML config with a `tuner:` section, e.g. "
        "configs/tuning/wrn-16-4_cifar10_random.yaml",
    )
    tune.add_argument("--data", help="data set: tfds name or local path (sets data.source)")
    tune.add_argument("--output", help="output folder (sets tuner.directory)")
    tune.add_argument("--tuner", help="random_search | hyperband | bayesian_optimization (sets tuner.name)")
    tune.add_argument("--max-trials", type=int, help="sets tuner.max_trials")
    tune.add_argument("--epochs", type=int, help="sets training.epochs")
    tune.add_argument(
        "--strategy", choices=("none", "mirrored", "multi_worker_mirrored", "data_parallel"),
        help="sets distribution.strategy",
    )
    tune.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    tune.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="dotted override, value parsed as YAML (repeatable), e.g. --set tuner.max_params=3e6",
    )
    return tune


def run_tune(args):
    """Runs `keras-resnets tune` for parsed `args`; returns the exit status."""
    from keras_resnets import training

    overrides = list(args.overrides)
    for flag, key in (("data", "data.source"), ("output", "tuner.directory"), ("tuner", "tuner.name"),
                      ("max_trials", "tuner.max_trials"), ("epochs", "training.epochs"),
                      ("strategy", "distribution.strategy")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    if getattr(args, "overwrite", False):
        overrides.append("tuner.overwrite=true")
    config = training.load_config(args.config, overrides)
    result = search(config)
    best = result["best"]
    print(json.dumps({
        "output_dir": result["output_dir"],
        "trials": len(result["rows"]),
        "best_trial": best["trial"] if best else None,
        "best_objective": best["objective"] if best else None,
        "best_config": result["best_config"],
    }))
    return 0


def main(argv=None):
    """`python -m keras_resnets.tuning.search CONFIG.yaml [...]`: the same
    as `keras-resnets tune CONFIG.yaml [...]` (bad input is one line on
    stderr, exit 2)."""
    from keras_resnets import cli

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["tune"]:
        argv = argv[1:]
    return cli.main(["tune", *argv])


if __name__ == "__main__":
    sys.exit(main())
