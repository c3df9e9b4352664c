"""`train(config)` and `evaluate(...)`: the work behind `keras-resnets train`.

A run folder (`training.output_dir`, default `runs/<config name>`) holds:

```
config.yaml        the resolved config (overrides applied, data statistics)
backup/            ResumableBackup state: the same command resumes the run
last.keras         the model after the last epoch
best.keras         the model with the best validation accuracy (best.json)
log.csv            one row per epoch: loss, accuracy, val_*, learning_rate, times
tensorboard/       TensorBoard logs
metrics.json       test accuracy / error, parameters, epochs, wall time, images/s
curves.png         loss, accuracy and learning rate by epoch
```

Everything is checked (config, data, model) before the folder is touched.
"""

import csv
import json
import math
import pathlib
import sys
import time

import keras
import numpy as np

from keras_resnets import data as data_lib
from keras_resnets import registry
from keras_resnets.flops import count_flops
from keras_resnets.flops import count_trainable_params
from keras_resnets.training import callbacks as callbacks_lib
from keras_resnets.training import distribute
from keras_resnets.training import optimizers
from keras_resnets.training import schedules
from keras_resnets.training.config import Config
from keras_resnets.training.config import ConfigError
from keras_resnets.training.config import config_from_dict

RUN_FILES = ("config.yaml", "backup", "last.keras", "best.keras", "log.csv",
             "tensorboard", "metrics.json", "curves.png")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the run folder keeps the last good
    state."""


# === Data ===


def _limit(pair, limit):
    images, labels = pair
    if limit is None or labels is None:
        return images, labels
    return images[:limit], labels[:limit]


def load_data(config, *, num_replicas=1, drop_remainder=False, seed_offset=0):
    """Loads the data a `Config` names and builds its tf.data pipelines.

    Returns:
        dict with `train`, `validation`, `test` (datasets or None), `info`,
        `preset`, `mean`, `std`, `num_train`, `steps_per_epoch`,
        `global_batch_size`, `image_shape`.
    """
    d, t = config.data, config.training
    splits, info = data_lib.load_arrays(
        d.source,
        data_dir=d.data_dir,
        cache_dir=d.cache_dir,
        validation_size=d.validation_size,
        validation_method=d.validation_method,
        seed=t.seed,
        skip_corrupt=d.skip_corrupt,
    )
    preset = d.preset or data_lib.infer_preset(info)
    train_images, train_labels = _limit(splits["train"], d.train_limit)
    if train_labels is None:
        raise ConfigError(
            f"data.source={d.source!r} is a streamed data set of unknown size; "
            "training needs an in-memory or file-list source."
        )
    mean, std = d.mean, d.std
    if preset == "cifar" and (mean is None or std is None):
        computed_mean, computed_std = data_lib.compute_mean_std(train_images)
        mean = [float(v) for v in np.ravel(computed_mean)] if mean is None else mean
        std = [float(v) for v in np.ravel(computed_std)] if std is None else std
    global_batch = t.batch_size * num_replicas
    num_train = len(train_labels)
    steps = t.steps_per_epoch or math.ceil(num_train / global_batch)
    common = dict(
        preset=preset, padding=d.padding, padding_mode=d.padding_mode, mean=mean, std=std,
        image_size=d.image_size, scale_range=tuple(d.scale_range), lighting_std=d.lighting_std,
    )
    train_ds = data_lib.make_dataset(
        train_images, train_labels, batch_size=global_batch, training=True,
        seed=t.seed + seed_offset, repeat=True, drop_remainder=True, **common,
    )
    eval_batch = (d.eval_batch_size or t.batch_size) * num_replicas
    out = {"train": train_ds, "validation": None, "test": None}
    for split, limit in (("validation", d.test_limit), ("test", d.test_limit)):
        if split in splits:
            images, labels = _limit(splits[split], limit)
            # JAX DataParallel needs batches divisible by the device count:
            # only a last batch that is not loses its examples.
            drop = drop_remainder and (len(labels) % eval_batch) % num_replicas != 0
            out[split] = data_lib.make_dataset(
                images, labels, batch_size=eval_batch, training=False,
                drop_remainder=drop, **common,
            )
    if preset == "imagenet":
        image_shape = (d.image_size, d.image_size, 3)
    else:
        image_shape = tuple(info.image_shape)
    out.update(
        info=info, preset=preset, mean=mean, std=std, num_train=num_train,
        steps_per_epoch=steps, global_batch_size=global_batch, image_shape=image_shape,
    )
    return out


# === Model ===


def build_model(config, *, num_classes, input_shape):
    """`create_model` with the config's kwargs; data-dependent defaults
    (`num_classes`, `input_shape`, logits out) and, for
    `weight_decay_mode="l2"`, an `L2(wd / 2)` kernel regularizer."""
    kwargs = dict(config.model.kwargs)
    kwargs.setdefault("num_classes", num_classes)
    kwargs.setdefault("input_shape", tuple(input_shape))
    kwargs.setdefault("classifier_activation", "linear")
    opt = config.optimizer
    if opt.weight_decay_mode == "l2" and opt.weight_decay:
        kwargs.setdefault("kernel_regularizer", keras.regularizers.L2(opt.weight_decay / 2))
    try:
        return registry.create_model(config.model.name, **kwargs)
    except TypeError as e:
        raise ConfigError(f"model: {e}") from None


def compile_model(model, config, learning_rate):
    """Compiles with the config's SGD, smoothed cross-entropy and accuracy."""
    t = config.training
    from_logits = optimizers.outputs_logits(config.model.kwargs.get("classifier_activation"))
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if t.top5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    model.compile(
        optimizer=optimizers.from_config(config.optimizer, learning_rate),
        loss=optimizers.SparseCategoricalCrossentropy(
            from_logits=from_logits, label_smoothing=t.label_smoothing
        ),
        metrics=metrics,
        jit_compile=t.jit_compile,
    )


