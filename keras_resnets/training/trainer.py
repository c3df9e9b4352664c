"""`train(config)`: the work behind `keras-resnets train`.

A run folder (`training.output_dir`, default `runs/<config name>`) holds one
run:

```
run.json           the run's fingerprint (see `run_folder`): resuming needs a match
config.yaml        the resolved config (overrides applied, data statistics)
preprocessing.json preset, mean/std, input shape, class names (to predict later)
backup/            ResumableBackup state: the same command resumes the run
last.keras         the model after the last epoch
best.keras         the model with the best validation accuracy (best.json)
log.csv            one row per epoch: loss, accuracy, val_*, learning_rate, times
tensorboard/       TensorBoard logs
metrics.json       "status": "running" with the epochs so far (every epoch), then
                   "finished": test accuracy / error, parameters, epochs, wall
                   time, images/s, versions, precision, hardware
curves.png         loss, accuracy and learning rate by epoch (every epoch)
```

Everything is checked (config, data, model, the folder's fingerprint)
before the folder is touched. The same command resumes an interrupted run,
a larger `training.epochs` extends it, a finished run is left as it is;
another run in the folder is refused (`overwrite=True` starts over).
"""

import functools
import json
import pathlib
import sys

import keras

from keras_resnets import data as data_lib
from keras_resnets import runtime
from keras_resnets.data.build import as_list
from keras_resnets.training import callbacks as callbacks_lib
from keras_resnets.training import checkpoints
from keras_resnets.training import device_input
from keras_resnets.training import distribute
from keras_resnets.training import recipe
from keras_resnets.training import report
from keras_resnets.training import run_folder
from keras_resnets.training import schedules
from keras_resnets.training.config_sections import ConfigError


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the run folder keeps the last good
    state."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during `train`; the message says where the same command resumes.

    Attributes:
        epochs_done: epochs the run folder's saved state holds.
    """

    def __init__(self, message, epochs_done=0):
        super().__init__(message)
        self.epochs_done = epochs_done


# === Data ===


def load_data(config, *, num_replicas=1, drop_remainder=False, start_epoch=0):
    """`data.build_datasets` with a `Config`'s `data:` and `training:` values.

    Args:
        config: a validated `Config`.
        num_replicas: int, devices the batches are split over.
        drop_remainder: bool, evaluation batches must split evenly over the
            devices (JAX DataParallel).
        start_epoch: int, epochs already trained: the training stream
            continues where the uninterrupted run's would be (`DataOptions`).

    Returns:
        A `data.Datasets`: the training set repeats forever in full batches.
    """
    d, t = config.data, config.training
    # The `data:` section is a `DataSettings` (plus its source): the options
    # are those settings and what the run decides.
    options = data_lib.DataOptions(
        **d.settings(), batch_size=t.batch_size, num_replicas=num_replicas, seed=t.seed,
        start_epoch=start_epoch, drop_remainder=True, repeat=True,
        shard_evaluation=drop_remainder, steps_per_epoch=t.steps_per_epoch,
    )
    return data_lib.build_datasets(d.source, options, scale_range=tuple(d.scale_range))


# === Training ===


def check_steps_per_execution(steps_per_execution, steps_per_epoch):
    """`training.steps_per_execution` must divide the epoch (Keras would
    round every epoch up to a multiple, running steps the schedule and the
    run folder do not count) and be 1 on PyTorch (Keras runs it step by step).

    Raises:
        ConfigError: either is not so; the message says what is valid.
    """
    if steps_per_execution == 1:
        return
    if keras.backend.backend() == "torch":
        raise ConfigError(
            "`training.steps_per_execution` must be 1 on the PyTorch backend (Keras "
            "runs its train step one step at a time there). Received: "
            f"training.steps_per_execution={steps_per_execution}"
        )
    if steps_per_epoch % steps_per_execution:
        divisors = [d for d in range(1, min(steps_per_epoch, 64) + 1) if steps_per_epoch % d == 0]
        raise ConfigError(
            f"`training.steps_per_execution` must divide the {steps_per_epoch} steps of "
            f"an epoch (divisors up to 64: {divisors}); or set training.steps_per_epoch "
            f"to a multiple of it. Received: training.steps_per_execution={steps_per_execution}"
        )


def default_output_dir(config):
    stem = pathlib.Path(config.path).stem if config.path else config.model.name
    return pathlib.Path("runs") / stem


def train(config, *, callbacks=(), verbose=None, overwrite=False):
    """Trains the model a `Config` describes; see the module docstring.

    Args:
        config: a validated `Config` (`load_config`).
        callbacks: extra keras callbacks (appended after ours).
        verbose: overrides `training.verbose`.
        overwrite: remove the run folder's run files and start over.

    Returns:
        The metrics dict written to `metrics.json` (a finished run's, left
        untouched, when there was nothing to do).

    Raises:
        keras_resnets.errors.UserError (`ConfigError`, `DataUnavailableError`,
            ...): bad config, model arguments or data, or a run folder
            holding another run, before anything is written.
        TrainingDivergedError: the loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C (a `KeyboardInterrupt`).
    """
    previous_policy = keras.mixed_precision.global_policy()
    context = distribute.make_context(config.distribution)
    context.activate()
    chief_dir = _chief_dir(config)
    try:
        return _train(config, context, chief_dir, list(callbacks), verbose, overwrite)
    except checkpoints.RunFolderWriteError as error:
        # One line that says what the folder still holds: its newest state.
        saved = checkpoints.latest_state(chief_dir / "backup")
        kept = (f"the state after epoch {saved.epoch} (backup/{saved.weights.name})"
                if saved.weights else "no training state yet")
        raise error.keeping(kept) from error.__cause__
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        raise TrainingInterrupted("interrupted before training started") from None
    finally:
        context.deactivate()
        keras.mixed_precision.set_global_policy(previous_policy)


def _precision(requested, kept=None):
    """The dtype policy `training.mixed_precision` names (`auto`: by the
    hardware, see `runtime.auto_precision`).

    A run keeps the precision of its run folder: `auto` resuming a run folder
    whose fingerprint names a policy (`kept`) uses that policy, also on a
    processor where `auto` would pick another (a run started on a bfloat16
    machine stays bfloat16, slower where the units are emulated), so the
    resumed run is the same run. An explicit other value continues the run
    in that precision (the line says the run changed precision) and
    run.json records it (`run_folder.CHANGEABLE_KEYS`).

    Args:
        requested: `training.mixed_precision` (not None).
        kept: the policy of the run folder's fingerprint, or None.

    Returns:
        (the policy, which config.yaml, the run fingerprint and metrics.json
        record; the line that says which policy and why, printed after the
        run-folder line).
    """
    policy = runtime.resolve_precision(requested)
    why = f"auto: {runtime.auto_precision()[1]}" if requested == "auto" else "from the config"
    if requested == "auto" and kept and kept != policy:
        why = (f"kept from the run folder; auto would pick {policy} here: "
               f"{runtime.auto_precision()[1]}")
        policy = kept
    elif requested == "auto" and kept:
        why = f"kept from the run folder; {why}"
    elif kept and kept != policy:
        why = (f"from the config; the run's last epochs ran in {kept}, so the epochs from here on "
               "are not bit-identical to an uninterrupted run")
    return policy, f"Precision: {policy} ({why})"


def _chief_dir(config):
    t = config.training
    return pathlib.Path(t.output_dir) if t.output_dir else default_output_dir(config)


def _train(config, context, chief_dir, extra_callbacks, verbose, overwrite):
    """`train`, top to bottom: resolve, inspect the run folder, load the
    data, build, fit, report. Everything is checked before the folder is
    written."""
    t = config.training
    run_dir = context.run_dir(chief_dir)  # other workers keep their copy aside
    backup_dir, restore_dir = run_dir / "backup", chief_dir / "backup"  # all restore the chief's

    # === Resolve: the precision and the state the run continues from ===
    # The newest intact state (checksums verified once; damaged ones named later).
    saved = checkpoints.State(0, None) if overwrite else checkpoints.latest_state(restore_dir)
    policy, precision_line = t.mixed_precision, None
    if t.mixed_precision:
        kept = None if overwrite else run_folder.stored_precision(chief_dir)
        policy, precision_line = _precision(t.mixed_precision, kept)
        keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(t.seed)

    # === Data (the stream continues at the saved epoch) ===
    ds = load_data(
        config, num_replicas=context.num_replicas,
        drop_remainder=context.needs_drop_remainder, start_epoch=saved.epoch,
    )
    # The config as the run folder records it: what the run really uses.
    config = config.replace(
        data={"mean": as_list(ds.mean), "std": as_list(ds.std), "augment_on": ds.augment_on},
        training={"mixed_precision": policy, "output_dir": str(run_dir)},
    )

    # === Run folder: new, resume, extend, finished or refused ===
    fingerprint = run_folder.fingerprint(
        config, ds.info, backend=keras.backend.backend(), version=report.package_version()
    )
    state = run_folder.inspect(run_dir, fingerprint, t.epochs, epochs_done=saved.epoch,
                               overwrite=overwrite, chief_dir=chief_dir)
    context.check_resume(state)
    if state.kind == "finished":
        print(report.finished_line(run_dir, state.metrics), flush=True)
        return state.metrics
    steps = ds.steps_per_epoch
    check_steps_per_execution(t.steps_per_execution, steps)

    # === Build ===
    learning_rate = recipe.scaled_learning_rate(
        config.optimizer.learning_rate, config.distribution, context.num_replicas
    )
    schedule = schedules.from_config(
        config.schedule, learning_rate, steps_per_epoch=steps, epochs=t.epochs
    )
    with context.scope():
        model = recipe.build_from_config(
            config, num_classes=ds.num_classes, input_shape=ds.input_shape)
        # With data.augment_on: device, fit trains a wrapper whose first ops
        # preprocess the uint8 batches; the files hold `model` alone.
        model = device_input.wrap(model, ds, seed=t.seed)
        context.configure_model(model)
        recipe.compile_from_config(model, config, schedule)
    validation = ds.validation
    monitor_name = "validation"
    if validation is None and t.validate_on_test:
        validation, monitor_name = ds.test, "test"
    monitor = "val_accuracy" if validation is not None else "accuracy"
    val_label = "test" if monitor_name == "test" else "val"
    record = report.run_record(config, ds, context, device_input.deployed_model(model))

    # === Write the run folder ===
    with checkpoints.storage_errors(run_dir / "run.json", "its previous files"):
        if overwrite:
            run_folder.clear(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    write = functools.partial(checkpoints.atomic_write_text, if_changed=True)
    run_folder.write(run_dir, fingerprint)  # a changed precision is recorded
    if context.is_chief:
        report.record_session(run_dir, saved.epoch, record)
    source = f" (from {config.path})" if config.path else ""
    write(run_dir / "config.yaml",
          f"# Resolved config written by keras-resnets train{source}.\n" + config.to_yaml())
    write(run_dir / "preprocessing.json", json.dumps(ds.preprocessing(), indent=2) + "\n")
    csv_path = run_dir / "log.csv"
    callbacks_lib.trim_csv_log(csv_path, saved.epoch)
    print(report.start_line(run_dir, state, t.epochs), flush=True)
    for line in saved.damaged:
        print(f"Warning: {line}; resuming from the state after epoch {saved.epoch}."
              if saved.weights else f"Warning: {line}; no intact state: starting over.",
              flush=True)
    if precision_line:
        print(precision_line, flush=True)

    # === Fit ===
    fit_verbose = _resolve_verbose(t.verbose if verbose is None else verbose)
    nan_guard = callbacks_lib.NaNGuard()
    epoch_logger = callbacks_lib.EpochLogger(
        schedule, steps, epochs=t.epochs, val_label=val_label,
        line={0: None, 1: "eta", 2: "full"}.get(fit_verbose),
    )
    ctrl_c = callbacks_lib.CtrlC()
    cbs = [
        ctrl_c,
        nan_guard,
        epoch_logger,
        # The epoch's files first, its state last: the state is the commit
        # point. A kill before it redoes the epoch, exactly (the data stream,
        # the random generators and the optimizer come from the state), and
        # rewrites the same files; trim_csv_log drops the redone row.
        callbacks_lib.CSVLog(csv_path, validation=validation is not None),
        callbacks_lib.AtomicModelCheckpoint(run_dir, monitor=monitor),
    ]
    if context.is_chief:
        cbs.append(report.Progress(run_dir, record, t.epochs, val_label))
    cbs.append(callbacks_lib.ResumableBackup(
        backup_dir, restore_dir=None if overwrite else restore_dir,
        state=None if overwrite else saved))
    board = callbacks_lib.tensorboard_callback(run_dir / "tensorboard") if t.tensorboard else None
    if board is not None:
        cbs.append(board)
    cbs += extra_callbacks
    try:
        with ctrl_c, context.fit_scope(model):
            model.fit(
                _prepared(ds, context), epochs=t.epochs, steps_per_epoch=steps,
                validation_data=validation, validation_freq=t.validation_freq, callbacks=cbs,
                shuffle=False,  # the pipeline shuffles (seeded)
                verbose=1 if fit_verbose == 1 else 0,  # 0: EpochLogger prints the line
            )
            ctrl_c.raise_if_pending()
        if nan_guard.diverged is not None:
            epoch, batch, loss = nan_guard.diverged
            lr = epoch_logger.learning_rate_at(epoch + batch / max(steps, 1))
            raise TrainingDivergedError(
                f"Training diverged: the loss became {loss} at epoch {epoch + 1}, batch "
                f"{batch + 1} (learning rate about {lr:.4g}). {run_dir} keeps the state "
                "of the last finite epoch; lower optimizer.learning_rate or add warm-up "
                "(schedule.warmup_epochs) and run again."
            )

        # === Report ===
        with context.fit_scope(model):
            metrics = report.final_metrics(record, model, ds, run_dir, monitor, monitor_name)
        if context.is_chief:
            write(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            report.plot_curves(csv_path, run_dir / "curves.png", val_label=val_label)
    except KeyboardInterrupt:
        message, done = report.interrupted_message(epoch_logger, backup_dir, t.epochs)
        raise TrainingInterrupted(message, epochs_done=done) from None
    print(report.summary(metrics, run_dir), flush=True)
    return metrics


def _prepared(ds, context):
    """The training input, sharded for a multi-worker tf.data run."""
    if context.strategy is not None and ds.loader == "tf":
        return ds.train.apply(context.prepare_dataset)
    return ds.train


def _resolve_verbose(verbose):
    """`auto`: Keras's progress bar on a terminal (1: `EpochLogger` adds an
    elapsed/ETA line), one line per epoch in a log file or CI (2: printed by
    `EpochLogger`; the bar would write a line per step there)."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


__all__ = ["TrainingDivergedError", "TrainingInterrupted", "load_data", "train"]
