"""Model cost: trainable parameters and multiply-adds of one forward pass."""

import math

import keras

from keras_resnets.layers.residual import conv_macs


def count_trainable_params(model):
    """Trainable parameters, as the papers count them (no BN moving stats)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _layer_macs(layer):
    if hasattr(layer, "forward_macs"):
        return layer.forward_macs
    if isinstance(layer, keras.Model):
        return count_flops(layer)
    if isinstance(layer, keras.layers.Conv2D):
        return conv_macs(layer, tuple(layer.input.shape))[0]
    if isinstance(layer, keras.layers.Dense):
        return math.prod(layer.kernel.shape)
    return 0


def count_flops(model):
    """Multiply-adds of one forward pass for one example ("FLOPs" in He 2015
    Table 1: ResNet-50 = 3.8e9 at 224x224).

    Counts convolutions (including projections and grouped convs), the
    squeeze-excitation and classifier Dense layers; BN, ReLU, pooling and
    additions are negligible and not counted, as in the paper. The model
    needs a fixed input size.
    """
    shape = model.inputs[0].shape[1:] if model.inputs else None
    if shape is not None and any(d is None for d in shape):
        raise ValueError(
            "count_flops needs a model with a fixed input size; build it with "
            f"e.g. input_shape=(224, 224, 3). Received input shape: {tuple(shape)}"
        )
    return int(sum(_layer_macs(layer) for layer in model.layers))
