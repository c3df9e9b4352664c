"""What every model family shares: its common options and the model base.

`ModelOptions` is the one record of the constructor options all families
take (their names, defaults, validation and how sub-layers use them), and
`FamilyModel` the `keras.Model` base class that owns them in the
keras-hub `Backbone` spirit: a family's constructor declares only its own
arguments, takes the shared ones from `**kwargs` with `take_options`, and
`FamilyModel` checks unknown keywords, stores the options as attributes
and puts them in `get_config` (`config_with`; each family writes its own
arguments there explicitly). The inputs, stems and classifier head are
built here too; the per-block schedule lives in `models/stages.py`.
"""

import dataclasses
import inspect

import keras

from keras_resnets._registry import unknown_arguments_error  # noqa: F401  (re-exported)
from keras_resnets.layers._utils import standardize_data_format
from keras_resnets.layers.conv import make_batch_norm
from keras_resnets.layers.conv import make_conv
from keras_resnets.models.stages import apply_stages  # noqa: F401  (re-exported)
from keras_resnets.models.stages import block_schedule  # noqa: F401
from keras_resnets.models.stages import blocks_per_stage  # noqa: F401
from keras_resnets.models.stages import check_stackwise  # noqa: F401
from keras_resnets.errors import UserValueError

POOLING_OPTIONS = (None, "avg", "max")
# keras.Model keyword arguments the model classes pass on through `**kwargs`
# (`name` and `dtype` are shared options). keras' Functional ignores any
# other keyword silently, so the constructors reject the rest.
KERAS_MODEL_KWARGS = ("trainable",)
# Shared options only the families built of residual blocks take (each
# family lists its own in `FamilyModel.block_options`).
BLOCK_OPTIONS = ("dropout_rate", "drop_path_rate", "se_ratio", "zero_init_last_bn")


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """The constructor options every model family shares.

    Documented once, here; each family's docstring points here. Every
    family takes them as keyword arguments, with these defaults:

    Args:
        include_top: bool, add global average pooling and the Dense
            classifier. Defaults to True.
        input_shape: tuple `(height, width, channels)` (channels first with
            `data_format="channels_first"`); default 32x32x3 for the CIFAR
            layouts, 224x224x3 for the ImageNet ones.
        num_classes: int (alias `classes`, as keras.applications); default
            10 for the CIFAR layouts, 1000 for the ImageNet ones.
        classes: alias of `num_classes`; passing both with different values
            is an error.
        pooling: None, "avg" or "max": the global pooling of the features
            when `include_top=False`.
        classifier_activation: activation of the classifier. Defaults to
            "softmax"; None gives logits.
        dropout_rate, drop_path_rate, se_ratio, zero_init_last_bn: options
            of the residual blocks, taken by the families that list them in
            `FamilyModel.block_options`: dropout between a block's
            convolutions, stochastic depth of the last block (linear decay
            over depth, Huang 2016), the squeeze-excitation ratio of every
            block (None: no SE), and gamma 0 in each branch's last BN.
            Defaults 0.0, 0.0, None, False.
        kernel_regularizer: regularizer on every kernel (and on the
            classifier's bias).
        bn_momentum, bn_epsilon: BN settings. Defaults to Torch's (0.9,
            1e-5).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.
        dtype: dtype policy of every layer.
        name: model name; default the family's.

    `trainable` (bool, as `keras.Model`) is accepted too; any other keyword
    argument raises a TypeError naming the closest valid one.
    """

    include_top: bool = True
    input_shape: tuple | None = None
    num_classes: int | None = None
    classes: int | None = None
    pooling: str | None = None
    classifier_activation: str | None = "softmax"
    dropout_rate: float = 0.0
    drop_path_rate: float = 0.0
    se_ratio: float | None = None
    zero_init_last_bn: bool = False
    kernel_regularizer: object = None
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    data_format: str | None = None
    dtype: object = None
    name: str | None = None

    def resolve(self, default_num_classes):
        """The options checked and completed: `pooling` and `num_classes`
        (with its alias) validated, `data_format` standardized and the
        regularizer deserialized.

        Args:
            default_num_classes: int, the family's (layout's) default.

        Returns:
            A new `ModelOptions` with `classes` folded into `num_classes`.
        """
        if self.pooling not in POOLING_OPTIONS:
            raise UserValueError(
                "`pooling` must be None, 'avg' or 'max'. Received: pooling="
                f"{self.pooling!r}"
            )
        return dataclasses.replace(
            self,
            num_classes=resolve_num_classes(self.num_classes, self.classes, default_num_classes),
            classes=None,
            data_format=standardize_data_format(self.data_format),
            kernel_regularizer=keras.regularizers.get(self.kernel_regularizer),
        )

    # === What the sub-layers get (call on resolved options) ===

    def conv_kwargs(self):
        return {
            "kernel_regularizer": self.kernel_regularizer,
            "data_format": self.data_format,
            "dtype": self.dtype,
        }

    def block_kwargs(self, spec=None, seed=None):
        """What every residual block gets: the conv/BN settings and, with a
        `BlockSpec`, its stochastic-depth rate, seed (`seed + index`) and
        name."""
        kwargs = self.conv_kwargs()
        kwargs.update(bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon)
        if spec is not None:
            kwargs.update(drop_path_rate=spec.drop_path_rate, seed=spec.seed(seed), name=spec.name)
        return kwargs

    def batch_norm(self, name):
        return make_batch_norm(
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            data_format=self.data_format,
            dtype=self.dtype,
            name=name,
        )

    def relu(self, name):
        return keras.layers.Activation("relu", dtype=self.dtype, name=name)

    def make_inputs(self, default_size, min_size, family):
        """The `keras.Input`, its spatial size checked against `min_size`."""
        input_shape = self.input_shape
        if input_shape is None:
            input_shape = (
                (default_size, default_size, 3)
                if self.data_format == "channels_last"
                else (3, default_size, default_size)
            )
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise UserValueError(
                "`input_shape` must be (height, width, channels) (or channels "
                f"first). Received: input_shape={input_shape}"
            )
        spatial = input_shape[:2] if self.data_format == "channels_last" else input_shape[1:]
        for size in spatial:
            if size is not None and size < min_size:
                raise UserValueError(
                    f"{family} needs inputs of at least {min_size}x{min_size} "
                    f"pixels (its stem and stages downsample by {min_size}). "
                    f"Received: input_shape={input_shape}"
                )
        return keras.Input(shape=input_shape, name="input")

    def apply_head(self, x):
        """Global pooling and the classifier, keras.applications-style."""
        df, dt = self.data_format, self.dtype
        if self.include_top:
            x = keras.layers.GlobalAveragePooling2D(data_format=df, dtype=dt, name="avg_pool")(x)
            return keras.layers.Dense(
                self.num_classes,
                activation=self.classifier_activation,
                kernel_regularizer=self.kernel_regularizer,
                bias_regularizer=self.kernel_regularizer,
                dtype=dt,
                name="predictions",
            )(x)
        if self.pooling == "avg":
            return keras.layers.GlobalAveragePooling2D(data_format=df, dtype=dt, name="avg_pool")(x)
        if self.pooling == "max":
            return keras.layers.GlobalMaxPooling2D(data_format=df, dtype=dt, name="max_pool")(x)
        return x


