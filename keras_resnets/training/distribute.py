"""Data-parallel training: TF MirroredStrategy / MultiWorkerMirroredStrategy
and JAX `keras.distribution.DataParallel` (with `processes`, the only
modules of `training/` that import tensorflow).

Batch size and learning rate: `training.batch_size` is per replica, so the
global batch is `batch_size x replicas` and every replica sees
`batch_size` images. The paper recipes were tuned for one global batch (128
on CIFAR, 256 on ImageNet); with `distribution.lr_scaling: linear` the
learning rate is multiplied by the number of replicas (Goyal et al. 2017,
arXiv:1706.02677, best with a few epochs of warm-up), with `none` it is used
as written (then lower `batch_size` to keep the paper's global batch).

BatchNormalization: under TF strategies each replica normalises with the
statistics of its own `batch_size` images unless `sync_batch_norm: true`
(keras `BatchNormalization(synchronized=True)`, switched on for every BN
layer of the built model). Under JAX `DataParallel` the batch is one
sharded array, so BN statistics are already those of the global batch.

Processes: MultiWorkerMirroredStrategy reads its cluster from `TF_CONFIG`;
JAX `data_parallel` spans several processes when Keras's
`KERAS_DISTRIBUTION_JOB_ADDRESSES` / `_NUM_PROCESSES` / `_PROCESS_ID` are set
(`keras.distribution.initialize`, i.e. `jax.distributed`; see
`processes`). Worker 0 is the chief and writes the run folder; the others
keep theirs in `workers/worker-<i>/`, and every worker restores the chief's
backup (`check_resume` stops them all if they disagree).

Randomness: a `tf.distribute` strategy runs the same step function on every
replica, and every replica reads the same `SeedGenerator` state, so a plain
generator would make every replica draw the same numbers (a 2-replica
global batch would get the noise of one per-replica batch, repeated). The
package's random layers (DropPath, ShakeDrop, Shake-Shake, FractalNet's
samplers, our `Dropout`, `RandomPadCrop`) draw per replica by themselves
(`keras_resnets.layers.seeds.ReplicaSeedGenerator`: the replica's id in the
sync group, global across workers, is folded into each seed), in
`keras-resnets train` and in a user's own `model.fit` alike; the stream is
still a function of the seeds alone, so a seeded run is reproducible.
`per_replica_seeds` does the same for the other generators of a model (the
device input stage's `keras.layers.RandomFlip`, a user's Keras layers).
Under JAX `DataParallel` nothing is needed: a layer draws one coefficient
per example of the global (sharded) batch, the same numbers as on one
device.
"""

import contextlib
import dataclasses

import keras

from keras_resnets.layers.seeds import per_replica
from keras_resnets.training import processes
from keras_resnets.training.config_sections import ConfigError


