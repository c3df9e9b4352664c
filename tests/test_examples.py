"""The scripts in examples/ run, on a small slice of the lossless CIFAR-10
(../shared/data/cifar10.npz), each in its own process as a user runs it: a
script that fails fails the suite. Without ../shared/data they are skipped,
except under CI=true, where that is a failure.

They run on the backend the suite runs on (KERAS_BACKEND); the backends'
log lines stay hidden (`keras_resnets.hide_backend_logs`).
"""

import os
import pathlib
import re
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10.npz"
NOISE = re.compile(r"^(?:[IWE]\d{4} |WARNING: All log messages|To enable the following)", re.M)

pytestmark = pytest.mark.data


def _require_data():
    if not CIFAR10.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared data is missing: {CIFAR10}")
        pytest.skip(f"the examples run on the lossless CIFAR-10, absent here ({CIFAR10})")


def run_example(script, *args, cwd):
    _require_data()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "KERAS_BACKEND": keras.backend.backend()}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the script hides the log lines itself
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=900)


def _check_quiet(result):
    assert not NOISE.search(result.stderr), result.stderr[-2000:]


def test_every_example_is_tested():
    tested = {"train_wrn_cifar10.py", "tune_wrn_random_search.py", "distributed_training.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_train_wrn_cifar10(tmp_path):
    result = run_example("train_wrn_cifar10.py", "--limit", "128", "--batch-size", "64",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^wrn-16-4: test accuracy \d+\.\d\d% \(error \d+\.\d\d%\)$",
                     result.stdout, re.M), result.stdout[-2000:]
    _check_quiet(result)


def test_tune_wrn_random_search(tmp_path):
    """Two trials on 128 images: the best line names a completed trial
    within the parameter budget."""
    result = run_example("tune_wrn_random_search.py", "--trials", "2", "--train", "128",
                         "--validation", "64", "--directory", str(tmp_path / "tune"),
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    best = re.search(r"^best: trial \d+, val_accuracy [\d.]+, (\d+) parameters: \{'name': ",
                     result.stdout, re.M)
    assert best, result.stdout[-3000:]
    assert int(best.group(1)) <= 1.5e6
    assert "Traceback" not in result.stdout + result.stderr
    _check_quiet(result)


def test_tune_example_without_a_completed_trial_fails(tmp_path):
    """Every trial pruned (WRN-10-1, the smallest, has 77,850 parameters):
    no best is claimed, one error line, exit status 1."""
    result = run_example("tune_wrn_random_search.py", "--trials", "2", "--train", "128",
                         "--validation", "64", "--max-params", "1000",
                         "--directory", str(tmp_path / "tune"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "best:" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: No trial of the search completed, so there is no best configuration: "
        "2 pruned before training"
    ), result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    _check_quiet(result)


def test_distributed_training(tmp_path):
    result = run_example("distributed_training.py", "--epochs", "1", "--limit", "128",
                         "--output", str(tmp_path / "run"), cwd=tmp_path)
    if keras.backend.backend() == "torch":
        assert result.returncode == 2 and "runs on the tensorflow and jax backends" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^2 replicas, global batch 256: test accuracy", result.stdout, re.M), \
        result.stdout[-2000:]
    assert (tmp_path / "run" / "last.keras").is_file()
    _check_quiet(result)
