import keras
import numpy as np
import pytest

from keras_resnets.flops import layer_macs
from keras_resnets.layers import PreActBlock
from keras_resnets.layers import ResNetBlock
from keras_resnets.layers import Shortcut
from tests.testing import run_layer_test
from tests.testing import to_numpy


# Blocks with a random layer (Dropout, DropPath) are checked for seed
# reproducibility; their training mean is not the inference output, since
# BatchNormalization uses batch statistics in training (expectation=False).
@pytest.mark.parametrize(
    "kwargs, in_channels, out_shape, n_train, n_non_train, n_seed",
    [
        # basic, identity: 2 convs + 2 BN (gamma, beta) / 2 BN (mean, var)
        ({"filters": 8}, 8, (2, 8, 8, 8), 6, 4, 0),
        # basic, option B projection: + conv + BN
        ({"filters": 16, "strides": 2}, 8, (2, 4, 4, 16), 9, 6, 0),
        # bottleneck, expansion 4, projection
        ({"filters": 4, "bottleneck": True}, 8, (2, 8, 8, 16), 12, 8, 0),
        # option A: parameter-free shortcut
        ({"filters": 16, "strides": 2, "shortcut": "A"}, 8, (2, 4, 4, 16), 6, 4, 0),
        # stochastic depth on the branch: one DropPath
        ({"filters": 8, "drop_path_rate": 0.5, "seed": 2}, 8, (2, 8, 8, 8), 6, 4, 1),
    ],
)
def test_resnet_block_contract(kwargs, in_channels, out_shape, n_train, n_non_train, n_seed, tmp_path):
    x = np.random.rand(2, 8, 8, in_channels).astype("float32")
    run_layer_test(
        ResNetBlock, kwargs, x, out_shape,
        expected_num_trainable_weights=n_train,
        expected_num_non_trainable_weights=n_non_train,
        expected_num_seed_generators=n_seed,
        stochastic=n_seed > 0, expectation=False,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs, in_channels, out_shape, n_train, n_seed",
    [
        ({"filters": 8}, 8, (2, 8, 8, 8), 6, 0),  # 2 BN + 2 convs
        ({"filters": 16, "strides": 2}, 8, (2, 4, 4, 16), 7, 0),  # + projection conv
        ({"filters": 8, "kernel_sizes": (3, 1, 3), "dropout_rate": 0.3, "seed": 1},
         8, (2, 8, 8, 8), 9, 1),
        ({"filters": 4, "bottleneck": True}, 8, (2, 8, 8, 16), 10, 0),
    ],
)
def test_preact_block_contract(kwargs, in_channels, out_shape, n_train, n_seed, tmp_path):
    x = np.random.rand(2, 8, 8, in_channels).astype("float32")
    run_layer_test(
        PreActBlock, kwargs, x, out_shape,
        expected_num_trainable_weights=n_train,
        expected_num_seed_generators=n_seed,
        stochastic=n_seed > 0, expectation=False,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "kernel_sizes", [(3, 3), (3, 1, 3), (1, 3, 1), (1, 3), (3, 1), (3, 1, 1)]
)
def test_wrn_block_types_param_count(kernel_sizes):
    c = 8
    block = PreActBlock(c, kernel_sizes=kernel_sizes)
    block.build((None, 8, 8, c))
    convs = sum(k * k * c * c for k in kernel_sizes)
    bns = 2 * c * len(kernel_sizes)
    n = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    assert n == convs + bns


def test_option_a_shortcut_is_subsample_and_zero_pad():
    x = np.random.rand(2, 8, 8, 4).astype("float32")
    y = to_numpy(Shortcut(8, 2, mode="A")(x))
    np.testing.assert_array_equal(y[..., :4], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 4:], 0.0)


@pytest.mark.parametrize(
    "mode, in_c, out_c, strides, has_proj",
    [("A", 4, 8, 2, False), ("B", 4, 8, 2, True), ("B", 8, 8, 1, False),
     ("B", 8, 8, 2, False), ("C", 8, 8, 1, True)],
)
def test_shortcut_options(mode, in_c, out_c, strides, has_proj):
    layer = Shortcut(out_c, strides, mode=mode)
    layer.build((None, 8, 8, in_c))
    assert (layer.conv is not None) == has_proj
    out = layer(np.ones((1, 8, 8, in_c), "float32"))
    assert tuple(out.shape) == layer.compute_output_shape((1, 8, 8, in_c))


def test_shortcut_round_trip():
    run_layer_test(
        Shortcut, {"filters": 8, "strides": 2, "mode": "C"},
        np.random.rand(2, 8, 8, 4).astype("float32"), (2, 4, 4, 8),
        expected_num_trainable_weights=3, run_training=False,
    )


