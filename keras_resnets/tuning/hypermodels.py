"""KerasTuner HyperModels of the residual families.

One parametrised `ResidualHyperModel` covers every family; the named
subclasses (`WideResNetHyperModel`, `CifarResNetHyperModel`,
`ShakeShakeHyperModel`, `PyramidNetHyperModel`, `ResNeXtHyperModel`,
`FractalNetHyperModel`) only fix `family`. `build(hp)` declares every
hyperparameter of the family's space (see `keras_resnets.spaces`) with its default,
builds the model of its `model:` section (`search_spaces.model_section`: the
paper-table registry name of the architecture when there is one, else the
family's generic registry name, e.g. `wrn` with `depth` and `k`) with the
training recipe (`keras_resnets.training.recipe`, as `keras-resnets train`
builds it), prunes it when it has more than `max_params` trainable
parameters, and compiles it with the recipe's SGD (coupled weight decay) and
label-smoothed cross-entropy. `fit(hp, model, ...)` takes the batch size and the
number of epochs from `hp`.

Example:

```python
import keras_tuner
from keras_resnets.tuning import WideResNetHyperModel

hypermodel = WideResNetHyperModel(
    search_space={"depth": [10, 16], "k": {"min": 1, "max": 4}, "dropout_rate": 0.3},
    max_params=3e6,
)
tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=4,
                                 max_consecutive_failed_trials=4)
tuner.search(x_train, y_train, validation_data=(x_val, y_val))
```
"""

import dataclasses
import math

import keras_tuner

from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError
from keras_resnets.flops import count_trainable_params
from keras_resnets.training import recipe
from keras_resnets.training import schedules
from keras_resnets.training.config_sections import DistributionConfig
from keras_resnets.training.config_sections import OptimizerConfig
from keras_resnets.training.config_sections import ScheduleConfig
from keras_resnets.training.config_sections import TrainingConfig
from keras_resnets.spaces import families as search_spaces
from keras_resnets.spaces.hyperparameters import check_value


class ParameterBudgetExceeded(keras_tuner.errors.FailedTrialError):
    """A trial's model has more trainable parameters than `max_params`; the
    trial is marked failed before training and the search goes on."""


def _section(value, cls, argument):
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return cls(**value)
    raise UserTypeError(
        f"`{argument}` must be a {cls.__name__}, a dict or None. "
        f"Received: {argument}={value!r}"
    )


