"""Faults change nothing (issue 24): a run killed at any moment and resumed
with the same command ends bit-identical to the uninterrupted run; damaged
states fall back to an intact one; a full disk is one line and the same
command continues once space is freed.

Every run is a real `keras-resnets train` process (`fault_child.py`) that
SIGKILLs itself at the chosen moment: during the write of a state, of
`last.keras`, of `log.csv`, of `metrics.json`, in the middle of an epoch and
during the evaluation. The model (WRN-10-1 with dropout) has seed
generators, the data is augmented and shuffled, the schedule is a cosine over
the run, so anything the resume did not restore would show. Compared: every
log.csv value except the two wall-clock columns, every weight of
`last.keras`, the test metrics of metrics.json.
"""

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from tests import testing

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the fault matrix runs the TensorFlow trainer (tests/run_backends.sh runs it once)",
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
EPOCHS = 3
TIME_COLUMNS = ("train_time", "epoch_time")


def write_config(folder, precision="float32", dropout_rate=0.3):
    return testing.write_config(
        folder, name="run.yaml", images={"n_train": 96, "n_test": 48},
        model={"name": "wrn", "depth": 10, "k": 1, "dropout_rate": dropout_rate},
        data={"padding_mode": "reflect", "eval_batch_size": 16},
        optimizer={"learning_rate": 0.1, "nesterov": True, "weight_decay": 5.0e-4},
        schedule={"name": "cosine", "warmup_epochs": 1},
        training={"epochs": EPOCHS, "batch_size": 16, "steps_per_epoch": 4,
                  "label_smoothing": 0.1, "jit_compile": False, "verbose": 2,
                  "validate_on_test": True, "tensorboard": False,
                  "mixed_precision": precision, "seed": 3},
    )


def child(config, output, fault=None, *extra, check=True, backend="tensorflow"):
    command = [sys.executable, "-m", "tests.training.fault_child", str(config), str(output)]
    command += ([fault] if fault else []) + list(extra)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERAS_BACKEND": backend}
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    if check:
        expected = -9 if fault else 0
        assert result.returncode == expected, (fault, result.stdout[-2000:],
                                               result.stderr[-3000:])
    return result


def log_rows(run_dir):
    with (run_dir / "log.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in rows]


def weights_of(keras_file):
    """Every array of a `.keras` file's weights, by path."""
    arrays = {}
    with zipfile.ZipFile(keras_file) as archive:
        import h5py
        import io

        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
            f.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                         if hasattr(item, "shape") else None)
    return arrays


def result_of(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "log": log_rows(run_dir),
        "weights": weights_of(run_dir / "last.keras"),
        "test": (metrics["status"], metrics["epochs"], metrics["test_accuracy"],
                 metrics["test_loss"]),
    }


def assert_same_run(run_dir, reference):
    got = result_of(run_dir)
    assert got["log"] == reference["log"]
    assert got["test"] == reference["test"]
    assert got["weights"].keys() == reference["weights"].keys()
    for name, value in reference["weights"].items():
        np.testing.assert_array_equal(got["weights"][name], value, err_msg=name)
    leftovers = [p.name for p in run_dir.rglob("*") if ".tmp" in p.name]
    assert not leftovers, leftovers


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    config = write_config(folder)
    reference_dir = folder / "reference"
    child(config, reference_dir)
    reference = result_of(reference_dir)
    assert len(reference["log"]) == EPOCHS and reference["weights"]
    return folder, config, reference


@pytest.mark.parametrize("fault", [
    "batch:2:1",                         # mid-epoch
    "test_batch:2:1",                    # during the evaluation
    "write:epoch-2.weights.h5:1",        # during the state's write
    "write:last.keras:2",                # during last.keras
    "write:log.csv:2",                   # during the CSV row
    "write:metrics.json:2",              # during metrics.json
])
def test_a_killed_run_resumes_bit_identical(setup, fault):
    folder, config, reference = setup
    run_dir = folder / fault.replace(":", "_")
    child(config, run_dir, fault)
    resumed = child(config, run_dir)
    assert "(resuming after epoch" in resumed.stdout
    assert_same_run(run_dir, reference)


