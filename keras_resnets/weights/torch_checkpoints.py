"""torchvision and timm ImageNet checkpoints, mapped onto our models by name.

torchvision (https://github.com/pytorch/vision, `torchvision.models.resnet`)
and timm (https://github.com/huggingface/pytorch-image-models,
`timm/models/resnet.py`) publish ImageNet weights for ResNet-18/34/50/101/152,
ResNeXt-50 32x4d / 101 32x8d / 101 64x4d, Wide ResNet-50-2 / 101-2 and (timm)
SE-ResNet-50. Their modules compute the same functions as our registered
`resnet-18` ... `se-resnet-50` built in their layout, so the weights
transfer exactly:

- layout: the "v1.5" bottleneck of torchvision and timm strides on its 3x3
  conv (our `stride_index=1`; basic blocks stride on their first conv,
  `stride_index=0`); `ResNet(..., weights=PATH)` picks that position itself
  when `stride_index` is not given (`ResNeXt` strides there by default);
- keys: `conv1`/`bn1` -> `stem_conv`/`stem_bn`; `layer{s}.{b}` ->
  `stage{s}_block{b+1}`, whose `conv{i}`/`bn{i}` are `.convs[i-1]`/`.bns[i-1]`,
  `downsample.0`/`.1` -> `.shortcut.conv`/`.shortcut.bn` and timm's SE
  `se.fc1`/`se.fc2` -> `.se.reduce`/`.se.expand`; `fc` -> `predictions`;
- values: conv weights OIHW -> HWIO (grouped too: `(O, I/g, kh, kw)` ->
  `(kh, kw, I/g, O)`), Linear and 1x1 SE convs `(out, in)` -> `(in, out)`,
  BN `weight, bias, running_mean, running_var` -> `gamma, beta,
  moving_mean, moving_variance` (`num_batches_tracked` is ignored);
- PyTorch's BN epsilon is 1e-5, as ours by default; a model built with
  another `bn_epsilon` gets `var + 1e-5 - bn_epsilon` as moving variance
  (or, where that would be negative, a rescaled gamma), so inference
  matches;
- torchvision pads the 7x7/2 stem conv by 3 and the 3x3/2 max-pool by 1 on
  every side and strided 3x3 convs by 1; our stem and blocks pad the same
  way (symmetric zero padding, then "valid"), never TensorFlow's "same".

`.safetensors` files are read with the `safetensors` package's numpy API
(no PyTorch needed: `pip install safetensors`, or the `weights` extra);
`.pth`/`.pt`/`.bin` files need PyTorch (`torch.load(weights_only=True)`).
"""

import os
import re

import numpy as np
from keras import ops

from keras_resnets.weights._layout import is_instance
from keras_resnets.weights._layout import settings_mismatches
from keras_resnets.errors import MissingExtraError
from keras_resnets.errors import UserValueError

TORCH_EPSILON = 1e-5
SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pth", ".pt", ".bin")
SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
# Containers training scripts wrap a state dict in (timm's `train.py`
# checkpoints, Lightning, DataParallel's "module." prefix).
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
_BLOCK = re.compile(r"^stage(\d+)_block(\d+)$")
# (torch name, our BatchNormalization attribute, conversion kind)
_BN_KEYS = (
    ("weight", "gamma", "gamma"),
    ("bias", "beta", "vector"),
    ("running_mean", "moving_mean", "vector"),
    ("running_var", "moving_variance", "variance"),
)
SUPPORTED = (
    "resnet-18/34/50/101/152 (torchvision resnet18 ... resnet152, timm resnet*), "
    "resnext-50-32x4d, resnext-101-32x8d, resnext-101-64x4d, wide-resnet-50-2, "
    "wide-resnet-101-2 (torchvision, timm) and se-resnet-50 (timm seresnet50)"
)
_LIST_LIMIT = 8


def is_torch_checkpoint(weights):
    """True when `weights` names a PyTorch checkpoint file by its suffix
    (`.safetensors`, `.pth`, `.pt`, `.bin`); the file need not exist yet."""
    if not isinstance(weights, (str, os.PathLike)):
        return False
    return os.fspath(weights).lower().endswith(SUFFIXES)


