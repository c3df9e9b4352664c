"""SE-ResNet (Hu 2018) and stochastic-depth ResNet (Huang 2016) entries."""

import pytest

import keras_resnets
from keras_resnets.layers.attention import SqueezeExcite
from keras_resnets.models.resnet import cifar_resnet


@pytest.mark.large
def test_se_resnet50_param_count():
    count = keras_resnets.count_trainable_params(keras_resnets.create_model("se-resnet-50"))
    assert count == 28_088_024  # Hu 2018 Table 2: 28.1M
    assert keras_resnets.get_spec("se-resnet-50").params == count


def test_se_sits_on_the_branch_of_every_block():
    model = cifar_resnet(8, se_ratio=4, input_shape=(8, 8, 3))
    blocks = [layer for layer in model.layers if layer.name.startswith("stage")]
    assert blocks and all(isinstance(b.se, SqueezeExcite) for b in blocks)
    plain = cifar_resnet(8, input_shape=(8, 8, 3))
    # Per block: 2*C*(C/4) + C/4 + C for C = 16, 32, 64.
    extra = sum(2 * c * (c // 4) + c // 4 + c for c in (16, 32, 64))
    assert (
        keras_resnets.count_trainable_params(model)
        - keras_resnets.count_trainable_params(plain)
        == extra
    )


def test_stochastic_depth_linear_decay():
    spec = keras_resnets.get_spec("resnet-110-stochastic-depth")
    assert spec.params == 1_727_962
    model = cifar_resnet(20, drop_path_rate=0.5, input_shape=(8, 8, 3))
    rates = [
        layer.drop_path_rate for layer in model.layers if layer.name.startswith("stage")
    ]
    assert rates == pytest.approx([0.5 * l / 9 for l in range(1, 10)])


@pytest.mark.large
def test_resnet110_stochastic_depth_builds():
    model = keras_resnets.create_model("resnet-110-stochastic-depth")
    assert keras_resnets.count_trainable_params(model) == 1_727_962
    assert model.get_layer("stage3_block18").drop_path_rate == pytest.approx(0.5)
