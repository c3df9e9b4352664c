"""Callbacks of `keras-resnets train`: resumable state, atomic checkpoints,
learning-rate / timing logs and a NaN guard.

Every file a run keeps is written to a temporary name and moved into place
with `os.replace`, so a run killed at any moment leaves either the old or the
new version of each file, never half of one.
"""

import json
import math
import os
import pathlib
import time

import keras


def atomic_write_text(path, text):
    """Writes `text` to `path` through a temporary file and `os.replace`."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _finite(logs):
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose state is replaced atomically at each epoch end.

    Each save writes `epoch-<n>.weights.h5` (model and optimizer variables,
    so the schedule resumes at the right iteration), then swaps in
    `training_metadata.json` naming it, then deletes older weight files. A
    restart of the same run loads the state and `fit` continues at epoch
    `n`; a run killed mid-epoch loses only that epoch's partial progress.
    A non-finite loss is never saved. The state is kept after training
    (re-running a finished run only re-evaluates it; `--epochs` more
    continues it).

    Args:
        backup_dir: str, folder of the state.
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.backup_dir = str(backup_dir)

    @staticmethod
    def read_epoch(backup_dir):
        """Epochs completed according to the state in `backup_dir` (0 if none)."""
        meta = pathlib.Path(backup_dir) / "training_metadata.json"
        if not meta.is_file():
            return 0
        return int(json.loads(meta.read_text()).get("epoch", 0))

    def on_train_begin(self, logs=None):
        self._load_model()

    def _load_model(self):
        meta = pathlib.Path(self.backup_dir) / "training_metadata.json"
        if not meta.is_file():
            return
        state = json.loads(meta.read_text())
        weights = pathlib.Path(self.backup_dir) / state["weights"]
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(weights))
        self.model._initial_epoch = int(state["epoch"])
        self._current_epoch = int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if _finite(logs) and not getattr(self.model, "_keras_resnets_diverged", False):
            self._save_model()

    def _save_model(self):
        folder = pathlib.Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        tmp = folder / f".{name}.tmp.weights.h5"
        self.model.save_weights(str(tmp), overwrite=True)
        os.replace(tmp, folder / name)
        atomic_write_text(
            folder / "training_metadata.json",
            json.dumps({"epoch": self._current_epoch, "weights": name}),
        )
        for old in folder.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        pass


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
        tmp = self.folder / f".{name}.tmp.keras"
        self.model.save(str(tmp))
        os.replace(tmp, self.folder / name)

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
    """Adds `learning_rate` (at the epoch's first iteration), `train_time`
    (seconds of training steps) and `epoch_time` (with validation) to the
    epoch logs, so the CSV log, TensorBoard and History
    record them. Put it before the loggers.

    Args:
        schedule: float or `LearningRateSchedule` of the optimizer.
        steps_per_epoch: int.
    """

    def __init__(self, schedule, steps_per_epoch):
        super().__init__()
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self._start = None

    def learning_rate_at(self, epoch):
        if callable(self.schedule):
            return float(keras.ops.convert_to_numpy(self.schedule(epoch * self.steps_per_epoch)))
        return float(self.schedule)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last_batch = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.learning_rate_at(epoch)
            logs["train_time"] = self._last_batch - self._start
            logs["epoch_time"] = time.perf_counter() - self._start


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
    else `ScalarTensorBoard`."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return ScalarTensorBoard(log_dir)
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False)