class ResidualHyperModel(keras_tuner.HyperModel):
    """A HyperModel over one residual family's valid architectures.

    Args:
        family: "wrn", "resnet", "shake-shake", "pyramidnet", "resnext",
            "fractalnet" or a registry name of one (e.g. "wrn-28-10");
            subclasses fix it.
        search_space: dict narrowing the space, `name -> value` (fixed),
            `[values]` (a choice) or `{"min", "max", "step", "sampling",
            "default"}` (a range). Keys: the family's architecture
            hyperparameters plus `learning_rate`, `weight_decay`,
            `label_smoothing`, `batch_size`, `epochs`.
        defaults: dict of default values (e.g. a config's learning rate).
        input_shape: tuple, image shape. Defaults to (32, 32, 3).
        num_classes: int. Defaults to 10.
        max_params: optional trainable-parameter budget; larger models are
            pruned (`ParameterBudgetExceeded`) before training.
        model_kwargs: dict of fixed extra model kwargs (e.g.
            `drop_path_rate`); may not repeat a searched hyperparameter.
        optimizer: `OptimizerConfig` or dict (momentum, Nesterov, weight
            decay mode); `learning_rate` and `weight_decay` come from `hp`.
        schedule: `ScheduleConfig` or dict; default a constant rate.
        training: `TrainingConfig` or dict; its `steps_per_epoch` (fixed
            iterations per epoch, else counted from `num_train_examples`)
            and `jit_compile` are used; `batch_size`, `epochs` and
            `label_smoothing` come from `hp`.
        distribution: `DistributionConfig` or dict; with `lr_scaling:
            linear` the sampled learning rate is multiplied by the number
            of replicas.
        num_train_examples: training-set size, needed by schedules other
            than a constant rate to count iterations per epoch.
        context: the `training.distribute.DistributionContext` the search
            runs in: its `num_replicas` share a global batch (`batch_size`
            is per replica, as in `keras-resnets train`) and its
            `configure_model` is applied to each built model (e.g.
            synchronized BatchNorm). None: one replica.
        name, tunable: as `keras_tuner.HyperModel`.

    Attributes:
        space: dict `name -> search_spaces.Hyperparameter` after narrowing.
        last_params: trainable parameters of the last built model.

    Raises:
        ValueError: unknown family, or an invalid `search_space` (empty,
            contradictory, or values outside the family's valid set).
    """

    family = None

    def __init__(
        self,
        family=None,
        *,
        search_space=None,
        defaults=None,
        input_shape=(32, 32, 3),
        num_classes=10,
        max_params=None,
        model_kwargs=None,
        optimizer=None,
        schedule=None,
        training=None,
        distribution=None,
        num_train_examples=None,
        context=None,
        name=None,
        tunable=True,
    ):
        family = family or type(self).family
        if family is None:
            raise UserValueError(
                "Pass `family` (one of "
                f"{', '.join(search_spaces.families())}). Received: family=None"
            )
        self.family_spec = search_spaces.get_family(family)
        super().__init__(name=name or f"{self.family_spec.name}_hypermodel", tunable=tunable)
        self.space = search_spaces.resolve_space(self.family_spec, search_space, defaults=defaults)
        if max_params is not None:
            if isinstance(max_params, bool) or not isinstance(max_params, (int, float)) or max_params <= 0:
                raise UserValueError(
                    f"`max_params` must be a positive number. Received: max_params={max_params!r}"
                )
        self.max_params = max_params
        self.model_kwargs = dict(model_kwargs or {})
        search_spaces.check_model_kwargs(self.family_spec, self.model_kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.optimizer = _section(optimizer, OptimizerConfig, "optimizer")
        self.schedule = _section(schedule, ScheduleConfig, "schedule")
        self.training = _section(training, TrainingConfig, "training")
        self.distribution = _section(distribution, DistributionConfig, "distribution")
        self.num_train_examples = num_train_examples
        self.context = context
        self.num_replicas = 1 if context is None else context.num_replicas
        self.last_params = None
        self.last_values = None

    # === Search space ===

    def declare(self, hp):
        """Declares every hyperparameter on `hp`; returns `name -> value`."""
        return {name: h.declare(hp) for name, h in self.space.items()}

    def declare_hyperparameters(self, hp):
        # keras-tuner calls this, then `build(hp)` once with the defaults, to
        # discover the space before the first trial; that build is not a
        # trial, so it is not pruned.
        self.declare(hp)
        self._discovering = True

    def sample(self, seed=None):
        """One random draw of the space, as the tuners sample it (without
        building a model): `name -> value`."""
        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        values = {}
        for i, h in enumerate(hp.space):
            values[h.name] = h.random_sample(None if seed is None else seed * 1000 + i)
        return values

    def arch_kwargs(self, values):
        """The model kwargs of the architecture in `values`."""
        return self.family_spec.arch_kwargs(values)

    def validate(self, values):
        """Checks `values` against the family's valid domain (every rule the
        model constructors enforce); raises ValueError naming the key."""
        for name, h in self.space.items():
            check_value(self.family_spec.name, h, values[name])
        return values

    def model_section(self, values):
        """The `model:` config section of `values` (see `search_spaces.model_section`)."""
        return search_spaces.model_section(self.family_spec, self.arch_kwargs(values), **self.model_kwargs)

    # === Build ===

    def build_model(self, values):
        """Builds (without compiling) the model of `values`: exactly the
        model of `model_section(values)`, built by the training recipe."""
        section = self.model_section(values)
        optimizer = dataclasses.replace(self.optimizer, weight_decay=values["weight_decay"])
        return recipe.build_model(
            section.pop("name"), section, num_classes=self.num_classes,
            input_shape=self.input_shape, optimizer=optimizer,
        )

    def build(self, hp):
        values = self.declare(hp)
        self.last_values, self.last_params = values, None
        model = self.build_model(values)
        self.last_params = count_trainable_params(model)
        discovering, self._discovering = getattr(self, "_discovering", False), False
        if self.max_params is not None and self.last_params > self.max_params and not discovering:
            raise ParameterBudgetExceeded(
                f"Pruned before training: {self.last_params} trainable parameters exceed "
                f"max_params={int(self.max_params)} for {self.arch_kwargs(values)}"
            )
        if self.context is not None:
            self.context.configure_model(model)
        self.compile(model, values)
        return model

    def _steps(self, values):
        if self.training.steps_per_epoch:
            return self.training.steps_per_epoch
        if self.num_train_examples:
            return math.ceil(self.num_train_examples / (values["batch_size"] * self.num_replicas))
        return None

    def compile(self, model, values):
        """Compiles `model` with the optimizer, schedule and loss of `values`."""
        s = self.schedule
        learning_rate = recipe.scaled_learning_rate(
            values["learning_rate"], self.distribution, self.num_replicas
        )
        if s.name == "constant" and not (s.warmup_epochs or s.warmup_steps):
            rate = learning_rate
        else:
            steps = self._steps(values)
            if steps is None:
                raise UserValueError(
                    f"schedule.name={s.name!r} needs `num_train_examples` or "
                    "`steps_per_epoch` to count iterations. Received: neither"
                )
            rate = schedules.from_config(s, learning_rate, steps_per_epoch=steps, epochs=values["epochs"])
        optimizer_config = dataclasses.replace(
            self.optimizer, learning_rate=learning_rate, weight_decay=values["weight_decay"]
        )
        recipe.compile_model(
            model, optimizer=optimizer_config, learning_rate=rate,
            label_smoothing=values["label_smoothing"],
            classifier_activation=self.model_kwargs.get("classifier_activation"),
            jit_compile=self.training.jit_compile,
        )

    # === Fit ===

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the batch size and epochs of `hp`.

        `x` (first argument) may be arrays (then `batch_size` is passed to
        `model.fit`), a batched dataset (used as is), or a callable
        `x(batch_size) -> data.Datasets` building the pipelines for the
        trial's batch size. Hyperband's
        `epochs`/`initial_epoch` win over `hp`'s `epochs`.
        """
        values = {name: hp.get(name) if name in hp.values else h.default for name, h in self.space.items()}
        batch_size, epochs = values["batch_size"], values["epochs"]
        epochs = kwargs.pop("epochs", None) or epochs
        x = args[0] if args else kwargs.pop("x", None)
        args = args[1:]
        if callable(x) and not hasattr(x, "element_spec") and not hasattr(x, "shape"):
            data = x(batch_size)
            missing = [a for a in ("train", "validation", "steps_per_epoch") if not hasattr(data, a)]
            if missing:
                raise UserTypeError(
                    "A data callable `x(batch_size)` must return a keras_resnets.data.Datasets "
                    "(as data.build_datasets(source, batch_size=batch_size, ...) does), with "
                    f"`train`, `validation` and `steps_per_epoch`. Received: a "
                    f"{type(data).__name__} without {', '.join(missing)}"
                )
            x = data.train
            kwargs.setdefault("validation_data", data.validation)
            kwargs.setdefault("steps_per_epoch", data.steps_per_epoch)
            kwargs.setdefault("shuffle", False)
        elif hasattr(x, "shape"):
            kwargs.setdefault("batch_size", batch_size * self.num_replicas)
        return model.fit(x, *args, epochs=epochs, **kwargs)


def _family_hypermodel(class_name, family, what):
    """A named `ResidualHyperModel` subclass that fixes `family` (its space
    is the `SEARCH_SPACE` its family module declares)."""
    doc = f"A `ResidualHyperModel` over {what} (`family={family!r}`)."
    attrs = {"family": family, "__doc__": doc, "__module__": __name__, "__qualname__": class_name}
    return type(class_name, (ResidualHyperModel,), attrs)


WideResNetHyperModel = _family_hypermodel("WideResNetHyperModel", "wrn", "Wide ResNets WRN-d-k")
CifarResNetHyperModel = _family_hypermodel("CifarResNetHyperModel", "resnet", "CIFAR ResNets v1/v2")
ShakeShakeHyperModel = _family_hypermodel("ShakeShakeHyperModel", "shake-shake", "Shake-Shake nets")
PyramidNetHyperModel = _family_hypermodel("PyramidNetHyperModel", "pyramidnet", "PyramidNets")
ResNeXtHyperModel = _family_hypermodel("ResNeXtHyperModel", "resnext", "CIFAR ResNeXts")
FractalNetHyperModel = _family_hypermodel("FractalNetHyperModel", "fractalnet", "FractalNets")

HYPERMODELS = {
    cls.family: cls
    for cls in (
        WideResNetHyperModel,
        CifarResNetHyperModel,
        ShakeShakeHyperModel,
        PyramidNetHyperModel,
        ResNeXtHyperModel,
        FractalNetHyperModel,
    )
}


def get_hypermodel(family, **kwargs):
    """The HyperModel of a family name or registry name, e.g.
    `get_hypermodel("wrn-28-10", max_params=3e6)` (a `ResidualHyperModel`
    for a declared family without a named subclass)."""
    name = search_spaces.get_family(family).name
    if name in HYPERMODELS:
        return HYPERMODELS[name](**kwargs)
    return ResidualHyperModel(name, **kwargs)
