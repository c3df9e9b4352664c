"""ResNeXt (Xie et al. 2017): parameter counts, shapes, errors, round trips."""

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets.models.resnext import ResNeXt
from keras_resnets.models.resnext import cifar_resnext
from keras_resnets.models.resnext import imagenet_resnext
from tests.testing import run_model_test


def _tiny(**kwargs):
    return ResNeXt(
        [1, 1], 2, base_width=4, stem="cifar", stackwise_num_filters=[16, 32],
        input_shape=(8, 8, 3), **kwargs,
    )


def test_tiny_param_count_by_hand():
    # stem conv3x3 3->64 + BN; stage s: inner w = 2*4*2^s, output 16*2^s.
    def block(cin, w, out, groups=2):
        p = cin * w + 2 * w + 9 * w * (w // groups) + 2 * w + w * out + 2 * out
        return p + (cin * out + 2 * out if cin != out else 0)

    expected = 27 * 64 + 128 + block(64, 8, 16) + block(16, 16, 32) + 32 * 10 + 10
    assert keras_resnets.count_trainable_params(_tiny()) == expected


@pytest.mark.large
@pytest.mark.parametrize(
    "name, exact, paper",
    [
        ("resnext-29-8x64d", 34_426_698, 34.4e6),
        ("resnext-29-16x64d", 68_155_210, 68.1e6),
        ("resnext-50-32x4d", 25_028_904, 25.0e6),
        ("resnext-101-32x4d", 44_177_704, 44.2e6),
    ],
)
def test_paper_param_counts(name, exact, paper):
    model = keras_resnets.create_model(name)
    count = keras_resnets.count_trainable_params(model)
    assert count == exact
    # The paper rounds to 0.1M (68.16M is printed as 68.1M).
    assert abs(count - paper) <= 0.1e6


@pytest.mark.parametrize("include_top, pooling, shape", [(True, None, (2, 10)), (False, None, (2, 4, 4, 32)), (False, "avg", (2, 32))])
def test_output_shapes(include_top, pooling, shape):
    model = _tiny(include_top=include_top, pooling=pooling)
    out = model(np.ones((2, 8, 8, 3), "float32"), training=False)
    assert tuple(out.shape) == shape


def test_grouped_block_layout():
    model = _tiny()
    block = model.get_layer("stage2_block1")
    assert block.groups == 2 and block.output_filters == 32
    assert tuple(block.convs[1].kernel.shape) == (3, 3, 8, 16)  # 16 inner, 2 groups
    assert block.strides == 2 and block.stride_index == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"9n\+2"):
        cifar_resnext(30)
    with pytest.raises(ValueError, match="one of 50, 101, 152"):
        imagenet_resnext(34)
    with pytest.raises(ValueError, match="cardinality"):
        ResNeXt([1], 0, stem="cifar")
    with pytest.raises(ValueError, match="drop_path_rate"):
        _tiny(drop_path_rate=1.5)


def test_config_and_saving_round_trip(tmp_path):
    model = run_model_test(
        lambda: _tiny(se_ratio=4, drop_path_rate=0.1),
        np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32"),
        (2, 10),
        tmp_path=tmp_path,
    )
    assert ResNeXt.from_config(model.get_config()).get_config() == model.get_config()
