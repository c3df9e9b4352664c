"""Seed generators that draw per replica under a `tf.distribute` strategy.

A `tf.distribute` strategy (MirroredStrategy, MultiWorkerMirroredStrategy,
...) runs the same step function on every replica, and every replica reads
the same `keras.random.SeedGenerator` state, so a plain generator hands
every replica the same seed: DropPath, ShakeDrop, Shake-Shake, FractalNet's
drop-path and Dropout would draw the same numbers on every replica, and a
global batch of `n` replicas would get the noise of one per-replica batch,
repeated `n` times.

`ReplicaSeedGenerator.next()` folds the replica's id in its sync group
(global across workers) into the seed,
`tf.random.experimental.stateless_fold_in(seed, replica_id_in_sync_group)`,
in a replica context of more than one replica, so each replica draws its
own stream, still a function of the seed alone (a seeded run repeats). It
returns the seed unchanged everywhere else: one device, the default or a
cross-replica context, and every backend but TensorFlow (which is only
imported there, and only then). Under JAX `keras.distribution.DataParallel`
nothing is needed: a layer draws one coefficient per example of the global
(sharded) batch, the numbers one device draws.

Every random layer of the package makes one (`SeededLayer`, `Dropout`), so
this holds in a user's own `model.fit` under `strategy.scope()`, not only
in `keras-resnets train`. `per_replica` turns a plain generator (a Keras
layer's) into one in place.
"""

import functools

import keras

from keras_resnets.errors import UserTypeError

__all__ = ["ReplicaSeedGenerator", "fold_in_replica", "per_replica"]


def fold_in_replica(seed):
    """`seed` with the replica id folded in, under a `tf.distribute`
    strategy of more than one replica; `seed` itself otherwise.

    Args:
        seed: the `(2,)` integer seed tensor a `SeedGenerator` hands out.

    Returns:
        A seed tensor of the same dtype.
    """
    if keras.backend.backend() != "tensorflow":
        return seed
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return seed
    folded = tf.random.experimental.stateless_fold_in(
        tf.cast(seed, "int64"), replica.replica_id_in_sync_group
    )
    return tf.cast(folded, seed.dtype)


def _auto_name(prefix):
    """The name `keras.random.SeedGenerator` gives itself (`seed_generator`,
    `seed_generator_1`, ...), from the same counter, so a generator's name
    and its state variable's path are those of a plain one."""
    uid = keras.backend.get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


@keras.saving.register_keras_serializable(package="keras_resnets")
class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` that draws per replica.

    The same state, seeds and draws as `keras.random.SeedGenerator(seed)`
    on one device (its default name follows the same sequence); under a
    `tf.distribute` strategy of more than one replica each replica gets
    `stateless_fold_in(seed, replica_id_in_sync_group)` instead (see the
    module docstring).

    Args:
        seed: int or `None`, the initial seed, as for `keras.random.SeedGenerator`.
        name: str or `None`, as for `keras.random.SeedGenerator`.
        **kwargs: passed on (`backend`).

    Example:

    >>> generator = ReplicaSeedGenerator(3)
    >>> x = keras.random.uniform((2,), seed=generator)  # one device: as SeedGenerator(3)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if name is None:
            name = _auto_name("seed_generator")
        super().__init__(seed, name=name, **kwargs)

    def next(self, ordered=True):
        return fold_in_replica(super().next(ordered=ordered))


@functools.cache
def _replica_class(cls):
    return type(f"Replica{cls.__name__}", (ReplicaSeedGenerator, cls), {})


def per_replica(generator):
    """Makes an existing `keras.random.SeedGenerator` draw per replica.

    For generators made by code that is not ours (Keras's `Dropout`,
    `RandomFlip`, ...): the object becomes a `ReplicaSeedGenerator` in
    place, so its state variable, name, seed and config stay as they are
    and the layer that tracks it is untouched; only `next` changes.
    Idempotent.

    Args:
        generator: a `keras.random.SeedGenerator`.

    Returns:
        `generator`.
    """
    if not isinstance(generator, keras.random.SeedGenerator):
        raise UserTypeError(
            "`per_replica` expects a `keras.random.SeedGenerator`. "
            f"Received: generator={generator!r}"
        )
    cls = type(generator)
    if not issubclass(cls, ReplicaSeedGenerator):
        exact = cls is keras.random.SeedGenerator
        generator.__class__ = ReplicaSeedGenerator if exact else _replica_class(cls)
    return generator
