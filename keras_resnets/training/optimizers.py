"""SGD with momentum and the papers' (coupled) weight decay, and the loss."""

import keras
from keras import ops

from keras_resnets.errors import UserValueError

# Variable names of BN scale/offset and biases in keras layers.
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="keras_resnets")
class SGD(keras.optimizers.SGD):
    """SGD with (Nesterov) momentum and coupled weight decay, as the papers trained.

    The update is the one of the papers' Torch code (fb.resnet.torch, the WRN
    and Shake-Shake repositories) and of `torch.optim.SGD` (dampening 0):

    ```
    g = grad + coupled_weight_decay * w          # coupled decay (L2 in the loss)
    v = momentum * v + g
    w = w - lr * (g + momentum * v)              # nesterov=True
    w = w - lr * v                               # nesterov=False
    ```

    With a constant learning rate this is exactly keras's `SGD`
    (`v' = momentum * v' - lr * g; w += v'`, with `v' = -lr * v`); when the
    rate changes, the Torch form applies the new rate to the whole velocity,
    as the papers did. `coupled_weight_decay` is the paper's number (1e-4
    for ResNet, 5e-4 for WRN): a keras `L2(l)` regularizer adds `l * ||w||^2`
    to the loss, i.e. `2 * l * w` to the gradient, so it equals coupled decay
    with `wd = 2 * l` (on the kernels it is attached to only).

    keras's own `weight_decay` stays available as the decoupled variant
    (Loshchilov & Hutter 2017: `w -= lr * weight_decay * w` after the step).
    Both honour `exclude_from_weight_decay` (variable-name patterns, e.g.
    `NO_DECAY_NAMES` to spare BN parameters and biases); by default every
    variable is decayed, as in the Torch reference code.

    Args:
        learning_rate: float or `LearningRateSchedule`. Defaults to 0.1.
        momentum: float in [0, 1]. Defaults to 0.9.
        nesterov: bool. Defaults to False.
        coupled_weight_decay: float, `wd` added to the gradient as `wd * w`
            before momentum. Defaults to 0.
        exclude_from_weight_decay: list of variable-name regex patterns that
            are not decayed (coupled or decoupled). Defaults to None.
        **kwargs: keras optimizer arguments (`weight_decay` = decoupled decay,
            `clipnorm`, `loss_scale_factor`, `name`, ...).

    Example:
    >>> opt = SGD(0.1, momentum=0.9, nesterov=True, coupled_weight_decay=5e-4)
    >>> w = keras.Variable([1.0]); opt.apply([keras.ops.ones((1,))], [w])
    >>> round(float(w[0]), 6)  # 1 - 0.1 * (g + 0.9 * g), g = 1 + 5e-4
    0.809905
    """

    def __init__(
        self,
        learning_rate=0.1,
        momentum=0.9,
        nesterov=False,
        coupled_weight_decay=0.0,
        exclude_from_weight_decay=None,
        name="sgd",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            momentum=float(momentum),
            nesterov=bool(nesterov),
            name=name,
            **kwargs,
        )
        if coupled_weight_decay is None or coupled_weight_decay < 0:
            raise UserValueError(
                "Invalid value received for argument `coupled_weight_decay`. "
                f"Expected a float >= 0. Received: coupled_weight_decay={coupled_weight_decay!r}"
            )
        self.coupled_weight_decay = float(coupled_weight_decay)
        self._exclude_patterns = list(exclude_from_weight_decay or [])
        if self._exclude_patterns:
            self.exclude_from_weight_decay(var_names=self._exclude_patterns)

    def update_step(self, gradient, variable, learning_rate):
        """Applies one step to `variable` (see the class docstring)."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay and self._use_weight_decay(variable):
            wd = ops.cast(self.coupled_weight_decay, variable.dtype)
            gradient = ops.add(gradient, ops.multiply(variable, wd))
        if self.momentum != 0:
            m = self.momentums[self._get_variable_index(variable)]
            momentum = ops.cast(self.momentum, variable.dtype)
            velocity = ops.add(ops.multiply(m, momentum), gradient)
            self.assign(m, velocity)
            if self.nesterov:
                step = ops.add(gradient, ops.multiply(velocity, momentum))
            else:
                step = velocity
        else:
            step = gradient
        self.assign_sub(variable, ops.multiply(step, learning_rate))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "coupled_weight_decay": self.coupled_weight_decay,
                "exclude_from_weight_decay": list(self._exclude_patterns),
            }
        )
        return config


def outputs_logits(classifier_activation):
    """Whether a model built with `classifier_activation` returns logits.

    Training builds models with `"linear"` (not `None`: `create_model` drops
    `None` kwargs, which would bring back the default softmax) and gives the
    loss logits, the numerically stable pairing."""
    return classifier_activation in (None, "linear")


@keras.saving.register_keras_serializable(package="keras_resnets")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Szegedy et al. 2016).

    The target is `(1 - eps) * onehot(y) + eps / C`, so the loss is
    `(1 - eps) * CE(y) + eps * mean_c(-log p_c)`; with `eps = 0` it is keras's
    `sparse_categorical_crossentropy`. Computed in float32 (mixed precision
    safe).

    Args:
        from_logits: bool, whether `y_pred` are logits. Defaults to True.
        label_smoothing: float in [0, 1). Defaults to 0.

    Example:
    >>> loss = SparseCategoricalCrossentropy(label_smoothing=0.1)
    >>> round(float(loss(keras.ops.array([0]), keras.ops.zeros((1, 10)))), 4)
    2.3026
    """

    def __init__(self, from_logits=True, label_smoothing=0.0, name="crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise UserValueError(
                "Invalid value received for argument `label_smoothing`. Expected "
                f"a float in [0, 1). Received: label_smoothing={label_smoothing!r}"
            )
        self.from_logits = from_logits
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        num_classes = ops.shape(y_pred)[-1]
        onehot = ops.one_hot(y_true, num_classes, dtype="float32")
        nll = -ops.sum(onehot * log_probs, axis=-1)
        if not self.label_smoothing:
            return nll
        smooth = -ops.mean(log_probs, axis=-1)
        return (1.0 - self.label_smoothing) * nll + self.label_smoothing * smooth

    def get_config(self):
        config = super().get_config()
        config.update(
            {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}
        )
        return config


def from_config(optimizer, learning_rate):
    """The optimizer an `OptimizerConfig` describes, with `learning_rate`
    (a float or schedule). For `weight_decay_mode="l2"` the decay lives in
    the model's kernel regularizers instead (see `recipe.build_model`)."""
    mode = optimizer.weight_decay_mode
    wd = optimizer.weight_decay
    return SGD(
        learning_rate=learning_rate,
        momentum=optimizer.momentum,
        nesterov=optimizer.nesterov,
        coupled_weight_decay=wd if mode == "coupled" else 0.0,
        weight_decay=wd if (mode == "decoupled" and wd) else None,
        exclude_from_weight_decay=None if optimizer.decay_bn_and_bias else list(NO_DECAY_NAMES),
        clipnorm=optimizer.clipnorm,
    )
