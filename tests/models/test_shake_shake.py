"""Shake-Shake ResNets (Gastaldi 2017): counts, block contract, training."""

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets.flops import layer_macs
from keras_resnets.models.shake_shake import ShakeShakeBlock
from keras_resnets.models.shake_shake import ShakeShakeResNet
from tests.testing import run_layer_test
from tests.testing import run_model_test
from tests.testing import to_numpy


def _tiny(**kwargs):
    return ShakeShakeResNet(8, 4, input_shape=(8, 8, 3), seed=3, **kwargs)


def test_shake_shake_26_2x32d_exact_count():
    model = keras_resnets.create_model("shake-shake-26-2x32d")
    assert keras_resnets.count_trainable_params(model) == 2_923_162


@pytest.mark.large
@pytest.mark.parametrize(
    "name, exact, paper",
    [
        ("shake-shake-26-2x64d", 11_653_978, 11.7e6),
        ("shake-shake-26-2x96d", 26_192_922, 26.2e6),
        # 100 classes; 34,437,450 with a 10-class head.
        ("shake-shake-resnext-29-2x4x64d", 34_529_700, 34.4e6),
    ],
)
def test_paper_param_counts(name, exact, paper):
    count = keras_resnets.count_trainable_params(keras_resnets.create_model(name))
    assert count == exact
    assert abs(count - paper) / paper < 0.005


def test_block_contract(tmp_path):
    x = np.random.RandomState(0).rand(2, 8, 8, 4).astype("float32")
    # Two branches x 2 x (kernel, gamma, beta), shortcut 2 kernels + BN.
    run_layer_test(
        ShakeShakeBlock,
        {"filters": 8, "strides": 2, "seed": 1},
        x,
        (2, 4, 4, 8),
        expected_num_trainable_weights=16,
        expected_num_non_trainable_weights=10,
        expected_num_seed_generators=1,  # ShakeShake
        # Training BatchNormalization uses batch statistics: no expectation check.
        stochastic=True, expectation=False,
        tmp_path=tmp_path,
    )


def test_block_inference_is_the_branch_mean_plus_shortcut():
    block = ShakeShakeBlock(4, 1, seed=0)
    x = np.random.RandomState(1).rand(2, 6, 6, 4).astype("float32")
    y = to_numpy(block(x, training=False))
    b1 = to_numpy(block._branch(block.branches[0], x, False))
    b2 = to_numpy(block._branch(block.branches[1], x, False))
    assert not block.projection
    np.testing.assert_allclose(y, x + 0.5 * (b1 + b2), rtol=1e-5, atol=1e-5)
    # Multiply-adds from the layer shapes: 2 branches x 2 convs of
    # 6*6*9*4*4 (the identity shortcut has none).
    assert layer_macs(block) == 4 * 36 * 9 * 16


def test_two_path_shortcut_samples_even_and_odd_pixels():
    block = ShakeShakeBlock(4, 2)
    x = np.random.RandomState(2).rand(1, 4, 4, 2).astype("float32")
    block.build(x.shape)
    for conv in block.shortcut_convs:  # identity-like 1x1 kernels, 2 -> 2
        conv.kernel.assign(np.eye(2, dtype="float32").reshape(1, 1, 2, 2))
    block.shortcut_bn.gamma.assign(np.ones(4, "float32"))
    y = to_numpy(block._shortcut(x, training=False))
    r = np.maximum(x, 0)
    expected = np.concatenate([r[:, ::2, ::2], r[:, 1::2, 1::2]], axis=-1)
    eps = block.shortcut_bn.epsilon
    np.testing.assert_allclose(y, expected / np.sqrt(1 + eps), rtol=1e-5)


@pytest.mark.parametrize("include_top, pooling, shape", [(True, None, (2, 10)), (False, None, (2, 2, 2, 16)), (False, "max", (2, 16))])
def test_output_shapes(include_top, pooling, shape):
    out = _tiny(include_top=include_top, pooling=pooling)(np.ones((2, 8, 8, 3), "float32"))
    assert tuple(out.shape) == shape


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"6n\+2"):
        ShakeShakeResNet(27)
    with pytest.raises(ValueError, match=r"9n\+2"):
        ShakeShakeResNet(26, block_type="bottleneck")
    with pytest.raises(ValueError, match="forward"):
        ShakeShakeResNet(8, 4, forward="wobble")
    with pytest.raises(ValueError, match="level"):
        ShakeShakeBlock(8, level="pixel")
    with pytest.raises(ValueError, match="drop_path_rate"):
        ShakeShakeResNet(8, 4, drop_path_rate=1.5)
    with pytest.raises(ValueError, match="divisible by `groups`"):
        ShakeShakeBlock(8, bottleneck_width=6, groups=4)


def _fit_losses(model, jit_compile, epochs=12):
    rng = np.random.RandomState(0)
    x = rng.rand(8, 8, 8, 3).astype("float32")
    y = np.arange(8) % 4
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    return history.history["loss"]


def test_training_reduces_loss():
    # Shake-Shake-Image with stochastic depth, on every backend.
    # Compiled on JAX (eager JAX steps are slow); torch and TF run eagerly.
    model = _tiny(num_classes=4, drop_path_rate=0.1)
    losses = _fit_losses(model, jit_compile=keras.backend.backend() == "jax", epochs=10)
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert all(np.isfinite(losses))


def test_bottleneck_variant_runs_in_training_mode():
    model = ShakeShakeResNet(
        11, 8, block_type="bottleneck", cardinality=2, base_width=2,
        num_classes=4, input_shape=(8, 8, 3), seed=3,
    )
    assert model.get_layer("stage1_block1").branches[0][1][1].groups == 2
    x = np.random.RandomState(0).rand(4, 8, 8, 3).astype("float32")
    a, b = to_numpy(model(x, training=True)), to_numpy(model(x, training=True))
    assert np.all(np.isfinite(a)) and not np.allclose(a, b)  # shaken
    np.testing.assert_allclose(to_numpy(model(x)).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.tensorflow_only
def test_jit_compile_on_tensorflow():
    losses = _fit_losses(_tiny(num_classes=4), jit_compile=True, epochs=8)
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_config_and_saving_round_trip(tmp_path):
    model = run_model_test(
        lambda: _tiny(forward="shake", backward="even", level="batch"),
        np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32"),
        (2, 10),
        tmp_path=tmp_path,
    )
    assert ShakeShakeResNet.from_config(model.get_config()).get_config() == model.get_config()


def test_branches_are_initialized_independently():
    block = ShakeShakeBlock(4, 1)
    block.build((None, 6, 6, 4))
    k1 = to_numpy(block.branches[0][0][1].kernel)
    k2 = to_numpy(block.branches[1][0][1].kernel)
    assert not np.allclose(k1, k2)
    x = np.random.RandomState(0).rand(4, 6, 6, 4).astype("float32")
    a, b = to_numpy(block(x, training=True)), to_numpy(block(x, training=True))
    assert not np.allclose(a, b)  # the shake actually mixes two different branches


def test_the_two_branches_start_with_different_kernels():
    # One initializer instance per conv (make_conv): unseeded instances repeat.
    block = ShakeShakeBlock(4, 1, kernel_initializer="he_normal")
    block.build((None, 6, 6, 4))
    (_, conv1, _), (_, conv2, _) = block.branches[0][0], block.branches[1][0]
    assert not np.allclose(to_numpy(conv1.kernel), to_numpy(conv2.kernel))
