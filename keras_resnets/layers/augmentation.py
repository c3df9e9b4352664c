"""`RandomPadCrop`: the CIFAR pad-and-crop augmentation as a Keras layer.

He et al. (2015, arXiv:1512.03385, Sec. 4.2) pad each 32x32 image by 4
pixels a side and take a random 32x32 crop. Keras's `RandomCrop` draws one
offset per batch; this layer draws one per image, as the papers' loaders
(and `keras_resnets.data`'s host pipelines) do. It is made of `keras.ops`
and `keras.random` only, so it runs inside the compiled train step on every
backend: with `data.augment_on: device` the host ships uint8 batches and the
accelerator normalises, pads, crops and flips them
(`keras_resnets.training.device_input`).
"""

import keras
from keras import ops

from keras_resnets.layers._utils import SeededLayer
from keras_resnets.errors import UserValueError

PADDING_MODES = ("constant", "reflect")


@keras.saving.register_keras_serializable(package="keras_resnets")
class RandomPadCrop(SeededLayer):
    """Pads every image by `padding` pixels a side and crops it back to its
    size at a random offset, drawn per image (training only).

    At inference the layer is the identity. With `padding_mode="constant"`
    the padding is `0`; put the layer after normalisation to pad with the
    mean colour, as fb.resnet.torch does.

    Args:
        padding: int >= 0, pixels added on each side.
        padding_mode: `"constant"` (zeros) or `"reflect"`.
        seed: int or None, seed of the offsets.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Input: `(batch, height, width, channels)`, any dtype; output: the same.

    Example:

    >>> layer = RandomPadCrop(4, seed=0)
    >>> images = np.ones((2, 32, 32, 3), "float32")
    >>> tuple(layer(images, training=True).shape)
    (2, 32, 32, 3)
    """

    def __init__(self, padding=4, padding_mode="constant", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise UserValueError(
                "`padding` must be a non-negative integer (pixels per side). "
                f"Received: padding={padding!r}"
            )
        if padding_mode not in PADDING_MODES:
            raise UserValueError(
                f"`padding_mode` must be one of {PADDING_MODES}. "
                f"Received: padding_mode={padding_mode!r}"
            )
        self.padding = padding
        self.padding_mode = padding_mode

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise UserValueError(
                "RandomPadCrop expects a batch of images (batch, height, width, "
                f"channels). Received: input_shape={tuple(input_shape)}"
            )
        height, width = input_shape[1], input_shape[2]
        if self.padding_mode == "reflect" and None not in (height, width):
            if self.padding >= min(height, width):
                raise UserValueError(
                    f"padding_mode='reflect' needs padding < the image size; received "
                    f"padding={self.padding} for {height}x{width} images."
                )

    def call(self, inputs, training=False):
        if not training or self.padding == 0:
            return inputs
        pad = self.padding
        batch, height, width, channels = ops.shape(inputs)
        padded = ops.pad(
            inputs, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode=self.padding_mode
        )
        # One offset per image and axis in [0, 2 * padding]; the crop is two
        # gathers of whole rows, then whole columns.
        offsets = keras.random.randint(
            (2, batch), 0, 2 * pad + 1, dtype="int32", seed=self.seed_generator
        )
        rows = offsets[0][:, None] + ops.arange(height, dtype="int32")[None, :]
        cols = offsets[1][:, None] + ops.arange(width, dtype="int32")[None, :]
        rows = ops.broadcast_to(rows[:, :, None, None], (batch, height, width + 2 * pad, channels))
        out = ops.take_along_axis(padded, rows, axis=1)
        cols = ops.broadcast_to(cols[:, None, :, None], (batch, height, width, channels))
        return ops.take_along_axis(out, cols, axis=2)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding,
            "padding_mode": self.padding_mode,
        }
