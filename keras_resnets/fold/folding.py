"""`fold_batch_norm`: the graph rewriting (see the package docstring)."""

import inspect
import warnings

import keras
import numpy as np

from keras_resnets.errors import UserValueError

_MAX_INLINE_PASSES = 16
DTYPES = ("float32", "bfloat16", "float16", "mixed_bfloat16", "mixed_float16")
_LOW_PRECISION = ("bfloat16", "float16")


def fold_batch_norm(model, dtype=None):
    """A new inference model with each BN that follows a conv folded into it.

    Every BatchNormalization (Keras's or a subclass such as
    `keras_resnets.layers.BatchNormalization`) whose input is the output of
    a `keras.layers.Conv2D` without activation, read by that BN alone, is
    merged into the conv's kernel and bias (see the module docstring) and
    removed from the graph. BNs that cannot fold stay, and so does every
    other layer. Layers holding BNs (residual blocks) are inlined into the
    graph, so the result is a plain functional `keras.Model` of built-in
    layers, `keras.ops` and the package's parameter-free layers: it saves
    as `.keras` and loads with `safe_mode=True`.

    The new model is for inference only: every layer is called with
    `training=False` and the model is frozen (`trainable=False`). The
    original model is not modified. Any dtype policy works: the folding
    arithmetic is done in float64 and stored in the conv's variable dtype
    (float32 under the mixed policies).

    With `dtype="bfloat16"` (or `"float16"`) the result is a true
    low-precision inference model: every layer computes in that dtype and
    holds its weights in it, cast once after folding, instead of casting
    float32 weights at every call as the mixed policies do. Only the layers
    that produce the model's outputs (the classifier) keep float32, so
    predictions come back as float32.

    Args:
        model: a functional or Sequential `keras.Model`, built (e.g. a
            model from `keras_resnets.create_model`).
        dtype: None (keep every layer's dtype policy) or the dtype policy
            of the folded model: "float32", "bfloat16", "float16",
            "mixed_bfloat16" or "mixed_float16".

    Returns:
        keras.Model: the folded model, named `{model.name}_folded`. It
        computes the same outputs as `model(x, training=False)` up to
        float rounding.

    Example:
    >>> model = keras_resnets.create_model("resnet-20")
    >>> folded = keras_resnets.fold_batch_norm(model)
    >>> from keras_resnets.fold import count_batch_norms
    >>> count_batch_norms(model), count_batch_norms(folded)
    (19, 0)
    >>> folded.save("resnet-20_folded.keras")
    """
    if dtype is not None and dtype not in DTYPES:
        raise UserValueError(
            "Invalid value received for argument `dtype`. Expected None or one "
            f"of {', '.join(map(repr, DTYPES))}. Received: dtype={dtype!r}"
        )
    view = _functional_view(model)
    flat = _inline(view)
    pairs = _foldable_pairs(flat)
    skipped = {id(bn) for _, bn in pairs.values()}
    outputs = {id(tensor._keras_history.operation) for tensor in flat.outputs}

    def clone_function(operation):
        if id(operation) in skipped:
            return operation  # never called: its input passes through
        layer_dtype = dtype
        if dtype in _LOW_PRECISION and id(operation) in outputs:
            layer_dtype = "float32"
        if id(operation) in pairs:
            return _folded_conv(*pairs[id(operation)], dtype=layer_dtype)
        return _copy(operation, dtype=layer_dtype)

    def call_function(operation, *args, **kwargs):
        if id(operation) in skipped:
            return args[0]
        return operation(*args, **kwargs)

    rebuilt = keras.models.clone_model(
        flat, clone_function=clone_function, call_function=call_function
    )
    folded = keras.Model(rebuilt.input, rebuilt.output, name=f"{model.name}_folded")
    folded.trainable = False
    return folded


def count_batch_norms(model):
    """Number of BatchNormalization layers in `model`, nested ones included.

    Args:
        model: a `keras.Model` or layer.

    Returns:
        int.
    """
    return sum(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in model._flatten_layers(include_self=True, recursive=True)
    )


# === Graph rewriting ===


def _functional_view(model):
    """An uncompiled functional model over `model`'s own graph (no copy)."""
    if not isinstance(model, keras.Model):
        raise UserValueError(
            "Invalid value received for argument `model`. Expected a "
            f"functional or Sequential keras.Model. Received: model={model!r}"
        )
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise UserValueError(
            "Invalid value received for argument `model`. Expected a built "
            "functional or Sequential keras.Model (a subclassed model has no "
            f"graph to rewrite). Received: model={model.name!r} of class "
            f"{type(model).__name__}"
        )
    if isinstance(model, keras.Sequential):  # one input, one output
        return keras.Model(inputs[0], outputs[0], name=model.name)
    # The nested structures, so that the folded model takes and returns the same.
    return keras.Model(model.input, model.output, name=model.name)


