"""FractalNet (Larsson et al. 2016): joins with drop-path, structure, counts."""

import itertools

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets.models.fractalnet import FractalJoin
from keras_resnets.models.fractalnet import FractalNet
from keras_resnets.models.fractalnet import FractalPathSampler
from tests.testing import run_layer_test
from tests.testing import run_model_test
from tests.testing import to_numpy

VALUES = (1.0, 10.0, 100.0)


def _inputs(batch=64):
    return [np.full((batch, 2, 2, 3), v, "float32") for v in VALUES]


def _subset_means():
    means = set()
    for k in range(1, 4):
        for subset in itertools.combinations(VALUES, k):
            means.add(round(float(np.mean(subset)), 4))
    return means


def test_join_inference_is_the_plain_mean():
    join = FractalJoin([0, 1, 2], drop_rate=0.5, seed=1)
    np.testing.assert_allclose(to_numpy(join(_inputs(), training=False)), 37.0)
    code = np.zeros((64, 1), "float32")
    np.testing.assert_allclose(to_numpy(join(_inputs() + [code], training=False)), 37.0)


def test_join_local_drop_path_averages_the_kept_inputs():
    join = FractalJoin([0, 1, 2], drop_rate=0.5, seed=1)
    out = to_numpy(join(_inputs(), training=True))
    per_example = out.reshape(64, -1)
    assert np.all(per_example == per_example[:, :1])  # one mask per example
    values = {round(float(v), 4) for v in per_example[:, 0]}
    assert values <= _subset_means() and len(values) > 2
    # Nearly always dropping everything still keeps exactly one input.
    out = to_numpy(FractalJoin([0, 1, 2], drop_rate=0.999, seed=2)(_inputs(), training=True))
    assert set(np.unique(out)) <= set(VALUES)


def test_join_global_drop_path_selects_one_column():
    join = FractalJoin([1, 2, 3], drop_rate=0.5, seed=1)
    code = np.array([[1], [3], [2], [0]], "float32")
    out = to_numpy(join([x[:4] for x in _inputs()] + [code], training=True))
    # Columns 1, 3, 2 carry 1, 100, 10; column 0 is not joined here: mean.
    np.testing.assert_allclose(out[:, 0, 0, 0], [1.0, 100.0, 10.0, 37.0], rtol=1e-6)


def test_join_contract(tmp_path):
    # Local drop-path keeps each input with the same probability, so the
    # training mean is the plain mean that inference returns.
    x = np.random.RandomState(0).rand(8, 3, 3, 2).astype("float32")
    run_layer_test(
        FractalJoin,
        {"columns": [0, 1, 2], "drop_rate": 0.5, "seed": 1},
        [x, 2 * x, -x],
        x.shape,
        expected_num_trainable_weights=0,
        expected_num_seed_generators=1,
        stochastic=True,
        tmp_path=tmp_path,
    )


def test_sampler_contract():
    x = np.random.RandomState(0).rand(32, 3, 3, 2).astype("float32")
    # The column code is not a mean of anything: seeds only; no gradient to fit.
    run_layer_test(
        FractalPathSampler,
        {"num_columns": 3, "global_ratio": 0.5, "seed": 1},
        x,
        (32, 1),
        expected_num_trainable_weights=0,
        expected_num_seed_generators=1,
        stochastic=True,
        expectation=False,
        run_training=False,
    )


def test_sampler_modes():
    x = np.ones((256, 4, 4, 3), "float32")
    sampler = FractalPathSampler(4, global_ratio=0.5, seed=3)
    assert np.all(to_numpy(sampler(x, training=False)) == -1)
    codes = to_numpy(sampler(x, training=True))
    assert set(np.unique(codes)) == {-1, 0, 1, 2, 3}
    assert 0.35 < np.mean(codes >= 0) < 0.65  # half-and-half
    assert np.all(to_numpy(FractalPathSampler(4, 1.0, seed=3)(x, training=True)) >= 0)


def _tiny(columns=3, **kwargs):
    kwargs = {"stackwise_dropout_rates": [0.0, 0.1], "input_shape": (8, 8, 3), "seed": 5, **kwargs}
    return FractalNet(columns, [4, 8], **kwargs)


@pytest.mark.parametrize("columns, joins", [(2, 1), (3, 2), (4, 4)])
def test_fractal_structure(columns, joins):
    model = _tiny(columns)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 2 * (2**columns - 1)  # per block: 1 + 2 + ... + 2^(C-1)
    block_joins = [l for l in model.layers if l.name.startswith("block1_join")]
    assert len(block_joins) == joins
    assert block_joins[-1].columns == list(range(columns))  # last join: all columns
    deepest = [l for l in convs if l.name.startswith(f"block1_column{columns}_")]
    assert len(deepest) == 2 ** (columns - 1)


def test_small_param_count_by_hand():
    # C = 3: per block 3 convs read the block input, 4 read `filters` channels.
    def block(cin, f):
        return 3 * 9 * cin * f + 4 * 9 * f * f + 7 * 2 * f

    expected = block(3, 4) + block(4, 8) + 8 * 10 + 10
    assert keras_resnets.count_trainable_params(_tiny()) == expected


@pytest.mark.large
@pytest.mark.parametrize("name, exact", [("fractalnet-20", 33_724_618), ("fractalnet-40", 76_106_634)])
def test_registered_counts(name, exact):
    """Widths 64/128/256/512/512 with conv3x3-BN-ReLU units give 33.7M (20
    layers) and 76.1M (40 layers), not the paper's 38.6M / 22.9M."""
    model = keras_resnets.create_model(name)
    assert keras_resnets.count_trainable_params(model) == exact


@pytest.mark.parametrize("include_top, pooling, shape", [(True, None, (2, 10)), (False, None, (2, 2, 2, 8)), (False, "avg", (2, 8))])
def test_output_shapes(include_top, pooling, shape):
    model = _tiny(include_top=include_top, pooling=pooling)
    assert tuple(model(np.ones((2, 8, 8, 3), "float32")).shape) == shape


def test_training_mode_runs_and_is_random():
    model = _tiny(4, stackwise_dropout_rates=None)
    x = np.random.RandomState(0).rand(4, 8, 8, 3).astype("float32")
    a, b = to_numpy(model(x, training=True)), to_numpy(model(x, training=True))
    assert np.all(np.isfinite(a)) and not np.allclose(a, b)
    np.testing.assert_array_equal(to_numpy(model(x)), to_numpy(model(x)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_columns"):
        FractalNet(0)
    with pytest.raises(ValueError, match="local_drop_rate"):
        FractalNet(2, local_drop_rate=1.5)
    with pytest.raises(ValueError, match="global_ratio"):
        FractalNet(2, global_ratio=-0.1)
    with pytest.raises(ValueError, match="one rate per block"):
        FractalNet(2, [8, 16], stackwise_dropout_rates=[0.1])
    with pytest.raises(ValueError, match="at least 32x32"):
        FractalNet(2, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="drop_rate"):
        FractalJoin([0, 1], drop_rate=1.0)
    with pytest.raises(ValueError, match="distinct"):
        FractalJoin([0, 0])


def test_config_and_saving_round_trip(tmp_path):
    model = run_model_test(
        _tiny,
        np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32"),
        (2, 10),
        tmp_path=tmp_path,
    )
    assert FractalNet.from_config(model.get_config()).get_config() == model.get_config()
