"""Weights shipped inside the package, loaded by name: `weights="cifar10"`.

`create_model(name, weights=TAG)` looks `(name, TAG)` up in `PACKAGED` and
loads the file it names from `keras_resnets/weights/files/` with
`model.load_weights` (a Keras `.weights.h5` saved from that registered
model with its default arguments). Nothing is downloaded: the files are
part of the wheel, so only small models belong here (a few MB at most).

Adding one (e.g. our ResNet-20 trained on CIFAR-10):

1. `model.save_weights("keras_resnets/weights/files/resnet-20_cifar10.weights.h5")`
   from the run's best model (`load_run(...).model`), built by
   `create_model("resnet-20")` (default arguments: the table entry is
   loaded into exactly that model);
2. add `PackagedWeights("resnet-20", "cifar10", "resnet-20_cifar10.weights.h5",
   data=..., recipe=..., accuracy=..., run=...)` to `PACKAGED` below;
3. add a line to README's "Pretrained weights" table, and a test that
   loads it and checks `accuracy` on the lossless CIFAR-10 test set.

`pyproject.toml` ships `keras_resnets/weights/files/*.weights.h5` as
package data.
"""

import dataclasses
import importlib.resources
import os

# Values of `weights=` that are never tags: keras.applications' name.
_NOT_TAGS = ("imagenet",)


@dataclasses.dataclass(frozen=True)
class PackagedWeights:
    """One weights file shipped in the package, with its model card line.

    Attributes:
        model: registered model name, e.g. "resnet-20".
        tag: the `weights=` value, e.g. "cifar10".
        file: file name under `keras_resnets/weights/files/`.
        data: data set and split it was trained on.
        recipe: config file (or recipe) that trained it.
        accuracy: test accuracy (%) measured on `data`'s test set.
        run: where the training run is recorded (link or path).
    """

    model: str
    tag: str
    file: str
    data: str = ""
    recipe: str = ""
    accuracy: float | None = None
    run: str = ""


# (registered name, tag) -> PackagedWeights. Empty until the project's own
# CIFAR runs are exported (issue #16 item 2).
PACKAGED = {}


def is_weights_tag(weights):
    """True when `weights` is a name (e.g. "cifar10"), not a path or
    keras.applications' "imagenet": a str without a path separator or a
    file suffix that is not an existing file."""
    if not isinstance(weights, str) or weights in _NOT_TAGS or not weights:
        return False
    if os.sep in weights or "/" in weights or "." in weights:
        return False
    return not os.path.exists(weights)


def packaged_tags(name=None):
    """The tags shipped for model `name` (every model's when None)."""
    return sorted({t for (n, t) in PACKAGED if name is None or n == name})


def packaged_weights(name, tag):
    """The `PackagedWeights` of registered model `name` under `tag`.

    Raises:
        ValueError: nothing is shipped under that name and tag; the message
            lists what is.
    """
    entry = PACKAGED.get((name, tag))
    if entry is None:
        shipped = ", ".join(f"{n} weights={t!r}" for n, t in sorted(PACKAGED)) or "none yet"
        raise ValueError(
            f"No weights named {tag!r} are shipped for {name!r} (shipped: {shipped}). "
            "`weights` takes None, 'imagenet' (keras.applications ResNets), the path to "
            "a torchvision/timm checkpoint (.pth, .safetensors) or to a Keras weights "
            f"file, or a shipped name. Received: weights={tag!r}"
        )
    return entry


def packaged_path(entry):
    """Filesystem path of a `PackagedWeights` file inside the package."""
    path = importlib.resources.files("keras_resnets.weights") / "files" / entry.file
    return os.fspath(path)


def load_packaged_weights(model, name, tag):
    """Loads the weights shipped for `name` under `tag` into `model`."""
    entry = packaged_weights(name, tag)
    model.load_weights(packaged_path(entry))
    return entry
