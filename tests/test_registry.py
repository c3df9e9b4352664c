"""Registry-wide tests: every registered name builds, has its exact
parameter count (and rounds to its paper's), round-trips its config and
follows the naming rule."""

import math
import pathlib
import re

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import count_trainable_params
from keras_resnets import registry
from keras_resnets.models import base
from tests.testing import run_model_test

# Registered models too large to build in the default suite: these and
# those of more than BIG parameters.
LARGE = {"resnet-1202", "preact-resnet-1001"}
BIG = 30e6
CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}

# Two kinds of parameter numbers (trainable parameters, default head):
#
# The registered `params=`: our exact count, a regression value that
# `test_registered_model` checks against the built model. Any change is an
# architecture change and must be deliberate. Several are also external
# facts: the CIFAR ResNets and WRNs equal the per-layer recount in
# ../shared/PAPERS.md, the ImageNet v1 ResNets torchvision's num_params,
# resnet-50-v2 keras.applications' ResNet50V2 (tests/models/test_resnet.py),
# and resnext-101-32x8d/64x4d and wide-resnet-50-2/101-2 torchvision's counts.
#
# PAPER_PARAMS: the count the paper prints, rounded to its digits (source
# tags in ../shared/PAPERS.md). Our exact count, rounded to the same digits,
# must print the same; the ResNeXt paper truncates (68.16M is "68.1M").
PAPER_PARAMS = {
    "preact-resnet-164": "1.7M",
    "resnet-20": "0.27M",
    "resnet-32": "0.46M",
    "resnet-44": "0.66M",
    "resnet-56": "0.85M",
    "resnet-110": "1.7M",
    "resnet-1202": "19.4M",
    "resnext-29-8x64d": "34.4M",
    "resnext-29-16x64d": "68.1M",
    "resnext-50-32x4d": "25M",  # "~25M"
    "resnext-101-32x4d": "44M",  # "~44M"
    "se-resnet-50": "28.1M",
    "shake-shake-26-2x32d": "2.9M",
    "shake-shake-26-2x64d": "11.7M",
    "shake-shake-26-2x96d": "26.2M",
    "wrn-16-4": "2.7M",
    "wrn-16-8": "11.0M",
    "wrn-16-10": "17.1M",
    "wrn-22-8": "17.2M",
    "wrn-28-10": "36.5M",
    "wrn-28-12": "52.5M",
    "wrn-40-1": "0.6M",
    "wrn-40-2": "2.2M",
    "wrn-40-4": "8.9M",
    "wrn-40-8": "35.7M",
}
TRUNCATING_PAPERS = {"arXiv:1611.05431"}
# Printed counts our build does not reproduce, and why (the exact value above
# is still the regression check).
PAPER_GAPS = {
    "preact-resnet-1001": ("10.2M", "unconfirmed in PAPERS.md; the recount is 10.33M"),
    "pyramidnet-110-a48": ("1.7M", "reference widths give 1.77M (test_pyramidnet)"),
    "pyramidnet-110-a84": ("3.8M", "reference widths give 3.90M"),
    "pyramidnet-110-a270": ("28.3M", "reference widths give 28.49M"),
    "pyramidnet-272-a200": ("26.0M", "26.00M is the count without BN weights"),
    "pyramidnet-272-a200-shakedrop": ("26.0M", "same network as pyramidnet-272-a200"),
    "fractalnet-20": ("38.6M", "unconfirmed; conv-BN-ReLU units of 64..512 give 33.7M"),
    "fractalnet-40": ("22.9M", "unconfirmed; C=4 conv-BN-ReLU units of 64..512 give 76.1M"),
    "shake-shake-resnext-29-2x4x64d": ("34.4M", "the 10-class head's 34.44M; ours has 100"),
}


def _printed(name, printed):
    """Our exact count in millions, rounded (or truncated) like `printed`."""
    digits = len(printed.rstrip("M").partition(".")[2])
    millions = keras_resnets.get_spec(name).params / 1e6
    if keras_resnets.get_spec(name).paper in TRUNCATING_PAPERS:
        millions = math.floor(millions * 10**digits) / 10**digits
    return f"{millions:.{digits}f}M"


def test_parameter_tables_cover_the_registry():
    counted = {n for n in keras_resnets.list_models() if keras_resnets.get_spec(n).params}
    assert counted == set(keras_resnets.list_models())
    assert set(PAPER_PARAMS) | set(PAPER_GAPS) <= counted
    assert not set(PAPER_PARAMS) & set(PAPER_GAPS)


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_exact_count_rounds_to_the_paper(name):
    assert _printed(name, PAPER_PARAMS[name]) == PAPER_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PAPER_GAPS))
def test_paper_gaps_are_still_gaps(name):
    # Once a build reproduces its paper's count, move it to PAPER_PARAMS.
    printed, _ = PAPER_GAPS[name]
    assert _printed(name, printed) != printed


def _is_large(spec):
    return spec.name in LARGE or (spec.params is not None and spec.params > BIG)


def _small_kwargs(spec):
    if spec.dataset == "imagenet":
        return {"input_shape": (32, 32, 3)}
    return {}


# Building every paper-size model is backend-independent arithmetic of weight
# shapes but costs minutes on JAX (one XLA compile per distinct initializer
# shape); the per-family test files build small instances on every backend.
@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name", keras_resnets.list_models())
def test_registered_model(name, request):
    spec = keras_resnets.get_spec(name)
    if _is_large(spec) and not request.config.getoption("--run_large"):
        pytest.skip("large model: pass --run_large")
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9.]+)*", name), name
    size = 32
    x = np.zeros((2, size, size, 3), "float32")
    # Logits for the paper's data set; config and weights round-trip.
    model = run_model_test(
        lambda: keras_resnets.create_model(name, **_small_kwargs(spec)),
        x,
        (2, CLASSES[spec.dataset]),
    )
    assert model.inputs[0].shape[1] == size
    if spec.params is not None:
        assert count_trainable_params(model) == spec.params


