"""Registry-wide tests: every registered name builds, has its paper's
parameter count, round-trips its config and follows the naming rule."""

import re

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import count_trainable_params
from keras_resnets import registry
from keras_resnets.models import base

# Registered models too large to build in the default suite.
LARGE = {"resnet-1202", "preact-resnet-1001"}


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
    big = spec.params is not None and spec.params > 30e6
    if (name in LARGE or big) and not request.config.getoption("--run_large"):
        pytest.skip("large model: pass --run_large")
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9.]+)*", name), name
    model = keras_resnets.create_model(name, **_small_kwargs(spec))
    if spec.params is not None:
        assert abs(count_trainable_params(model) - spec.params) <= 0.01 * spec.params
    size = model.inputs[0].shape[1]
    y = model(np.zeros((2, size, size, 3), "float32"), training=False)
    assert y.shape[0] == 2
    config = model.get_config()
    clone = model.__class__.from_config(config)
    assert count_trainable_params(clone) == count_trainable_params(model)


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
