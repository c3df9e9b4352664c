"""Keyword-argument checks every model class shares (models/base.py)."""

import keras
import pytest

import keras_resnets
from keras_resnets import models
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