# === The README says what the registry and these tests say ===


def _readme():
    return (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_model_table_is_the_registry():
    readme = _readme()
    assert registry.replace_readme_table(readme) == readme, (
        "README.md's model table differs from the registry: run `python -m keras_resnets.registry`"
    )
    assert registry.readme_table().count("\n| `") == len(keras_resnets.list_models())


def test_readme_states_what_the_parameter_tests_check():
    names = keras_resnets.list_models()
    large = [n for n in names if _is_large(keras_resnets.get_spec(n))]
    readme = " ".join(_readme().split())
    rest = len(names) - len(PAPER_PARAMS) - len(PAPER_GAPS)
    assert (
        f"builds each of the {len(names)} named models on the TensorFlow backend and checks "
        f"this exact count (the {len(large)} largest only with `--run_large`); "
        f"{len(PAPER_PARAMS)} of them also round to the count their paper prints, "
        f"{len(PAPER_GAPS)} do not (`PAPER_GAPS`, each with its reason) and the other {rest} "
        "are not compared with a printed count"
    ) in readme


@pytest.mark.parametrize(
    "alias, canonical",
    [("resnet20", "resnet-20"), ("resnet50", "resnet-50"), ("resnet50v2", "resnet-50-v2"),
     ("preact_resnet164", "preact-resnet-164"), ("WRN_28_10", "wrn-28-10")],
)
def test_aliases(alias, canonical):
    assert keras_resnets.get_spec(alias).name == canonical


def test_unknown_name_lists_closest():
    with pytest.raises(ValueError, match="Closest valid names: .*resnet-20"):
        keras_resnets.create_model("resnet-21")


def test_list_models_pattern():
    assert keras_resnets.list_models("wrn-28*") == ["wrn-28-10", "wrn-28-12"]
    names = keras_resnets.list_models("resnet-*")
    assert names.index("resnet-20") < names.index("resnet-110")  # natural sort


def test_none_kwargs_do_not_override_defaults():
    model = keras_resnets.create_model("resnet-20", num_classes=None, dropout_rate=None)
    assert model.num_classes == 10


def test_no_lambda_layers():
    for name in ["resnet-20", "wrn-16-4", "preact-resnet-164"]:
        model = keras_resnets.create_model(name)
        assert not any(isinstance(l, keras.layers.Lambda) for l in model._flatten_layers())


# === Keyword arguments: checked before building ===


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dropout": 0.3}, r"^Unknown argument `dropout` for model 'wrn-16-4' \(WideResNet\)\. "
                           r"Did you mean `dropout_rate`\? Valid arguments: depth, k, dropout_rate, "),
        ({"num_class": 100}, r"^Unknown argument `num_class` .*Did you mean `num_classes`\?"),
        ({"dropout": 0.3, "lr": 0.1}, r"^Unknown arguments `dropout`, `lr` for model 'wrn-16-4'"),
    ],
)
def test_create_model_rejects_misspelled_arguments(kwargs, match):
    with pytest.raises(TypeError, match=match):
        keras_resnets.create_model("wrn-16-4", **kwargs)


def test_create_model_rejects_arguments_the_name_fixes():
    with pytest.raises(TypeError, match=r"`depth` is fixed by the model name 'resnet-50'"):
        keras_resnets.create_model("resnet-50", depth=101)
    with pytest.raises(TypeError, match=r"`block_type` is fixed by the model name 'resnet-20'"):
        keras_resnets.create_model("resnet-20", block_type="bottleneck")


@pytest.mark.parametrize("name", keras_resnets.list_models())
def test_every_entry_declares_its_arguments(name):
    """The config loader checks `model:` keys with `model_arguments`, which
    reads the registered class's signature: every entry must declare it, and
    every argument it fixes must be rejected before anything is built."""
    fn = keras_resnets.get_spec(name).fn
    valid = registry.model_arguments(name)
    assert issubclass(fn.model_class, keras.Model)
    assert {"num_classes", "input_shape", "name", "trainable"} <= set(valid)
    signature = base.model_argument_names(fn.model_class, fn.model_builder)
    assert set(valid) | set(fn.fixed_arguments) <= set(signature)
    for key in fn.fixed_arguments:
        with pytest.raises(TypeError, match=f"`{key}` is fixed"):
            keras_resnets.create_model(name, **{key: object()})


def test_canonical_names_take_architecture_overrides():
    # keras_resnets.tuning exports unregistered architectures as a family's
    # canonical name plus these kwargs; the config loader must accept them.
    for name, arch in [
        ("resnet-20", {"depth": 56, "preactivation": True}),
        ("shake-shake-26-2x32d", {"depth": 14, "width": 16}),
        ("pyramidnet-110-a48", {"depth": 20, "alpha": 24, "shakedrop": True}),
        ("resnext-29-8x64d", {"depth": 11, "cardinality": 2, "base_width": 4}),
        ("fractalnet-20", {"num_columns": 2, "stackwise_num_filters": [8, 16, 32, 64, 64]}),
    ]:
        registry.check_model_arguments(name, arch)
    # The override reaches the constructor (its own check, before building).
    with pytest.raises(ValueError, match=r"6n\+2.*Received: depth=9"):
        keras_resnets.create_model("shake-shake-26-2x32d", depth=9)
    with pytest.raises(ValueError, match=r"9n\+2.*Received: depth=12"):
        keras_resnets.create_model("resnext-29-8x64d", depth=12)
