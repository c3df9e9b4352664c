"""PyramidNet (Han 2017) and PyramidNet + ShakeDrop (Yamada 2018)."""

import numpy as np
import pytest

import keras_resnets
from keras_resnets.layers.regularization import ShakeDrop
from keras_resnets.models.pyramidnet import PyramidBlock
from keras_resnets.models.pyramidnet import PyramidNet
from keras_resnets.models.pyramidnet import pyramid_widths
from tests.testing import run_layer_test
from tests.testing import run_model_test
from tests.testing import to_numpy


def _count_by_hand(depth, alpha, bottleneck, classes=10):
    n = (depth - 2) // (9 if bottleneck else 6)
    p, cin = 27 * 16 + 2 * 16, 16
    for w in pyramid_widths(3 * n, alpha):
        if bottleneck:
            out = 4 * w
            p += 2 * cin + cin * w + 2 * w + 9 * w * w + 2 * w + w * out + 2 * out
        else:
            out = w
            p += 2 * cin + 9 * cin * w + 2 * w + 9 * w * w + 2 * w
        cin = out
    return p + 2 * cin + cin * classes + classes


def test_widths_follow_the_reference_rounding():
    # 16 + k * 48 / 54, rounded half to even as Python's round.
    widths = pyramid_widths(54, 48)
    assert widths[:4] == [17, 18, 19, 20] and widths[-1] == 64
    assert pyramid_widths(3, 6) == [18, 20, 22]
    assert pyramid_widths(2, 1) == [16, 17]  # round(16.5) == 16


@pytest.mark.parametrize("depth, alpha, bottleneck", [(8, 6, False), (11, 12, True)])
def test_small_param_counts_by_hand(depth, alpha, bottleneck):
    model = PyramidNet(depth, alpha, bottleneck=bottleneck, input_shape=(8, 8, 3))
    assert keras_resnets.count_trainable_params(model) == _count_by_hand(depth, alpha, bottleneck)


@pytest.mark.parametrize(
    "depth, alpha, bottleneck, paper",
    [(110, 48, False, 1.7e6), (110, 84, False, 3.8e6), (110, 270, False, 28.3e6), (272, 200, True, 26.0e6)],
)
def test_registered_counts_against_the_paper(depth, alpha, bottleneck, paper):
    """The reference widths give 1.77M / 3.90M / 28.49M / 26.21M; the paper
    prints 1.7M / 3.8M / 28.3M / 26.0M (26.00M for 272 without BN weights),
    so the basic-block rows agree only within 4.5 %."""
    exact = _count_by_hand(depth, alpha, bottleneck)
    suffix = f"{depth}-a{alpha}"
    assert keras_resnets.get_spec(f"pyramidnet-{suffix}").params == exact
    assert abs(exact - paper) / paper < 0.045


@pytest.mark.large
@pytest.mark.parametrize("name", ["pyramidnet-110-a48", "pyramidnet-272-a200-shakedrop"])
def test_registered_models_build_with_their_counts(name):
    model = keras_resnets.create_model(name)
    assert keras_resnets.count_trainable_params(model) == keras_resnets.get_spec(name).params


def test_block_contract(tmp_path):
    x = np.random.RandomState(0).rand(2, 8, 8, 4).astype("float32")
    run_layer_test(
        PyramidBlock,
        {"filters": 6, "strides": 2, "shakedrop_p": 0.5, "seed": 1},
        x,
        (2, 4, 4, 6),
        expected_num_trainable_weights=8,  # 3 BN x 2 + 2 kernels
        expected_num_non_trainable_weights=6,
        expected_num_seed_generators=1,  # ShakeDrop
        # BatchNormalization uses batch statistics in training, so the
        # block's training mean is not its inference output.
        stochastic=True, expectation=False,
        tmp_path=tmp_path,
    )


def test_block_zero_padded_average_pool_shortcut():
    block = PyramidBlock(6, 2, shakedrop_p=0.5)
    x = np.random.RandomState(1).rand(1, 4, 4, 2).astype("float32")
    y = to_numpy(block(x, training=False))
    branch = to_numpy(block.bns[1](block.convs[1](np.maximum(
        to_numpy(block.bns[0](block.convs[0](block.pads[0](block.bn_in(x))))), 0))))
    pooled = x.reshape(1, 2, 2, 2, 2, 2).mean(axis=(2, 4))
    shortcut = np.concatenate([pooled, np.zeros((1, 2, 2, 4), "float32")], axis=-1)
    # Inference: x + E[b + alpha - b alpha] F(x) = shortcut + p F(x).
    np.testing.assert_allclose(y, shortcut + 0.5 * branch, rtol=1e-5, atol=1e-5)


def test_shakedrop_linear_decay():
    model = PyramidNet(20, 12, shakedrop=True, input_shape=(8, 8, 3))
    layers = [l for l in model.layers if isinstance(l, PyramidBlock)]
    assert len(layers) == 9
    assert all(isinstance(l.shakedrop, ShakeDrop) for l in layers)
    np.testing.assert_allclose(
        [l.shakedrop_p for l in layers], [1 - l / 9 * 0.5 for l in range(1, 10)]
    )
    dp = PyramidNet(8, 6, drop_path_rate=0.3, input_shape=(8, 8, 3))
    assert [l.drop_path_rate for l in dp.layers if isinstance(l, PyramidBlock)] == pytest.approx(
        [0.1, 0.2, 0.3]
    )


@pytest.mark.parametrize("include_top, pooling, shape", [(True, None, (2, 10)), (False, None, (2, 2, 2, 22)), (False, "avg", (2, 22))])
def test_output_shapes(include_top, pooling, shape):
    model = PyramidNet(8, 6, include_top=include_top, pooling=pooling, input_shape=(8, 8, 3))
    assert tuple(model(np.ones((2, 8, 8, 3), "float32")).shape) == shape


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"6n\+2"):
        PyramidNet(111)
    with pytest.raises(ValueError, match=r"9n\+2"):
        PyramidNet(112, bottleneck=True)
    with pytest.raises(ValueError, match="alpha"):
        PyramidNet(8, -1)
    with pytest.raises(ValueError, match="shakedrop_p_last"):
        PyramidNet(8, 6, shakedrop=True, shakedrop_p_last=1.5)
    with pytest.raises(ValueError, match="shakedrop_p"):
        PyramidBlock(8, shakedrop_p=-0.1)
    with pytest.raises(ValueError, match="not both"):
        PyramidNet(8, 6, shakedrop=True, drop_path_rate=0.1)


def test_config_and_saving_round_trip(tmp_path):
    model = run_model_test(
        lambda: PyramidNet(11, 12, bottleneck=True, shakedrop=True, seed=2, input_shape=(8, 8, 3)),
        np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32"),
        (2, 10),
        tmp_path=tmp_path,
    )
    assert PyramidNet.from_config(model.get_config()).get_config() == model.get_config()