class FamilyModel(keras.Model):
    """Base class of the model families: owns the shared `ModelOptions`.

    A family's `__init__` declares only its own arguments and ends in
    `**kwargs`. It calls `options = self.take_options(kwargs)` first (the
    unknown-keyword check), `options.resolve(default_num_classes)` once its
    layout is known, builds its stem and stages with the options' inputs
    and sub-layer settings, then calls `super().__init__(inputs, features,
    options)`, which adds the post-activation and the classifier head,
    makes the `keras.Model` and stores the shared options as attributes.
    After it, under `# === Config ===`, the family stores its own
    arguments as attributes, and its `get_config` returns them through
    `config_with(...)`, exactly as its constructor takes them (keras-hub's
    habit: the reader sees a family's config in the family's file).

    Class attributes:
        block_options: the names of `BLOCK_OPTIONS` the family takes.
        post_activation: what comes between the last stage and the head:
            `("bn", "relu")` (the final BN-ReLU of pre-activation networks,
            `post_bn` and `post_relu`), `("relu",)` or nothing.
    """

    block_options = ()
    post_activation = ()

    @classmethod
    def option_names(cls):
        """The shared options `cls` takes, in `ModelOptions` order."""
        return tuple(
            f.name
            for f in dataclasses.fields(ModelOptions)
            if f.name not in BLOCK_OPTIONS or f.name in cls.block_options
        )

    @classmethod
    def take_options(cls, kwargs):
        """Removes the shared options from a constructor's `kwargs`.

        Raises the TypeError of `check_model_kwargs` for any keyword that
        is neither a shared option nor a keras.Model one; `kwargs` keeps the
        latter.

        Returns:
            The (unresolved) `ModelOptions`.
        """
        names = cls.option_names()
        check_model_kwargs(cls, {k: v for k, v in kwargs.items() if k not in names})
        return ModelOptions(**{k: kwargs.pop(k) for k in names if k in kwargs})

    def __init__(self, inputs, features, options, *, default_name=None, **kwargs):
        x = features
        for op in self.post_activation:
            x = options.batch_norm("post_bn")(x) if op == "bn" else options.relu("post_relu")(x)
        super().__init__(
            inputs=inputs,
            outputs=options.apply_head(x),
            name=options.name or default_name,
            **kwargs,
        )

        # === Config: the shared options ===
        self.include_top = options.include_top
        self.model_input_shape = tuple(inputs.shape[1:])
        self.num_classes = options.num_classes
        self.pooling = options.pooling
        self.classifier_activation = options.classifier_activation
        for key in self.block_options:
            setattr(self, key, getattr(options, key))
        self.kernel_regularizer = options.kernel_regularizer
        self.bn_momentum = options.bn_momentum
        self.bn_epsilon = options.bn_epsilon
        self.data_format = options.data_format

    def config_with(self, **family_arguments):
        """The model's config: `name`, `trainable`, the family's own
        arguments (as its `get_config` passes them) and the shared options.

        Args:
            **family_arguments: the family's constructor arguments, in its
                signature order.

        Returns:
            Dict of every constructor argument, for `from_config`.
        """
        regularizer = self.kernel_regularizer
        regularizer = keras.regularizers.serialize(regularizer) if regularizer else None
        return {
            "name": self.name,
            "trainable": self.trainable,
            **family_arguments,
            "include_top": self.include_top,
            "input_shape": self.model_input_shape,
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "classifier_activation": self.classifier_activation,
            **{key: getattr(self, key) for key in self.block_options},
            "kernel_regularizer": regularizer,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "data_format": self.data_format,
        }

    def get_config(self):
        # Each family returns `self.config_with(<its own arguments>)`.
        return self.config_with()


