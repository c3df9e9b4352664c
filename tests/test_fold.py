"""fold_batch_norm: conv-BN pairs folded for inference, outputs unchanged."""

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets.fold import benchmark_folding
from keras_resnets.fold import count_batch_norms
from keras_resnets.fold import fold_batch_norm
from tests.testing import cifar10_test_set
from tests.testing import to_numpy


def _randomize_batch_norms(model, seed=0):
    """Non-trivial statistics, so that a wrong fold cannot pass."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0.0, 0.5, c).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, c).astype("float32"))
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 1.5, c).astype("float32"))
            if layer.center:
                layer.beta.assign(rng.normal(0.0, 0.5, c).astype("float32"))


def _inputs(model, batch=3, seed=1):
    shape = (batch,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _predict(model, x):
    return to_numpy(model(x, training=False))


def _assert_same_outputs(model, folded, x, rtol=1e-5):
    expected = _predict(model, x)
    actual = _predict(folded, x)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(actual - expected).max() <= rtol * scale


def _batch_norm_names(model):
    return sorted(
        layer.name
        for layer in model._flatten_layers(recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    )


def test_resnet20_folds_every_batch_norm():
    # ResNet v1: every BN follows a conv (stem + 2 per block, option-A
    # shortcuts have none).
    model = keras_resnets.create_model("resnet-20", classifier_activation="linear")
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model)
    assert count_batch_norms(model) == 19
    assert count_batch_norms(folded) == 0
    assert type(folded).__name__ == "Functional"  # a plain functional model
    assert folded.name == f"{model.name}_folded"
    # Each BN's 4 vectors (gamma, beta, mean, variance) become one conv bias.
    channels = sum(
        layer.moving_mean.shape[0]
        for layer in model._flatten_layers(recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert folded.count_params() == model.count_params() - 3 * channels
    convs = [layer for layer in folded.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 19 and all(conv.use_bias for conv in convs)
    assert "stage1_block1_conv1" in {conv.name for conv in convs}
    _assert_same_outputs(model, folded, _inputs(model))


def test_wide_resnet_keeps_preactivation_batch_norms(tmp_path):
    # Pre-activation: BN-ReLU-conv. Only the BN after each block's first conv
    # folds; the block-input BNs (after the addition) and post_bn stay.
    model = keras_resnets.WideResNet(10, 1, classifier_activation="linear")
    _randomize_batch_norms(model)
    layers = list(model._flatten_layers(recursive=True))
    names = [layer.name for layer in layers]
    nodes = [len(layer._inbound_nodes) for layer in layers]
    weights = model.get_weights()
    x = _inputs(model)
    before = _predict(model, x)

    folded = fold_batch_norm(model)
    assert count_batch_norms(model) == 7
    assert _batch_norm_names(folded) == [
        "post_bn", "stage1_block1_bn1", "stage2_block1_bn1", "stage3_block1_bn1"
    ]
    _assert_same_outputs(model, folded, x)

    # The original model is untouched.
    assert [layer.name for layer in layers] == names
    assert [len(layer._inbound_nodes) for layer in layers] == nodes
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_predict(model, x), before)
    assert model.trainable and not model.compiled

    # Plain functional model: saves, loads in safe mode, stays frozen.
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in folded.layers)
    path = str(tmp_path / "folded.keras")
    folded.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_predict(loaded, x), _predict(folded, x))
    assert count_batch_norms(loaded) == 4
    assert not folded.trainable_weights and not loaded.trainable_weights

    # Nested in a bigger model (preprocessing + network): inlined the same way.
    inputs = keras.Input((32, 32, 3))
    wrapped = keras.Model(inputs, model(keras.layers.Rescaling(0.5)(inputs)))
    folded = fold_batch_norm(wrapped)
    assert _batch_norm_names(folded) == [
        f"{model.name}_{name}"
        for name in ("post_bn", "stage1_block1_bn1", "stage2_block1_bn1", "stage3_block1_bn1")
    ]
    _assert_same_outputs(wrapped, folded, x)


@pytest.mark.parametrize(
    "build, total, kept",
    [
        # Grouped 3x3 convs, option-B projections (BN inside `Shortcut`) and
        # squeeze-excitation between the last BN and the addition.
        (
            lambda: keras_resnets.ResNeXt(
                [1, 1, 1], cardinality=2, base_width=4, stem="cifar", se_ratio=4,
                stackwise_num_filters=[16, 32, 64], classifier_activation="linear",
            ),
            13,
            [],
        ),
        # The two-path shortcut's BN reads a concatenation: it stays.
        (
            lambda: keras_resnets.ShakeShakeResNet(8, 8, classifier_activation="linear"),
            16,
            ["stage1_block1_shortcut_bn", "stage2_block1_shortcut_bn",
             "stage3_block1_shortcut_bn"],
        ),
    ],
    ids=["se-resnext", "shake-shake"],
)
def test_other_families(build, total, kept):
    model = build()
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model)
    assert count_batch_norms(model) == total
    assert _batch_norm_names(folded) == sorted(kept)
    _assert_same_outputs(model, folded, _inputs(model))


def _small_graph(dtype=None):
    """One foldable and one unfoldable case of each rule."""
    conv, bn = keras.layers.Conv2D, keras.layers.BatchNormalization
    inputs = keras.Input((8, 8, 3))
    # Conv with a bias + BN without beta: folds.
    x = conv(4, 3, padding="same", use_bias=True, dtype=dtype, name="biased")(inputs)
    x = bn(center=False, dtype=dtype, name="bn_biased")(x)
    # Conv with an activation: BN after ReLU cannot fold.
    x = conv(4, 3, padding="same", activation="relu", dtype=dtype, name="relu_conv")(x)
    x = bn(dtype=dtype, name="bn_after_relu")(x)
    # Conv output read by the BN and by the addition: cannot fold.
    y = conv(4, 1, use_bias=False, dtype=dtype, name="shared_out")(x)
    z = bn(dtype=dtype, name="bn_shared")(y)
    x = keras.layers.Add(dtype=dtype, name="add")([y, z])
    # BN after an addition: cannot fold.
    x = bn(dtype=dtype, name="bn_after_add")(x)
    # Strided conv + BN without gamma: folds.
    x = conv(6, 3, strides=2, use_bias=False, dtype=dtype, name="strided")(x)
    x = bn(scale=False, epsilon=0.1, dtype=dtype, name="bn_strided")(x)
    outputs = keras.layers.GlobalAveragePooling2D(dtype=dtype)(x)
    return keras.Model(inputs, outputs, name="small")


def test_fold_rules_on_a_hand_made_graph():
    model = _small_graph()
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model)
    assert _batch_norm_names(folded) == ["bn_after_add", "bn_after_relu", "bn_shared"]
    assert folded.get_layer("biased").use_bias and folded.get_layer("strided").use_bias
    assert not folded.get_layer("shared_out").use_bias
    _assert_same_outputs(model, folded, _inputs(model))


def test_sequential_model():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, use_bias=False),
            keras_resnets.layers.BatchNormalization(epsilon=1e-5),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model)
    assert count_batch_norms(model) == 1 and count_batch_norms(folded) == 0
    _assert_same_outputs(model, folded, _inputs(model))


class _NeedsRealTensors(keras.layers.Layer):
    """Holds a conv-BN pair but cannot run on symbolic KerasTensors (as a
    layer calling backend functions directly)."""

    def build(self, input_shape):
        self.conv = keras.layers.Conv2D(4, 1, use_bias=False)
        self.conv.build(input_shape)
        self.bn = keras.layers.BatchNormalization()
        self.bn.build(input_shape[:-1] + (4,))

    def call(self, inputs, training=None):
        if isinstance(inputs, keras.KerasTensor):
            raise TypeError("needs backend tensors")
        return self.bn(self.conv(inputs), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (4,)


def test_layer_that_cannot_be_inlined_keeps_its_batch_norm():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    outputs = _NeedsRealTensors(name="opaque")(x)
    model = keras.Model(inputs, outputs)
    _randomize_batch_norms(model)
    with pytest.warns(UserWarning, match="cannot inline layer 'opaque'.*stay unfolded"):
        folded = fold_batch_norm(model)
    assert count_batch_norms(model) == 2 and count_batch_norms(folded) == 1
    assert isinstance(folded.get_layer("opaque"), _NeedsRealTensors)
    _assert_same_outputs(model, folded, _inputs(model))


def test_mixed_precision_folds_in_float32():
    model = _small_graph(dtype="mixed_bfloat16")
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model)
    conv = folded.get_layer("strided")
    assert conv.dtype_policy.name == "mixed_bfloat16" and conv.kernel.dtype == "float32"
    # bfloat16 compute: both models round to ~3 significant digits.
    _assert_same_outputs(model, folded, _inputs(model), rtol=3e-2)


def test_bfloat16_inference_model(tmp_path):
    model = keras_resnets.create_model("resnet-20", classifier_activation="linear")
    _randomize_batch_norms(model)
    folded = fold_batch_norm(model, dtype="bfloat16")
    assert count_batch_norms(folded) == 0
    convs = [layer for layer in folded.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 19  # option-A shortcuts: no projection convs
    for conv in convs:  # weights held in bfloat16, cast once
        assert conv.dtype_policy.name == "bfloat16"
        assert conv.kernel.dtype == conv.bias.dtype == "bfloat16"
    head = folded.get_layer("predictions")
    assert head.dtype_policy.name == "float32" and head.kernel.dtype == "float32"
    x = _inputs(model, batch=4)
    out = folded(x, training=False)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    # bfloat16 keeps ~3 significant digits through 20 layers.
    _assert_same_outputs(model, folded, x, rtol=2e-2)
    path = tmp_path / "resnet-20_bf16.keras"
    folded.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("stem_conv").kernel.dtype == "bfloat16"
    np.testing.assert_array_equal(_predict(loaded, x), _predict(folded, x))


def test_dtype_float32_unmixes_a_mixed_model():
    model = _small_graph(dtype="mixed_bfloat16")
    folded = fold_batch_norm(model, dtype="float32")
    assert {layer.dtype_policy.name for layer in folded.layers} == {"float32"}


def test_bfloat16_model_keeps_packaged_accuracy():
    """The shipped ResNet-20 (91.59% float32) folded to a true bfloat16 model
    loses at most 0.3 points on the original CIFAR-10 test set."""
    from keras_resnets.weights import pretrained

    entry = pretrained.PACKAGED[("resnet-20", "cifar10")]
    x, y = cifar10_test_set()
    inputs = (x.astype("float32") / 255.0 - np.float32(entry.mean)) / np.float32(entry.std)
    model = keras_resnets.create_model(entry.model, weights=entry.tag)
    folded = fold_batch_norm(model, dtype="bfloat16")
    correct = int((folded.predict(inputs, batch_size=500, verbose=0).argmax(-1) == y).sum())
    print(f"bfloat16 folded: {correct} of {len(y)} correct (float32: {entry.correct})")
    assert abs(correct - entry.correct) <= 30, (correct, entry.correct)


def test_errors():
    with pytest.raises(ValueError, match="Expected a functional or Sequential keras.Model"):
        fold_batch_norm("resnet-20")

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 1)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x):
            return self.bn(self.conv(x))

    model = Subclassed()
    model(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="subclassed model has no graph"):
        fold_batch_norm(model)
    with pytest.raises(ValueError, match="Expected None or one of 'float32', 'bfloat16'.*"
                       "Received: dtype='int8'"):
        fold_batch_norm(None, dtype="int8")  # the dtype is checked first
    with pytest.raises(ValueError, match="Expected an integer >= 1. Received: repeats=0"):
        benchmark_folding("resnet-20", repeats=0)
    with pytest.raises(ValueError, match="Unknown model name"):
        benchmark_folding("resnet-21")


def test_benchmark_runs_both_models():
    # Smoke test of the measuring function; no timing is asserted.
    model = _small_graph()
    result = benchmark_folding(model, batch_size=2, steps=1, warmup=1, repeats=2)
    assert result["model"] == "small" and result["input_shape"] == (8, 8, 3)
    assert result["batch_norms"] == 5 and result["folded_batch_norms"] == 2
    assert len(result["original_images_per_s"]) == len(result["folded_images_per_s"]) == 2
    assert result["max_abs_diff"] < 1e-5
    assert not model.compiled


def test_benchmark_of_a_bfloat16_fold():
    result = benchmark_folding(
        "resnet-20", batch_size=2, steps=1, warmup=1, repeats=1, dtype="bfloat16"
    )
    assert result["dtype"] == "bfloat16" and result["folded_batch_norms"] == 19
    assert len(result["folded_images_per_s"]) == 1
    # The original is the mixed_bfloat16 model: both compute in bfloat16.
    assert 0 < result["max_abs_diff"] < 0.5
