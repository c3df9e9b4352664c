"""Callbacks of `keras-resnets train`: resumable state, atomic checkpoints,
learning-rate / timing logs with an ETA, a CSV log and a NaN guard.

Every file a run keeps is written through `checkpoints.atomic_save` (a
temporary name, `fsync`, `os.replace`), so a run killed at any moment leaves
either the old or the new version of each file, never half of one, and a
full disk is one `RunFolderWriteError`.
"""

import csv
import io
import json
import math
import os
import pathlib
import signal
import threading
import time

import keras

from keras_resnets.training import checkpoints
from keras_resnets.training import device_input
from keras_resnets.training.checkpoints import atomic_write_text


def _finite(logs):
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose states are checksummed, kept two deep and
    replaced atomically at each epoch end (`checkpoints.save_state`).

    A state holds the model and optimizer variables (so the schedule
    resumes at the right iteration) and the state of every
    `keras.random.SeedGenerator` in the model (Dropout, DropPath, ShakeDrop,
    the device input stage, ...; `model.save_weights` leaves them out), so a
    restart of the same run continues with the draws the uninterrupted run
    would have made. A restart loads the newest intact state
    (`checkpoints.latest_state`) and `fit` continues at its epoch; a run
    killed mid-epoch loses only that epoch's partial progress. A non-finite
    loss is never saved. The states are kept after training and after
    Ctrl-C (`--epochs` more continues a finished run).

    In a multi-worker run every worker restores the chief's state
    (`restore_dir`), so all of them resume at the same epoch with the same
    weights even when a worker died between the chief's save and its own,
    or comes back on a machine without its old files.

    Args:
        backup_dir: str, folder this process saves its state to.
        restore_dir: str, folder of the state restored at the start
            (default: `backup_dir`).
        state: the `checkpoints.State` to restore, when the caller has
            already looked (default: the newest intact one of `restore_dir`).
    """

    def __init__(self, backup_dir, *, restore_dir=None, state=None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.backup_dir = str(backup_dir)
        self.restore_dir = str(restore_dir or backup_dir)
        self.state = state

    def on_train_begin(self, logs=None):
        self._load_model()

    def _load_model(self):
        state = self.state or checkpoints.latest_state(self.restore_dir)
        if state.weights is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(state.weights))
        set_seed_states(self.model, state.record.get("seed_states"))
        self.model._initial_epoch = state.epoch
        self._current_epoch = state.epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if _finite(logs) and not getattr(self.model, "_keras_resnets_diverged", False):
            self._save_model()

    def _save_model(self):
        checkpoints.save_state(
            self.backup_dir, self._current_epoch,
            lambda path: self.model.save_weights(str(path), overwrite=True),
            extra={"seed_states": seed_states(self.model)},
        )

    def on_train_end(self, logs=None):
        pass


def _seed_generators(model):
    """The model's `SeedGenerator`s in a fixed order (layer by layer, each
    layer's in creation order), once each."""
    seen, generators = set(), []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", ()):
            if id(generator) not in seen:
                seen.add(id(generator))
                generators.append(generator)
    return generators


def seed_states(model):
    """`[[int, int], ...]`: the state of each of the model's seed generators."""
    return [[int(v) for v in keras.ops.convert_to_numpy(g.state.value).ravel()]
            for g in _seed_generators(model)]


