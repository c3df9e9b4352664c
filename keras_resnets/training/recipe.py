"""The training recipe: how every run builds and compiles its model.

`keras-resnets train` (`build_from_config` / `compile_from_config`, from a
`Config`) and `keras-resnets tune` (`ResidualHyperModel`, from a trial's
hyperparameters) both come here, so a trial trains exactly the model and
loss a run of its exported best config would:

* `build_model`: `registry.build(name, **kwargs)` (the arguments come
  from a loaded config, checked there, or a family's search space) with the data's
  `num_classes` and `input_shape` and a logits head (`"linear"`) unless the
  kwargs set them; with `weight_decay_mode="l2"` the papers' coupled weight
  decay `wd` becomes a keras `L2(wd / 2)` kernel regularizer (the same
  gradient, see `optimizers.SGD`).
* `compile_model`: the papers' SGD (`optimizers.from_config`), the
  label-smoothed cross-entropy on logits or probabilities as the head
  outputs, and accuracy (plus top-5 when asked).
"""

import keras

from keras_resnets import registry
from keras_resnets.training import optimizers


def build_model(name, kwargs=None, *, num_classes, input_shape, optimizer):
    """Builds a registered model the way training uses it (not compiled).

    Args:
        name: registry name (e.g. "wrn-16-4" or the family name "wrn").
        kwargs: dict of `create_model` keyword arguments, checked already
            (a loaded config's `model:` section, or a search space's); they
            win over the defaults below. `None` values are dropped.
        num_classes: int, default `num_classes` (the data set's).
        input_shape: tuple, default `input_shape` (the data set's images).
        optimizer: the `OptimizerConfig` the model trains with; its
            `weight_decay` (under `weight_decay_mode="l2"`) sets the default
            kernel regularizer.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: unknown name or an invalid architecture value.
    """
    kwargs = dict(kwargs or {})
    kwargs.setdefault("num_classes", num_classes)
    kwargs.setdefault("input_shape", tuple(input_shape))
    kwargs.setdefault("classifier_activation", "linear")
    if optimizer.weight_decay_mode == "l2" and optimizer.weight_decay:
        kwargs.setdefault("kernel_regularizer", keras.regularizers.L2(optimizer.weight_decay / 2))
    return registry.build(name, **kwargs)


def build_from_config(config, *, num_classes, input_shape):
    """`build_model` of a `Config`'s `model:` section (checked when the
    config was loaded), with its optimizer's weight decay."""
    return build_model(
        config.model.name, config.model.kwargs, num_classes=num_classes,
        input_shape=input_shape, optimizer=config.optimizer,
    )


def compile_from_config(model, config, learning_rate):
    """`compile_model` with a `Config`'s optimizer, label smoothing, head,
    metrics and compile settings."""
    t = config.training
    compile_model(
        model, optimizer=config.optimizer, learning_rate=learning_rate,
        label_smoothing=t.label_smoothing,
        classifier_activation=config.model.kwargs.get("classifier_activation"),
        top5=t.top5, jit_compile=t.jit_compile, steps_per_execution=t.steps_per_execution,
    )


def scaled_learning_rate(learning_rate, distribution, num_replicas):
    """The learning rate a run starts from: `learning_rate`, times the
    number of replicas under `distribution.lr_scaling: linear` (Goyal et al.
    2017; the global batch grows with the replicas).

    Args:
        learning_rate: float, the configured rate.
        distribution: `DistributionConfig` (its `lr_scaling`).
        num_replicas: int, replicas of the run (1 without a strategy).

    Returns:
        float.
    """
    if distribution.lr_scaling == "linear":
        return learning_rate * num_replicas
    return learning_rate


def compile_model(model, *, optimizer, learning_rate, label_smoothing=0.0,
                  classifier_activation=None, top5=False, jit_compile="auto",
                  steps_per_execution=1):
    """Compiles `model` with the papers' SGD, smoothed cross-entropy and accuracy.

    Args:
        model: a model from `build_model`.
        optimizer: `OptimizerConfig` (momentum, Nesterov, weight decay and
            its mode).
        learning_rate: float or `LearningRateSchedule`.
        label_smoothing: float in [0, 1).
        classifier_activation: the `classifier_activation` the model was
            built with (None: the recipe's logits head); decides whether the
            loss takes logits.
        top5: also report top-5 accuracy (`top5_accuracy`).
        jit_compile: passed to `model.compile`.
        steps_per_execution: passed to `model.compile`.
    """
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if top5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    model.compile(
        optimizer=optimizers.from_config(optimizer, learning_rate),
        loss=optimizers.SparseCategoricalCrossentropy(
            from_logits=optimizers.outputs_logits(classifier_activation),
            label_smoothing=label_smoothing,
        ),
        metrics=metrics,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
