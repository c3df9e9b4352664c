"""Shared model builder pieces: inputs, stems, stages, heads, validation."""

import collections
import difflib
import inspect

import keras

from keras_resnets.layers._utils import channel_axis
from keras_resnets.layers._utils import check_rate
from keras_resnets.layers._utils import standardize_data_format
from keras_resnets.layers.conv import make_batch_norm
from keras_resnets.layers.conv import make_conv
from keras_resnets.layers.regularization import drop_path_rates
from keras_resnets.layers.regularization import shakedrop_probabilities

POOLING_OPTIONS = (None, "avg", "max")
# keras.Model keyword arguments the model classes pass on through `**kwargs`
# (`name` and `dtype` are named constructor arguments). keras' Functional
# ignores any other keyword silently, so the constructors reject the rest.
KERAS_MODEL_KWARGS = ("trainable",)


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
        `cls.__init__` in signature order, then the keras.Model ones passed
        through `**kwargs`.
    """
    names = (_named_parameters(builder) if builder else ()) + _named_parameters(cls.__init__)
    names += KERAS_MODEL_KWARGS
    return tuple(dict.fromkeys(names))


def unknown_arguments_error(unknown, valid, owner, prefix=""):
    """A TypeError naming the unknown keyword arguments, keras-style.

    Args:
        unknown: list of str, the unknown argument names.
        valid: sequence of str, the valid argument names.
        owner: str, what received them (e.g. "WideResNet").
        prefix: str put before argument names (e.g. "model." in configs).

    Returns:
        A TypeError such as "Unknown argument `dropout` for WideResNet. Did
        you mean `dropout_rate`? Valid arguments: depth, k, ...".
    """
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
        if close:
            hints.append((key, close[0]))
    names = ", ".join(f"`{prefix}{k}`" for k in unknown)
    plural = "s" if len(unknown) > 1 else ""
    message = f"Unknown argument{plural} {names} for {owner}."
    if len(unknown) == 1 and hints:
        message += f" Did you mean `{prefix}{hints[0][1]}`?"
    elif hints:
        message += " Did you mean " + ", ".join(
            f"`{prefix}{c}` for `{prefix}{k}`" for k, c in hints
        ) + "?"
    return TypeError(f"{message} Valid arguments: {', '.join(valid)}.")


def check_model_kwargs(cls, kwargs, owner=None):
    """Raises a TypeError for `**kwargs` that keras.Model would silently ignore.

    Args:
        cls: the model class whose `__init__` received `kwargs`.
        kwargs: dict, the constructor's `**kwargs`.
        owner: str, the class named in the message; default `cls.__name__`.
    """
    unknown = [k for k in kwargs if k not in KERAS_MODEL_KWARGS]
    if unknown:
        raise unknown_arguments_error(unknown, model_argument_names(cls), owner or cls.__name__)


def builds(model_cls, builder=None, fixed=()):
    """Marks a registry entrypoint as building `model_cls`, so that
    `create_model` and configs can check keyword arguments without building.

    Args:
        model_cls: the model class the entrypoint returns.
        builder: the function the entrypoint calls, when its named
            parameters (e.g. `cifar_resnet`'s `preactivation`) are valid
            arguments too.
        fixed: argument names the entrypoint sets itself (the registered
            name fixes them; passing them is an error).

    Returns:
        A decorator that sets `model_class`, `model_builder` and
        `fixed_arguments` on the entrypoint.
    """

    def decorator(fn):
        fn.model_class = model_cls
        fn.model_builder = builder
        fn.fixed_arguments = tuple(fixed)
        return fn

    return decorator


def resolve_num_classes(num_classes, classes, default):
    """`num_classes` with keras.applications' `classes` accepted as alias."""
    if num_classes is not None and classes is not None and num_classes != classes:
        raise ValueError(
            "Pass either `num_classes` or its alias `classes`, not both. "
            f"Received: num_classes={num_classes}, classes={classes}"
        )
    value = num_classes if num_classes is not None else classes
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`num_classes` must be a positive integer. Received: num_classes={value!r}"
        )
    return value


def make_inputs(input_shape, default_size, data_format, min_size, family, input_tensor=None):
    """Creates the `keras.Input`, checking the spatial size against `min_size`."""
    if input_shape is None:
        input_shape = (
            (default_size, default_size, 3)
            if data_format == "channels_last"
            else (3, default_size, default_size)
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels) (or channels "
            f"first). Received: input_shape={input_shape}"
        )
    spatial = input_shape[:2] if data_format == "channels_last" else input_shape[1:]
    for size in spatial:
        if size is not None and size < min_size:
            raise ValueError(
                f"{family} needs inputs of at least {min_size}x{min_size} "
                f"pixels (its stem and stages downsample by {min_size}). "
                f"Received: input_shape={input_shape}"
            )
    if input_tensor is not None:
        return input_tensor
    return keras.Input(shape=input_shape, name="input")


