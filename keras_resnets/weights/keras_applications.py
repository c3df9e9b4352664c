"""keras.applications' ImageNet ResNet weights, mapped onto our models.

keras.applications ships ImageNet weights for ResNet50/101/152 (v1,
https://arxiv.org/abs/1512.03385) and ResNet50V2/101V2/152V2 (v2,
https://arxiv.org/abs/1603.05027). Our registered `resnet-50` ... `resnet-152`
and `resnet-50-v2` ... `resnet-152-v2` compute the same functions, so the
weights transfer exactly:

- the file is loaded into the keras.applications model itself (built with
  `weights=None`), so every format `load_weights` reads works: Keras 3
  `.weights.h5` files and the legacy `.h5` files keras.applications
  distributes (matched by layer order);
- its layers are then copied onto ours by name: `conv1_conv` -> `stem_conv`,
  `conv{s+1}_block{b}_{i}_conv` -> `stage{s}_block{b}.convs[i-1]`,
  `_0_conv`/`_0_bn` -> `.shortcut.conv`/`.shortcut.bn`, v2 `preact_bn` ->
  `.bns[0]`, `post_bn`, `predictions`;
- our v1 convolutions have no bias (each is followed by BN), so a bias `c`
  is folded into the next BN: `BN(Wx + c)` with moving mean `mu` equals
  `BN(Wx)` with moving mean `mu - c`;
- keras.applications' BN epsilon (1.001e-5) differs from ours (1e-5); the
  difference is added to the moving variance, `var' = var + eps_k - eps`,
  so `var' + eps = var + eps_k` and inference matches exactly.
"""

import os
import re
import warnings

import keras
import numpy as np
from keras import ops

from keras_resnets.weights._layout import is_instance
from keras_resnets.weights._layout import settings_mismatches
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# (include_top file hash, notop file hash), as in keras.applications.
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
# stackwise_num_blocks -> depth of the keras.applications bottleneck ResNets.
DEPTHS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
IMAGENET_CLASSES = 1000
SUPPORTED = (
    "resnet-50, resnet-101, resnet-152 (keras.applications ResNet50/101/152) "
    "and resnet-50-v2, resnet-101-v2, resnet-152-v2 (ResNet50V2/101V2/152V2)"
)
_BLOCK_LAYER = re.compile(r"^conv(\d+)_block(\d+)_(preact|\d)_(conv|bn)$")


def weights_file_name(depth, preactivation, include_top):
    """keras.applications' file name for a model, e.g.
    `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`."""
    key = f"resnet{depth}{'v2' if preactivation else ''}"
    suffix = "" if include_top else "_notop"
    return f"{key}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"


def keras_applications_name(depth, preactivation):
    """`ResNet50`, `ResNet101V2`, ...: the keras.applications constructor."""
    return f"ResNet{depth}{'V2' if preactivation else ''}"


def _layout_errors(model, preactivation):
    """The settings of `model` that differ from the keras.applications layout."""
    expected = {
        "stem": "imagenet",
        "block_type": "bottleneck",
        "stem_filters": 64,
        "stackwise_num_filters": [64, 128, 256, 512],
        "groups": 1,
        "shortcut": "B",
        "se_ratio": None,
    }
    if preactivation:
        expected.update(
            stackwise_strides=[2, 2, 2, 1],
            downsample_last=True,
            stride_index=1,
            residual_bias=True,
        )
    else:
        expected.update(stackwise_strides=[1, 2, 2, 2], downsample_last=False, stride_index=0)
    errors = settings_mismatches(model, expected)
    blocks = tuple(getattr(model, "stackwise_num_blocks", ()))
    if blocks not in DEPTHS:
        errors.append(
            f"stackwise_num_blocks={list(blocks)} (needs one of "
            f"{[list(b) for b in DEPTHS]})"
        )
    return errors


def check_supported(model):
    """Returns `(depth, preactivation)` of a model that can take
    keras.applications weights; raises a ValueError otherwise."""
    if not is_instance(model, "ResNet"):
        raise UserValueError(
            f"Pretrained weights exist only for {SUPPORTED}. Received a "
            f"{type(model).__name__} model."
        )
    preactivation = bool(model.preactivation)
    errors = _layout_errors(model, preactivation)
    if errors:
        raise UserValueError(
            f"Pretrained weights exist only for {SUPPORTED}, with their "
            f"registered layout. This {type(model).__name__} differs: "
            + "; ".join(errors)
        )
    if model.include_top and model.num_classes != IMAGENET_CLASSES:
        raise UserValueError(
            "The ImageNet weights have a 1000-class classifier, so a model "
            "with `include_top=True` must have num_classes=1000 (or use "
            "`include_top=False` and add your own head). Received: "
            f"num_classes={model.num_classes}"
        )
    return DEPTHS[tuple(model.stackwise_num_blocks)], preactivation


