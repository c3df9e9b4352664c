"""Batch-norm folding for inference: `fold_batch_norm(model)`.

At inference a BatchNormalization layer is a fixed per-channel affine map,
`y = gamma * (x - mean) / sqrt(var + eps) + beta`. When `x` is the output of
a convolution that nothing else reads, the map can be moved into the
convolution's weights, output channel `c` by output channel:

    s_c = gamma_c / sqrt(var_c + eps)
    W'[..., c] = W[..., c] * s_c
    b'_c = beta_c + (b_c - mean_c) * s_c        (b = 0 for a conv without bias)

and the BN disappears: one pass over the activations less per pair.

The package's models build their conv-BN pairs inside residual-block layers
(`ResNetBlock`, `PreActBlock`, `Shortcut`, `PyramidBlock`, ...), so
`fold_batch_norm` first inlines every layer that holds a BatchNormalization:
it calls the layer's `call` on symbolic tensors, which records its
sub-layers and `keras.ops` as nodes of a flat functional graph (sub-layers
named `{block}_{sub-layer}`, e.g. `stage1_block1_conv1`). On that graph a
BN folds when its input comes straight from a `Conv2D` without activation
whose output it alone reads. Everything else stays as it was, in inference
mode: pre-activation BNs (BN-ReLU-conv), BNs after an addition or a
concatenation (the Shake-Shake shortcut), BNs behind a dropout.

`python -m keras_resnets.fold MODEL [MODEL ...]` times registered models
before and after folding (`benchmark_folding`).
"""

from keras_resnets.fold.benchmark import benchmark_folding
from keras_resnets.fold.benchmark import main
from keras_resnets.fold.folding import count_batch_norms
from keras_resnets.fold.folding import fold_batch_norm
