"""A run folder belongs to one run: resume, extend, finished, refuse, overwrite,
Ctrl-C, and what the folder records (metrics.json, preprocessing.json, log.csv).

Runs are tiny (ResNet-8 on 8x8 images, one or two steps per epoch); one
finished run is shared and copied where a test changes it.
"""

import functools
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

import keras
import keras_resnets
import numpy as np
import pytest
import yaml

from keras_resnets import cli
from keras_resnets import training
from keras_resnets.training import callbacks as callbacks_lib
from keras_resnets.training import checkpoints
from keras_resnets.training import run_folder
from keras_resnets.training.report import plot_curves
from tests import testing
from tests.testing import make_npz

ROOT = pathlib.Path(__file__).resolve().parents[2]


def write_config(folder, **training_overrides):
    """A 1-epoch ResNet-8 config on a 4-class 8x8 .npz in `folder`."""
    return testing.write_config(
        folder, images={"n_train": 64, "n_test": 16},
        model={"name": "resnet-20", "depth": 8},
        optimizer={"learning_rate": 0.05},
        training={"epochs": 1, "batch_size": 16, "steps_per_epoch": 1, "jit_compile": False,
                  "verbose": 2, "validate_on_test": False, "tensorboard": False,
                  **training_overrides},
    )


def snapshot(folder):
    """{relative path: (mtime_ns, bytes)} of every file under `folder`."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(pathlib.Path(folder).rglob("*")) if p.is_file()
    }


def train_cli(config_path, run_dir, *extra):
    return cli.main(["train", str(config_path), "--output", str(run_dir), *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 1-epoch run: (config path, run folder)."""
    folder = tmp_path_factory.mktemp("finished")
    config_path = write_config(folder)
    run_dir = folder / "run"
    assert train_cli(config_path, run_dir) == 0
    return config_path, run_dir


def copy_run(finished, tmp_path):
    config_path, run_dir = finished
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return config_path, copy


# === What a run folder holds ===


def test_finished_run_records_versions_precision_and_preprocessing(finished):
    _, run_dir = finished
    for name in ("run.json", "preprocessing.json", "config.yaml", "metrics.json", "log.csv"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["epochs"] == 1
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["keras_version"] == keras.__version__
    assert metrics["keras_resnets_version"] == keras_resnets.__version__
    assert isinstance(metrics["backend_version"], str) and metrics["backend_version"]
    from keras_resnets import runtime

    # `auto` (the default) resolved by this machine's hardware, and recorded.
    assert metrics["precision"] == runtime.resolve_precision("auto")
    assert metrics["dataset"] and metrics["data_source"].endswith("tiny.npz")
    assert metrics["hardware"] == runtime.processor_info()
    pre = json.loads((run_dir / "preprocessing.json").read_text())
    assert set(pre) == {"preset", "mean", "std", "image_size", "input_shape", "class_names",
                        "num_classes"}
    assert pre["preset"] == "cifar" and pre["input_shape"] == [8, 8, 3]
    assert pre["num_classes"] == 4 and pre["class_names"] == ["0", "1", "2", "3"]
    assert len(pre["mean"]) == 3 and pre["image_size"] is None
    fingerprint = json.loads((run_dir / "run.json").read_text())["fingerprint"]
    assert fingerprint["backend"] == keras.backend.backend()
    assert fingerprint["dataset"]["num_examples"]["train"] == 64
    assert "epochs" not in fingerprint["config"]["training"]


def test_load_run_predicts_from_what_train_wrote(finished):
    """The run folder is enough for inference: train's preprocessing.json
    (image_size null for the CIFAR preset) feeds `load_run`."""
    _, run_dir = finished
    predictor = keras_resnets.load_run(run_dir, which="last")
    assert list(predictor.class_names) == ["0", "1", "2", "3"]
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    probabilities = predictor.predict(images)
    assert probabilities.shape == (3, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_log_has_no_always_empty_columns(finished):
    _, run_dir = finished
    header = (run_dir / "log.csv").read_text().splitlines()[0].split(",")
    assert not [k for k in header if k.startswith("val_")]  # no validation in this run
    assert {"epoch", "loss", "accuracy", "learning_rate", "epoch_time"} <= set(header)


def test_csv_log_adds_val_columns_only_for_model_metrics(tmp_path):
    log = callbacks_lib.CSVLog(tmp_path / "log.csv", validation=True)
    log.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "learning_rate": 0.1})
    log.on_epoch_end(1, {"loss": 0.5, "accuracy": 0.7, "learning_rate": 0.1,
                         "val_loss": 0.6, "val_accuracy": 0.6})
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"
    assert lines[1].endswith(",NA,NA") and lines[2].endswith(",0.6,0.6")


