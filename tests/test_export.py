"""Export for deployment: a SavedModel (reloaded with tf.saved_model.load)
and an ONNX file (run with onnxruntime) give the model's outputs; bad
outputs and backends are one-line errors. Runs on every backend
(tests/run_backends.sh): SavedModel on TensorFlow and JAX, ONNX on all three
with the converter of each."""

import os

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import cli
from keras_resnets import export
from keras_resnets.export import export_model
from tests import testing

savedmodel_backends = pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"),
    reason=f"SavedModel export runs on tensorflow and jax, not {keras.backend.backend()} "
    "(test_savedmodel_on_torch_is_one_line covers it there)",
)


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
    testing.randomize_bn_statistics(model)
    return model


def _images():
    return np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")


@savedmodel_backends
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
    needed = export._ONNX_REQUIREMENTS[keras.backend.backend()]
    onnxruntime = _requires(*needed, "onnxruntime")[-1]
    # A model never called before (Keras's exporter alone refuses it).
    fresh = keras.models.clone_model(resnet20)
    fresh.set_weights(resnet20.get_weights())
    path = export_model(fresh, str(tmp_path / "resnet20.onnx"), format="onnx")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = _images()
    (out,) = session.run(None, {session.get_inputs()[0].name: x})  # batch 2: dynamic
    np.testing.assert_allclose(
        out, keras.ops.convert_to_numpy(resnet20(x, training=False)), rtol=1e-4, atol=1e-4
    )


@savedmodel_backends
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
    with pytest.raises(ValueError,
                       match=r"`format` must be one of \('savedmodel', 'onnx', 'openvino'\)"):
        export_model(resnet20, str(tmp_path / "x"), format="tflite")
    with pytest.raises(ValueError, match="no such file or folder"):
        export_model(str(tmp_path / "missing.keras"), str(tmp_path / "x"))
    with pytest.raises(TypeError, match="must be a keras.Model"):
        export_model(3, str(tmp_path / "x"))
    assert cli.main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "y")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_missing_converter_is_named(resnet20, tmp_path, monkeypatch):
    import sys

    backend = keras.backend.backend()
    first = export._ONNX_REQUIREMENTS[backend][0]
    monkeypatch.setitem(sys.modules, first, None)
    extra = {"tensorflow": "export", "jax": "export-jax", "torch": "export-torch"}[backend]
    with pytest.raises(ImportError, match=rf"pip install {first}.*keras_resnets\[{extra}\]"):
        export_model(resnet20, str(tmp_path / "x.onnx"), format="onnx")


# === Issue 27: one line, before anything is loaded ===


def test_savedmodel_on_torch_is_one_line(resnet20, tmp_path, capsys, monkeypatch):
    """SavedModel needs TensorFlow or JAX; on PyTorch a ValueError that
    points to ONNX (the real backend there, a stand-in elsewhere)."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match="SavedModel export runs on the tensorflow and jax "
                       "backends.*this is 'torch'. Use format='onnx'"):
        export_model(resnet20, str(tmp_path / "saved"))
    model_path = str(tmp_path / "model.keras")
    resnet20.save(model_path)
    assert cli.main(["export", model_path, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--format onnx" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("format", export.FORMATS)
def test_unwritable_outputs_are_one_line(resnet20, tmp_path, capsys, format):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_folder = tmp_path / "a_folder"
    a_folder.mkdir()
    name = "out.xml" if format == "openvino" else "out"  # OpenVINO IR: an .xml file
    cases = [(a_file / name, "is a file, not a folder")]
    if format == "savedmodel":
        cases.append((a_file, "it is a file, and a SavedModel is a folder"))
    elif format == "onnx":
        cases.append((a_folder, "it is a folder, and ONNX export writes one file"))
    else:
        cases.append((a_folder, "OpenVINO IR is an .xml file with a .bin beside it"))
    if os.path.isdir("/proc/self"):  # Linux: a folder that takes no new files
        cases.append((f"/proc/{name}", "the folder '/proc' does not take new files"))
    for output, message in cases:
        with pytest.raises(ValueError, match=message):
            export.check_output(output, format)
    # The command: one line and exit status 2, before the model is loaded.
    model_path = str(tmp_path / "model.keras")
    resnet20.save(model_path)
    for output, message in cases[:1] + cases[2:]:
        assert cli.main(["export", model_path, str(output), "--format", format]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
