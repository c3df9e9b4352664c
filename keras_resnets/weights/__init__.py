"""Pretrained weights in and out of our models.

`weights=` (on `ResNet`, `PreActResNet`, `ResNeXt` and `create_model`)
takes:

- `"imagenet"` or a keras.applications `.h5` file: keras.applications'
  ResNet50/101/152 (V2) weights (`keras_applications`);
- a torchvision or timm checkpoint (`.pth`, `.pt`, `.bin`, `.safetensors`):
  ResNet-18 ... 152, ResNeXt, Wide ResNet-50-2 / 101-2, SE-ResNet-50, built
  in the checkpoint's layout automatically (`torch_checkpoints`);
- a Keras `.weights.h5` file saved from the same architecture of ours
  (`model.save_weights`), loaded with `model.load_weights`;
- with `create_model` only, the name of weights shipped in the package
  (e.g. "cifar10"; `pretrained.PACKAGED`).

Nothing is downloaded except for `"imagenet"`, which fetches
keras.applications' file as keras.applications does.

This package sits below the models (their constructors call
`load_weights`): it imports no model class and nothing above the models.
Export for deployment is `keras_resnets.export`.
"""

import os

from keras_resnets.weights._layout import is_instance
from keras_resnets.weights.keras_applications import load_keras_applications_weights
from keras_resnets.weights.pretrained import is_weights_tag
from keras_resnets.weights.pretrained import packaged_weights
from keras_resnets.weights.torch_checkpoints import checkpoint_stride_index
from keras_resnets.weights.torch_checkpoints import is_torch_checkpoint
from keras_resnets.weights.torch_checkpoints import load_torch_checkpoint
from keras_resnets.errors import UserValueError

__all__ = [
    "checkpoint_stride_index",
    "is_torch_checkpoint",
    "load_keras_applications_weights",
    "load_torch_checkpoint",
    "load_weights",
    "packaged_weights",
]


def _is_own_weights_file(path):
    """True for a Keras 3 `.weights.h5` saved from one of our models, as
    opposed to one saved from keras.applications. Keras names the entries
    by layer class (`layers/res_net_block_3/...`), and only ours hold our
    residual blocks (`ResNetBlock`, `PreActBlock`)."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            names = list(f["layers"].keys()) if "layers" in f else []
    except Exception:  # not HDF5: keras.applications' loader reports it
        return False
    return any(n.startswith(("res_net_block", "pre_act_block")) for n in names)


HDF5_SUFFIXES = (".h5", ".hdf5")


def _check_weights_file(weights):
    """A `weights` path must exist, and an HDF5 name must hold HDF5: one
    ValueError naming the file and what is expected (before the model's
    layout is judged, which would name the wrong cause)."""
    path = os.fspath(weights)
    expected = (
        "Expected a Keras .weights.h5 (model.save_weights), a keras.applications .h5 "
        "file, or a torchvision/timm checkpoint (.pth, .pt, .bin, .safetensors)"
    )
    if not os.path.isfile(path):
        raise UserValueError(
            "`weights` must be None, 'imagenet', the name of packaged weights or the path "
            f"to an existing weights file. Received: weights={path!r} (no such file)"
        )
    if is_torch_checkpoint(path):
        return  # read_checkpoint judges the file first
    try:
        import h5py

        is_hdf5 = h5py.is_hdf5(path)
    except ImportError:  # h5py comes with keras; without it keras judges
        return
    if not is_hdf5:
        kind = "an HDF5 file" if path.lower().endswith(HDF5_SUFFIXES) else "a weights file"
        raise UserValueError(f"weights={path!r} is not {kind}. {expected}.")


def _load_own_weights(model, path):
    """`model.load_weights` of a `.weights.h5` saved from our models; a file
    of another architecture is one ValueError."""
    try:
        model.load_weights(path)
    except Exception as error:  # keras raises ValueError, KeyError, ...
        lines = str(error).strip().splitlines()
        said = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        raise UserValueError(
            f"The weights file {path!r} does not fit this {type(model).__name__} "
            f"({model.name}): it was saved from another architecture or configuration. "
            f"Keras said: {said}"
        ) from None


def load_weights(model, weights):
    """Loads `weights` into `model`, dispatching on what `weights` is.

    Args:
        model: one of our models.
        weights: None (nothing), "imagenet", the path to a torchvision/timm
            checkpoint (`.pth`, `.pt`, `.bin`, `.safetensors`), to a
            keras.applications `.h5` file or to a `.weights.h5` saved from
            this architecture.

    Raises:
        ValueError / TypeError: `weights` does not fit `model`, with what
            would; a path that does not exist or whose content is not the
            format its name says is one ValueError naming the file and the
            formats expected (before the model's layout is judged).
    """
    if weights is None:
        return
    if isinstance(weights, (str, os.PathLike)) and weights != "imagenet" and not (
        is_weights_tag(weights)
    ):
        _check_weights_file(weights)
    if is_torch_checkpoint(weights):
        load_torch_checkpoint(model, weights)
        return
    if is_weights_tag(weights):
        raise UserValueError(
            f"Named weights (weights={weights!r}) belong to a registered model: load "
            f"them with keras_resnets.create_model(NAME, weights={weights!r}). A model "
            "built directly takes None, 'imagenet' or the path to a weights file. "
            f"Received: weights={weights!r}"
        )
    if weights == "imagenet" and not is_instance(model, "ResNet"):
        raise UserValueError(
            "weights='imagenet' loads keras.applications' ResNet50/101/152 (V2) "
            f"weights only, not into a {type(model).__name__}. For torchvision/timm "
            "ImageNet weights, download the checkpoint and pass its path (README, "
            "'Pretrained weights')."
        )
    if (
        isinstance(weights, (str, os.PathLike))
        and os.path.isfile(weights)
        and _is_own_weights_file(weights)
    ):
        _load_own_weights(model, os.fspath(weights))
        return
    load_keras_applications_weights(model, weights)