def target_layer(model, source_name):
    """Our layer that receives the weights of keras.applications' layer
    `source_name`, or None when the name is not part of the mapping."""
    top = {
        "conv1_conv": "stem_conv",
        "conv1_bn": "stem_bn",
        "post_bn": "post_bn",
        "predictions": "predictions",
    }
    if source_name in top:
        return model.get_layer(top[source_name])
    match = _BLOCK_LAYER.match(source_name)
    if match is None:
        return None
    stage, block, index, kind = match.groups()
    layer = model.get_layer(f"stage{int(stage) - 1}_block{block}")
    if index == "0":
        return getattr(layer.shortcut, kind)
    if index == "preact":
        return layer.bns[0] if kind == "bn" else None
    index = int(index)
    if kind == "conv":
        return layer.convs[index - 1]
    # v1: bns[i] follows convs[i]; v2: bns[0] is the pre-activation, so
    # `_1_bn` (after conv 1) is bns[1].
    return layer.bns[index if model.preactivation else index - 1]


def num_weight_arrays(depth, preactivation, include_top):
    """How many weight arrays keras.applications' model holds (kernels,
    biases and the four BN vectors), e.g. 320 for ResNet50."""
    blocks = sum(next(b for b, d in DEPTHS.items() if d == depth))
    top = 2 if include_top else 0
    if not preactivation:
        convs = 1 + 3 * blocks + 4  # stem, 3 per block, 4 projections
        return 2 * convs + 4 * convs + top  # every conv: bias + BN
    # stem conv + bias; per block: preact BN, conv1, BN, conv2, BN,
    # conv3 + bias; 4 projections with bias; post BN.
    return 2 + 16 * blocks + 4 * 2 + 4 + top


def _models_with(num_arrays):
    return [
        f"keras.applications.{keras_applications_name(d, p)}(include_top={t})"
        for d in DEPTHS.values()
        for p in (False, True)
        for t in (True, False)
        if num_weight_arrays(d, p, t) == num_arrays
    ]