# === Training ===


def default_output_dir(config):
    stem = pathlib.Path(config.path).stem if config.path else config.model.name
    return pathlib.Path("runs") / stem


def train(config, *, callbacks=(), verbose=None):
    """Trains the model a `Config` describes; see the module docstring.

    Args:
        config: a validated `Config` (`load_config`).
        callbacks: extra keras callbacks (appended after ours).
        verbose: overrides `training.verbose`.

    Returns:
        The metrics dict written to `metrics.json`.

    Raises:
        ConfigError / TypeError / FileNotFoundError / DataUnavailableError:
            bad config, model arguments or data, before anything is written.
        TrainingDivergedError: the loss became NaN or infinite.
    """
    t = config.training
    previous_policy = keras.mixed_precision.global_policy()
    context = distribute.make_context(config.distribution)
    context.activate()
    try:
        if t.mixed_precision:
            keras.mixed_precision.set_global_policy(t.mixed_precision)
        return _train(config, context, list(callbacks), verbose)
    finally:
        context.deactivate()
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(config, context, extra_callbacks, verbose):
    t = config.training
    run_dir = pathlib.Path(t.output_dir) if t.output_dir else default_output_dir(config)
    if not context.is_chief:
        # Other workers of a multi-worker run keep their own copy aside.
        run_dir = run_dir / "workers" / f"worker-{context.worker_index}"
    backup_dir = run_dir / "backup"
    initial_epoch = callbacks_lib.ResumableBackup.read_epoch(backup_dir)
    keras.utils.set_random_seed(t.seed)

    # === Check everything before writing ===
    ds = load_data(
        config, num_replicas=context.num_replicas,
        drop_remainder=context.needs_drop_remainder, seed_offset=initial_epoch,
    )
    steps = ds["steps_per_epoch"]
    learning_rate = config.optimizer.learning_rate
    if config.distribution.lr_scaling == "linear":
        learning_rate *= context.num_replicas
    schedule = schedules.from_config(
        config.schedule, learning_rate, steps_per_epoch=steps, epochs=t.epochs
    )
    with context.scope():
        model = build_model(
            config, num_classes=ds["info"].num_classes, input_shape=ds["image_shape"]
        )
        context.configure_model(model)
        compile_model(model, config, schedule)
    validation = ds["validation"]
    monitor_name = "validation"
    if validation is None and t.validate_on_test:
        validation, monitor_name = ds["test"], "test"
    monitor = "val_accuracy" if validation is not None else "accuracy"

    # === Run folder ===
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = config.replace("data", mean=_as_list(ds["mean"]), std=_as_list(ds["std"]))
    resolved = resolved.replace("training", output_dir=str(run_dir))
    callbacks_lib.atomic_write_text(run_dir / "config.yaml", _header(config) + resolved.to_yaml())
    csv_path = run_dir / "log.csv"
    callbacks_lib.trim_csv_log(csv_path, initial_epoch)

    nan_guard = callbacks_lib.NaNGuard()
    epoch_logger = callbacks_lib.EpochLogger(schedule, steps)
    cbs = [
        nan_guard,
        epoch_logger,
        callbacks_lib.ResumableBackup(backup_dir),
        callbacks_lib.AtomicModelCheckpoint(run_dir, monitor=monitor),
        keras.callbacks.CSVLogger(str(csv_path), append=True),
    ]
    if t.tensorboard:
        cbs.append(callbacks_lib.tensorboard_callback(run_dir / "tensorboard"))
    cbs += extra_callbacks
    if initial_epoch:
        print(f"Resuming {run_dir} after epoch {initial_epoch} of {t.epochs}.")
    with context.fit_scope(model):
        _fit(model, ds, context, t, steps, validation, cbs, verbose)
    if nan_guard.diverged is not None:
        epoch, batch, loss = nan_guard.diverged
        lr = epoch_logger.learning_rate_at(epoch + batch / max(steps, 1))
        raise TrainingDivergedError(
            f"Training diverged: the loss became {loss} at epoch {epoch + 1}, batch "
            f"{batch + 1} (learning rate about {lr:.4g}). {run_dir} keeps the state "
            "of the last finite epoch; lower optimizer.learning_rate or add warm-up "
            "(schedule.warmup_epochs) and run again."
        )

    # === Final files ===
    with context.fit_scope(model):
        metrics = _final_metrics(config, model, ds, run_dir, context, monitor, monitor_name)
    if context.is_chief:
        callbacks_lib.atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        plot_curves(csv_path, run_dir / "curves.png")
    return metrics