def checkpoint_stride_index(block_type):
    """Which conv of a block strides in torchvision/timm: the 3x3 of a
    bottleneck (1, "ResNet v1.5"), the first 3x3 of a basic block (0)."""
    return 1 if block_type == "bottleneck" else 0


def _to_numpy(tensor):
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()  # bfloat16/float16 checkpoints: numpy has no bfloat16
    return tensor.numpy()


def _unwrap(state, path):
    for key in _WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise UserValueError(
            f"The checkpoint {path!r} holds a {type(state).__name__}, not a state "
            "dict; save `model.state_dict()` (torch.save(model.state_dict(), path))."
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _reason(error):
    """The first line of an error's message (or its type)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def read_checkpoint(path):
    """Reads a PyTorch state dict as `{key: numpy array}`.

    Args:
        path: a `.safetensors` file (read without PyTorch) or a `.pth`,
            `.pt`, `.bin` file (needs PyTorch). A dict wrapping the state
            dict under "state_dict" or "model", and DataParallel's
            "module." key prefix, are unwrapped.

    Returns:
        Dict of str -> numpy array (floating point as float32).

    Raises:
        ImportError: the package that reads the format is not installed.
        ValueError: no such file, unknown suffix, a file that is not in its
            suffix's format, or not a state dict (one line naming the file).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserValueError(
            f"`weights` must be the path to an existing checkpoint file. Received: "
            f"weights={path!r} (no such file)"
        )
    lower = path.lower()
    if lower.endswith(SAFETENSORS_SUFFIXES):
        try:
            from safetensors.numpy import load_file
        except ImportError as error:
            raise MissingExtraError(
                f"Reading {path!r} needs the `safetensors` package (not PyTorch): "
                "pip install safetensors (or pip install 'keras_resnets[weights]')."
            ) from error
        try:
            state = load_file(path)
        except Exception as error:  # safetensors' SafetensorError, OSError
            raise UserValueError(
                f"weights={path!r} is not a readable .safetensors file ({_reason(error)}). "
                "Expected a state dict saved with safetensors (e.g. a timm model.safetensors)."
            ) from None
        return _unwrap(dict(state), path)
    if lower.endswith(PICKLE_SUFFIXES):
        try:
            import torch
        except ImportError as error:
            raise MissingExtraError(
                f"Reading {path!r} needs PyTorch (pip install torch). Without it, "
                "use the checkpoint's .safetensors file (timm publishes one for each "
                "model on the Hugging Face Hub) or convert it once where PyTorch is "
                "installed: safetensors.torch.save_file(torch.load(path), 'x.safetensors')."
            ) from error
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # UnpicklingError, RuntimeError, EOFError...
            # Never weights_only=False (what torch's message suggests): that
            # runs whatever code a pickle holds.
            raise UserValueError(
                f"weights={path!r} is not a PyTorch checkpoint that loads safely: "
                f"torch.load(weights_only=True) cannot read it ({type(error).__name__}). "
                "Expected a state dict of tensors, as torchvision/timm publish and "
                "torch.save(model.state_dict(), path) writes."
            ) from None
        state = _unwrap(state, path)
        return {
            k: _to_numpy(v) if isinstance(v, torch.Tensor) else np.asarray(v)
            for k, v in state.items()
        }
    raise UserValueError(
        f"Unknown checkpoint format {path!r}: expected one of {', '.join(SUFFIXES)}."
    )


def _layout_errors(model):
    """Settings of `model` that differ from torchvision's/timm's layout."""
    if is_instance(model, "PreActResNet") or not is_instance(model, "ResNet", "ResNeXt"):
        return None
    bottleneck = is_instance(model, "ResNeXt") or model.block_type == "bottleneck"
    expected = {
        "stem": "imagenet",
        "stackwise_strides": [1, 2, 2, 2],
        "stride_index": checkpoint_stride_index("bottleneck" if bottleneck else "basic"),
    }
    if is_instance(model, "ResNet"):
        expected.update(stem_filters=64, shortcut="B", downsample_last=False)
    errors = settings_mismatches(model, expected)
    return errors


