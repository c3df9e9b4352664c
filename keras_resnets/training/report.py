"""What a run records and prints: metrics.json (running, then finished),
curves.png and the lines `keras-resnets train` prints (preprocessing.json is
`data.Datasets.preprocessing()`)."""

import csv
import importlib
import json
import pathlib
import time

import keras

from keras_resnets import registry
from keras_resnets.flops import count_flops
from keras_resnets.flops import count_trainable_params
from keras_resnets.training.checkpoints import atomic_save
from keras_resnets.training.checkpoints import atomic_write_text
from keras_resnets.training.checkpoints import latest_state
from keras_resnets.training.callbacks import format_duration


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


def package_version():
    """keras_resnets's version (`__version__`, else the installed metadata)."""
    import keras_resnets

    version = getattr(keras_resnets, "__version__", None)
    if version:
        return version
    from importlib import metadata

    try:
        return metadata.version("keras_resnets")
    except metadata.PackageNotFoundError:
        return None


def _backend_version(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    try:
        return importlib.import_module(module).__version__
    except (ImportError, AttributeError):
        return None


def _hardware():
    from keras_resnets import runtime

    processor_info = getattr(runtime, "processor_info", None)
    return processor_info() if processor_info is not None else None


def run_record(config, ds, context, model):
    """What every metrics.json of the run says: model, data, software
    (versions, precision: the dtype policy during `fit`), hardware
    (`runtime.processor_info()` where available), parameters and FLOPs."""
    backend = keras.backend.backend()
    record = {
        "model": config.model.name,
        "dataset": ds.info.name,
        "data_source": config.data.source,
        "backend": backend,
        "backend_version": _backend_version(backend),
        "keras_version": keras.__version__,
        "keras_resnets_version": package_version(),
        "precision": keras.mixed_precision.global_policy().name,
        "hardware": _hardware(),
        "strategy": context.name,
        "replicas": context.num_replicas,
        "global_batch_size": ds.batch_size,
        "steps_per_epoch": ds.steps_per_epoch,
        "train_examples": ds.num_train,
        "trainable_params": count_trainable_params(model),
    }
    try:
        record["flops"] = count_flops(model)
    except Exception:  # FLOPs need a fixed input size; optional here.
        record["flops"] = None
    return record


def _times(rows, record):
    train_time = sum(_float(r.get("train_time")) or 0.0 for r in rows)
    wall_time = sum(_float(r.get("epoch_time")) or 0.0 for r in rows)
    images = len(rows) * record["steps_per_epoch"] * record["global_batch_size"]
    return dict(
        wall_time_s=round(wall_time, 3),
        train_time_s=round(train_time, 3),
        images_per_second=round(images / train_time, 1) if train_time else None,
    )


SESSIONS_FILE = "sessions.json"


def record_session(run_dir, initial_epoch, record):
    """Appends this start of the run to `sessions.json`: the first epoch it
    trains, when, and on what (processor, precision, backend).

    A run resumed on other machines says where each of its epochs ran (the
    record's own `hardware` is the last machine's). Entries from a session
    that trained nothing past `initial_epoch` are dropped: their epochs are
    redone here.
    """
    path = pathlib.Path(run_dir) / SESSIONS_FILE
    sessions = json.loads(path.read_text()) if path.is_file() else []
    sessions = [s for s in sessions if s["first_epoch"] <= initial_epoch]
    sessions.append({
        "first_epoch": initial_epoch + 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "hardware": record["hardware"],
        "precision": record["precision"],
        "backend": record["backend"],
    })
    atomic_write_text(path, json.dumps(sessions, indent=2) + "\n")


def _sessions(run_dir, epochs):
    """`sessions.json` with each session's `last_epoch` (None without the file)."""
    path = pathlib.Path(run_dir) / SESSIONS_FILE
    if not path.is_file():
        return None
    sessions = json.loads(path.read_text())
    for session, following in zip(sessions, sessions[1:] + [None]):
        session["last_epoch"] = following["first_epoch"] - 1 if following else epochs
    return sessions


def time_to_accuracy(rows, target, column="val_accuracy"):
    """When a run first reached `target` accuracy: the time-to-accuracy figure.

    Args:
        rows: log.csv rows (dicts), one per epoch, in order.
        target: accuracy in [0, 1], e.g. the paper's `1 - error / 100`.
        column: the evaluated accuracy column (the test set when the run
            holds out no validation split).

    Returns:
        `{"target", "epoch", "wall_time_s"}`: the first epoch (1-based) whose
        `column` is at least `target` and the run's wall time up to the end of
        that epoch (sum of `epoch_time`), or None when no evaluated epoch
        reached it.
    """
    elapsed = 0.0
    for number, row in enumerate(rows, start=1):
        elapsed += _float(row.get("epoch_time")) or 0.0
        accuracy = _float(row.get(column))
        if accuracy is not None and accuracy >= target:
            return {"target": target, "epoch": number, "wall_time_s": round(elapsed, 3)}
    return None


class Progress(keras.callbacks.Callback):
    """Refreshes metrics.json (`"status": "running"`) and curves.png after
    every epoch, so a long run can be watched. Put it after the CSV log."""

    def __init__(self, run_dir, record, epochs, val_label):
        super().__init__()
        self.run_dir, self.record = pathlib.Path(run_dir), record
        self.epochs, self.val_label = epochs, val_label

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "_keras_resnets_diverged", False):
            return
        last = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            name = f"{self.val_label}_{key[4:]}" if key.startswith("val_") else key
            last[name] = float(value)
        csv_path = self.run_dir / "log.csv"
        metrics = {
            "status": "running", **self.record, "epochs": epoch + 1,
            "epochs_planned": self.epochs, "last_epoch": last,
            **_times(_read_csv(csv_path), self.record),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        atomic_write_text(
            self.run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n"
        )
        plot_curves(csv_path, self.run_dir / "curves.png", val_label=self.val_label)


def final_metrics(record, model, ds, run_dir, monitor, monitor_name):
    """The finished run's metrics.json: `record` plus test results, epochs,
    times, the best model and the paper's numbers."""
    rows = _read_csv(run_dir / "log.csv")
    metrics = {"status": "finished", **record}
    if ds.test is not None:
        result = model.evaluate(ds.test, verbose=0, return_dict=True)
        accuracy = float(result["accuracy"])
        metrics.update(
            test_accuracy=accuracy,
            test_error=100.0 * (1.0 - accuracy),
            test_loss=float(result["loss"]),
        )
        if "top5_accuracy" in result:
            metrics["test_top5_accuracy"] = float(result["top5_accuracy"])
    spec = registry.get_spec(record["model"])
    if spec.error is not None and monitor_name == "test":
        metrics["paper_accuracy_reached"] = time_to_accuracy(rows, 1.0 - spec.error / 100.0)
    best = run_dir / "best.json"
    metrics.update(
        epochs=len(rows),
        epochs_planned=len(rows),
        **_times(rows, record),
        best=json.loads(best.read_text()) if best.is_file() else None,
        best_monitor_split=monitor_name if monitor.startswith("val_") else "train",
        paper_error=spec.error,
        paper=spec.paper,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    sessions = _sessions(run_dir, len(rows))
    if sessions is not None and len(sessions) > 1:
        metrics["sessions"] = sessions
    return metrics


# === What the user reads ===


def start_line(run_dir, state, epochs):
    """`Run folder: DIR (new run of N epochs | resuming after epoch K of N)`."""
    if state.kind == "new":
        what = f"new run of {epochs} epochs"
    elif state.epochs_done == 0:
        what = f"restarting: no epoch of {epochs} was saved"
    else:
        what = f"resuming after epoch {state.epochs_done} of {epochs}"
    note = f"; {state.note}" if state.note else ""
    return f"Run folder: {run_dir} ({what}{note})"


def _accuracy_text(metrics):
    if metrics.get("test_accuracy") is None:
        return "no test split"
    return (f"test accuracy {100 * metrics['test_accuracy']:.2f}% "
            f"(error {metrics['test_error']:.2f}%)")


def finished_line(run_dir, metrics):
    """The one line for a re-run of a finished run."""
    return (
        f"{run_dir} is finished: {metrics.get('epochs')} epochs, {_accuracy_text(metrics)}. "
        "Nothing to do; a larger --epochs extends it, --overwrite starts over."
    )


def summary(metrics, run_dir):
    """Two lines for the end of a run: test accuracy, epochs, time, speed, files."""
    speed = metrics.get("images_per_second")
    speed = f", {speed:.0f} images/s" if speed else ""
    wall = format_duration(metrics.get("wall_time_s") or 0)
    return (
        f"Finished {metrics['model']} on {metrics['dataset']}: {_accuracy_text(metrics)} "
        f"after {metrics['epochs']} epochs, {wall} wall time{speed}.\n"
        f"{_paper_text(metrics)}{files_line(run_dir)}"
    )


def _paper_text(metrics):
    """The time-to-paper-accuracy line (empty when the run has no figure)."""
    if "paper_accuracy_reached" not in metrics:
        return ""
    target = 100.0 - metrics["paper_error"]
    reached = metrics["paper_accuracy_reached"]
    if reached is None:
        return f"The paper's {target:.2f}% was not reached at any evaluated epoch.\n"
    return (f"The paper's {target:.2f}% was first reached after epoch {reached['epoch']}, "
            f"{format_duration(reached['wall_time_s'])} wall time.\n")


SUMMARY_FILES = ("metrics.json", "log.csv", "curves.png", "last.keras", "best.keras")


def files_line(run_dir):
    """The files a run wrote (of `SUMMARY_FILES`), and why `best.keras` is
    missing when it is."""
    run_dir = pathlib.Path(run_dir)
    present = [name for name in SUMMARY_FILES if (run_dir / name).is_file()]
    line = f"Files in {run_dir}: {', '.join(present) or 'none'}."
    if "best.keras" not in present and "last.keras" in present:
        line += (" No best.keras: no epoch was evaluated (training.validation_freq); "
                 "export, predict and load_run use last.keras.")
    return line


def interrupted_message(epoch_logger, backup_dir, epochs):
    """The line for Ctrl-C: where it stopped and where the same command resumes.

    Returns:
        `(message, epochs_done)`.
    """
    done = latest_state(backup_dir).epoch
    current = epoch_logger.current_epoch
    if done >= epochs:
        return (f"interrupted after the last epoch ({epochs}); the same command finishes "
                "the run"), done
    where = (f"after epoch {done}" if current is None or current + 1 == done
             else f"in epoch {current + 1}")
    then = f"resumes after epoch {done}" if done else "starts the run again"
    return f"interrupted {where}; the same command {then}", done


def plot_curves(csv_path, png_path, *, val_label="val"):
    """Plots loss, accuracy and learning rate by epoch from a CSV log.

    Args:
        csv_path: the run's `log.csv`.
        png_path: where the PNG goes (replaced atomically).
        val_label: legend name of `val_*` columns (`"test"` when the
            per-epoch evaluation is the test set).

    Returns:
        The curves drawn: a list of labels per panel (loss, accuracy,
        learning rate).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = _read_csv(csv_path)
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    drawn = []
    for ax, (title, keys) in zip(
        axes,
        (("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy")),
         ("learning rate", ("learning_rate",))),
    ):
        for key in keys:
            values = [_float(r.get(key)) for r in rows]
            # A log axis cannot show a warm-up that starts at 0: skip v <= 0.
            points = [(e, v) for e, v in zip(epochs, values)
                      if v is not None and (v > 0 or key != "learning_rate")]
            if points:
                label = f"{val_label}_{key[4:]}" if key.startswith("val_") else key
                ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, label=label)
                if key == "learning_rate":
                    ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        drawn.append(ax.get_legend_handles_labels()[1])
        if drawn[-1]:
            ax.legend()
    fig.tight_layout()
    try:
        atomic_save(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    finally:
        plt.close(fig)
    return drawn