def _fit(model, ds, context, t, steps, validation, cbs, verbose):
    model.fit(
        ds["train"].apply(context.prepare_dataset) if context.strategy else ds["train"],
        epochs=t.epochs,
        steps_per_epoch=steps,
        validation_data=validation,
        validation_freq=t.validation_freq,
        callbacks=cbs,
        shuffle=False,  # the tf.data pipeline shuffles (seeded)
        verbose=_resolve_verbose(t.verbose if verbose is None else verbose),
    )


def _resolve_verbose(verbose):
    """`auto`: Keras's progress bar on a terminal, one line per epoch in a log
    file or CI (the bar would write a line per step there)."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


def _as_list(value):
    if value is None or isinstance(value, str):
        return value
    return [float(v) for v in np.ravel(value)]


def _header(config):
    source = f" (from {config.path})" if config.path else ""
    return f"# Resolved config written by keras-resnets train{source}.\n"


def _read_csv(path):
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _final_metrics(config, model, ds, run_dir, context, monitor, monitor_name):
    rows = _read_csv(run_dir / "log.csv")
    epochs_done = len(rows)
    metrics = {
        "model": config.model.name,
        "dataset": ds["info"].name,
        "backend": keras.backend.backend(),
        "strategy": context.name,
        "replicas": context.num_replicas,
        "global_batch_size": ds["global_batch_size"],
        "trainable_params": count_trainable_params(model),
    }
    try:
        metrics["flops"] = count_flops(model)
    except Exception:  # FLOPs need a fixed input size; optional here.
        metrics["flops"] = None
    if ds["test"] is not None:
        result = model.evaluate(ds["test"], verbose=0, return_dict=True)
        accuracy = float(result["accuracy"])
        metrics.update(
            test_accuracy=accuracy,
            test_error=100.0 * (1.0 - accuracy),
            test_loss=float(result["loss"]),
        )
        if "top5_accuracy" in result:
            metrics["test_top5_accuracy"] = float(result["top5_accuracy"])
    spec = registry.get_spec(config.model.name)
    train_time = sum(_float(r.get("train_time")) or 0.0 for r in rows)
    wall_time = sum(_float(r.get("epoch_time")) or 0.0 for r in rows)
    images = epochs_done * ds["steps_per_epoch"] * ds["global_batch_size"]
    best = run_dir / "best.json"
    metrics.update(
        epochs=epochs_done,
        steps_per_epoch=ds["steps_per_epoch"],
        train_examples=ds["num_train"],
        wall_time_s=round(wall_time, 3),
        train_time_s=round(train_time, 3),
        images_per_second=round(images / train_time, 1) if train_time else None,
        best=json.loads(best.read_text()) if best.is_file() else None,
        best_monitor_split=monitor_name if monitor.startswith("val_") else "train",
        paper_error=spec.error,
        paper=spec.paper,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    return metrics


def plot_curves(csv_path, png_path):
    """Plots loss, accuracy and learning rate by epoch from a CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = _read_csv(csv_path)
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (title, keys) in zip(
        axes,
        (("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy")),
         ("learning rate", ("learning_rate",))),
    ):
        for key in keys:
            values = [_float(r.get(key)) for r in rows]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if points:
                ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, label=key)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[2].set_yscale("log")
    fig.tight_layout()
    png_path = pathlib.Path(png_path)
    tmp = png_path.with_name(f".{png_path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    import os

    os.replace(tmp, png_path)


# === Evaluation ===


def evaluate(target, *, source=None, batch_size=None, which="last", verbose=0):
    """Test accuracy of a run folder's model (or a `.keras` file).

    Args:
        target: a run folder (uses its `config.yaml` for the data pipeline
            and `<which>.keras`) or a `.keras` file (its folder's
            `config.yaml` if present, else `source` with the inferred preset).
        source: data set (tfds name or path); defaults to the run's.
        batch_size: evaluation batch size.
        which: `"last"` or `"best"`.

    Returns:
        dict with `test_accuracy`, `test_error`, `test_loss`, `examples`.
    """
    target = pathlib.Path(target)
    if target.is_dir():
        model_path, run_dir = target / f"{which}.keras", target
    else:
        model_path, run_dir = target, target.parent
    if not model_path.is_file():
        raise FileNotFoundError(
            f"No model at {str(model_path)!r}: pass a run folder holding "
            "last.keras/best.keras or a .keras file."
        )
    config_file = run_dir / "config.yaml"
    if config_file.is_file():
        import yaml

        raw = yaml.safe_load(config_file.read_text())
        if source is not None:
            raw["data"]["source"] = str(source)
        config = config_from_dict(raw)
    elif source is not None:
        config = config_from_dict({"model": {"name": "resnet-20"}, "data": {"source": str(source)}})
    else:
        raise ConfigError(
            f"{str(target)!r} has no config.yaml beside it; pass --data (a "
            "tensorflow-datasets name or a local path)."
        )
    if batch_size:
        config = config.replace("data", eval_batch_size=batch_size)
    ds = load_data(config)
    if ds["test"] is None:
        raise ConfigError(f"data.source={config.data.source!r} has no test split to evaluate.")
    import keras_resnets.training  # noqa: F401  (registers our objects)

    model = keras.models.load_model(str(model_path))
    result = model.evaluate(ds["test"], verbose=verbose, return_dict=True)
    accuracy = float(result["accuracy"]) if "accuracy" in result else float(
        next(v for k, v in result.items() if "accuracy" in k)
    )
    examples = ds["info"].num_examples.get("test", -1)
    if config.data.test_limit:
        examples = min(examples, config.data.test_limit)
    return {
        "model": str(model_path),
        "test_accuracy": accuracy,
        "test_error": 100.0 * (1.0 - accuracy),
        "test_loss": float(result["loss"]),
        "examples": examples,
    }


__all__ = ["Config", "RUN_FILES", "TrainingDivergedError", "build_model", "compile_model",
           "evaluate", "load_data", "plot_curves", "train"]
