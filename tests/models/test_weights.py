"""keras.applications weights load exactly into our ImageNet ResNets.

Offline: the reference is a keras.applications model built with
`weights=None` whose BN statistics, BN affine parameters and conv biases are
randomised, so a wrong mapping, a lost conv bias or the BN epsilon would
show up in the outputs.
"""

import re

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import weights as weights_lib
from keras_resnets.weights import keras_applications
from tests.testing import float_images

SIZE = 64  # keras.applications' minimum is 32; small keeps the tests fast.


def randomize(model, seed=0):
    """Random BN statistics/affine parameters and conv/dense biases."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.2, shape).astype("float32"))
            layer.moving_mean.assign(rng.normal(0.0, 0.2, shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            layer.bias.assign(rng.normal(0.0, 0.2, layer.bias.shape).astype("float32"))
    return model


def reference(name, include_top):
    return randomize(
        getattr(keras.applications, name)(
            weights=None,
            include_top=include_top,
            input_shape=(SIZE, SIZE, 3),
            classifier_activation=None,
        )
    )


def assert_same_outputs(ours, ref):
    x = float_images(SIZE)
    expected = keras.ops.convert_to_numpy(ref(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    assert got.shape == expected.shape
    scale = float(np.abs(expected).max())
    assert scale > 1e-3  # the outputs are not trivially zero
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * max(scale, 1.0))


@pytest.fixture(scope="module")
def v1_top(tmp_path_factory):
    ref = reference("ResNet50", include_top=True)
    path = tmp_path_factory.mktemp("v1") / "resnet50.weights.h5"
    ref.save_weights(path)
    return ref, str(path)


@pytest.fixture(scope="module")
def v2_notop(tmp_path_factory):
    ref = reference("ResNet50V2", include_top=False)
    path = tmp_path_factory.mktemp("v2") / "resnet50v2_notop.weights.h5"
    ref.save_weights(path)
    return ref, str(path)


def test_resnet50_v1_logits_match(v1_top, tmp_path):
    ref, path = v1_top
    ours = keras_resnets.create_model(
        "resnet-50", input_shape=(SIZE, SIZE, 3), classifier_activation="linear", weights=path
    )
    assert_same_outputs(ours, ref)

    # The legacy HDF5 format keras.applications distributes (matched by
    # layer order), loaded into the same model after new random statistics.
    randomize(ref, seed=2)
    legacy = str(tmp_path / "resnet50.h5")
    ref.save(legacy)
    weights_lib.load_keras_applications_weights(ours, legacy)
    assert_same_outputs(ours, ref)


def test_resnet50_v2_imagenet_notop_features_match(v2_notop, monkeypatch):
    ref, path = v2_notop
    calls = []

    def fake_get_file(fname, origin, cache_subdir, file_hash):
        calls.append((fname, origin, cache_subdir, file_hash))
        return path

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    ours = keras_resnets.create_model(
        "resnet-50-v2", input_shape=(SIZE, SIZE, 3), include_top=False, weights="imagenet"
    )
    fname = "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert calls == [
        (
            fname,
            "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + fname,
            "models",
            "fac2f116257151a9d068a22e544a4917",
        )
    ]
    assert_same_outputs(ours, ref)


def test_file_names_and_array_counts(v1_top, v2_notop):
    assert (
        keras_applications.weights_file_name(152, True, include_top=True)
        == "resnet152v2_weights_tf_dim_ordering_tf_kernels.h5"
    )
    assert keras_applications.keras_applications_name(101, False) == "ResNet101"
    for (ref, path), args in ((v1_top, (50, False, True)), (v2_notop, (50, True, False))):
        assert keras_applications.num_weight_arrays(*args) == len(ref.weights)
        assert keras_applications._count_arrays(path) == len(ref.weights)


# === Errors ===


@pytest.fixture(scope="module")
def ours_notop():
    return keras_resnets.create_model(
        "resnet-50", input_shape=(SIZE, SIZE, 3), include_top=False
    )


def tiny_bottleneck_resnet(**kwargs):
    """Builds fast; its layout is checked after its head."""
    return keras_resnets.ResNet(
        [1, 1, 1, 1], [64, 128, 256, 512], block_type="bottleneck",
        input_shape=(SIZE, SIZE, 3), **kwargs,
    )


def test_include_top_mismatch(v1_top, ours_notop):
    _, path = v1_top
    with pytest.raises(
        ValueError,
        match=r"does not fit keras.applications.ResNet50\(include_top=False\): it "
        r"holds 320 weight arrays \(as keras.applications.ResNet50\(include_top=True\)",
    ):
        weights_lib.load_keras_applications_weights(ours_notop, path)


def test_version_mismatch(v2_notop, ours_notop):
    _, path = v2_notop
    with pytest.raises(ValueError, match=r"as keras.applications.ResNet50V2\(include_top=False\)"):
        weights_lib.load_keras_applications_weights(ours_notop, path)


def test_num_classes_mismatch(v1_top):
    _, path = v1_top
    with pytest.raises(ValueError, match="1000-class classifier.*num_classes=10"):
        keras_resnets.create_model(
            "resnet-50", input_shape=(SIZE, SIZE, 3), num_classes=10, weights=path
        )


def test_unsupported_layout(v1_top):
    _, path = v1_top
    with pytest.raises(
        ValueError, match=r"exist only for resnet-50.*stride_index=1 \(needs 0\)"
    ) as info:
        tiny_bottleneck_resnet(stride_index=1, weights=path)
    assert "stackwise_num_blocks=[1, 1, 1, 1]" in str(info.value)


@pytest.mark.parametrize("name, phrase", [("resnet-20", "stem='cifar'"), ("resnet-18", "block_type='basic'")])
def test_unsupported_depths(v1_top, name, phrase):
    _, path = v1_top
    with pytest.raises(ValueError, match=r"exist only for resnet-50.*" + re.escape(phrase)):
        keras_resnets.create_model(name, input_shape=(SIZE, SIZE, 3), weights=path)


def test_unsupported_family(v1_top):
    _, path = v1_top
    model = keras_resnets.create_model("wrn-16-4")
    with pytest.raises(ValueError, match="Received a WideResNet model"):
        weights_lib.load_keras_applications_weights(model, path)


def test_missing_file(ours_notop, tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        weights_lib.load_keras_applications_weights(ours_notop, str(tmp_path / "none.h5"))
    with pytest.raises(TypeError, match="weights=3"):
        weights_lib.load_keras_applications_weights(ours_notop, 3)


# === Deeper models (slow: only with --run_large) ===


@pytest.mark.large
@pytest.mark.parametrize(
    "name, app, include_top",
    [
        ("resnet-101", "ResNet101", True),
        ("resnet-152", "ResNet152", False),
        ("resnet-101-v2", "ResNet101V2", False),
        ("resnet-152-v2", "ResNet152V2", True),
    ],
)
def test_deep_models_match(name, app, include_top, tmp_path):
    ref = reference(app, include_top)
    path = str(tmp_path / "ref.weights.h5")
    ref.save_weights(path)
    ours = keras_resnets.create_model(
        name,
        input_shape=(SIZE, SIZE, 3),
        include_top=include_top,
        classifier_activation="linear",
        weights=path,
    )
    assert_same_outputs(ours, ref)


@pytest.mark.large
def test_depth_mismatch(v1_top):
    _, path = v1_top
    with pytest.raises(ValueError, match=r"does not fit keras.applications.ResNet101\("):
        keras_resnets.create_model("resnet-101", input_shape=(SIZE, SIZE, 3), weights=path)


# === A file that is no checkpoint names itself and what was expected (issue 27) ===


@pytest.mark.parametrize(
    "file_name, message",
    [
        ("x.weights.h5", r"weights='.*x\.weights\.h5' is not an HDF5 file\. Expected a Keras "
                         r"\.weights\.h5 \(model\.save_weights\), a keras\.applications \.h5 file"),
        ("x.safetensors", r"weights='.*x\.safetensors' is not a readable \.safetensors file "
                          r"\(.*header.*\)\. Expected a state dict saved with safetensors"),
        ("x.pth", r"weights='.*x\.pth' is not a PyTorch checkpoint that loads safely: "
                  r"torch\.load\(weights_only=True\) cannot read it \(UnpicklingError\)"),
        ("x.bin", r"weights='.*x\.bin' is not a PyTorch checkpoint that loads safely"),
        ("x.data", r"weights='.*x\.data' is not a weights file\. Expected"),
        ("missing.pth", r"path to an existing weights file\. Received: weights='.*missing\.pth' "
                        r"\(no such file\)"),
    ],
)
@pytest.mark.parametrize("model_name", ["resnet-18", "resnet-20"])
def test_random_bytes_are_named_as_no_checkpoint(tmp_path, model_name, file_name, message):
    """Random bytes under a checkpoint's name: one line naming the file, for
    a model in the checkpoints' layout (resnet-18) and one that is not
    (resnet-20), never the layout or torch's `weights_only=False` advice."""
    if file_name.endswith((".pth", ".bin")):
        pytest.importorskip("torch")  # without it: an ImportError naming PyTorch
    if file_name.endswith(".safetensors"):
        pytest.importorskip("safetensors")
    path = tmp_path / file_name
    if not file_name.startswith("missing"):
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    kwargs = {"input_shape": (SIZE, SIZE, 3)} if model_name == "resnet-18" else {}
    with pytest.raises(ValueError, match=message) as info:
        keras_resnets.create_model(model_name, weights=str(path), **kwargs)
    text = str(info.value)
    assert "\n" not in text and "weights_only=False" not in text
    assert "layout" not in text and "exist only for" not in text


def test_own_weights_of_another_architecture(tmp_path):
    source = keras_resnets.create_model("resnet-20", num_classes=4, input_shape=(16, 16, 3))
    path = str(tmp_path / "r20.weights.h5")
    source.save_weights(path)
    with pytest.raises(ValueError, match=r"does not fit this ResNet .*Keras said"):
        keras_resnets.create_model("resnet-32", weights=path, num_classes=4, input_shape=(16, 16, 3))
