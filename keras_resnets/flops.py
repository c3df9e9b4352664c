"""Model cost: trainable parameters and multiply-adds of one forward pass.

Multiply-adds come from the shapes of the convolution and dense layers
alone, wherever they sit (in the functional graph, inside blocks, inside
nested models): a layer does no bookkeeping of its own.
"""

import math

import keras

from keras_resnets.layers._utils import channel_axis
from keras_resnets.errors import UserValueError


def count_trainable_params(model):
    """Trainable parameters, as the papers count them (no BN moving stats)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def conv_macs(conv, input_shape=None):
    """Multiply-adds per example of the `Conv2D` layer `conv`.

    Args:
        conv: a built `keras.layers.Conv2D`.
        input_shape: the input shape; default the shape `conv` was built on.

    Returns:
        int: output positions x kernel height x kernel width x input
        channels per group x filters.
    """
    if input_shape is None:
        input_shape = conv.get_build_config()["input_shape"]
    output_shape = conv.compute_output_shape(tuple(input_shape))
    if conv.data_format == "channels_last":
        spatial = output_shape[1:3]
    else:
        spatial = output_shape[2:4]
    kh, kw = conv.kernel_size
    in_channels = input_shape[channel_axis(conv.data_format)]
    return math.prod(spatial) * kh * kw * (in_channels // conv.groups) * conv.filters


def layer_macs(layer):
    """Multiply-adds per example of `layer` and every layer inside it.

    Counts `Conv2D` layers (including projections and grouped convs) from
    their build shapes and `Dense` layers from their kernels (the
    squeeze-excitation and classifier layers); BN, ReLU, pooling and
    additions are negligible and not counted, as in He 2015.
    """
    if isinstance(layer, keras.layers.Conv2D):
        return conv_macs(layer)
    if isinstance(layer, keras.layers.Dense):
        return math.prod(layer.kernel.shape)
    return sum(layer_macs(sub) for sub in layer._flatten_layers(include_self=False, recursive=False))


def count_flops(model):
    """Multiply-adds of one forward pass for one example ("FLOPs" in He 2015
    Table 1: ResNet-50 = 3.8e9 at 224x224), see `layer_macs`.

    The model needs a fixed input size.
    """
    shape = model.inputs[0].shape[1:] if model.inputs else None
    if shape is not None and any(d is None for d in shape):
        raise UserValueError(
            "count_flops needs a model with a fixed input size; build it with "
            f"e.g. input_shape=(224, 224, 3). Received input shape: {tuple(shape)}"
        )
    return int(layer_macs(model))
