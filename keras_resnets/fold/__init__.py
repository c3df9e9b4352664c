"""Batch-norm folding for inference: `fold_batch_norm(model)`.

At inference a BatchNormalization layer is a fixed per-channel affine map,
`y = gamma * (x - mean) / sqrt(var + eps) + beta`. When `x` is the output of
a convolution that nothing else reads, the map can be moved into the
convolution's weights, output channel `c` by output channel:

    s_c = gamma_c / sqrt(var_c + eps)
    W'[..., c] = W[..., c] * s_c
    b'_c = beta_c + (b_c - mean_c) * s_c        (b = 0 for a conv without bias)

and the BN disappears: one pass over the activations less per pair.

The package's models build their conv-BN pairs inside residual-block layers
(`ResNetBlock`, `PreActBlock`, `Shortcut`, `PyramidBlock`, ...), so
`fold_batch_norm` first inlines every layer that holds a BatchNormalization:
it calls the layer's `call` on symbolic tensors, which records its
sub-layers and `keras.ops` as nodes of a flat functional graph (sub-layers
named `{block}_{sub-layer}`, e.g. `stage1_block1_conv1`). On that graph a
BN folds when its input comes straight from a `Conv2D` without activation
whose output it alone reads. Everything else stays as it was, in inference
mode: pre-activation BNs (BN-ReLU-conv), BNs after an addition or a
concatenation (the Shake-Shake shortcut), BNs behind a dropout.

`python -m keras_resnets.fold MODEL [MODEL ...]` times registered models
before and after folding (`benchmark_folding`).
"""

import argparse
import inspect
import json
import time
import warnings

import keras
import numpy as np

_MAX_INLINE_PASSES = 16


def fold_batch_norm(model):
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

    Args:
        model: a functional or Sequential `keras.Model`, built (e.g. a
            model from `keras_resnets.create_model`).

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
    view = _functional_view(model)
    flat = _inline(view)
    pairs = _foldable_pairs(flat)
    skipped = {id(bn) for _, bn in pairs.values()}

    def clone_function(operation):
        if id(operation) in skipped:
            return operation  # never called: its input passes through
        if id(operation) in pairs:
            return _folded_conv(*pairs[id(operation)])
        return _copy(operation)

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
        raise ValueError(
            "Invalid value received for argument `model`. Expected a "
            f"functional or Sequential keras.Model. Received: model={model!r}"
        )
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
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


def _folded_conv(conv, bn):
    """A copy of `conv` with `bn`'s inference affine map in its weights."""
    as_array = lambda v: np.asarray(keras.ops.convert_to_numpy(v), dtype="float64")
    mean, variance = as_array(bn.moving_mean), as_array(bn.moving_variance)
    gamma = as_array(bn.gamma) if bn.scale else np.ones_like(mean)
    beta = as_array(bn.beta) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    kernel = as_array(conv.kernel) * scale
    bias = as_array(conv.bias) if conv.use_bias else np.zeros_like(mean)
    bias = beta + (bias - mean) * scale

    config = conv.get_config()
    config.update(use_bias=True, bias_initializer="zeros")
    folded = type(conv).from_config(config)
    folded.build_from_config(conv.get_build_config())
    folded.set_weights(
        [kernel.astype(folded.kernel.dtype), bias.astype(folded.bias.dtype)]
    )
    return folded


def _copy(operation):
    """A new operation with the same config and weights."""
    if not isinstance(operation, keras.layers.Layer):
        return type(operation).from_config(operation.get_config())
    copy = type(operation).from_config(operation.get_config())
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


# === Benchmark: python -m keras_resnets.fold MODEL ===