@dataclasses.dataclass(eq=False)
class DistributionContext:
    """What `train` needs from a strategy.

    Attributes:
        name: the `distribution.strategy` value.
        num_replicas: int, replicas sharing a global batch.
        is_chief: bool, whether this process writes the run folder.
        worker_index: int, this process's index (0 when not multi-worker).
        num_processes: int, processes of a JAX multi-process run (1 otherwise).
        strategy: the `tf.distribute.Strategy`, or None.
        distribution: the `keras.distribution.Distribution`, or None.
        sync_batch_norm: bool, synchronized BatchNormalization (TF strategies).
    """

    name: str = "none"
    _: dataclasses.KW_ONLY
    num_replicas: int = 1
    is_chief: bool = True
    worker_index: int = 0
    num_processes: int = 1
    strategy: object = None
    distribution: object = None
    sync_batch_norm: bool = False
    _previous: object = dataclasses.field(default=None, init=False, repr=False)

    def scope(self):
        """Context in which the model, optimizer and metrics are created."""
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()

    def activate(self):
        """Sets the global keras distribution (JAX); undone by `deactivate`."""
        if self.distribution is not None:
            self._previous = keras.distribution.distribution()
            keras.distribution.set_distribution(self.distribution)

    def deactivate(self):
        if self.distribution is not None:
            keras.distribution.set_distribution(self._previous)

    def run_dir(self, output_dir):
        """This process's run folder: `output_dir` on the chief, and
        `output_dir/workers/worker-<i>` on the other workers of a
        multi-worker run (they keep their own copy of the files aside)."""
        if self.is_chief:
            return output_dir
        return output_dir / "workers" / f"worker-{self.worker_index}"

    def check_resume(self, state):
        """Stops every worker of a multi-worker run, with the same error,
        unless all of them found the same run state (started, resumed at
        the same epoch, or finished). They read it from the chief's run
        folder, so they disagree only when it is not the same folder for
        all of them; resuming anyway would deadlock in the collectives.
        One all-gather; does nothing in a single process.

        Args:
            state: this worker's `run_folder.RunState`.

        Raises:
            ConfigError: the workers found different states.
        """
        found = processes.gather(self, [state.epochs_done, int(state.kind == "finished")])
        if found is not None and (found != found[:1]).any():
            epochs, finished = sorted(set(found[:, 0].tolist())), int(found[:, 1].sum())
            raise ConfigError(
                "The workers of this multi-worker run found different states in the "
                f"chief's run folder (epochs saved: {epochs}; finished on {finished} of "
                f"{len(found)} replicas); give every worker the same --output on storage "
                "they all can read."
            )

    @property
    def needs_drop_remainder(self):
        """JAX DataParallel shards each batch evenly over the devices."""
        return self.distribution is not None

    def prepare_dataset(self, dataset):
        """Shards a tf.data pipeline by example across workers (our
        pipelines are built from in-memory arrays, not files)."""
        if self.name != "multi_worker_mirrored":
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return dataset.with_options(options)

    @contextlib.contextmanager
    def fit_scope(self, model):
        """Context for `fit`/`evaluate`.

        Keras 3 fails in `fit` under MultiWorkerMirroredStrategy
        (keras-team/keras#20585, open as of Keras 3.15) twice: its symbolic
        build reduces a distributed input batch across workers eagerly
        ("Attempt to convert a value (PerReplica...)"), and it averages
        scalar metrics across workers with `axis=0` ("Invalid reduction
        dimension 0"). Keras has no public hook for either (the public
        `model.distribute_reduction_method` only picks among "first",
        "concat", "mean" and "sum", and its "mean" is the failing one), so
        here, for the duration only, `fit` runs inside the strategy's scope
        with the model's stored strategy cleared (the lazy-build path; the
        strategy still comes from the scope), and scalar metrics are
        averaged with `axis=None`. Both touch Keras internals, so
        `check_multi_worker_patch` verifies them first (see
        `PATCHED_KERAS_VERSIONS`).
        """
        if self.name != "multi_worker_mirrored":
            yield
            return
        tf_trainer = check_multi_worker_patch(model)
        original = tf_trainer.reduce_per_replica
        model._distribute_strategy = None
        tf_trainer.reduce_per_replica = _multi_worker_reduce(original)
        try:
            with self.strategy.scope():
                yield
        finally:
            tf_trainer.reduce_per_replica = original

    def configure_model(self, model):
        """Per-replica random streams for the generators that are not the
        package's (`per_replica_seeds`) under a TF strategy with more than
        one replica, and, with `sync_batch_norm`,
        synchronized statistics in every BatchNormalization.

        Returns:
            The number of BatchNormalization layers switched to synchronized.
        """
        if self.strategy is not None and self.num_replicas > 1:
            per_replica_seeds(model)
        if not self.sync_batch_norm or self.strategy is None:
            return 0
        count = 0
        for layer in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = True
                count += 1
        return count


# Keras versions on which the MultiWorkerMirroredStrategy work-around of
# `DistributionContext.fit_scope` was run end to end (two workers on
# localhost, tests/training/test_distribute.py). A Keras outside the range
# still runs when the internals it touches have the expected shape, with a
# warning; tests/training/test_distribute.py fails until the range is
# re-verified and extended.
PATCHED_KERAS_VERSIONS = ("3.15", "3.16")  # [first, end)


def _version_tuple(version):
    parts = []
    for part in version.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def multi_worker_patch_verified(version=None):
    """Whether Keras `version` (default: the installed one) is in
    `PATCHED_KERAS_VERSIONS`."""
    version = _version_tuple(version or keras.__version__)
    first, end = (_version_tuple(v) for v in PATCHED_KERAS_VERSIONS)
    return first <= version < end


def check_multi_worker_patch(model):
    """Checks the Keras internals `fit_scope` replaces under
    MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Returns:
        Keras's TensorFlow trainer module (whose `reduce_per_replica` is
        swapped).

    Raises:
        RuntimeError: this Keras no longer has `reduce_per_replica(values,
            strategy, reduction)` in its TensorFlow trainer or a
            `_distribute_strategy` attribute on models.
    """
    import inspect
    import warnings

    try:
        from keras.src.backend.tensorflow import trainer as tf_trainer

        params = list(inspect.signature(tf_trainer.reduce_per_replica).parameters)
    except (ImportError, AttributeError, TypeError, ValueError):
        params = None
    if params != ["values", "strategy", "reduction"] or not hasattr(
        model, "_distribute_strategy"
    ):
        raise RuntimeError(
            "distribution.strategy='multi_worker_mirrored' works around "
            "keras-team/keras#20585 through Keras internals that Keras "
            f"{keras.__version__} no longer has (keras.src.backend.tensorflow."
            "trainer.reduce_per_replica(values, strategy, reduction), "
            "Model._distribute_strategy). It was verified on Keras "
            f"{PATCHED_KERAS_VERSIONS[0]}.x; install that or check whether "
            "Keras fixed the issue."
        )
    if not multi_worker_patch_verified():
        warnings.warn(
            "The MultiWorkerMirroredStrategy work-around (keras-team/keras#20585) "
            f"was verified on Keras {PATCHED_KERAS_VERSIONS[0]}.x; running it on "
            f"Keras {keras.__version__}.",
            stacklevel=3,
        )
    return tf_trainer


