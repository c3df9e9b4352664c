"""Data-parallel training from a paper config, on every device of one or more machines.

From the command line (global batch = training.batch_size x replicas; add
`--set distribution.lr_scaling=linear` to scale the learning rate with the replicas):

    # TensorFlow, all local GPUs, BatchNorm statistics over the global batch
    keras-resnets train configs/wide_resnet/wrn-28-10_cifar10.yaml \
        --strategy mirrored --set distribution.sync_batch_norm=true
    # TensorFlow, several machines: run on each with its own TF_CONFIG, e.g.
    # TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
    #             "task": {"type": "worker", "index": 0}}'
    keras-resnets train CONFIG.yaml --strategy multi_worker_mirrored
    # JAX, all local devices (BN statistics are global-batch by construction)
    KERAS_BACKEND=jax keras-resnets train CONFIG.yaml --strategy data_parallel

This script does the same from Python. With no GPU it splits the CPU into two devices,
so it runs anywhere (tiny by default: 2 epochs of 512 images, 128 test images):

    python examples/distributed_training.py                    # TF MirroredStrategy
    KERAS_BACKEND=jax python examples/distributed_training.py  # JAX DataParallel

`--data` defaults to the lossless CIFAR-10 beside the repository
(../shared/data/cifar10.npz) where it exists, else to the tensorflow-datasets name
`cifar10` (downloaded once). The PyTorch backend has no strategy here: the script says so
and exits with status 2.
"""

import argparse
import os
import pathlib
import sys

import keras_resnets

keras_resnets.hide_backend_logs()  # as the CLI does; before a backend is imported

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10.npz"

parser = argparse.ArgumentParser()
parser.add_argument("--config", default=str(ROOT / "configs/resnet/resnet-20_cifar10_fast.yaml"))
parser.add_argument("--data", default=str(SHARED_CIFAR10) if SHARED_CIFAR10.is_file() else "cifar10",
                    help="tfds name or local path (default: %(default)s)")
parser.add_argument("--output", default="runs/distributed_example")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--limit", type=int, default=512,
                    help="training images, and a quarter of it test images (0 = all)")
args = parser.parse_args()

backend = os.environ.get("KERAS_BACKEND", "tensorflow")
cpu_devices = None
if backend not in ("tensorflow", "jax"):
    print(f"error: this example runs on the tensorflow and jax backends (their data-parallel "
          f"strategies); KERAS_BACKEND is {backend!r}.", file=sys.stderr)
    sys.exit(2)
if backend == "jax":  # two host devices when there is no accelerator
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
else:
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        cpu_devices = "[/cpu:0, /cpu:1]"

from keras_resnets import training  # noqa: E402  (after the device set-up)

strategy = "data_parallel" if backend == "jax" else "mirrored"
overrides = [
    f"data.source={args.data}",
    f"training.output_dir={args.output}",
    f"training.epochs={args.epochs}",
    f"distribution.strategy={strategy}",
    "distribution.lr_scaling=linear",
]
if args.limit:
    overrides += [f"data.train_limit={args.limit}", f"data.test_limit={max(args.limit // 4, 1)}"]
if strategy == "mirrored":
    overrides.append("distribution.sync_batch_norm=true")
    if cpu_devices:
        overrides.append(f"distribution.devices={cpu_devices}")
config = training.load_config(args.config, overrides)
metrics = training.train(config)
print(
    f"{metrics['replicas']} replicas, global batch {metrics['global_batch_size']}: "
    f"test accuracy {100 * metrics['test_accuracy']:.2f}%, "
    f"{metrics['images_per_second']} images/s"
)