def apply_cifar_stem(x, filters, *, bn=True, config):
    """conv3x3(filters) [+ BN + ReLU] as in the CIFAR ResNets."""
    x = make_conv(filters, 3, name="stem_conv", **config.conv_kwargs())(x)
    if bn:
        x = config.batch_norm("stem_bn")(x)
        x = keras.layers.Activation("relu", dtype=config.dtype, name="stem_relu")(x)
    return x


def apply_imagenet_stem(x, filters=64, *, bn=True, use_bias=False, config):
    """7x7/2 conv [+ BN + ReLU] + 3x3/2 max-pool (He 2015 Table 1), with
    symmetric padding as in the reference implementations."""
    df, dt = config.data_format, config.dtype
    x = keras.layers.ZeroPadding2D(3, data_format=df, dtype=dt, name="stem_pad")(x)
    conv_kwargs = config.conv_kwargs()
    x = make_conv(filters, 7, strides=2, use_bias=use_bias, name="stem_conv", **conv_kwargs)(x)
    if bn:
        x = config.batch_norm("stem_bn")(x)
        x = keras.layers.Activation("relu", dtype=dt, name="stem_relu")(x)
    x = keras.layers.ZeroPadding2D(1, data_format=df, dtype=dt, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, data_format=df, dtype=dt, name="stem_pool")(x)


