"""Distribution: strategy contexts, sync BN, and (large) multi-device runs.

The large tests start fresh processes, because logical CPU devices (TF) and
host devices (JAX) must be configured before the runtime starts.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_resnets.training import distribute
from keras_resnets.training.config import ConfigError
from keras_resnets.training.config import DistributionConfig
from keras_resnets.training.config import config_from_dict
from keras_resnets.training.train import build_model
from keras_resnets.training.train import compile_model

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_wrong_backend_or_option_is_config_error():
    other = "data_parallel" if keras.backend.backend() != "jax" else "mirrored"
    with pytest.raises(ConfigError, match="needs KERAS_BACKEND"):
        distribute.make_context(DistributionConfig(strategy=other))
    with pytest.raises(ConfigError, match="sync_batch_norm"):
        distribute.make_context(DistributionConfig(sync_batch_norm=True))


def test_no_strategy_context():
    context = distribute.make_context(DistributionConfig())
    assert context.num_replicas == 1 and context.is_chief and not context.needs_drop_remainder


@pytest.mark.tensorflow_only
def test_mirrored_one_device_builds_and_fits_a_step():
    context = distribute.make_context(DistributionConfig(strategy="mirrored", sync_batch_norm=True))
    assert context.num_replicas >= 1
    config = config_from_dict(
        {"model": {"name": "resnet-20"}, "data": {"source": "cifar10"},
         "training": {"jit_compile": False}}
    )
    with context.scope():
        model = build_model(config, num_classes=4, input_shape=(8, 8, 3))
        assert context.configure_model(model) == 19  # every BN of ResNet-20
        compile_model(model, config, 0.1)
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
    y = np.arange(8) % 4
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _run(script, env=None, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


MIRRORED_VS_SINGLE = r"""
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_resnets.training import distribute
from keras_resnets.training.config import DistributionConfig, config_from_dict
from keras_resnets.training.train import build_model, compile_model
config = config_from_dict({"model": {"name": "resnet-20"}, "data": {"source": "cifar10"},
                           "optimizer": {"learning_rate": 0.05, "momentum": 0.9},
                           "training": {"jit_compile": False}})
x = np.random.default_rng(0).normal(size=(32, 8, 8, 3)).astype("float32")
y = np.arange(32) % 4
losses = {}
for name, dist in (("single", DistributionConfig()),
                   ("mirrored", DistributionConfig(strategy="mirrored", sync_batch_norm=True,
                                                   devices=["/cpu:0", "/cpu:1"]))):
    keras.utils.set_random_seed(0)
    context = distribute.make_context(dist)
    with context.scope():
        model = build_model(config, num_classes=4, input_shape=(8, 8, 3))
        context.configure_model(model)
        compile_model(model, config, 0.05)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)  # global batch 16
    losses[name] = [float(v) for v in model.fit(ds, epochs=3, verbose=0).history["loss"]]
    losses[name + "_replicas"] = context.num_replicas
print(json.dumps(losses))
"""


@pytest.mark.large
@pytest.mark.tensorflow_only
def test_mirrored_two_cpus_matches_single_device():
    out = json.loads(_run(MIRRORED_VS_SINGLE).strip().splitlines()[-1])
    assert out["mirrored_replicas"] == 2
    np.testing.assert_allclose(out["mirrored"], out["single"], rtol=2e-3)


def _tiny_config(tmp_path, **training):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_cli import write_config

    return write_config(tmp_path, tensorboard=False, **training)


@pytest.mark.large
def test_jax_data_parallel_two_host_devices(tmp_path):
    config = _tiny_config(tmp_path)
    script = (
        "import sys; from keras_resnets import cli; "
        f"sys.exit(cli.main(['train', {str(config)!r}, '--output', {str(tmp_path / 'dp')!r}, "
        "'--strategy', 'data_parallel', '--epochs', '1']))"
    )
    _run(script, env={"KERAS_BACKEND": "jax",
                      "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    metrics = json.loads((tmp_path / "dp" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["global_batch_size"] == 32


@pytest.mark.large
@pytest.mark.tensorflow_only
def test_multi_worker_two_processes_on_localhost(tmp_path):
    config = _tiny_config(tmp_path, epochs=1)
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    script = (
        "import sys; from keras_resnets import cli; "
        f"sys.exit(cli.main(['train', {str(config)!r}, '--output', {str(tmp_path / 'mw')!r}, "
        "'--strategy', 'multi_worker_mirrored']))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "KERAS_BACKEND": "tensorflow"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env={**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    metrics = json.loads((tmp_path / "mw" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["strategy"] == "multi_worker_mirrored"
    assert (tmp_path / "mw" / "workers" / "worker-1" / "backup").is_dir()