def _count_arrays(path):
    """Number of model weight arrays in an HDF5 file, or None if unknown."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if "layers" in f:  # Keras 3 `.weights.h5` (maybe with optimizer)
                group = f["layers"]
            elif "model_weights" in f:  # legacy whole-model `.h5`
                group = f["model_weights"]
            else:  # legacy weights-only `.h5`
                group = f
            found = []
            group.visititems(
                lambda name, obj: found.append(name)
                if isinstance(obj, h5py.Dataset)
                else None
            )
            return len(found)
    except Exception:  # not HDF5 (e.g. a .keras zip): load_weights judges.
        return None


def _source_model(depth, preactivation, include_top):
    name = keras_applications_name(depth, preactivation)
    return getattr(keras.applications, name)(
        include_top=include_top,
        weights=None,
        classes=IMAGENET_CLASSES,
        classifier_activation=None,
    )


def _resolve_path(weights, depth, preactivation, include_top):
    if weights == "imagenet":
        file_name = weights_file_name(depth, preactivation, include_top)
        key = f"resnet{depth}{'v2' if preactivation else ''}"
        return keras.utils.get_file(
            file_name,
            BASE_WEIGHTS_URL + file_name,
            cache_subdir="models",
            file_hash=WEIGHTS_HASHES[key][0 if include_top else 1],
        )
    if not isinstance(weights, (str, os.PathLike)):
        raise UserTypeError(
            "`weights` must be None, 'imagenet' or the path to a weights "
            f"file. Received: weights={weights!r}"
        )
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise UserValueError(
            "`weights` must be None, 'imagenet' or the path to an existing "
            f"weights file. Received: weights={weights!r} (no such file)"
        )
    return path


def _expected(depth, preactivation, include_top):
    return (
        f"keras.applications.{keras_applications_name(depth, preactivation)}"
        f"(include_top={include_top}"
        + (f", classes={IMAGENET_CLASSES})" if include_top else ")")
    )


def _check_file(path, depth, preactivation, include_top):
    """Cheap check of the number of arrays, before any model is built."""
    num_arrays = _count_arrays(path)
    expected = num_weight_arrays(depth, preactivation, include_top)
    if num_arrays is not None and num_arrays != expected:
        like = _models_with(num_arrays)
        hint = f" (as {' or '.join(like)} has)" if like else ""
        raise UserValueError(
            f"The weights file {path!r} does not fit "
            f"{_expected(depth, preactivation, include_top)}: it holds "
            f"{num_arrays} weight arrays{hint}, that model has {expected}. "
            "Check the depth, the version (v1/v2) and include_top."
        )


def _load_source(path, depth, preactivation, include_top):
    """Builds the keras.applications model and loads `path` into it."""
    source = _source_model(depth, preactivation, include_top)
    try:
        with warnings.catch_warnings():
            # Keras 3 warns about containers it walks that have no weights.
            warnings.filterwarnings("ignore", message="Skipping nested container")
            source.load_weights(path)
    except Exception as error:  # keras raises ValueError, KeyError, OSError...
        text = str(error).strip()
        message = text.splitlines()[0] if text else ""
        raise UserValueError(
            f"The weights file {path!r} does not fit "
            f"{_expected(depth, preactivation, include_top)} (check the depth, "
            "the version (v1/v2), include_top and the number of classes). "
            f"Keras said: {type(error).__name__}: {message}"
        ) from error
    return source


def _assign(variable, value, source_name):
    if not isinstance(value, np.ndarray):
        value = ops.convert_to_numpy(value)
    if tuple(variable.shape) != value.shape:
        raise UserValueError(
            f"Cannot load {source_name} into {variable.path}: expected shape "
            f"{tuple(variable.shape)}, the weights file has {value.shape}."
        )
    variable.assign(ops.cast(value, variable.dtype))


def load_keras_applications_weights(model, weights):
    """Loads keras.applications ImageNet ResNet weights into `model`.

    Args:
        model: a `ResNet` or `PreActResNet` with a keras.applications layout
            (`resnet-50/101/152`, `resnet-50-v2/101-v2/152-v2`).
        weights: `"imagenet"` (downloads keras.applications' file, the
            include_top or notop variant following `model.include_top`) or
            the path to a `.weights.h5` / legacy `.h5` file saved from the
            matching keras.applications model.

    Raises:
        ValueError: the model has no keras.applications counterpart, or the
            file does not fit it (depth, version, include_top, classes).

    Example:
    >>> src = keras.applications.ResNet50(weights=None)
    >>> src.save_weights("r50.weights.h5")
    >>> model = create_model("resnet-50", weights="r50.weights.h5")
    """
    depth, preactivation = check_supported(model)
    include_top = bool(model.include_top)
    path = _resolve_path(weights, depth, preactivation, include_top)
    _check_file(path, depth, preactivation, include_top)
    source = _load_source(path, depth, preactivation, include_top)

    # Biases of source convs whose target conv has none, keyed by the name
    # of the BN that follows them; they fold into its moving mean.
    folded = {}
    pending = []
    assigned = set()
    for layer in source.layers:
        if not layer.weights:
            continue
        target = target_layer(model, layer.name)
        if target is None:
            raise UserValueError(
                f"Unexpected layer {layer.name!r} in the keras.applications "
                f"model; cannot map it onto {model.name}."
            )
        if isinstance(layer, keras.layers.Conv2D):
            what = layer.name
            _assign(target.kernel, layer.kernel, what)
            assigned.add(id(target.kernel))
            bias = ops.convert_to_numpy(layer.bias) if layer.use_bias else None
            if target.use_bias:
                _assign(
                    target.bias,
                    np.zeros(target.bias.shape) if bias is None else bias,
                    what,
                )
                assigned.add(id(target.bias))
            elif bias is not None:
                folded[layer.name[: -len("conv")] + "bn"] = (bias, layer.name)
        elif isinstance(layer, keras.layers.BatchNormalization):
            pending.append((layer, target))
        elif isinstance(layer, keras.layers.Dense):
            what = layer.name
            _assign(target.kernel, layer.kernel, what)
            _assign(target.bias, layer.bias, what)
            assigned.update({id(target.kernel), id(target.bias)})
        else:
            raise UserValueError(
                f"Unexpected {type(layer).__name__} {layer.name!r} with "
                "weights in the keras.applications model."
            )

    for layer, target in pending:
        what = layer.name
        mean = ops.convert_to_numpy(layer.moving_mean).astype("float64")
        var = ops.convert_to_numpy(layer.moving_variance).astype("float64")
        gamma = ops.convert_to_numpy(layer.gamma).astype("float64")
        if layer.name in folded:
            bias, conv_name = folded.pop(layer.name)
            if bias.shape != mean.shape:
                raise UserValueError(
                    f"Cannot fold the bias of {conv_name} into {target.moving_mean.path}: "
                    f"bias shape {bias.shape}, moving mean shape {mean.shape}."
                )
            mean = mean - bias
        # Match keras' epsilon: var' + eps = var + eps_k.
        delta = float(layer.epsilon) - float(target.epsilon)
        if np.all(var + delta >= 0):
            var = var + delta
        else:  # cannot shift the variance: rescale gamma instead.
            gamma = gamma * np.sqrt((var + target.epsilon) / (var + layer.epsilon))
        _assign(target.gamma, gamma, what)
        _assign(target.beta, layer.beta, what)
        _assign(target.moving_mean, mean, what)
        _assign(target.moving_variance, var, what)
        assigned.update(
            id(v)
            for v in (target.gamma, target.beta, target.moving_mean, target.moving_variance)
        )

    if folded:
        names = sorted(name for _, name in folded.values())
        raise UserValueError(
            f"The biases of {names} have no BatchNormalization to fold into "
            f"and {model.name} has no bias there."
        )
    missing = [w.path for w in model.weights if id(w) not in assigned]
    if missing:
        raise UserValueError(
            f"{len(missing)} weights of {model.name} have no counterpart in "
            f"keras.applications.{keras_applications_name(depth, preactivation)}, "
            f"e.g. {missing[:3]}."
        )
