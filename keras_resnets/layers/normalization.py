"""Batch normalization with TensorFlow's fused training kernel.

Keras 3's `BatchNormalization` computes batch statistics with separate
`moments` and element-wise ops on every backend. On TensorFlow that is a
chain of a dozen small graph ops (and as many in the backward pass), which
made BN 35-40% of a ResNet-20 training step on the project's 2-core CPU.
`FusedBatchNormV3` does the same in one pass forward and one backward and
trains ResNet-20 about 1.5x faster there (docs/benchmarks.md). Under a mixed
policy (`mixed_bfloat16`, `mixed_float16`) the kernel takes the half-precision
activations directly and accumulates in float32 itself, where Keras casts them
to float32 and the result back (a full-size copy each way, forward and
backward); on a CPU with bf16 units that trains ResNet-20 faster again.

The layer is Keras's own in every other respect: same weights and names,
same momentum and epsilon semantics, same moving-statistics update (the
biased batch variance, as Keras uses, not the n/(n-1) one the fused kernel
returns), same config. It falls back to the Keras code path for everything
the fused kernel does not cover: inference (already cheap), other backends,
channels-first or non-4D inputs, masks, renorm and synchronized BN.

`synchronized=True` (cross-replica statistics under a `tf.distribute`
strategy, see `training/distribute.py`) is accepted on every backend and
kept in the config, so a model trained with synchronized BN on TensorFlow
loads and runs on JAX and PyTorch, whose Keras layer rejects the argument.
Outside TensorFlow it has no effect: there is no replica to synchronize
with (JAX `DataParallel` already normalises over the global batch).
"""

import keras
from keras import ops

# Input dtypes the fused kernel takes as they are (its `T`), with float32
# statistics (its `U`).
_HALF_DTYPES = ("bfloat16", "float16")


@keras.saving.register_keras_serializable(package="keras_resnets")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused TensorFlow training path.

    Takes exactly the arguments of `keras.layers.BatchNormalization`; see
    the module docstring for when the fused kernel is used and what
    `synchronized` does outside TensorFlow.
    """

    def __init__(self, *args, synchronized=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.synchronized = synchronized

    @property
    def synchronized(self):
        """Whether batch statistics are all-reduced across replicas: the
        requested value on TensorFlow, False on the other backends."""
        return self._synchronized and keras.backend.backend() == "tensorflow"

    @synchronized.setter
    def synchronized(self, value):
        self._synchronized = bool(value)

    def get_config(self):
        return {**super().get_config(), "synchronized": self._synchronized}

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable and mask is None and self._fusable(inputs):
            return self._fused_training_call(inputs)
        return super().call(inputs, training=training, mask=mask)

    def _fusable(self, inputs):
        return (
            keras.backend.backend() == "tensorflow"
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def _fused_training_call(self, inputs):
        import tensorflow as tf

        # Statistics in float32 as Keras does (BN overflows in half precision).
        # Half-precision inputs go in as they are: the kernel reads them and
        # keeps its sums, mean, variance, scale and offset in float32 (its `U`
        # type), so no float32 copy of the activations is made and cast back
        # (two fewer ops each way per BN; see the module docstring).
        half = keras.backend.standardize_dtype(inputs.dtype) in _HALF_DTYPES
        x = inputs if half else ops.cast(inputs, "float32")
        channels = self.moving_mean.shape[0]
        scale = ops.cast(self.gamma, "float32") if self.scale else tf.ones((channels,))
        offset = ops.cast(self.beta, "float32") if self.center else tf.zeros((channels,))
        empty = tf.constant([], dtype="float32")
        outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the unbiased (n / (n - 1)) variance for the
        # running average; Keras keeps the biased one. Undo the correction so
        # the moving statistics match the other backends exactly.
        count = ops.cast(ops.size(x) // channels, "float32")
        variance = variance * ops.maximum(count - 1.0, 0.0) / count
        momentum = self.momentum
        self.moving_mean.assign(
            ops.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, "float32") * momentum
            + variance * (1.0 - momentum)
        )
        return ops.cast(outputs, self.compute_dtype)