def benchmark_folding(
    model, *, batch_size=128, image_size=None, steps=10, warmup=2, repeats=3,
    jit_compile=None,
):
    """Inference images/s of a model before and after folding.

    Both models run `predict_on_batch` on the same in-memory float32 batch
    in one process, call by call in alternating order, so that a busy
    machine slows both alike; `repeats` rounds of `steps` calls each give
    one images/s figure per model per round. Speed does not depend on the
    BN statistics, so a freshly built registered model is as good as a
    trained one.

    Args:
        model: a registered model name (built with a linear classifier), or
            a functional/Sequential `keras.Model` (not compiled or changed:
            a functional view of its graph is what runs).
        batch_size: int. Defaults to 128.
        image_size: int, for a model name; default 224 for ImageNet models,
            else 32.
        steps: int, timed calls per round.
        warmup: int, untimed calls per model first.
        repeats: int, rounds.
        jit_compile: bool or None (then
            `keras_resnets.runtime.default_jit_compile()`).

    Returns:
        dict: model, backend, processor, batch_size, input_shape,
        batch_norms (in the model), folded_batch_norms (how many
        disappeared), original_images_per_s and folded_images_per_s (one
        number per round), speedup (median over the rounds of folded /
        original), max_abs_diff (between the two models' outputs on the
        batch).
    """
    import keras_resnets
    from keras_resnets.runtime import default_jit_compile
    from keras_resnets.runtime import processor_info

    for arg, value in (("batch_size", batch_size), ("steps", steps), ("warmup", warmup),
                       ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Invalid value received for argument `{arg}`. Expected an "
                f"integer >= 1. Received: {arg}={value!r}"
            )
    if isinstance(model, str):
        spec = keras_resnets.get_spec(model)
        size = image_size or (224 if spec.dataset == "imagenet" else 32)
        model = keras_resnets.create_model(
            spec.name, input_shape=(size, size, 3), classifier_activation="linear"
        )
        name = spec.name
    else:
        name = getattr(model, "name", None)
    if jit_compile is None:
        jit_compile = default_jit_compile()
    original = _functional_view(model)
    folded = fold_batch_norm(model)
    input_shape = tuple(original.input_shape[1:])
    x = np.random.default_rng(0).random((batch_size,) + input_shape, dtype=np.float32)
    runs = {"original": original, "folded": folded}
    for m in runs.values():
        m.compile(jit_compile=jit_compile)
        for _ in range(warmup):
            m.predict_on_batch(x)
    rates = {key: [] for key in runs}
    for _ in range(repeats):
        seconds = {key: 0.0 for key in runs}
        for step in range(steps):
            # Call by call, in alternating order: a change in the machine's
            # load hits both models alike.
            for key in runs if step % 2 == 0 else reversed(list(runs)):
                start = time.perf_counter()
                np.asarray(runs[key].predict_on_batch(x))
                seconds[key] += time.perf_counter() - start
        for key in runs:
            rates[key].append(round(batch_size * steps / seconds[key], 1))
    diff = np.abs(
        np.asarray(original.predict_on_batch(x)) - np.asarray(folded.predict_on_batch(x))
    ).max()
    total = count_batch_norms(model)
    return {
        "model": name,
        "backend": keras.backend.backend(),
        "processor": processor_info()["name"],
        "batch_size": batch_size,
        "input_shape": input_shape,
        "batch_norms": total,
        "folded_batch_norms": total - count_batch_norms(folded),
        "original_images_per_s": rates["original"],
        "folded_images_per_s": rates["folded"],
        "speedup": round(
            float(np.median(np.divide(rates["folded"], rates["original"]))), 3
        ),
        "max_abs_diff": float(diff),
    }


def main(argv=None):
    """`python -m keras_resnets.fold MODEL [MODEL ...]`: prints one line per
    model with images/s before and after folding."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_resnets.fold",
        description="Inference images/s of registered models before and after "
        "fold_batch_norm, measured back to back in one process.",
    )
    parser.add_argument("model", nargs="+", help="registered model name(s)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input size (default 32 for CIFAR models, 224 for ImageNet)")
    parser.add_argument("--steps", type=int, default=10, help="timed calls per round and model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--repeats", type=int, default=3, help="rounds")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args(argv)
    for name in args.model:
        result = benchmark_folding(
            name, batch_size=args.batch, image_size=args.image_size, steps=args.steps,
            warmup=args.warmup, repeats=args.repeats,
        )
        if args.json:
            print(json.dumps(result))
            continue
        fmt = lambda rates: "/".join(f"{r:,.0f}" for r in rates)
        print(
            f"{result['model']} ({result['backend']}, {result['processor']}, batch "
            f"{result['batch_size']} of {'x'.join(map(str, result['input_shape']))}): "
            f"{result['folded_batch_norms']} of {result['batch_norms']} BNs folded; "
            f"images/s {fmt(result['original_images_per_s'])} -> "
            f"{fmt(result['folded_images_per_s'])} ({result['speedup']}x); "
            f"max abs diff {result['max_abs_diff']:.1e}"
        )
    return 0