# === Re-running the same folder ===


def test_finished_run_is_left_untouched(finished, capsys):
    config_path, run_dir = finished
    before = snapshot(run_dir)
    capsys.readouterr()
    assert train_cli(config_path, run_dir) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "is finished" in out[0] and "1 epochs" in out[0]
    assert snapshot(run_dir) == before


def test_changed_learning_rate_is_refused_naming_the_key(finished, capsys):
    config_path, run_dir = finished
    before = snapshot(run_dir)
    code = train_cli(config_path, run_dir, "--set", "optimizer.learning_rate=0.1")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "holds a different run: optimizer.learning_rate 0.05 -> 0.1" in err
    assert "--overwrite" in err
    assert snapshot(run_dir) == before


def test_other_backend_is_refused(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    record["fingerprint"]["backend"] = other
    (run_dir / "run.json").write_text(json.dumps(record))
    before = snapshot(run_dir)
    assert train_cli(config_path, run_dir) == 2
    err = capsys.readouterr().err
    assert f"backend {other} -> {keras.backend.backend()}" in err
    assert snapshot(run_dir) == before


def test_other_data_is_refused(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    make_npz(tmp_path / "tiny.npz", n_train=48, n_test=16, size=12)
    before = snapshot(run_dir)
    assert train_cli(config_path, run_dir, "--data", str(tmp_path / "tiny.npz")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and len(err) < 600
    assert "holds a different run: data.source" in err and "dataset.image_shape" not in err
    assert snapshot(run_dir) == before


def test_fewer_epochs_than_done_is_refused(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    record = run_dir / "backup" / "epoch-1.json"  # the state now claims 3 epochs
    (run_dir / "backup" / "epoch-3.json").write_text(
        json.dumps({**json.loads(record.read_text()), "epoch": 3}))
    record.unlink()
    before = snapshot(run_dir)
    assert train_cli(config_path, run_dir, "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert "already holds 3 epochs, more than training.epochs=2" in err
    assert snapshot(run_dir) == before


def _fingerprint_of(run_dir):
    return json.loads((run_dir / "run.json").read_text())["fingerprint"]


def test_more_epochs_extends_the_run(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    fingerprint = (run_dir / "run.json").read_bytes()
    assert train_cli(config_path, run_dir, "--epochs", "2") == 0
    out = capsys.readouterr().out
    assert f"Run folder: {run_dir} (resuming after epoch 1 of 2)" in out
    rows = (run_dir / "log.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["0", "1"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["epochs"] == 2
    assert (run_dir / "run.json").read_bytes() == fingerprint
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["training"]["epochs"] == 2


def test_overwrite_starts_over(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / ".last.keras.tmp.keras").write_text("left by a kill")
    code = train_cli(config_path, run_dir, "--overwrite", "--set", "optimizer.learning_rate=0.1")
    assert code == 0
    assert "(new run of 1 epochs; overwriting" in capsys.readouterr().out
    assert _fingerprint_of(run_dir)["config"]["optimizer"]["learning_rate"] == 0.1
    assert len((run_dir / "log.csv").read_text().splitlines()) == 2
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert not (run_dir / ".last.keras.tmp.keras").exists()


def test_older_folder_without_fingerprint(finished, tmp_path, capsys):
    config_path, run_dir = copy_run(finished, tmp_path)
    (run_dir / "run.json").unlink()
    before = snapshot(run_dir)
    # Same config: finished, nothing written (run.json is added only when it trains).
    assert train_cli(config_path, run_dir) == 0
    assert "is finished" in capsys.readouterr().out
    assert snapshot(run_dir) == before
    # Another learning rate: its config.yaml tells.
    assert train_cli(config_path, run_dir, "--set", "optimizer.learning_rate=0.1") == 2
    assert "optimizer.learning_rate 0.05 -> 0.1" in capsys.readouterr().err
    # Without config.yaml there is nothing to check against.
    (run_dir / "config.yaml").unlink()
    assert train_cli(config_path, run_dir) == 2
    assert "without a config.yaml" in capsys.readouterr().err
    assert snapshot(run_dir).keys() == before.keys() - {"config.yaml"}


def test_older_unfinished_folder_resumes_when_its_config_matches(finished, tmp_path):
    _, run_dir = copy_run(finished, tmp_path)
    current = _fingerprint_of(run_dir)
    (run_dir / "run.json").unlink()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("status", "keras_version"):  # as older versions wrote it, before the end
        metrics.pop(key)
    metrics.pop("finished")
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    done = checkpoints.latest_state(run_dir / "backup").epoch
    state = run_folder.inspect(run_dir, current, 2, epochs_done=done)
    assert (state.kind, state.epochs_done, state.needs_fingerprint) == ("resume", 1, True)
    assert "config.yaml matches" in state.note
    metrics["backend"] = "jax" if keras.backend.backend() != "jax" else "torch"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(training.ConfigError, match=f"backend {metrics['backend']} -> "):
        run_folder.inspect(run_dir, current, 2, epochs_done=done)


def test_folder_of_other_files_is_refused_and_empty_one_accepted(finished, tmp_path, capsys):
    config_path, _ = finished
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"x")
    for extra in ((), ("--overwrite",)):
        assert train_cli(config_path, other, *extra) == 2
        assert "is not a run folder (it holds cat.jpg)" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_folder.inspect(empty, _fingerprint_of(finished[1]), 1, epochs_done=0).kind == "new"


# === Ctrl-C ===


class CtrlCInEpoch2(keras.callbacks.Callback):
    """Presses Ctrl-C after epoch 2's first step.

    It calls the SIGINT handler that is installed, as Python does in the
    main thread when the signal arrives. A real signal goes to a subprocess
    (`test_sigint_exits_130_with_one_line_and_resumes`): sent to the test
    process itself, it now and then killed the pytest process (an xdist
    worker in CI) with no traceback.
    """

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == 3:  # steps_per_epoch=2
            handler = signal.getsignal(signal.SIGINT)
            assert callable(handler), f"no Python SIGINT handler during fit: {handler!r}"
            handler(signal.SIGINT, None)


def test_ctrl_c_exits_130_with_one_line_and_the_same_command_resumes(
    tmp_path, capsys, monkeypatch
):
    config_path = write_config(tmp_path, epochs=2, steps_per_epoch=2)
    run_dir = tmp_path / "run"
    monkeypatch.setattr(training, "train",
                        functools.partial(training.train, callbacks=[CtrlCInEpoch2()]))
    # Python's handler, or SIG_IGN in a background job of a shell without job control.
    handler = signal.getsignal(signal.SIGINT)
    assert train_cli(config_path, run_dir) == 130
    err = capsys.readouterr().err.strip()
    assert err == "keras-resnets: interrupted in epoch 2; the same command resumes after epoch 1"
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    state = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    assert state["epoch"] == 1  # the backup survives the interrupt
    partial = json.loads((run_dir / "metrics.json").read_text())
    assert partial["status"] == "running" and partial["epochs"] == 1
    assert partial["epochs_planned"] == 2 and "loss" in partial["last_epoch"]
    assert (run_dir / "curves.png").is_file()
    monkeypatch.undo()
    assert train_cli(config_path, run_dir, "--json") == 0
    out = capsys.readouterr().out
    assert f"Run folder: {run_dir} (resuming after epoch 1 of 2)" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["epochs"] == 2
    assert summary["test_accuracy"] == round(summary["test_accuracy"], 4)
    rows = (run_dir / "log.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["0", "1"]


def test_sigint_exits_130_with_one_line_and_resumes(tmp_path, capsys):
    """A real Ctrl-C (SIGINT) once epoch 1 is logged, then the same command."""
    config_path = write_config(tmp_path, epochs=100, steps_per_epoch=4)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_resnets.cli", "train", str(config_path),
               "--output", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = run_dir / "log.csv"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (
        log.is_file() and len(log.read_text().splitlines()) >= 2
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    last = err.strip().splitlines()[-1]
    # In epoch N (N-1 saved), or between epochs N and N+1 if the signal came
    # while epoch N's files were being written.
    match = re.fullmatch(
        r"keras-resnets: interrupted (in|after) epoch (\d+); "
        r"the same command resumes after epoch (\d+)", last,
    )
    assert match, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err
    epoch, done = int(match[2]), int(match[3])
    assert done == (epoch - 1 if match[1] == "in" else epoch) and done >= 1
    assert checkpoints.latest_state(run_dir / "backup").epoch == done
    capsys.readouterr()
    assert train_cli(config_path, run_dir, "--epochs", str(done + 1)) == 0
    assert f"resuming after epoch {done} of {done + 1}" in capsys.readouterr().out


# === Output ===


def test_epoch_line_has_elapsed_and_eta(capsys):
    logger = callbacks_lib.EpochLogger(0.1, 10, epochs=4, line="full", val_label="test")
    logger.on_epoch_begin(0)
    logger.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.25})
    line = capsys.readouterr().out.strip()
    assert line.startswith("Epoch 1/4 - ")
    assert "test_accuracy: 0.2500" in line and "lr: 0.1" in line
    assert re.search(r"elapsed 0:00:0\d - ETA 0:00:\d\d$", line)
    assert callbacks_lib.format_duration(3725.4) == "1:02:05"
    below_bar = callbacks_lib.EpochLogger(0.1, 10, epochs=4, line="eta")
    below_bar.on_epoch_begin(2)
    below_bar.on_epoch_end(2, {"loss": 1.0})
    assert re.fullmatch(r"  elapsed 0:00:00 - ETA 0:00:00 \(\d+\.\d s/epoch\)",
                        capsys.readouterr().out.rstrip("\n"))


def test_curves_say_test_and_skip_zero_learning_rates(tmp_path):
    (tmp_path / "log.csv").write_text(
        "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"
        "0,0.3,0.0,2.0,0.25,2.1\n1,0.5,0.05,1.5,0.4,1.6\n2,0.6,0.1,1.2,0.5,1.3\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = plot_curves(tmp_path / "log.csv", tmp_path / "curves.png", val_label="test")
    assert labels == [["loss", "test_loss"], ["accuracy", "test_accuracy"], ["learning_rate"]]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_run_from_before_added_keys_resumes(finished, tmp_path, capsys):
    """A run.json written before `data.augment_on` existed matches its old
    behaviour (host) and nothing else (a device run's backup holds other
    weights: the input stage's random state)."""
    config_path, run_dir = copy_run(finished, tmp_path)
    stored = json.loads((run_dir / "run.json").read_text())
    assert stored["fingerprint"]["config"]["data"]["augment_on"] == "host"  # resolved on a CPU
    del stored["fingerprint"]["config"]["data"]["augment_on"]
    (run_dir / "run.json").write_text(json.dumps(stored))
    assert train_cli(config_path, run_dir, "--epochs", "2") == 0
    assert "(resuming after epoch 1 of 2)" in capsys.readouterr().out
    (run_dir / "run.json").write_text(json.dumps(stored))
    assert train_cli(config_path, run_dir, "--epochs", "3", "--set",
                     "data.augment_on=device") == 2
    assert "data.augment_on (absent) -> device;" in capsys.readouterr().err


# === Precision on resume (issue 23, item 4) ===


def _fingerprint_precision(run_dir):
    return json.loads((run_dir / "run.json").read_text())["fingerprint"]["config"][
        "training"]["mixed_precision"]


def _resume_float32_run_in(precision, tmp_path, capsys):
    """Epoch 1 in float32, then epoch 2 with `precision`: (run folder, output)."""
    config_path = write_config(tmp_path, epochs=2, mixed_precision="float32")
    run_dir = tmp_path / "run"
    assert train_cli(config_path, run_dir, "--epochs", "1") == 0
    capsys.readouterr()
    assert train_cli(config_path, run_dir, "--epochs", "2",
                     "--set", f"training.mixed_precision={precision}") == 0
    return run_dir, capsys.readouterr().out


def test_auto_keeps_the_precision_the_run_started_with(tmp_path, capsys):
    """A run started in float32 resumes in float32 under `auto`, whatever
    this processor would pick (a run moved between processor kinds stays
    the same run)."""
    run_dir, out = _resume_float32_run_in("auto", tmp_path, capsys)
    line = next(l for l in out.splitlines() if l.startswith("Precision:"))
    assert line.startswith("Precision: float32 (kept from the run folder;"), line
    assert _fingerprint_precision(run_dir) == "float32"
    assert json.loads((run_dir / "metrics.json").read_text())["precision"] == "float32"


def test_an_explicit_precision_continues_the_run_in_it(tmp_path, capsys):
    run_dir, out = _resume_float32_run_in("mixed_bfloat16", tmp_path, capsys)
    assert "(resuming after epoch 1 of 2)" in out
    assert ("Precision: mixed_bfloat16 (from the config; the run's last epochs ran in float32, "
            "so the epochs from here on are not bit-identical to an uninterrupted run)") in out
    assert _fingerprint_precision(run_dir) == "mixed_bfloat16"  # auto keeps it from now on
    assert run_folder.stored_precision(run_dir) == "mixed_bfloat16"