def apply_head(x, *, include_top, pooling, num_classes, classifier_activation, config):
    """Global pooling and the classifier, keras.applications-style."""
    df, dt = config.data_format, config.dtype
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(data_format=df, dtype=dt, name="avg_pool")(x)
        return keras.layers.Dense(
            num_classes,
            activation=classifier_activation,
            kernel_regularizer=config.kernel_regularizer,
            bias_regularizer=config.kernel_regularizer,
            dtype=dt,
            name="predictions",
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(data_format=df, dtype=dt, name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(data_format=df, dtype=dt, name="max_pool")(x)
    return x


def check_pooling(pooling):
    if pooling not in POOLING_OPTIONS:
        raise ValueError(
            "`pooling` must be None, 'avg' or 'max'. Received: pooling="
            f"{pooling!r}"
        )


class BuildConfig:
    """Settings every sub-layer of a model shares."""

    def __init__(
        self,
        *,
        data_format=None,
        dtype=None,
        kernel_regularizer=None,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
    ):
        self.data_format = standardize_data_format(data_format)
        self.dtype = dtype
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon

    def conv_kwargs(self):
        return {
            "kernel_regularizer": self.kernel_regularizer,
            "data_format": self.data_format,
            "dtype": self.dtype,
        }

    def block_kwargs(self):
        return {
            "kernel_regularizer": self.kernel_regularizer,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "data_format": self.data_format,
            "dtype": self.dtype,
        }

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


def blocks_per_stage(depth, *, family, layers_per_block, extra_layers=2, rule="", examples):
    """The blocks per stage `n` of a 3-stage CIFAR network of depth `depth`.

    Such a network has `3 * layers_per_block * n + extra_layers` weighted
    layers (He 2015: `6n+2`; bottleneck blocks: `9n+2`; WRN: `6n+4`).

    Args:
        depth: the depth received.
        family: str, the name the error message starts with.
        layers_per_block: int, weighted layers in one block.
        extra_layers: int, the layers outside the blocks (stem, classifier,
            and WRN's projections).
        rule: str, what fixes `layers_per_block`, put after the rule (e.g.
            " for block_type='basic'").
        examples: str, valid depths shown in the message.

    Returns:
        int `n >= 1`.

    Raises:
        ValueError: "WRN depth must be 6n+4 for block_type (3, 3) (e.g. 10,
            16, 22, 28, 34, 40). Received: depth=27" when `depth` is no such
            integer.
    """
    step = 3 * layers_per_block
    if not fits_depth(depth, step, extra_layers):
        raise ValueError(
            f"{family} depth must be {step}n+{extra_layers}{rule} (e.g. {examples}). "
            f"Received: depth={depth!r}"
        )
    return (depth - extra_layers) // step


def fits_depth(depth, step, extra_layers):
    """Whether `depth` is an integer `step * n + extra_layers` with `n >= 1`."""
    return (
        isinstance(depth, int)
        and not isinstance(depth, bool)
        and depth >= step + extra_layers
        and (depth - extra_layers) % step == 0
    )


class BlockSpec(collections.namedtuple(
    "BlockSpec", ["stage", "block", "index", "filters", "strides", "drop_path_rate",
                  "shakedrop_p", "name"],
)):
    """What one residual block of a network gets from its schedule.

    Fields: `stage` and `block` (0-based position), `index` (0-based over
    the whole network), `filters`, `strides`, `drop_path_rate`,
    `shakedrop_p` (None without ShakeDrop) and `name` (`stage{s}_block{b}`,
    1-based).
    """

    def seed(self, seed):
        """The seed of this block's random layers: `seed + index`, or None."""
        return None if seed is None else seed + self.index


def block_schedule(
    stackwise_num_blocks,
    stackwise_strides,
    *,
    stackwise_num_filters=None,
    block_filters=None,
    downsample_last=False,
    drop_path_rate=0.0,
    shakedrop_p_last=None,
):
    """Every block's settings, computed once for the whole network.

    The stride of a stage goes on its first block (He 2015/2016, WRN) or,
    with `downsample_last`, on its last block (keras.applications' ResNet
    V2). Stochastic depth decays linearly over all `L` blocks (Huang 2016:
    block `l` gets `drop_path_rate * l / L`), and so does ShakeDrop's keep
    probability (Yamada 2018: `p_l = 1 - l/L * (1 - p_L)`).

    Args:
        stackwise_num_blocks: list of int, blocks per stage.
        stackwise_strides: list of int, stride of each stage.
        stackwise_num_filters: list of int, filters of each stage's blocks.
        block_filters: list of int, filters of each block (PyramidNet's
            growing widths), instead of `stackwise_num_filters`.
        downsample_last: bool, stride on the last block of a stage.
        drop_path_rate: float in [0, 1), stochastic depth of the last block.
        shakedrop_p_last: None (no ShakeDrop) or float in [0, 1], `p_L`.

    Returns:
        A list of `BlockSpec`, one per block, in network order.
    """
    total = sum(stackwise_num_blocks)
    check_rate("drop_path_rate", drop_path_rate)
    rates = drop_path_rates(total, drop_path_rate)
    if shakedrop_p_last is None:
        probs = [None] * total
    else:
        check_rate("shakedrop_p_last", shakedrop_p_last, allow_one=True)
        probs = shakedrop_probabilities(total, shakedrop_p_last)
    schedule = []
    for s, (n, stride) in enumerate(zip(stackwise_num_blocks, stackwise_strides)):
        for b in range(n):
            i = len(schedule)
            strided = b == (n - 1 if downsample_last else 0)
            schedule.append(
                BlockSpec(
                    stage=s,
                    block=b,
                    index=i,
                    filters=block_filters[i] if block_filters else stackwise_num_filters[s],
                    strides=stride if strided else 1,
                    drop_path_rate=rates[i],
                    shakedrop_p=probs[i],
                    name=f"stage{s + 1}_block{b + 1}",
                )
            )
    return schedule


def apply_stages(x, block_fn, schedule):
    """Applies one block per entry of `schedule` (see `block_schedule`).

    Args:
        x: the stem's output.
        block_fn: function of a `BlockSpec` returning the block layer.
        schedule: list of `BlockSpec`.

    Returns:
        The output of the last block.
    """
    for spec in schedule:
        x = block_fn(spec)(x)
    return x


def check_stackwise(num_blocks, num_filters, strides):
    lengths = {len(num_blocks), len(num_filters), len(strides)}
    if len(lengths) != 1:
        raise ValueError(
            "`stackwise_num_blocks`, `stackwise_num_filters` and "
            "`stackwise_strides` must have the same length. Received: "
            f"stackwise_num_blocks={num_blocks}, stackwise_num_filters="
            f"{num_filters}, stackwise_strides={strides}"
        )
    for n in num_blocks:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(
                "Every stage needs at least one block. Received: "
                f"stackwise_num_blocks={num_blocks}"
            )


def model_channel_axis(config):
    return channel_axis(config.data_format)


def store_common_config(
    model, inputs, config, *, include_top, num_classes, pooling, classifier_activation
):
    """Sets the constructor arguments every model family shares on `model`."""
    model.include_top = include_top
    model.model_input_shape = tuple(inputs.shape[1:])
    model.num_classes = num_classes
    model.pooling = pooling
    model.classifier_activation = classifier_activation
    model.kernel_regularizer = config.kernel_regularizer
    model.bn_momentum = config.bn_momentum
    model.bn_epsilon = config.bn_epsilon
    model.data_format = config.data_format


def common_config(model, family_config):
    """`get_config` of a model: its family's arguments plus the shared ones."""
    regularizer = model.kernel_regularizer
    return {
        "name": model.name,
        "trainable": model.trainable,
        **family_config,
        "include_top": model.include_top,
        "input_shape": model.model_input_shape,
        "num_classes": model.num_classes,
        "pooling": model.pooling,
        "classifier_activation": model.classifier_activation,
        "kernel_regularizer": keras.regularizers.serialize(regularizer) if regularizer else None,
        "bn_momentum": model.bn_momentum,
        "bn_epsilon": model.bn_epsilon,
        "data_format": model.data_format,
    }