def check_supported(model):
    """Raises a ValueError unless `model` is built in the torchvision/timm
    layout (ResNet v1 or ResNeXt, ImageNet stem, stride on the 3x3)."""
    errors = _layout_errors(model)
    if errors is None:
        raise UserValueError(
            f"torchvision/timm checkpoints load into {SUPPORTED}: `ResNet` and "
            f"`ResNeXt` models with the ImageNet stem. Received a "
            f"{type(model).__name__} model."
        )
    if errors:
        raise UserValueError(
            "torchvision/timm checkpoints need the model in their layout (ImageNet "
            "stem, stride on the bottleneck's 3x3 conv). This "
            f"{type(model).__name__} differs: " + "; ".join(errors) + ". Leave "
            "`stride_index` unset with `weights=` (the layout is then picked for "
            "the checkpoint), or build the model with these values."
        )


def torch_key_map(model):
    """`{torch key: (variable, kind, layer)}` for every weight of `model`.

    `kind` says how the array is converted: "conv" (OIHW -> HWIO),
    "linear" (`(out, in)` -> `(in, out)`), "conv1x1_linear" (a 1x1 conv
    used as a Dense: `(out, in, 1, 1)` -> `(in, out)`), "vector" (as is),
    "gamma" and "variance" (BN scale and moving variance: as is, then
    matched to the layer's epsilon). `layer` is the Keras layer holding it.
    """
    entries = {}

    def conv(prefix, layer):
        entries[f"{prefix}.weight"] = (layer.kernel, "conv", layer)
        if layer.use_bias:
            entries[f"{prefix}.bias"] = (layer.bias, "vector", layer)

    def bn(prefix, layer):
        for torch_name, ours, kind in _BN_KEYS:
            entries[f"{prefix}.{torch_name}"] = (getattr(layer, ours), kind, layer)

    def dense(prefix, layer, kind="linear"):
        entries[f"{prefix}.weight"] = (layer.kernel, kind, layer)
        entries[f"{prefix}.bias"] = (layer.bias, "vector", layer)

    conv("conv1", model.get_layer("stem_conv"))
    bn("bn1", model.get_layer("stem_bn"))
    for layer in model.layers:
        match = _BLOCK.match(layer.name)
        if match is None:
            continue
        prefix = f"layer{int(match.group(1))}.{int(match.group(2)) - 1}"
        for i, (c, b) in enumerate(zip(layer.convs, layer.bns)):
            conv(f"{prefix}.conv{i + 1}", c)
            bn(f"{prefix}.bn{i + 1}", b)
        if layer.shortcut.conv is not None:
            conv(f"{prefix}.downsample.0", layer.shortcut.conv)
            bn(f"{prefix}.downsample.1", layer.shortcut.bn)
        if layer.se is not None:
            dense(f"{prefix}.se.fc1", layer.se.reduce, "conv1x1_linear")
            dense(f"{prefix}.se.fc2", layer.se.expand, "conv1x1_linear")
    if model.include_top:
        dense("fc", model.get_layer("predictions"))
    return entries


def _convert(value, kind):
    if kind == "conv":
        return np.transpose(value, (2, 3, 1, 0)) if value.ndim == 4 else value
    if kind == "linear":
        return value.T if value.ndim == 2 else value
    if kind == "conv1x1_linear":
        if value.ndim == 4 and value.shape[2:] == (1, 1):
            value = value[:, :, 0, 0]
        return value.T if value.ndim == 2 else value
    return value


def _listing(keys):
    keys = sorted(keys)
    shown = ", ".join(keys[:_LIST_LIMIT])
    more = f" and {len(keys) - _LIST_LIMIT} more" if len(keys) > _LIST_LIMIT else ""
    return f"{len(keys)} ({shown}{more})"


