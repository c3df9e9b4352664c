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
  search_space:                # narrows the family's space (see keras_resnets.spaces)
    depth: [16, 22, 28]
    k: {min: 2, max: 10}
    learning_rate: {min: 0.02, max: 0.2, sampling: log}
  overwrite: false             # false: the same command resumes the search
```

The `tuner:` section is a typed `TunerConfig`
(`keras_resnets.training.config`), checked with the rest of the config.
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
best_config.yaml     the best completed trial as the config of a full run
```

`best_config.yaml` is a recipe, not a copy of the search: the search's budget
(`data.train_limit`, `test_limit`, `validation_size`, `training.steps_per_epoch`)
is left out, so `keras-resnets train best_config.yaml` trains on every
training image and reports the test set; `training.epochs` is
`tuner.final_epochs` (default: the trials' epochs, and the command says so);
`data.source` is written as typed (a relative path stays relative); the run
folder is named after the model (`runs/wrn-16-4_cifar10_tuned`). A search in
which no trial completed raises `SearchFailedError` (the CLI: one line, exit
status 1) and writes no best config.

The best config names the trial's architecture by its paper-table registry
name when it has one (`wrn-16-4`), else by the family's generic name with
every architecture kwarg (`name: wrn`, `depth: 10`, `k: 4`), so a run trained
from it never reports another model's paper error.
"""

import dataclasses
import pathlib

from keras_resnets.tuning import results as results_lib
from keras_resnets.tuning import tuners


def _config_error(message):
    from keras_resnets.training.config import ConfigError

    return ConfigError(message)


def output_dir(config):
    """The search's output folder: `tuner.directory`, default
    `runs/tune/<config name>`."""
    if config.tuner.directory:
        return pathlib.Path(config.tuner.directory)
    stem = pathlib.Path(config.path).stem if config.path else config.model.name
    return pathlib.Path("runs") / "tune" / stem


# === Search ===


def make_hypermodel(config, *, num_train_examples=None, num_classes=10,
                    input_shape=(32, 32, 3), context=None):
    """The `ResidualHyperModel` a config describes (validates the space)."""
    from keras_resnets.tuning import hypermodels
    from keras_resnets.spaces import families as search_spaces

    tuner = config.tuner
    try:
        family = search_spaces.get_family(tuner.family or config.model.name)
        search_space, model_kwargs = search_spaces.split_model_kwargs(
            family, config.model.kwargs, tuner.search_space
        )
    except ValueError as e:
        raise _config_error(str(e)) from None
    o, t = config.optimizer, config.training
    defaults = {
        "learning_rate": o.learning_rate, "weight_decay": o.weight_decay,
        "label_smoothing": t.label_smoothing, "batch_size": t.batch_size,
        "epochs": tuner.max_epochs if tuner.name == "hyperband" and tuner.max_epochs else t.epochs,
    }
    if "batch_size" not in search_space:
        search_space["batch_size"] = t.batch_size
    try:
        hypermodel = hypermodels.get_hypermodel(
            family.name, search_space=search_space, defaults=defaults, input_shape=input_shape,
            num_classes=num_classes, max_params=tuner.max_params, model_kwargs=model_kwargs,
            optimizer=config.optimizer, schedule=config.schedule, training=t,
            distribution=config.distribution, num_train_examples=num_train_examples,
            context=context,
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
            from keras_resnets.training.trainer import load_data

            # Trials fit the hypermodel's model as it is: no device input stage.
            config = self.config.replace(training={"batch_size": int(batch_size)},
                                         data={"augment_on": "host"})
            ds = load_data(
                config, num_replicas=self.context.num_replicas,
                drop_remainder=self.context.needs_drop_remainder,
            )
            if self.context.strategy is not None and ds.loader == "tf":
                ds = dataclasses.replace(ds, train=ds.train.apply(self.context.prepare_dataset))
            self._cache[batch_size] = ds
        return self._cache[batch_size]


def search(config, *, verbose=None):
    """Runs the search `config.tuner` describes; see the module docstring.

    Args:
        config: a validated `Config` (`keras_resnets.training.load_config`).
        verbose: overrides `tuner.verbose` / `training.verbose`.

    Returns:
        dict with `output_dir`, `rows` (the results table), `best` (the best
        completed row) and `best_config` (its path).

    Raises:
        ConfigError (ValueError): bad `tuner` section, search space, tuner
            name, or data without a validation split; all before any trial.
        SearchFailedError (RuntimeError): no trial completed (each failed
            or was pruned); one line with the counts and the first error,
            and no best_config.yaml.
    """
    import keras

    from keras_resnets.training import distribute

    tuner = config.tuner
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
    make_hypermodel(config)  # validate the space before loading data
    datasets = _Datasets(config, context)
    first = datasets(t.batch_size)
    if first.validation is None and tuner.objective.startswith("val_"):
        raise _config_error(
            f"tuner.objective={tuner.objective!r} needs a validation split: set "
            "data.validation_size (e.g. 5000 for CIFAR); tuning on the test set would "
            "bias the reported test error."
        )
    hypermodel = make_hypermodel(
        config, num_train_examples=first.num_train,
        num_classes=first.num_classes, input_shape=first.input_shape, context=context,
    )
    out = output_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    resolved = config.replace(data={"mean": as_list(first.mean), "std": as_list(first.std)})
    header = f"# Resolved config written by keras-resnets tune{results_lib.source_note(config)}.\n"
    (out / "search_config.yaml").write_text(header + resolved.to_yaml())
    keras.utils.set_random_seed(t.seed)
    kt = tuners.make_tuner(config, hypermodel, directory=out / "tuner",
                           distribution_strategy=context.strategy)
    fit_verbose = t.verbose if verbose is None else verbose
    stopped = None
    try:
        kt.search(
            datasets,
            verbose=fit_verbose if tuner.verbose is None else tuner.verbose,
            validation_freq=t.validation_freq,
        )
    except RuntimeError as e:  # keras-tuner's max_consecutive_failed_trials
        if not str(e).startswith("Number of consecutive failures"):
            raise
        stopped = (f"the search stopped after tuner.max_consecutive_failed_trials="
                   f"{kt.oracle.max_consecutive_failed_trials} failed trials in a row")
    rows = results_lib.results_table(kt, hypermodel)
    results_lib.write_results(rows, out)
    print(results_lib.format_markdown(rows))
    best_path = out / "best_config.yaml"
    try:
        best = results_lib.best_completed(rows, max_params=tuner.max_params,
                                          where=out / "results.csv")
    except results_lib.SearchFailedError as e:
        best_path.unlink(missing_ok=True)  # never a best config of another search
        if stopped:
            raise results_lib.SearchFailedError(f"{str(e)[:-1]}; {stopped}.") from None
        raise
    unfinished = len(rows) - sum(r["status"] == "completed" for r in rows)
    if unfinished or stopped:
        print(f"{unfinished} of {len(rows)} trials did not complete (failed or pruned; "
              f"see {out / 'results.csv'}){'; ' + stopped if stopped else ''}.")
    results_lib.export_best_config(config, hypermodel, best, best_path, objective=tuner.objective)
    print(f"Best trial {best['trial']}: {tuner.objective}={best['objective']:.4f}, "
          f"{best['params']} parameters; training config (a full run): {best_path}")
    if not tuner.final_epochs:
        epochs = best["hyperparameters"].get("epochs", hypermodel.space["epochs"].default)
        print(f"{best_path} trains for the trials' {epochs} epochs; set tuner.final_epochs "
              "(or train it with --epochs N) for a full run.")
    return {"output_dir": str(out), "rows": rows, "best": best, "best_config": str(best_path)}