def _seed_generators(layer):
    """The `keras.random.SeedGenerator`s a layer holds as attributes."""
    for value in vars(layer).values():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            if isinstance(item, keras.random.SeedGenerator):
                yield item


def per_replica_seeds(model):
    """Gives every replica of a `tf.distribute` strategy its own random draws.

    The package's layers already draw per replica; this makes every other
    `keras.random.SeedGenerator` in `model` (Keras's `RandomFlip` in the
    device input stage, a user's Keras layers) a
    `keras_resnets.layers.seeds.ReplicaSeedGenerator` in place
    (`layers.seeds.per_replica`): the seed it hands to a random op is
    `tf.random.experimental.stateless_fold_in(seed, replica_id_in_sync_group)`
    in a replica context of more than one replica, and the seed unchanged
    elsewhere (one device, no strategy, cross-replica context). The
    generator's state, its variables and its config are untouched, so a
    saved model is unchanged. Idempotent.

    Args:
        model: a built keras model or layer.

    Returns:
        The number of seed generators of `model`.
    """
    generators = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in _seed_generators(layer):
            generators[id(generator)] = generator
    for generator in generators.values():
        per_replica(generator)
    return len(generators)


def _multi_worker_reduce(original):
    import tensorflow as tf

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):

            def mean(v):
                if isinstance(v, tf.distribute.DistributedValues) or (
                    isinstance(v, tf.Tensor) and v.shape.rank == 0
                ):
                    return strategy.reduce("MEAN", v, axis=None)
                return v

            return tf.nest.map_structure(mean, values)
        return original(values, strategy, reduction)

    return reduce_per_replica


def _require_backend(strategy, backend):
    if keras.backend.backend() != backend:
        raise ConfigError(
            f"distribution.strategy={strategy!r} needs KERAS_BACKEND={backend}. "
            f"Received: backend={keras.backend.backend()!r} (use "
            "'mirrored'/'multi_worker_mirrored' with tensorflow, 'data_parallel' with jax)"
        )


def make_context(config):
    """A `DistributionContext` for a `DistributionConfig`.

    Raises:
        ConfigError: the strategy does not match the backend, or
            `sync_batch_norm` is asked for outside a TF strategy.
    """
    name = config.strategy
    if config.sync_batch_norm and name in ("mirrored", "multi_worker_mirrored"):
        pass
    elif config.sync_batch_norm and name != "data_parallel":
        raise ConfigError(
            "distribution.sync_batch_norm needs strategy 'mirrored' or "
            f"'multi_worker_mirrored'. Received: distribution.strategy={name!r}"
        )
    if name == "none":
        return DistributionContext()
    if name in ("mirrored", "multi_worker_mirrored"):
        _require_backend(name, "tensorflow")
        import tensorflow as tf

        if name == "mirrored":
            strategy = tf.distribute.MirroredStrategy(
                devices=list(config.devices) if config.devices else None
            )
            return DistributionContext(
                name, num_replicas=strategy.num_replicas_in_sync, strategy=strategy,
                sync_batch_norm=config.sync_batch_norm,
            )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        task_type, index, has_chief = processes.tf_config_role()
        is_chief = task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)
        return DistributionContext(
            name, num_replicas=strategy.num_replicas_in_sync, strategy=strategy,
            is_chief=is_chief, worker_index=index + (1 if has_chief and task_type == "worker" else 0),
            sync_batch_norm=config.sync_batch_norm,
        )
    if name == "data_parallel":
        _require_backend(name, "jax")
        process, count = processes.jax_processes()
        devices = list(config.devices) if config.devices else keras.distribution.list_devices()
        distribution = (keras.distribution.DataParallel(devices=devices) if count == 1 else
                        processes.ProcessDataParallel(devices, process=process, processes=count))
        return DistributionContext(
            name, num_replicas=len(devices), distribution=distribution, is_chief=process == 0,
            worker_index=process, num_processes=count,
        )
    raise ConfigError(
        "distribution.strategy must be one of 'none', 'mirrored', "
        f"'multi_worker_mirrored', 'data_parallel'. Received: {name!r}"
    )
