"""Deployment through OpenVINO (issue 25): `export --format openvino`,
`load_run(..., runtime="openvino")` / `predict --runtime openvino`,
`benchmark --runtime openvino`, the one-line error without the `openvino`
package, and the shipped ResNet-20's test accuracy in the OpenVINO runtime.

Runs on every backend (tests/run_backends.sh): Keras's exporter traces
through TensorFlow on TensorFlow and through torch.jit on PyTorch; on JAX
(jax2tf's XlaCallModule, which OpenVINO cannot convert) the export is a
one-line error that points to the TensorFlow backend.
"""

import json
import os
import sys

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import cli
from keras_resnets.export import export_model
from keras_resnets.inference import openvino as ov_inference
from tests import testing
from tests.testing import cifar10_test_set

SIZE = 16
MEAN = [0.49, 0.48, 0.45]
STD = [0.25, 0.24, 0.26]
DEPLOY = 'pip install "keras-resnets[deploy]"'


def _requires_openvino():
    """Skips without openvino, except under CI=true (the `test` extra
    installs it), where that is a failure."""
    if os.environ.get("CI") == "true":
        import openvino

        return openvino
    return pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `keras-resnets train` writes it: a ResNet-8 (logits)
    with random BN statistics, and its preprocessing.json."""
    folder = tmp_path_factory.mktemp("ov_run")
    keras.utils.set_random_seed(0)
    model = keras_resnets.ResNet(
        [1, 1, 1], [16, 32, 64], stem="cifar", shortcut="A", input_shape=(SIZE, SIZE, 3),
        num_classes=4, classifier_activation="linear",
    )
    testing.randomize_bn_statistics(model)
    model.save(folder / "best.keras")
    (folder / "preprocessing.json").write_text(json.dumps({
        "preset": "cifar", "mean": MEAN, "std": STD, "image_size": None,
        "input_shape": [SIZE, SIZE, 3], "class_names": ["cat", "dog", "ship", "frog"],
        "num_classes": 4,
    }))
    return folder


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def _pngs(folder, images):
    from PIL import Image

    paths = []
    for i, image in enumerate(images):
        paths.append(str(folder / f"img{i}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths


def test_export_and_run_give_the_keras_outputs(run_dir, tmp_path, capsys):
    _requires_openvino()
    keras_run = keras_resnets.load_run(run_dir)
    x = keras_run.preprocess(_images(5))
    expected = keras.ops.convert_to_numpy(keras_run.model(x, training=False))
    # The command line, from the run folder; then the Python API's file.
    out = tmp_path / "deploy" / "model.xml"
    if keras.backend.backend() == "jax":
        # jax2tf serializes natively (XlaCallModule), which OpenVINO cannot read.
        assert cli.main(["export", str(run_dir), str(out), "--format", "openvino"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Export from KERAS_BACKEND=tensorflow" in err
        return
    assert cli.main(["export", str(run_dir), str(out), "--format", "openvino"]) == 0
    assert f"wrote {out} (openvino)" in capsys.readouterr().out
    assert out.is_file() and out.with_suffix(".bin").is_file()
    runner = ov_inference.OpenVINOModel(str(out))
    assert runner.input_shape == (None, SIZE, SIZE, 3) and runner.output_shape == (None, 4)
    np.testing.assert_allclose(runner.predict_on_batch(x), expected, rtol=1e-4, atol=1e-4)
    # Another batch size: compiled for it (static shapes), the first kept.
    np.testing.assert_allclose(runner.predict_on_batch(x[:2]), expected[:2], rtol=1e-4,
                               atol=1e-4)
    assert sorted(batch for batch, _ in runner._compiled) == [2, 5]
    path = export_model(keras_run.model, tmp_path / "api.xml", format="openvino")
    assert path == str(tmp_path / "api.xml") and os.path.isfile(path)


@pytest.mark.tensorflow_only  # the runtime after the export is the same on every backend
def test_load_run_and_predict_with_openvino(run_dir, tmp_path, capsys):
    _requires_openvino()
    keras_run = keras_resnets.load_run(run_dir)
    ov_run = keras_resnets.load_run(run_dir, runtime="openvino", threads=1)
    assert isinstance(ov_run.model, ov_inference.OpenVINOModel)
    assert ov_run.model.precision == "float32" and ov_run.model.threads == 1
    assert ov_run.outputs_logits and ov_run.class_names == keras_run.class_names
    images = _images(7, seed=1)
    np.testing.assert_allclose(ov_run.predict(images, batch_size=4),
                               keras_run.predict(images, batch_size=4), rtol=1e-4, atol=1e-5)
    # bfloat16: the converted graph compiled again, with OpenVINO's bf16 hint.
    bf16 = ov_inference.OpenVINOModel(ov_run.model.model, precision="bfloat16")
    assert bf16.config()["INFERENCE_PRECISION_HINT"] == "bf16"
    x = ov_run.preprocess(images)
    np.testing.assert_allclose(bf16.predict_on_batch(x), ov_run.model.predict_on_batch(x),
                               atol=0.1)
    # The command: the same lines as the Keras model's.
    paths = _pngs(tmp_path, images[:3])
    assert cli.main(["predict", str(run_dir), *paths, "--runtime", "openvino", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = keras_run.predict_files(paths)
    assert [[p["index"] for p in r["predictions"]] for r in rows] == [
        [p["index"] for p in r["predictions"]] for r in expected]
    for row, want in zip(rows, expected):
        np.testing.assert_allclose([p["probability"] for p in row["predictions"]],
                                   [p["probability"] for p in want["predictions"]], atol=1e-5)


@pytest.mark.tensorflow_only  # as above
def test_benchmark_with_openvino(capsys):
    _requires_openvino()
    assert cli.main(["benchmark", "resnet-20", "--runtime", "openvino", "--batch", "4",
                     "--image-size", "16", "--steps", "2", "--warmup", "1",
                     "--precision", "float32", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["runtime"], result["precision"], result["threads"]) == (
        "openvino", "float32", 1)
    assert result["infer_images_per_sec"] > 0 and result["latency_ms_batch1"] > 0
    assert result["train_images_per_sec"] is None and result["batch_size"] == 4
    assert result["infer_gflops"] > 0 and result["trainable_params"] == 269_722


def test_openvino_precisions_of_the_benchmark():
    from keras_resnets.benchmark import run as benchmark
    from keras_resnets import runtime

    assert benchmark.openvino_precision("float32") == "float32"
    assert benchmark.openvino_precision("mixed_bfloat16") == "bfloat16"
    assert benchmark.openvino_precision("auto") == (
        "bfloat16" if runtime.cpu_has_bf16_units() else "float32")
    with pytest.raises(ValueError, match="OpenVINO inference runs in float32 or bfloat16"):
        benchmark.openvino_precision("mixed_float16")


def test_bad_arguments_are_one_line(run_dir, tmp_path, capsys):
    with pytest.raises(ValueError, match="Expected one of \\('keras', 'openvino'\\)"):
        keras_resnets.load_run(run_dir, runtime="onnx")
    with pytest.raises(ValueError, match="apply to runtime='openvino' only"):
        keras_resnets.load_run(run_dir, precision="bfloat16")
    with pytest.raises(ValueError, match="OpenVINO inference runs in one of"):
        keras_resnets.load_run(run_dir, runtime="openvino", precision="float16")
    with pytest.raises(ValueError, match="Expected a file path such as model.xml"):
        export_model(str(run_dir), tmp_path / "model.onnx", format="openvino")
    commands = [
        (["predict", str(run_dir), "x.png", "--precision", "bfloat16"],
         "apply to runtime='openvino' only"),
        (["benchmark", "resnet-20", "--threads", "2"], "apply to --runtime openvino only"),
        (["benchmark", "resnet-20", "--runtime", "openvino", "--no-jit"],
         "--runtime openvino does not run"),
        (["export", str(run_dir), str(tmp_path / "out"), "--format", "openvino"],
         "Expected a file path such as model.xml"),
    ]
    for argv, message in commands:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_missing_openvino_names_the_extra(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` fails
    with pytest.raises(ImportError, match=f"not installed: {DEPLOY}".replace("[", r"\[")):
        ov_inference.require_openvino()
    with pytest.raises(ImportError, match="keras-resnets\\[deploy\\]"):
        keras_resnets.load_run(run_dir, runtime="openvino")
    with pytest.raises(ImportError, match="keras-resnets\\[deploy\\]"):
        export_model(str(run_dir), tmp_path / "m.xml", format="openvino")
    image = _pngs(tmp_path, _images(1))[0]
    for argv in (["export", str(run_dir), str(tmp_path / "m.xml"), "--format", "openvino"],
                 ["predict", str(run_dir), image, "--runtime", "openvino"],
                 ["benchmark", "resnet-20", "--runtime", "openvino", "--steps", "1"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"keras-resnets: error: The OpenVINO runtime is not installed: {DEPLOY} " \
                      "(or pip install openvino).", err
    assert not (tmp_path / "m.xml").exists()


@pytest.mark.tensorflow_only  # once per CI run: the same model on every backend
def test_shipped_resnet20_accuracy_in_openvino(tmp_path):
    """The shipped ResNet-20 through a run folder in the OpenVINO runtime:
    float32 gives the recorded 9,159 of 10,000 (+-10, other processors sum
    in another order), bfloat16 within 0.1 point of it."""
    _requires_openvino()
    from keras_resnets.weights import pretrained

    x, y = cifar10_test_set()
    entry = pretrained.PACKAGED[("resnet-20", "cifar10")]
    keras_resnets.create_model("resnet-20", weights="cifar10").save(tmp_path / "best.keras")
    (tmp_path / "preprocessing.json").write_text(json.dumps({
        "preset": "cifar", "mean": list(entry.mean), "std": list(entry.std),
        "image_size": None, "input_shape": [32, 32, 3], "class_names": [str(i) for i in range(10)],
        "num_classes": 10,
    }))
    run = keras_resnets.load_run(tmp_path, runtime="openvino")  # float32
    correct = {"float32": int((run.predict(x, batch_size=1000).argmax(-1) == y).sum())}
    # bfloat16: the same converted graph, compiled with OpenVINO's bf16 hint.
    run.model = ov_inference.OpenVINOModel(run.model.model, precision="bfloat16",
                                           classifier_activation="softmax")
    correct["bfloat16"] = int((run.predict(x, batch_size=1000).argmax(-1) == y).sum())
    print(correct)
    assert abs(correct["float32"] - entry.correct) <= 10, correct
    assert abs(correct["bfloat16"] - entry.correct) <= 10, correct