@pytest.mark.large
def test_bfloat16_run_resumes_bit_identical(tmp_path):
    config = write_config(tmp_path, precision="mixed_bfloat16")
    child(config, tmp_path / "reference")
    reference = result_of(tmp_path / "reference")
    child(config, tmp_path / "killed", "batch:2:2")
    child(config, tmp_path / "killed")
    assert_same_run(tmp_path / "killed", reference)


@pytest.mark.large
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_killed_run_resumes_bit_identical_on(tmp_path, backend):
    # PyTorch: Keras's Dropout there draws from torch's global generator
    # when unseeded (its fast path), whose state a resume does not restore
    # exactly yet (README, "Resume"): the PyTorch run is dropout-free.
    config = write_config(tmp_path, dropout_rate=0.3 if backend == "jax" else 0.0)
    child(config, tmp_path / "reference", backend=backend)
    reference = result_of(tmp_path / "reference")
    child(config, tmp_path / "killed", "batch:2:1", backend=backend)
    child(config, tmp_path / "killed", backend=backend)
    assert_same_run(tmp_path / "killed", reference)


@pytest.mark.parametrize("damage", ["truncated", "zero_bytes"])
def test_a_damaged_state_falls_back_to_the_one_before(setup, damage):
    folder, config, reference = setup
    run_dir = folder / f"damaged_{damage}"
    child(config, run_dir, "batch:3:0")  # states after epochs 1 and 2 are kept
    weights = run_dir / "backup" / "epoch-2.weights.h5"
    assert weights.is_file() and (run_dir / "backup" / "epoch-1.weights.h5").is_file()
    size = weights.stat().st_size
    left = size // 3 if damage == "truncated" else 0
    with open(weights, "r+b") as f:
        f.truncate(left)
    resumed = child(config, run_dir)
    warnings = [line for line in resumed.stdout.splitlines() if line.startswith("Warning:")]
    assert warnings == [f"Warning: {weights} is damaged ({left:,} bytes instead of {size:,}); "
                        "resuming from the state after epoch 1."], resumed.stdout
    assert "Traceback" not in resumed.stderr
    assert "(resuming after epoch 1 of 3)" in resumed.stdout
    assert_same_run(run_dir, reference)
    # Where each epoch ran: the killed session's epochs 1-2, then the redo of 2.
    sessions = json.loads((run_dir / "metrics.json").read_text())["sessions"]
    assert [(s["first_epoch"], s["last_epoch"]) for s in sessions] == [(1, 1), (2, 3)]
    assert all(s["precision"] == "float32" and s["hardware"] for s in sessions)


def test_no_intact_state_starts_over_with_one_line(setup):
    folder, config, reference = setup
    run_dir = folder / "all_damaged"
    child(config, run_dir, "batch:3:0")
    for path in (run_dir / "backup").glob("epoch-*.weights.h5"):
        path.write_bytes(b"")
    resumed = child(config, run_dir)
    warnings = [line for line in resumed.stdout.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 2 and all("no intact state" in line for line in warnings)
    assert_same_run(run_dir, reference)


def _mount_tmpfs(path, size):
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mounting one failed here "
                    f"(tests run as root on the project's machines): {result.stderr.strip()}")


def test_a_full_disk_is_one_line_and_the_same_command_continues(setup):
    folder, config, reference = setup
    disk = folder / "disk"
    _mount_tmpfs(disk, "16m")
    try:
        run_dir = disk / "run"
        child(config, run_dir, "batch:2:0")  # the state after epoch 1 is kept
        filler = disk / "filler"
        with open(filler, "wb") as f:  # then the disk fills up
            try:
                while True:
                    f.write(b"\0" * (1 << 16))
                    f.flush()
            except OSError:
                pass
        full = child(config, run_dir, check=False)  # epoch 2 trains; its files do not fit
        assert full.returncode == 74, (full.stdout[-2000:], full.stderr[-3000:])
        # (The backend's import lines come first: the child imports keras before the CLI.)
        lines = [line for line in full.stderr.splitlines() if line.startswith("keras-resnets")]
        assert len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
        assert "No space left on device" in lines[0] and str(run_dir) in lines[0]
        assert "keeps the state after epoch 1 (backup/epoch-1.weights.h5)" in lines[0]
        assert "run the same command" in lines[0]
        assert not [p.name for p in run_dir.rglob("*") if ".tmp" in p.name]
        filler.unlink()
        child(config, run_dir)
        assert_same_run(run_dir, reference)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
