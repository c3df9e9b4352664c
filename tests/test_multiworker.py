"""Multi-worker runs on localhost survive a killed worker.

Two `keras-resnets train` processes train ResNet-20 on 256 real CIFAR-10
images (../shared/data, else generated images): TensorFlow
MultiWorkerMirroredStrategy (TF_CONFIG on 127.0.0.1 ports) and, as a large
test, JAX `data_parallel` over two processes (`jax.distributed` through
Keras's KERAS_DISTRIBUTION_* variables). Once epoch 1 is saved, worker 1 is
SIGKILLed during epoch 2. The chief then fails in its collectives
(TensorFlow's coordination service, or gloo under JAX) or hangs (a JAX
process reports the error but does not exit), and is killed as a cluster
manager would. Both are started again with the same command, worker 1 on a
"new machine" (its own files gone): the job must resume after epoch 1 on
both workers, keep epoch 1 as it was, and finish all epochs.

The TensorFlow test runs in the default suite: under a minute on two cores
(45-52 s measured while other jobs ran), mostly the two start-ups and
traces per launch. The JAX one takes about 4 minutes there (--run_large).
"""

import csv
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_resnets.training import processes
from keras_resnets.training.checkpoints import latest_state
from keras_resnets.training.config import ConfigError
from tests.testing import CIFAR10
from tests.testing import make_npz
from tests.testing import write_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
EPOCHS = 2
PHASE_TIMEOUT = 500  # seconds for one launch on a loaded 2-core machine
CHIEF_GRACE = 30  # seconds the chief gets to fail on its own once its peer died


def _data(tmp_path):
    """256 training and 64 test images of CIFAR-10 (generated 32x32 images
    where the shared copy is absent)."""
    path = tmp_path / "cifar10-subset.npz"
    if not CIFAR10.is_file():
        return make_npz(path, n_train=256, n_test=64, size=32)
    with np.load(CIFAR10) as d:
        np.savez(path, x_train=d["x_train"][:256], y_train=d["y_train"][:256],
                 x_test=d["x_test"][:64], y_test=d["y_test"][:64])
    return path


def _config(tmp_path):
    return write_config(
        tmp_path, source=_data(tmp_path), model={"name": "resnet-20"},
        data={"cache_dir": str(tmp_path / "cache")},
        optimizer={"learning_rate": 0.05},
        training={"epochs": EPOCHS, "batch_size": 8, "steps_per_epoch": 16, "jit_compile": False,
                  "verbose": 2, "validate_on_test": False, "tensorboard": False,
                  "mixed_precision": "float32"},
    )


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


STRATEGIES = {"tensorflow": "multi_worker_mirrored", "jax": "data_parallel"}


class Cluster:
    """Starts the same `keras-resnets train` command on both workers."""

    def __init__(self, tmp_path, config, output, backend):
        self.tmp_path, self.config, self.output = tmp_path, config, output
        self.backend, self.strategy = backend, STRATEGIES[backend]
        self.workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]

    def _env(self, index):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "KERAS_BACKEND": self.backend}
        if self.backend == "jax":
            return {**env, "JAX_PLATFORMS": "cpu",
                    "KERAS_DISTRIBUTION_JOB_ADDRESSES": self.workers[0],
                    "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                    "KERAS_DISTRIBUTION_PROCESS_ID": str(index)}
        tf_config = {"cluster": {"worker": self.workers},
                     "task": {"type": "worker", "index": index}}
        return {**env, "TF_CONFIG": json.dumps(tf_config)}

    def launch(self, tag):
        procs = []
        for index in range(2):
            log = open(self.tmp_path / f"{tag}-worker-{index}.log", "w")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "keras_resnets", "train", str(self.config),
                 "--output", str(self.output), "--strategy", self.strategy],
                cwd=ROOT, env=self._env(index), stdout=log, stderr=subprocess.STDOUT,
            ))
            log.close()
        return procs

    def log(self, tag, index):
        return (self.tmp_path / f"{tag}-worker-{index}.log").read_text()


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _epochs_reported(output):
    """Epochs the chief's saved state holds (the state is written last, after
    the epoch's log row and metrics.json), 0 before the first."""
    return latest_state(output / "backup").epoch


