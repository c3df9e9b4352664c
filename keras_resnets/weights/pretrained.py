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
2. add its card to `_PACKAGED` below: `_fast_cifar10("resnet-20", epochs=36,
   correct=9159)` for a run of the fast recipe on the lossless CIFAR-10 (the
   float32 weights' correct test images in float32), otherwise
   `PackagedWeights("resnet-20", "cifar10", "resnet-20_cifar10.weights.h5",
   data=..., recipe=..., accuracy=..., run=...)`;
3. add a line to README's "Pretrained weights" table, and a test that
   loads it and checks `accuracy` on the lossless CIFAR-10 test set.

`pyproject.toml` ships `keras_resnets/weights/files/*.weights.h5` as
package data.
"""

import dataclasses
import importlib.resources
import os

from keras_resnets.errors import UserValueError

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
        mean, std: the per-channel statistics the inputs were normalized
            with in training, on [0, 1] pixels: `(x / 255 - mean) / std`.
        correct: test images classified right by these weights in float32
            (the accuracy test checks it), out of `test_examples`.
    """

    model: str
    tag: str
    file: str
    data: str = ""
    recipe: str = ""
    accuracy: float | None = None
    run: str = ""
    mean: tuple = ()
    std: tuple = ()
    correct: int | None = None
    test_examples: int | None = None


# The lossless CIFAR-10 of the papers, and the per-channel statistics of its
# 50,000 training images that the fast recipe normalizes with.
_CIFAR10 = "CIFAR-10 (original release, lossless), 50,000 train / 10,000 test"
_CIFAR10_MEAN = (0.4913996786151961, 0.48215840839460783, 0.44653091444546567)
_CIFAR10_STD = (0.24703223246328196, 0.2434851280000556, 0.26158784172796445)


def _fast_cifar10(model, epochs, correct):
    """The card of `model` trained by its fast recipe
    (`configs/resnet/<model>_cifar10_fast.yaml`) on the lossless CIFAR-10,
    recorded in `docs/results/cpu/<model>_fast_cifar10_bf16/`; `correct`:
    test images these float32 weights classify right in float32 (the
    accuracy is that count, not the run's own bf16 figure)."""
    return PackagedWeights(
        model, "cifar10", f"{model}_cifar10.weights.h5",
        data=_CIFAR10,
        recipe=f"configs/resnet/{model}_cifar10_fast.yaml ({epochs} epochs)",
        accuracy=correct / 100,
        run=f"docs/results/cpu/{model}_fast_cifar10_bf16/",
        mean=_CIFAR10_MEAN,
        std=_CIFAR10_STD,
        correct=correct,
        test_examples=10000,
    )


_PACKAGED = (
    # The README's first command, 2026-12-02, mixed_bfloat16 training: 91.62% at the
    # end of the run in bf16, 91.59% with these float32 weights in float32.
    _fast_cifar10("resnet-20", epochs=36, correct=9159),
    # He 2015 Table 6 campaign (issue 23): one run resumed across three sessions and
    # two processor kinds, mixed_bfloat16 training: 93.18% at the end of the run in
    # bf16, 93.14% with these float32 weights in float32.
    _fast_cifar10("resnet-32", epochs=72, correct=9314),
)

# (registered name, tag) -> PackagedWeights.
PACKAGED = {(entry.model, entry.tag): entry for entry in _PACKAGED}


def is_weights_tag(weights):
    """True when `weights` is a name (e.g. "cifar10"), not a path or
    keras.applications' "imagenet": a str without a path separator or a
    file suffix that is not an existing file."""
    if not isinstance(weights, str) or weights in _NOT_TAGS or not weights:
        return False
    if os.sep in weights or "/" in weights or "." in weights:
        return False
    return not os.path.exists(weights)


def packaged_weights(name, tag):
    """The `PackagedWeights` of registered model `name` under `tag`.

    Raises:
        ValueError: nothing is shipped under that name and tag; the message
            lists what is.
    """
    entry = PACKAGED.get((name, tag))
    if entry is None:
        shipped = ", ".join(f"{n} weights={t!r}" for n, t in sorted(PACKAGED)) or "none yet"
        raise UserValueError(
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
