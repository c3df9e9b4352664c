"""What every residual block shares: its configuration and its sub-layers.

`ResidualBlockBase` validates and stores the arguments common to the
residual blocks of every family (`ResNetBlock`, `PreActBlock`,
`ShakeShakeBlock`, `PyramidBlock`), serializes them, and makes their
sub-layers the same way: the padded convolution stacks of a branch
(`conv_stack`), batch normalization and stochastic depth. A block subclass
only says which convolutions its branches have and how they are wired.
"""

import keras

from keras_resnets.layers._utils import check_positive_int
from keras_resnets.layers._utils import check_rate
from keras_resnets.layers.conv import ConvBNLayer
from keras_resnets.layers.conv import make_padding
from keras_resnets.layers.regularization import DropPath
from keras_resnets.errors import UserValueError


def check_block_strides(strides):
    """Checks the stride of a residual block (1 or 2)."""
    if strides not in (1, 2):
        raise UserValueError(f"Block `strides` must be 1 or 2. Received: strides={strides!r}")
    return strides


class ResidualBlockBase(ConvBNLayer):
    """Base class of the residual blocks: shared arguments and sub-layers.

    Not a block by itself: subclasses implement `build`, `call` and
    `compute_output_shape`, and add their own arguments to `get_config`.

    Args:
        filters: int, width of the block (its meaning is the subclass's).
        strides: int, 1 or 2.
        drop_path_rate: float in [0, 1), stochastic depth on the branch.
        seed: int or None, seed of the random layers inside.
        **kwargs: the conv/BN settings (`kernel_initializer`,
            `kernel_regularizer`, `bn_momentum`, `bn_epsilon`,
            `data_format`), see `ConvBNLayer`, and the base layer ones
            (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        filters,
        strides=1,
        *,
        drop_path_rate=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.strides = check_block_strides(strides)
        self.drop_path_rate = check_rate("drop_path_rate", drop_path_rate)
        self.seed = seed

    def conv_stack(self, input_shape, convs, *, stride_index=0, prefix="", last_bias=False):
        """Creates and builds the convolutions of one branch, in order.

        The block's stride goes on conv `stride_index`; a strided conv with
        a kernel above 1 is preceded by symmetric zero padding
        (`make_padding`). The sub-layers are named `{prefix}pad{i}` and
        `{prefix}conv{i}` (1-based `i`).

        Args:
            input_shape: shape of the branch input.
            convs: sequence of `(kernel_size, filters, groups)`.
            stride_index: which conv carries `self.strides`.
            prefix: str put before the sub-layer names.
            last_bias: bool, a bias on the last conv.

        Yields:
            `(i, pad, conv, in_shape, out_shape)` per conv: `pad` is None
            where no padding is needed; `in_shape` is the shape before the
            padding, `out_shape` the conv's output shape.
        """
        shape = input_shape
        last = len(convs) - 1
        for i, (kernel_size, filters, groups) in enumerate(convs):
            strides = self.strides if i == stride_index else 1
            pad = make_padding(
                kernel_size, strides, data_format=self.data_format,
                dtype=self.dtype_policy, name=f"{prefix}pad{i + 1}",
            )
            conv_shape = shape if pad is None else pad.compute_output_shape(shape)
            conv = self.conv_layer(
                filters,
                kernel_size,
                strides=strides,
                use_bias=last_bias and i == last,
                groups=groups,
                name=f"{prefix}conv{i + 1}",
            )
            conv.build(conv_shape)
            out_shape = conv.compute_output_shape(conv_shape)
            yield i, pad, conv, shape, out_shape
            shape = out_shape

    def make_drop_path(self):
        """The block's `DropPath` sub-layer, or None without stochastic depth."""
        if self.drop_path_rate <= 0:
            return None
        return DropPath(
            self.drop_path_rate, seed=self.seed, dtype=self.dtype_policy, name="drop_path"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "drop_path_rate": self.drop_path_rate,
                "seed": self.seed,
            }
        )
        return config