def _rows(output):
    with (output / "log.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.tensorflow_only
def test_killed_worker_resumes_from_the_last_backup(tmp_path):
    _kill_and_resume(tmp_path, "tensorflow")


@pytest.mark.large
def test_killed_jax_process_resumes_from_the_last_backup(tmp_path):
    _kill_and_resume(tmp_path, "jax")


def test_jax_processes_need_all_three_variables(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.delenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", raising=False)
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    with pytest.raises(ConfigError, match="KERAS_DISTRIBUTION_JOB_ADDRESSES unset"):
        processes.jax_processes()


def _kill_and_resume(tmp_path, backend):
    start = time.monotonic()
    output = tmp_path / "run"
    cluster = Cluster(tmp_path, _config(tmp_path), output, backend)
    procs = cluster.launch("first")
    try:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while _epochs_reported(output) < 1:
            failed = [p.poll() for p in procs if p.poll() is not None]
            assert not failed, cluster.log("first", 0)[-3000:] + cluster.log("first", 1)[-3000:]
            assert time.monotonic() < deadline, "epoch 1 did not finish in time"
            time.sleep(0.02)
        epoch_1 = time.monotonic() - start
        time.sleep(0.3)  # into epoch 2 (16 steps, over half a second)
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait()
        try:
            chief_status = procs[0].wait(timeout=CHIEF_GRACE)
        except subprocess.TimeoutExpired:  # hung in a collective: the manager kills it
            chief_status = "hung"
    finally:
        _stop(procs)
    assert chief_status != 0, "the chief finished although its peer was killed"
    # Killed mid-epoch 2: epoch 1 is the last saved state and its only log row.
    assert latest_state(output / "backup").epoch == 1
    before = _rows(output)
    assert [r["epoch"] for r in before] == ["0"]
    assert f"Epoch 2/{EPOCHS}" not in cluster.log("first", 0)
    # Worker 1 comes back on a machine without its old files.
    shutil.rmtree(output / "workers" / "worker-1")
    killed = time.monotonic() - start

    procs = cluster.launch("second")
    try:
        for p in procs:
            p.wait(timeout=PHASE_TIMEOUT)
    finally:
        _stop(procs)
    logs = [cluster.log("second", i) for i in range(2)]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
        assert f"resuming after epoch 1 of {EPOCHS}" in log
        assert "Epoch 1/" not in log and f"Epoch {EPOCHS}/{EPOCHS}" in log
    after = _rows(output)
    assert [r["epoch"] for r in after] == [str(e) for e in range(EPOCHS)]
    assert after[0] == before[0]  # epoch 1 was not trained again
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["epochs"] == EPOCHS
    assert metrics["replicas"] == 2 and metrics["strategy"] == cluster.strategy
    assert latest_state(output / "backup").epoch == EPOCHS
    model = keras.saving.load_model(output / "last.keras")
    classes = int(np.load(tmp_path / "cifar10-subset.npz")["y_train"].max()) + 1
    logits = keras.ops.convert_to_numpy(model(np.zeros((2, 32, 32, 3), "float32")))
    assert logits.shape == (2, classes) and np.isfinite(logits).all()
    # Both workers restored the same state, else their trainable weights would
    # differ (TF's BN moving statistics do: each worker's follow its own batches).
    worker = keras.saving.load_model(output / "workers" / "worker-1" / "last.keras")
    for ours, theirs in zip(model.trainable_weights, worker.trainable_weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    print(f"chief after the kill: {chief_status}; epoch 1 saved at {epoch_1:.0f} s, restart at "
          f"{killed:.0f} s, finished at {time.monotonic() - start:.0f} s")
