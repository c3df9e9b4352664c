"""Who is who in a multi-process run, and what the processes share.

TensorFlow MultiWorkerMirroredStrategy reads its cluster from `TF_CONFIG`;
JAX `data_parallel` spans several processes when Keras's
`KERAS_DISTRIBUTION_*` variables are set. `gather` collects a few integers
from every process (the resume check of `DistributionContext`), and
`ProcessDataParallel` feeds each JAX process its slice of every batch.
"""

import json
import os

import keras

from keras_resnets.training.config_sections import ConfigError


def tf_config_role():
    """(task type, index, whether the cluster has a `chief`) from `TF_CONFIG`."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return "worker", 0, False
    cfg = json.loads(raw)
    task = cfg.get("task", {})
    task_type, index = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    return task_type, index, has_chief


_JAX_PROCESS_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                          "KERAS_DISTRIBUTION_PROCESS_ID")


def jax_processes():
    """(this process's index, number of processes) of a JAX run.

    With Keras's variables `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the
    coordinator's `host:port` first), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID` set, joins the processes once with
    `keras.distribution.initialize()` (`jax.distributed`), so `DataParallel`
    spans the devices of every process; otherwise one process.
    """
    if not os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES"):
        return 0, 1
    missing = [v for v in _JAX_PROCESS_VARIABLES if not os.environ.get(v)]
    if missing:
        raise ConfigError(
            "A multi-process JAX run needs KERAS_DISTRIBUTION_JOB_ADDRESSES, "
            "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID. "
            f"Received: {', '.join(missing)} unset"
        )
    import jax

    if not jax.distributed.is_initialized():
        keras.distribution.initialize()
    return jax.process_index(), jax.process_count()


class ProcessDataParallel(keras.distribution.DataParallel):
    """`DataParallel` over the devices of several processes, each of which
    feeds its share of every global batch.

    Keras's own sharding (`rebatch` to the per-process size, then `shard`)
    needs a static batch size, so it fails on an evaluation set whose last
    batch is short. Here each process takes its slice of every batch
    instead: process `p` of `P` keeps rows `[p*n/P, (p+1)*n/P)` of a batch
    of `n`, so a short last batch (divisible by the device count, see
    `DistributionContext.needs_drop_remainder`) is split evenly too and nothing is read twice.
    """

    def __init__(self, devices, *, process, processes):
        super().__init__(devices=devices)
        self.process, self.processes = process, processes

    def distribute_dataset(self, dataset):
        import tensorflow as tf

        if not isinstance(dataset, tf.data.Dataset):
            raise ConfigError(
                "A multi-process JAX run reads its data with tf.data. Received: "
                f"{type(dataset).__name__} (set data.loader: tf)"
            )
        process, processes = self.process, self.processes

        def local(*batch):
            n = tf.shape(tf.nest.flatten(batch)[0])[0] // processes
            return tf.nest.map_structure(lambda t: t[process * n:(process + 1) * n], batch)

        return dataset.map(local, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def gather(context, values):
    """`values` (ints) of every replica (TF) or process (JAX) of a
    `distribute.DistributionContext`, stacked; None in a single process."""
    if context.name == "multi_worker_mirrored":
        import tensorflow as tf

        local = tf.constant([values], tf.int64)

        @tf.function
        def all_gather():
            return tf.distribute.get_replica_context().all_gather(local, axis=0)

        results = context.strategy.experimental_local_results(context.strategy.run(all_gather))
        return results[0].numpy()
    if context.distribution is not None and context.num_processes > 1:
        import numpy as np
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(np.asarray(values)))
    return None
