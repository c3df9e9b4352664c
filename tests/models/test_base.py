"""What every model class shares (models/base.py): keyword-argument checks,
the per-block schedule, `apply_stages` and the depth rule."""

import json
import re

import keras
import pytest

import keras_resnets
from keras_resnets import models
from keras_resnets.layers import ResNetBlock
from keras_resnets.models import base

# Required (or small) arguments of each exported model class.
MINIMAL_ARGS = {
    "ResNet": (20,),
    "PreActResNet": (164,),
    "WideResNet": (16, 4),
    "ResNeXt": ([1, 1, 1],),
    "ShakeShakeResNet": (8, 8),
    "PyramidNet": (8, 12),
    "FractalNet": (2,),
}
MODEL_CLASSES = sorted(
    (
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, keras.Model)
    ),
    key=lambda cls: cls.__name__,
)


def test_every_exported_model_class_is_covered():
    assert sorted(cls.__name__ for cls in MODEL_CLASSES) == sorted(MINIMAL_ARGS)


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_unknown_argument_raises_before_building(cls):
    args = MINIMAL_ARGS[cls.__name__]
    with pytest.raises(
        TypeError,
        match=rf"^Unknown argument `num_class` for {cls.__name__}\. Did you mean "
        r"`num_classes`\? Valid arguments: .*num_classes.*, name, trainable\.$",
    ):
        cls(*args, num_class=100)


# Small builds of each class, for the config tests.
SMALL_KWARGS = {
    "PreActResNet": {"depth": 20, "block_type": "basic"},
    "ResNeXt": {"stackwise_num_blocks": [1], "stackwise_num_filters": [16]},
    "FractalNet": {"num_columns": 2, "stackwise_num_filters": [8], "stackwise_dropout_rates": None},
}
# Constructor arguments `get_config` leaves out: a weights path (loaded
# once) and ResNet's depth (saved as the layout it resolves to).
UNSAVED = {
    "ResNet": {"depth", "weights"},
    "PreActResNet": {"depth", "weights"},
    "ResNeXt": {"weights"},
}


def _small_model(cls):
    args = () if cls.__name__ in SMALL_KWARGS else MINIMAL_ARGS[cls.__name__]
    return cls(*args, **SMALL_KWARGS.get(cls.__name__, {}), input_shape=(32, 32, 3))


def test_every_registered_model_class_is_covered():
    """Every class the registry builds (paper and family names) is exported
    by `keras_resnets.models` and so covered by the tests of this module."""
    names = keras_resnets.list_models() + keras_resnets.list_models(families=True)
    built = {keras_resnets.get_spec(name).fn.model_class for name in names}
    assert built <= set(MODEL_CLASSES)


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_get_config_returns_the_constructor_arguments(cls):
    """Every named argument and shared option is in `get_config` except the
    `classes` alias, `dtype` and `UNSAVED`, and `from_config` rebuilds the
    same model: same config (in order), weight paths and shapes."""
    model = _small_model(cls)
    config = model.get_config()
    expected = set(base.model_argument_names(cls)) - {"classes", "dtype"}
    assert set(config) == expected - UNSAVED.get(cls.__name__, set())
    assert set(cls.option_names()) <= set(base.model_argument_names(cls))
    clone = cls.from_config(config)
    assert json.dumps(clone.get_config()) == json.dumps(config)
    assert [(w.path, tuple(w.shape)) for w in clone.weights] == [
        (w.path, tuple(w.shape)) for w in model.weights
    ]


def test_shared_options_are_validated_once_for_every_family():
    with pytest.raises(ValueError, match=r"^`pooling` must be None, 'avg' or 'max'\. Received: pooling='mean'$"):
        keras_resnets.FractalNet(2, stackwise_num_filters=[8], stackwise_dropout_rates=None, pooling="mean")
    with pytest.raises(ValueError, match=r"^Pass either `num_classes` or its alias `classes`"):
        keras_resnets.PyramidNet(8, 12, num_classes=3, classes=4)
    # Block options only for the families built of residual blocks.
    with pytest.raises(TypeError, match=r"^Unknown argument `se_ratio` for FractalNet\."):
        keras_resnets.FractalNet(2, stackwise_num_filters=[8], se_ratio=4)


def test_default_model_names():
    model = keras_resnets.FractalNet(
        2, stackwise_num_filters=[8], stackwise_dropout_rates=None, input_shape=(8, 8, 3)
    )
    assert model.name == "fractalnet_2"
    assert keras_resnets.WideResNet(10, 1).name == "wrn_10_1"


def test_user_subclass_with_its_own_arguments():
    """A subclass of a family adds its own arguments and get_config, as
    with any keras.Model; the family's part of the config is unchanged."""

    class TaggedWideResNet(keras_resnets.WideResNet):
        def __init__(self, depth, k=1, *, tag="x", **kwargs):
            super().__init__(depth, k, **kwargs)
            self.tag = tag

        def get_config(self):
            return {**super().get_config(), "tag": self.tag}

    model = TaggedWideResNet(10, 2, tag="mine", dropout_rate=0.1)
    config = model.get_config()
    assert config["tag"] == "mine" and config["k"] == 2 and config["dropout_rate"] == 0.1
    assert set(config) == set(keras_resnets.WideResNet(10, 2).get_config()) | {"tag"}
    rebuilt = TaggedWideResNet.from_config(config)
    assert rebuilt.tag == "mine" and rebuilt.count_params() == model.count_params()