def test_zero_init_last_bn_makes_block_identity():
    x = np.random.rand(2, 8, 8, 8).astype("float32")
    y = to_numpy(PreActBlock(8, zero_init_last_bn=True)(x, training=False))
    np.testing.assert_allclose(y, x, atol=1e-6)
    y = to_numpy(ResNetBlock(8, zero_init_last_bn=True)(x, training=False))
    np.testing.assert_allclose(y, np.maximum(x, 0), atol=1e-6)


def test_he_normal_init_and_bn_defaults():
    block = ResNetBlock(64)
    block.build((None, 8, 8, 64))
    kernel = to_numpy(block.convs[0].kernel)
    fan_in = 3 * 3 * 64
    assert abs(kernel.std() - np.sqrt(2.0 / fan_in)) < 0.1 * np.sqrt(2.0 / fan_in)
    np.testing.assert_array_equal(to_numpy(block.bns[0].gamma), 1.0)
    np.testing.assert_array_equal(to_numpy(block.bns[0].beta), 0.0)
    assert not block.convs[0].use_bias


def test_dropout_only_in_training():
    x = np.random.rand(4, 8, 8, 8).astype("float32")
    block = PreActBlock(8, dropout_rate=0.5, seed=1)
    a = to_numpy(block(x, training=False))
    b = to_numpy(block(x, training=False))
    np.testing.assert_array_equal(a, b)
    c = to_numpy(block(x, training=True))
    d = to_numpy(block(x, training=True))
    assert not np.allclose(c, d)


def test_bn_uses_batch_stats_in_training_and_moving_stats_in_inference():
    block = ResNetBlock(4, shortcut="C")
    x = 5.0 + 3.0 * np.random.rand(8, 6, 6, 4).astype("float32")
    y_inf = to_numpy(block(x, training=False))
    before = to_numpy(block.bns[0].moving_mean).copy()
    block(x, training=True)
    after = to_numpy(block.bns[0].moving_mean)
    assert not np.allclose(before, after)  # training updates moving stats
    # In inference BN with fresh stats (mean 0, var 1) is ~identity; in
    # training the batch normalisation removes the +5 offset.
    conv_out = to_numpy(block.convs[0](x))
    train_bn = to_numpy(block.bns[0](conv_out, training=True))
    np.testing.assert_allclose(train_bn.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    assert y_inf.shape == (8, 6, 6, 4)


def test_channels_first():
    x = np.random.rand(2, 4, 8, 8).astype("float32")
    for cls in (ResNetBlock, PreActBlock):
        block = cls(8, 2, data_format="channels_first")
        try:
            y = block(x)
        except Exception as e:  # conv in channels_first is unsupported on TF CPU
            if keras.backend.backend() == "tensorflow":
                pytest.skip(f"TensorFlow CPU has no channels_first conv: {e}")
            raise
        assert tuple(y.shape) == (2, 8, 4, 4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 8, "shortcut": "D"}, "shortcut"),
        ({"filters": 8, "kernel_sizes": (5, 3)}, "kernel_sizes"),
        ({"filters": 8, "dropout_rate": 1.0}, r"dropout_rate.*\[0, 1\)"),
        ({"filters": 8, "dropout_rate": -0.1}, "dropout_rate"),
        ({"filters": 8, "strides": 3}, "strides"),
        ({"filters": 0}, "filters"),
    ],
)
def test_block_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PreActBlock(**kwargs)


def test_shortcut_errors():
    with pytest.raises(ValueError, match="one of 'A'.*'B'.*'C'"):
        Shortcut(8, mode="X")
    with pytest.raises(ValueError, match="only add channels"):
        Shortcut(4, mode="A").build((None, 8, 8, 8))


def test_same_shaped_convs_start_with_different_kernels():
    # An unseeded initializer instance repeats its values: each conv needs its own.
    for cls in (ResNetBlock, PreActBlock):
        block = cls(8, kernel_initializer="he_normal")
        block.build((None, 8, 8, 8))
        k1, k2 = (to_numpy(c.kernel) for c in block.convs)
        assert not np.allclose(k1, k2)


def test_multiply_adds_come_from_the_sub_layer_shapes():
    # conv1 3x3/2 8->16 on 4x4 outputs, conv2 3x3 16->16, SE 16->4->16,
    # 1x1/2 projection 8->16: counted from the built layers, not by the block.
    block = ResNetBlock(16, 2, se_ratio=4)
    block.build((None, 8, 8, 8))
    conv1, conv2, se, projection = 16 * 9 * 8 * 16, 16 * 9 * 16 * 16, 2 * 16 * 4, 16 * 8 * 16
    assert layer_macs(block) == conv1 + conv2 + se + projection == 57_472