def _inline(model):
    """Copies `model`, inlining every layer that holds a BatchNormalization
    (recursively) so that conv-BN pairs become nodes of one flat graph."""
    opaque = set()
    renamed = set()

    def call_function(operation, *args, **kwargs):
        if _takes_training(operation) and kwargs.get("training") is None:
            kwargs["training"] = False
        if not _holds_batch_norm(operation) or id(operation) in opaque:
            return operation(*args, **kwargs)
        if id(operation) not in renamed:
            renamed.add(id(operation))
            for layer in operation._flatten_layers(include_self=False, recursive=False):
                layer.name = f"{operation.name}_{layer.name}"
        try:
            return operation.call(*args, **kwargs)
        except Exception as error:  # a call that cannot run on symbolic tensors
            opaque.add(id(operation))
            warnings.warn(
                f"fold_batch_norm: cannot inline layer {operation.name!r} "
                f"({type(error).__name__}: {error}); its BatchNormalization "
                "layers stay unfolded.",
                stacklevel=3,
            )
            return operation(*args, **kwargs)

    flat = keras.models.clone_model(model, clone_function=_copy, call_function=call_function)
    for _ in range(_MAX_INLINE_PASSES):
        if not any(
            _holds_batch_norm(op) and id(op) not in opaque for op in flat.operations
        ):
            return flat
        # Later passes only rewire the copies made by the first one.
        flat = keras.models.clone_model(
            flat, clone_function=lambda op: op, call_function=call_function
        )
    return flat


def _foldable_pairs(model):
    """`{id(conv): (conv, bn)}` for the conv-BN pairs of `model` that fold."""
    nodes = [node for depth in model._nodes_by_depth.values() for node in depth]
    readers = {}
    for node in nodes:
        for tensor in node.arguments.keras_tensors:
            readers[id(tensor)] = readers.get(id(tensor), 0) + 1
    for tensor in model.outputs:
        readers[id(tensor)] = readers.get(id(tensor), 0) + 1
    calls = {}
    for node in nodes:
        calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1

    pairs = {}
    for node in nodes:
        bn = node.operation
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        args, kwargs = node.arguments.args, node.arguments.kwargs
        if (
            len(args) != 1
            or set(kwargs) - {"training", "mask"}
            or kwargs.get("training")
            or kwargs.get("mask") is not None
        ):
            continue
        tensor = args[0]
        if not isinstance(tensor, keras.KerasTensor):
            continue
        conv = tensor._keras_history.operation
        if (
            type(conv) is not keras.layers.Conv2D
            or keras.activations.serialize(conv.activation) != "linear"
            or getattr(conv, "quantization_mode", None)  # int8/float8 kernels
            or getattr(conv, "lora_enabled", False)
            or calls[id(conv)] != 1
            or calls[id(bn)] != 1
            or readers[id(tensor)] != 1
            or bn.axis % 4 != (3 if conv.data_format == "channels_last" else 1)
        ):
            continue
        pairs[id(conv)] = (conv, bn)
    return pairs


def _folded_conv(conv, bn, dtype=None):
    """A copy of `conv` with `bn`'s inference affine map in its weights
    (and the dtype policy `dtype`, when given)."""
    as_array = lambda v: np.asarray(keras.ops.convert_to_numpy(v), dtype="float64")
    mean, variance = as_array(bn.moving_mean), as_array(bn.moving_variance)
    gamma = as_array(bn.gamma) if bn.scale else np.ones_like(mean)
    beta = as_array(bn.beta) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    kernel = as_array(conv.kernel) * scale
    bias = as_array(conv.bias) if conv.use_bias else np.zeros_like(mean)
    bias = beta + (bias - mean) * scale

    config = _config(conv, dtype)
    config.update(use_bias=True, bias_initializer="zeros")
    folded = type(conv).from_config(config)
    folded.build_from_config(conv.get_build_config())
    # float64 -> float32 (float64 models keep float64); the assignment then
    # casts to a bfloat16/float16 variable.
    wide = "float64" if folded.kernel.dtype == "float64" else "float32"
    folded.set_weights([kernel.astype(wide), bias.astype(wide)])
    return folded


def _config(operation, dtype):
    config = operation.get_config()
    if dtype is not None and "dtype" in config:
        config["dtype"] = dtype
    return config


def _copy(operation, dtype=None):
    """A new operation with the same config and weights (and the dtype
    policy `dtype`, when given)."""
    if not isinstance(operation, keras.layers.Layer):
        return type(operation).from_config(operation.get_config())
    copy = type(operation).from_config(_config(operation, dtype))
    build_config = operation.get_build_config()
    if build_config:
        copy.build_from_config(build_config)
    if operation.weights:
        copy.set_weights(operation.get_weights())
    return copy


def _takes_training(operation):
    if not isinstance(operation, keras.layers.Layer):
        return False
    return "training" in inspect.signature(operation.call).parameters


def _holds_batch_norm(operation):
    if not isinstance(operation, keras.layers.Layer) or isinstance(
        operation, keras.layers.BatchNormalization
    ):
        return False
    return any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in operation._flatten_layers(include_self=False, recursive=True)
    )
