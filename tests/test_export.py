"""Export for deployment: a SavedModel (reloaded with tf.saved_model.load)
and an ONNX file (run with onnxruntime) give the model's outputs."""

import os

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import cli
from keras_resnets.export import export_model

pytestmark = pytest.mark.tensorflow_only  # SavedModel/tf2onnx export: TF backend in CI


def _requires(*modules):
    """Imports `modules`; skips when one is absent, except under CI=true
    (the `test` extra installs them), where that is a failure."""
    import importlib

    if os.environ.get("CI") == "true":
        return [importlib.import_module(name) for name in modules]
    return [pytest.importorskip(name) for name in modules]


@pytest.fixture(scope="module")
def resnet20():
    keras.utils.set_random_seed(0)
    model = keras_resnets.create_model("resnet-20", classifier_activation="linear")
    # Random BN statistics, so that inference-mode BN is exercised.
    rng = np.random.default_rng(0)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.1, shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
    return model


def _images():
    return np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")


def test_savedmodel_round_trip(resnet20, tmp_path):
    import tensorflow as tf

    path = export_model(resnet20, str(tmp_path / "saved"))
    reloaded = tf.saved_model.load(path)
    x = _images()
    np.testing.assert_allclose(
        reloaded.serve(tf.constant(x)).numpy(),
        keras.ops.convert_to_numpy(resnet20(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_onnx_round_trip(resnet20, tmp_path):
    (onnxruntime,) = _requires("tf2onnx", "onnx", "onnxruntime")[2:]
    # A model never called before (Keras's exporter alone refuses it).
    fresh = keras.models.clone_model(resnet20)
    fresh.set_weights(resnet20.get_weights())
    path = export_model(fresh, str(tmp_path / "resnet20.onnx"), format="onnx")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = _images()
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(
        out, keras.ops.convert_to_numpy(resnet20(x, training=False)), rtol=1e-4, atol=1e-4
    )


def test_cli_export_of_a_keras_file(resnet20, tmp_path, capsys):
    import tensorflow as tf

    model_path = str(tmp_path / "model.keras")
    resnet20.save(model_path)
    out = str(tmp_path / "served")
    assert cli.main(["export", model_path, out, "--format", "savedmodel"]) == 0
    assert "wrote" in capsys.readouterr().out
    x = _images()
    reloaded = tf.saved_model.load(out)  # kept alive: its variables back `serve`
    np.testing.assert_allclose(
        reloaded.serve(tf.constant(x)).numpy(),
        keras.ops.convert_to_numpy(resnet20(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_export_errors(resnet20, tmp_path, capsys):
    assert keras_resnets.export_model is export_model  # the public name
    with pytest.raises(ValueError, match=r"`format` must be one of \('savedmodel', 'onnx'\)"):
        export_model(resnet20, str(tmp_path / "x"), format="tflite")
    with pytest.raises(ValueError, match="no such file or folder"):
        export_model(str(tmp_path / "missing.keras"), str(tmp_path / "x"))
    with pytest.raises(TypeError, match="must be a keras.Model"):
        export_model(3, str(tmp_path / "x"))
    assert cli.main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "y")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_missing_converter_is_named(resnet20, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match="pip install tf2onnx"):
        export_model(resnet20, str(tmp_path / "x.onnx"), format="onnx")