def match_state_dict(model, state):
    """Pairs the checkpoint's arrays with `model`'s variables.

    Args:
        model: a model that passed `check_supported`.
        state: dict of torch key -> numpy array.

    Returns:
        List of `(variable, array, kind, key, layer)`, arrays already in
        Keras layout.

    Raises:
        ValueError: listing the model's keys missing from the checkpoint,
            the checkpoint's keys the model has no place for and the shape
            mismatches, all in one message.
    """
    expected = torch_key_map(model)
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    ignored = set()
    if not model.include_top:  # the classifier is dropped on purpose
        ignored = {k for k in given if k in ("fc.weight", "fc.bias")}
    missing = set(expected) - set(given)
    unexpected = set(given) - set(expected) - ignored
    pairs, mismatched = [], []
    for key, (variable, kind, layer) in expected.items():
        if key not in given:
            continue
        value = _convert(np.asarray(given[key]), kind)
        if tuple(value.shape) != tuple(variable.shape):
            mismatched.append(
                f"{key} {tuple(given[key].shape)} -> {variable.path} "
                f"{tuple(variable.shape)}"
            )
            continue
        pairs.append((variable, value, kind, key, layer))
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys: {_listing(missing)}")
        if unexpected:
            problems.append(f"unexpected keys: {_listing(unexpected)}")
        if mismatched:
            shown = "; ".join(mismatched[:_LIST_LIMIT])
            more = f" and {len(mismatched) - _LIST_LIMIT} more" if len(mismatched) > _LIST_LIMIT else ""
            problems.append(f"shape mismatches (torch -> ours): {len(mismatched)} ({shown}{more})")
        hint = ""
        if any(m.startswith("fc.") for m in mismatched):
            hint = (
                " The checkpoint's classifier has another number of classes: pass its "
                "`num_classes`, or `include_top=False` to drop it."
            )
        raise UserValueError(
            f"The checkpoint does not fit this {type(model).__name__} "
            f"({model.name}): " + "; ".join(problems) + ". Check the model name "
            f"(checkpoints load into {SUPPORTED})." + hint
        )
    return pairs


def _match_epsilon(variance, gamma, target_epsilon):
    """Moving variance and gamma such that BN with `target_epsilon` equals
    PyTorch's BN with epsilon 1e-5."""
    delta = TORCH_EPSILON - float(target_epsilon)
    if delta == 0:
        return variance, gamma
    if np.all(variance + delta >= 0):
        return variance + delta, gamma
    scale = np.sqrt((variance + target_epsilon) / (variance + TORCH_EPSILON))
    return variance, gamma * scale


def load_torch_checkpoint(model, weights):
    """Loads a torchvision or timm checkpoint into `model`.

    Args:
        model: a `ResNet` or `ResNeXt` in the checkpoint's layout, e.g.
            `create_model("resnet-50", weights=PATH)` builds one (the
            registered names: resnet-18/34/50/101/152, resnext-50-32x4d,
            resnext-101-32x8d, resnext-101-64x4d, wide-resnet-50-2,
            wide-resnet-101-2, se-resnet-50). With `include_top=False` the
            checkpoint's `fc` is ignored.
        weights: path to a `.safetensors`, `.pth`, `.pt` or `.bin` state dict.

    Raises:
        ValueError: the model is not in the checkpoint's layout, or the
            checkpoint does not fit it (missing / unexpected keys and shape
            mismatches, listed).
        ImportError: `safetensors` (for `.safetensors`) or PyTorch (for
            `.pth`) is not installed.

    Example:
    >>> model = create_model("resnet-18", weights="resnet18-f37072fd.pth")
    """
    state = read_checkpoint(weights)  # a file that is no checkpoint: say so first
    check_supported(model)
    pairs = match_state_dict(model, state)
    norms = {}
    for variable, value, kind, _, layer in pairs:
        if kind in ("gamma", "variance"):  # set together, epsilon matched
            norms.setdefault(id(layer), (layer, {}))[1][kind] = (variable, value)
        else:
            _assign(variable, value)
    for layer, parts in norms.values():
        (gamma_variable, gamma), (variance_variable, variance) = parts["gamma"], parts["variance"]
        variance, gamma = _match_epsilon(
            variance.astype("float64"), gamma.astype("float64"), layer.epsilon
        )
        _assign(gamma_variable, gamma)
        _assign(variance_variable, variance)


def _assign(variable, value):
    variable.assign(ops.cast(np.asarray(value), variable.dtype))
