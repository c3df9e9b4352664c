import numpy as np
import pytest

import keras_resnets
from keras_resnets import WideResNet
from keras_resnets import count_trainable_params
from tests.testing import run_model_test
from tests.testing import to_numpy

# Zagoruyko & Komodakis 2016, Table 4 (exact counts from ../shared/PAPERS.md).
WRN_PARAMS = {
    (40, 1): 563_930,
    (40, 2): 2_243_546,
    (40, 4): 8_949_210,
    (40, 8): 35_748_314,
    (16, 4): 2_748_890,
    (16, 8): 10_961_370,
    (16, 10): 17_116_634,
    (22, 8): 17_158_106,
    (28, 10): 36_479_194,
    (28, 12): 52_517_850,
}


@pytest.mark.parametrize("depth, k", sorted(WRN_PARAMS))
def test_param_counts(depth, k):
    assert count_trainable_params(WideResNet(depth, k)) == WRN_PARAMS[(depth, k)]


def test_positional_and_registry_agree():
    a = WideResNet(28, 10, num_classes=100, dropout_rate=0.3)
    b = keras_resnets.create_model("wrn-28-10", num_classes=100, dropout_rate=0.3)
    assert count_trainable_params(a) == count_trainable_params(b)
    assert b.dropout_rate == 0.3 and b.num_classes == 100


@pytest.mark.parametrize(
    "block_type, depth", [((3, 3), 10), ((3, 1, 3), 13), ((1, 3, 1), 13), ((1, 3), 10),
                          ((3, 1), 10), ((3, 1, 1), 13)],
)
def test_block_types(block_type, depth):
    model = WideResNet(depth, 2, block_type=block_type)
    assert model.deepening_factor == len(block_type)
    n = (depth - 4) // (3 * len(block_type))
    blocks = [l for l in model.layers if l.name.startswith("stage")]
    assert len(blocks) == 3 * n
    assert blocks[0].kernel_sizes == block_type


def test_dropout_between_convs_only_in_training():
    model = WideResNet(10, 1, dropout_rate=0.5)
    x = np.random.rand(4, 32, 32, 3).astype("float32")
    np.testing.assert_array_equal(
        to_numpy(model(x, training=False)), to_numpy(model(x, training=False))
    )
    assert not np.allclose(to_numpy(model(x, training=True)), to_numpy(model(x, training=True)))
    # No dropout on the identity path: the block keeps a Dropout sub-layer only.
    block = model.get_layer("stage1_block1")
    assert block.dropout is not None and block.dropout.rate == 0.5


def test_save_load(tmp_path):
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    run_model_test(lambda: WideResNet(10, 2, dropout_rate=0.3, num_classes=5), x, (2, 5), tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 27, "k": 10}, r"6n\+4.*10, 16, 22, 28, 34, 40.*Received: depth=27"),
        ({"depth": 28, "k": 0}, r"k.*>= 1"),
        ({"depth": 28, "k": 2, "dropout_rate": 1.0}, r"\[0, 1\)"),
        ({"depth": 28, "k": 2, "block_type": (5, 5)}, "block_type"),
        ({"depth": 28, "k": 2, "block_type": (3, 1, 3)}, r"9n\+4"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WideResNet(**kwargs)


def test_misspelled_argument_is_an_error():
    with pytest.raises(
        TypeError,
        match=r"^Unknown argument `dropuot_rate` for WideResNet\. Did you mean `dropout_rate`\?",
    ):
        WideResNet(16, 4, dropuot_rate=0.3)