def set_seed_states(model, states):
    """Sets the model's seed generators to `states` (from `seed_states`).

    Raises:
        ValueError: the states were saved from a model with another number
            of seed generators.
    """
    if states is None:
        return
    generators = _seed_generators(model)
    if len(states) != len(generators):
        raise ValueError(
            f"The saved state holds {len(states)} random-generator states but the model "
            f"has {len(generators)} seed generators: it was saved from another model."
        )
    for generator, values in zip(generators, states):
        generator.state.assign(keras.ops.convert_to_tensor(values, generator.state.dtype))


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when `monitor` improves.

    The best value survives restarts (kept in `best.json` beside the model),
    so a resumed run never replaces a better model with a worse one.

    Args:
        folder: run folder.
        monitor: metric to maximise (e.g. `"val_accuracy"`).
    """

    def __init__(self, folder, monitor="val_accuracy"):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.monitor = monitor
        self.best = None
        best = self.folder / "best.json"
        if best.is_file():
            self.best = json.loads(best.read_text()).get("value")

    def _save(self, name):
        model = device_input.deployed_model(self.model)
        checkpoints.atomic_save(self.folder / name, lambda path: model.save(str(path)),
                                kept="the state of the epochs before (backup/)")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not _finite(logs) or getattr(self.model, "_keras_resnets_diverged", False):
            return
        value = logs.get(self.monitor)
        if value is not None and (self.best is None or float(value) > self.best):
            self.best = float(value)
            self._save("best.keras")
            atomic_write_text(
                self.folder / "best.json",
                json.dumps({"monitor": self.monitor, "value": self.best, "epoch": epoch + 1}),
            )
        self._save("last.keras")


class EpochLogger(keras.callbacks.Callback):
    """Adds `learning_rate` (at the epoch's first iteration; the printed line
    shows it and the last iteration's, `lr: 0 -> 0.05` in a warm-up's first
    epoch), `train_time` (seconds of training steps) and `epoch_time` (with
    validation) to the epoch logs, so the CSV log, TensorBoard and History
    record them, and prints the time so far and left. Put it before the
    loggers.

    Args:
        schedule: float or `LearningRateSchedule` of the optimizer.
        steps_per_epoch: int.
        epochs: int, the run's last epoch (for the ETA); None prints nothing.
        line: `"full"` prints one line per epoch with the logs, elapsed time
            and ETA (in place of keras's `verbose=2` line); `"eta"` prints
            only the elapsed time and ETA (below keras's progress bar);
            None prints nothing.
        val_label: name shown for `val_*` logs (`"test"` when the per-epoch
            evaluation is the test set).
    """

    EXTRA_KEYS = ("learning_rate", "train_time", "epoch_time")

    def __init__(self, schedule, steps_per_epoch, *, epochs=None, line=None, val_label="val"):
        super().__init__()
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.line = line
        self.val_label = val_label
        self.current_epoch = None  # 0-based epoch in progress (or last begun)
        self._start = None
        self._first = None  # (epoch, time) of the first epoch of this session

    def learning_rate_at(self, epoch):
        if callable(self.schedule):
            return float(keras.ops.convert_to_numpy(self.schedule(epoch * self.steps_per_epoch)))
        return float(self.schedule)

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch
        self._start = self._last_batch = time.perf_counter()
        if self._first is None:
            self._first = (epoch, self._start)

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.learning_rate_at(epoch)
            logs["train_time"] = self._last_batch - self._start
            logs["epoch_time"] = time.perf_counter() - self._start
        if self.line and self.epochs:
            print(self.format_line(epoch, logs or {}), flush=True)

    def format_line(self, epoch, logs):
        """The line printed after `epoch` (0-based)."""
        first_epoch, first_start = self._first
        elapsed = time.perf_counter() - first_start
        mean = elapsed / (epoch + 1 - first_epoch)
        timing = (f"elapsed {format_duration(elapsed)} - "
                  f"ETA {format_duration(mean * (self.epochs - epoch - 1))}")
        if self.line == "eta":
            return f"  {timing} ({mean:.1f} s/epoch)"
        parts = [f"Epoch {epoch + 1}/{self.epochs}", f"{logs.get('epoch_time', 0.0):.1f}s"]
        for key in sorted(k for k in logs if k not in self.EXTRA_KEYS):
            name = f"{self.val_label}_{key[4:]}" if key.startswith("val_") else key
            parts.append(f"{name}: {float(logs[key]):.4f}")
        if "learning_rate" in logs:
            # logs' learning_rate is the epoch's first iteration's (0 in a
            # warm-up's first epoch); the line also shows its last one's.
            last = epoch + 1 - 1 / max(self.steps_per_epoch, 1)  # the last iteration
            start, end = logs["learning_rate"], self.learning_rate_at(last)
            same = f"{start:.4g}" == f"{end:.4g}"
            parts.append(f"lr: {start:.4g}" if same else f"lr: {start:.4g} -> {end:.4g}")
        return " - ".join(parts + [timing])


def format_duration(seconds):
    """`h:mm:ss` of a number of seconds."""
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class CSVLog(keras.callbacks.Callback):
    """One CSV row per epoch (`epoch`, then the logs' keys sorted), written
    at once (the file is replaced atomically); a resumed run appends under
    the file's existing header.

    Unlike keras's `CSVLogger`, no column is always empty: `val_*` columns
    exist only when `validation` is on, and only for the model's metrics
    (an epoch `validation_freq` skips has `NA` in them).

    Args:
        path: str or Path of the CSV file.
        validation: bool, whether `fit` evaluates validation data.
    """

    def __init__(self, path, *, validation=False):
        super().__init__()
        self.path = pathlib.Path(path)
        self.validation = validation
        self.keys = None

    def _existing_header(self):
        if not self.path.is_file():
            return None
        with self.path.open(newline="") as f:
            header = next(csv.reader(f), None)
        return header[1:] if header and header[0] == "epoch" else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        header = None
        if self.keys is None:
            self.keys = self._existing_header()
            if self.keys is None:
                keys = set(logs)
                if self.validation:
                    keys |= {f"val_{k}" for k in logs
                             if not k.startswith("val_") and k not in EpochLogger.EXTRA_KEYS}
                self.keys = sorted(keys)
                header = ["epoch"] + self.keys
        row = [epoch] + [_csv_value(logs.get(k, "NA")) for k in self.keys]
        # The whole file is rewritten atomically (a few kB): a kill or a full
        # disk during the write leaves the previous rows, never half a row.
        text = io.StringIO()
        writer = csv.writer(text)
        if header:
            writer.writerow(header)
        writer.writerow(row)
        previous = "" if header else self.path.read_text() if self.path.is_file() else ""
        atomic_write_text(self.path, previous + text.getvalue(),
                          kept="the rows of the epochs before")


def _csv_value(value):
    if isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class CtrlC(keras.callbacks.Callback):
    """Makes Ctrl-C stop `fit` at the next batch, reliably and quietly.

    Python runs a SIGINT handler wherever the main thread happens to be; in
    a garbage-collection callback (JAX registers one, and TensorFlow
    imports JAX when it is installed) the `KeyboardInterrupt` is printed
    and dropped, and training goes on. Inside `with CtrlC() as guard:` the
    first Ctrl-C only sets `guard.pending`; the callback raises
    `KeyboardInterrupt` at the next batch (train or validation) or epoch
    start, and `raise_if_pending` after `fit`. A second Ctrl-C raises at
    once. Outside the main thread the handler is left alone.
    """

    def __init__(self):
        super().__init__()
        self.pending = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame):
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def raise_if_pending(self):
        """Raises `KeyboardInterrupt` if Ctrl-C was pressed."""
        if self.pending:
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        self.raise_if_pending()

    def on_test_batch_end(self, batch, logs=None):
        self.raise_if_pending()

    def on_epoch_begin(self, epoch, logs=None):
        self.raise_if_pending()


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that remembers where the loss diverged.

    After `fit`, `diverged` is `(epoch, batch, loss)` or None; `train` turns
    it into a `TrainingDivergedError` with the learning rate at that point.
    """

    def __init__(self):
        super().__init__(raise_error=False)
        self.diverged = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.diverged is None:
            self.diverged = (self._epoch, batch, float(loss))
            self.model._keras_resnets_diverged = True
            self.model.stop_training = True


def trim_csv_log(path, epochs_done):
    """Drops rows of epochs >= `epochs_done` from a CSV log (a run killed
    after logging an epoch but before saving its state redoes that epoch)."""
    path = pathlib.Path(path)
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    if not lines:
        return
    keep = [lines[0]]
    for line in lines[1:]:
        head = line.split(",", 1)[0].strip()
        try:
            if int(head) < epochs_done:
                keep.append(line)
        except ValueError:
            continue
    if len(keep) == 1 and epochs_done == 0:
        path.unlink()
        return
    if len(keep) < len(lines):
        atomic_write_text(path, "".join(keep))


class ScalarTensorBoard(keras.callbacks.Callback):
    """Epoch scalars as TensorBoard event files, without the `tensorboard`
    package (keras's `TensorBoard` callback needs it for `tf.summary.scalar`).

    Writes `epoch_<metric>` to `log_dir/train` and `log_dir/validation`,
    the layout of keras's callback, through TensorFlow's core
    `tf.summary.write` (tensorflow is imported here only, lazily, as an
    event-file writer).

    Args:
        log_dir: str, folder of the event files.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = str(log_dir)
        self._writers = {}

    def _writer(self, split):
        import tensorflow as tf

        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(
                os.path.join(self.log_dir, split)
            )
        return self._writers[split]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "scalars"
        metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
        for key, value in (logs or {}).items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(split).as_default():
                tf.summary.write(
                    f"epoch_{name}", tf.constant(float(value), tf.float32),
                    step=epoch, metadata=metadata,
                )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callback(log_dir):
    """keras's `TensorBoard` when the `tensorboard` package is installed,
    else `ScalarTensorBoard`; None, with a one-line notice, without
    TensorFlow (both write event files with `tf.summary`)."""
    from keras_resnets.data.decode import tensorflow_available

    if not tensorflow_available():
        print(
            "TensorBoard logs are not written: they need the tensorflow package, which "
            "is not installed (log.csv and curves.png hold the same curves; "
            "training.tensorboard: false silences this).",
            flush=True,
        )
        return None
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return ScalarTensorBoard(log_dir)
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False)
