"""Registry-wide tests: every registered name builds, has its paper's
parameter count, round-trips its config and follows the naming rule."""

import re

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import count_trainable_params

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