def _named_parameters(fn):
    params = inspect.signature(fn).parameters.values()
    return tuple(
        p.name
        for p in params
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def model_argument_names(cls, builder=None):
    """The keyword arguments the model class `cls` accepts.

    Args:
        cls: a model class whose `__init__` ends in `**kwargs`.
        builder: optional function that builds `cls` (e.g. `cifar_resnet`);
            its own named parameters come first.

    Returns:
        Tuple of str: the named parameters of `builder` and of
        `cls.__init__` in signature order, the shared options of a
        `FamilyModel`, then the keras.Model ones passed through `**kwargs`.
    """
    names = (_named_parameters(builder) if builder else ()) + _named_parameters(cls.__init__)
    if issubclass(cls, FamilyModel):
        names += cls.option_names()
    names += KERAS_MODEL_KWARGS
    return tuple(dict.fromkeys(names))


def check_model_kwargs(cls, kwargs, owner=None):
    """Raises a TypeError for `**kwargs` that keras.Model would silently ignore.

    Args:
        cls: the model class whose `__init__` received `kwargs`.
        kwargs: dict, the constructor's `**kwargs` (less the shared options
            of a `FamilyModel`, see `FamilyModel.take_options`).
        owner: str, the class named in the message; default `cls.__name__`.
    """
    unknown = [k for k in kwargs if k not in KERAS_MODEL_KWARGS]
    if unknown:
        raise unknown_arguments_error(unknown, model_argument_names(cls), owner or cls.__name__)


def builds(model_cls, builder=None, fixed=(), search_space=None):
    """Marks a registry entrypoint as building `model_cls`, so that
    `create_model` and configs can check keyword arguments without building.

    Args:
        model_cls: the model class the entrypoint returns.
        builder: the function the entrypoint calls, when its named
            parameters (e.g. `cifar_resnet`'s `preactivation`) are valid
            arguments too.
        fixed: argument names the entrypoint sets itself (the registered
            name fixes them; passing them is an error).
        search_space: for a family name (`family=True`), what
            `keras-resnets tune` varies: a dict of plain data that
            `keras_resnets.spaces.families` reads (its keys are listed
            there); the entrypoint is the family's generic entry.

    Returns:
        A decorator that sets `model_class`, `model_builder`,
        `fixed_arguments` and `search_space` on the entrypoint.
    """

    def decorator(fn):
        fn.model_class = model_cls
        fn.model_builder = builder
        fn.fixed_arguments = tuple(fixed)
        fn.search_space = search_space
        return fn

    return decorator


def resolve_num_classes(num_classes, classes, default):
    """`num_classes` with keras.applications' `classes` accepted as alias."""
    if num_classes is not None and classes is not None and num_classes != classes:
        raise UserValueError(
            "Pass either `num_classes` or its alias `classes`, not both. "
            f"Received: num_classes={num_classes}, classes={classes}"
        )
    value = num_classes if num_classes is not None else classes
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserValueError(
            f"`num_classes` must be a positive integer. Received: num_classes={value!r}"
        )
    return value


def apply_cifar_stem(x, filters, *, bn=True, options):
    """conv3x3(filters) [+ BN + ReLU] as in the CIFAR ResNets."""
    x = make_conv(filters, 3, name="stem_conv", **options.conv_kwargs())(x)
    if bn:
        x = options.batch_norm("stem_bn")(x)
        x = options.relu("stem_relu")(x)
    return x


def apply_imagenet_stem(x, filters=64, *, bn=True, use_bias=False, options):
    """7x7/2 conv [+ BN + ReLU] + 3x3/2 max-pool (He 2015 Table 1), with
    symmetric padding as in the reference implementations."""
    df, dt = options.data_format, options.dtype
    x = keras.layers.ZeroPadding2D(3, data_format=df, dtype=dt, name="stem_pad")(x)
    conv_kwargs = options.conv_kwargs()
    x = make_conv(filters, 7, strides=2, use_bias=use_bias, name="stem_conv", **conv_kwargs)(x)
    if bn:
        x = options.batch_norm("stem_bn")(x)
        x = options.relu("stem_relu")(x)
    x = keras.layers.ZeroPadding2D(1, data_format=df, dtype=dt, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, data_format=df, dtype=dt, name="stem_pool")(x)