def test_unknown_argument_message_shapes():
    valid = ("depth", "k", "dropout_rate", "num_classes")
    one = base.unknown_arguments_error(["dropout"], valid, "WideResNet")
    assert str(one) == (
        "Unknown argument `dropout` for WideResNet. Did you mean `dropout_rate`? "
        "Valid arguments: depth, k, dropout_rate, num_classes."
    )
    two = base.unknown_arguments_error(["lr", "num_class"], valid, "X", prefix="model.")
    assert str(two).startswith(
        "Unknown arguments `model.lr`, `model.num_class` for X. Did you mean "
        "`model.num_classes` for `model.num_class`?"
    )
    none = base.unknown_arguments_error(["lr"], valid, "X")
    assert "Did you mean" not in str(none)


def test_model_argument_names_read_the_signature():
    names = base.model_argument_names(keras_resnets.WideResNet)
    assert names[:3] == ("depth", "k", "dropout_rate")
    assert names[-3:] == ("dtype", "name", "trainable")
    assert "kwargs" not in names and "self" not in names
    with_builder = base.model_argument_names(
        keras_resnets.ResNet, keras_resnets.models.cifar_resnet
    )
    assert with_builder[:3] == ("depth", "preactivation", "bottleneck")
    assert with_builder.count("depth") == 1



def test_block_schedule_places_strides_rates_and_names():
    schedule = base.block_schedule(
        [2, 2], [1, 2], stackwise_num_filters=[8, 16], drop_path_rate=0.2
    )
    assert [s.name for s in schedule] == [
        "stage1_block1", "stage1_block2", "stage2_block1", "stage2_block2"
    ]
    assert [(s.stage, s.block, s.index) for s in schedule] == [(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)]
    assert [s.filters for s in schedule] == [8, 8, 16, 16]
    assert [s.strides for s in schedule] == [1, 1, 2, 1]
    assert [s.drop_path_rate for s in schedule] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert [s.shakedrop_p for s in schedule] == [None] * 4
    assert schedule[2].seed(10) == 12 and schedule[2].seed(None) is None
    # keras.applications' V2 layout: the stride on a stage's last block.
    last = base.block_schedule([2, 2], [2, 2], stackwise_num_filters=[8, 16], downsample_last=True)
    assert [s.strides for s in last] == [1, 2, 1, 2]
    # PyramidNet: a width per block and ShakeDrop's p_l = 1 - l/L (1 - p_L).
    pyramid = base.block_schedule([1, 1], [1, 2], block_filters=[18, 20], shakedrop_p_last=0.5)
    assert [(s.filters, s.shakedrop_p) for s in pyramid] == [(18, 0.75), (20, 0.5)]


def test_block_schedule_errors():
    with pytest.raises(ValueError, match=r"`drop_path_rate` must be in the interval \[0, 1\)"):
        base.block_schedule([1], [1], stackwise_num_filters=[8], drop_path_rate=1.0)
    with pytest.raises(ValueError, match=r"`shakedrop_p_last` must be in the interval \[0, 1\]"):
        base.block_schedule([1], [1], block_filters=[8], shakedrop_p_last=1.5)


def test_apply_stages_builds_one_block_per_schedule_entry():
    schedule = base.block_schedule([1, 2], [1, 2], stackwise_num_filters=[4, 8])
    x = keras.Input((8, 8, 4))
    y = base.apply_stages(
        x,
        lambda spec: ResNetBlock(spec.filters, spec.strides, name=spec.name),
        schedule,
    )
    model = keras.Model(x, y)
    assert [layer.name for layer in model.layers[1:]] == [s.name for s in schedule]
    assert tuple(y.shape) == (None, 4, 4, 8)


@pytest.mark.parametrize(
    "depth, kwargs, n",
    [
        (20, {"layers_per_block": 2}, 3),
        (29, {"layers_per_block": 3}, 3),
        (28, {"layers_per_block": 2, "extra_layers": 4}, 4),
    ],
)
def test_blocks_per_stage(depth, kwargs, n):
    assert base.blocks_per_stage(depth, family="X", examples="-", **kwargs) == n


@pytest.mark.parametrize("depth", [27, 4, 20.0, True, "20"])
def test_blocks_per_stage_errors(depth):
    with pytest.raises(
        ValueError,
        match=r"^WRN depth must be 6n\+4 for block_type \(3, 3\) \(e\.g\. 10, 16\)\. "
        rf"Received: depth={re.escape(repr(depth))}$",
    ):
        base.blocks_per_stage(
            depth, family="WRN", layers_per_block=2, extra_layers=4,
            rule=" for block_type (3, 3)", examples="10, 16",
        )
