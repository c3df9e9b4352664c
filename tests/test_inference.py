"""keras_resnets.load_run / Predictor / `keras-resnets predict` on run folders
made by hand (a ResNet-8: ResNet-20's layout with one block per stage; no
training)."""

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import keras
import numpy as np
import pytest
from PIL import Image

import keras_resnets
from keras_resnets import cli
from keras_resnets import data
from keras_resnets import inference
from keras_resnets.data import decode
from keras_resnets.training.config import config_from_dict

SHARED_CIFAR10 = (
    pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg.tar.gz"
)
SIZE = 16
CLASSES = ["cat", "dog", "ship", "frog"]
MEAN = [0.49, 0.48, 0.45]
STD = [0.25, 0.24, 0.26]
LAST_BIAS = [3.0, -1.0, 0.5, 0.0]


def preprocessing(**changes):
    meta = {"preset": "cifar", "mean": MEAN, "std": STD, "image_size": 224,
            "input_shape": [SIZE, SIZE, 3], "class_names": CLASSES, "num_classes": 4}
    meta.update(changes)
    return meta


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """best.keras and last.keras (same model, last with another classifier
    bias) and a preprocessing.json, as `keras-resnets train` writes them."""
    folder = tmp_path_factory.mktemp("run")
    model = keras_resnets.ResNet(
        [1, 1, 1], [16, 32, 64], stem="cifar", shortcut="A", input_shape=(SIZE, SIZE, 3),
        num_classes=4, classifier_activation="linear",
    )
    model.save(folder / "best.keras")
    dense = model.get_layer("predictions")
    dense.bias.assign(np.asarray(LAST_BIAS, "float32"))
    model.save(folder / "last.keras")
    (folder / "preprocessing.json").write_text(json.dumps(preprocessing()))
    return folder


@pytest.fixture(scope="module")
def predictor(run_dir):
    return keras_resnets.load_run(run_dir)


@pytest.fixture(scope="module")
def last_predictor(run_dir):
    return keras_resnets.load_run(run_dir, which="last")


def random_images(n, size=SIZE, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def write_pngs(folder, images):
    paths = []
    for i, image in enumerate(images):
        path = pathlib.Path(folder) / f"img{i}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return paths


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def tiny_model(activation, size=24, classes=3):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    if activation == "softmax_layer":
        return keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(classes)(x)))
    return keras.Model(inputs, keras.layers.Dense(classes, activation=activation)(x))


# === What evaluation feeds the model ===


def test_predict_equals_the_evaluation_pipeline_cifar(predictor):
    images = random_images(6)
    ds = data.make_dataset(images, np.zeros(6), batch_size=6, training=False,
                           preset="cifar", mean=MEAN, std=STD)
    fed = next(iter(ds))[0].numpy()
    np.testing.assert_array_equal(predictor.preprocess(images), fed)

    probs = predictor.predict(images, batch_size=6)
    logits = np.asarray(predictor.model.predict_on_batch(fed))
    assert probs.shape == (6, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, softmax(logits.astype("float64")), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    # Two model calls (another batch size: XLA may sum in another order).
    np.testing.assert_allclose(predictor.predict(images, batch_size=3), probs, rtol=1e-4, atol=1e-6)
    # One image (H, W, C) is a batch of one; a list of images is a batch.
    np.testing.assert_array_equal(predictor.preprocess(images[2]), fed[2:3])
    np.testing.assert_array_equal(predictor.preprocess(list(images[:2])), fed[:2])


def test_imagenet_preset_resizes_and_crops_like_the_pipeline(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in ((30, 41, 3), (27, 27, 3), (50, 33, 3))]
    paths = write_pngs(tmp_path, images)
    predictor = inference.Predictor(tiny_model("linear"), preset="imagenet", image_size=24)
    assert predictor.mean == pytest.approx(data.IMAGENET_MEAN)
    ds = data.make_dataset(np.asarray(paths), np.zeros(3), batch_size=3, training=False,
                           preset="imagenet", image_size=24, scale_range=(28, 28))
    fed = next(iter(ds))[0].numpy()
    assert fed.shape == (3, 24, 24, 3)
    got = predictor.preprocess([inference.read_image(p) for p in paths])
    np.testing.assert_array_equal(got, fed)


def test_shared_cifar10_jpegs_decode_like_the_pipeline(tmp_path):
    if not SHARED_CIFAR10.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the CIFAR-10 archive is missing: {SHARED_CIFAR10}")
        pytest.skip(f"needs the shared CIFAR-10 archive at {SHARED_CIFAR10}")
    payloads = []
    with tarfile.open(SHARED_CIFAR10) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".jpg"):
                payloads.append(archive.extractfile(member).read())
                if len(payloads) == 20:
                    break
    for i, payload in enumerate(payloads):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(payload)
        # PIL (predict_files, and load_arrays without TensorFlow) == the
        # data pipeline's TensorFlow decoder (load_arrays).
        expected = decode._tf_decode(payload).numpy()
        np.testing.assert_array_equal(inference.read_image(path), expected)
        np.testing.assert_array_equal(decode.pil_decode(payload), expected)


# === The classifier's activation ===


@pytest.mark.parametrize("activation", ["linear", "softmax", "softmax_layer"])
def test_softmax_only_for_logits(activation):
    model = tiny_model(activation)
    predictor = inference.Predictor(model, preset="svhn")
    assert predictor.outputs_logits == (activation == "linear")
    images = random_images(2, size=24)
    out = np.asarray(model.predict_on_batch(images.astype("float32") / 255.0))
    expected = softmax(out) if activation == "linear" else out
    np.testing.assert_allclose(predictor.predict(images), expected, rtol=1e-5, atol=1e-7)


def test_run_folder_model_is_known_to_output_logits(predictor):
    assert predictor.output_activation == "linear" and predictor.outputs_logits
    assert predictor.class_names == tuple(CLASSES) and predictor.num_classes == 4
    assert predictor.input_shape == (SIZE, SIZE, 3) and predictor.preset == "cifar"


# === Run folders ===


def bias(predictor):
    return np.asarray(predictor.model.get_layer("predictions").bias)


def test_which_selects_best_or_last(run_dir, predictor, last_predictor):
    assert predictor.model_path.endswith("best.keras")
    np.testing.assert_array_equal(bias(predictor), np.zeros(4))
    assert last_predictor.model_path.endswith("last.keras")
    np.testing.assert_allclose(bias(last_predictor), LAST_BIAS)
    # A .keras file inside a run folder works too, with the folder's metadata.
    direct = keras_resnets.load_run(run_dir / "last.keras")
    assert direct.model_path == last_predictor.model_path
    np.testing.assert_allclose(bias(direct), LAST_BIAS)
    assert direct.class_names == tuple(CLASSES) and direct.mean == MEAN


def test_old_run_falls_back_to_config_yaml(tmp_path, run_dir, predictor, capsys):
    shutil.copy(run_dir / "best.keras", tmp_path / "best.keras")
    # What `keras-resnets train` wrote before preprocessing.json: the resolved
    # statistics, `data.preset` left to inference.
    config = config_from_dict(
        {"model": {"name": "resnet-20"}, "data": {"source": "cifar10"}}, check_paths=False
    )
    config = config.replace(data={"mean": MEAN, "std": STD})
    (tmp_path / "config.yaml").write_text("# Resolved config\n" + config.to_yaml())
    with pytest.warns(UserWarning, match=r"class names are unknown, using '0'..'3'"):
        old = keras_resnets.load_run(tmp_path)
    assert old.class_names == ("0", "1", "2", "3")
    assert old.preset == "cifar" and old.mean == MEAN and old.std == STD
    images = random_images(2)
    np.testing.assert_array_equal(old.preprocess(images), predictor.preprocess(images))
    # The command line shows the warning as one line on stderr.
    image = write_pngs(tmp_path, images[:1])[0]
    assert inference.run_predict(predict_parser().parse_args(["predict", str(tmp_path), image])) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{image}: ")
    assert [line for line in err.splitlines() if "keras-resnets" in line] == [
        f"keras-resnets: warning: {tmp_path} has no preprocessing.json (a run from before it "
        "existed): class names are unknown, using '0'..'3'."
    ]


def test_predict_files_top_k(tmp_path, predictor):
    images = random_images(3, seed=3)
    paths = write_pngs(tmp_path, images)
    probs = predictor.predict(images)
    results = predictor.predict_files(paths, top_k=2)
    assert [r["path"] for r in results] == paths
    for result, p in zip(results, probs):
        order = np.argsort(-p)[:2]
        assert [q["index"] for q in result["predictions"]] == order.tolist()
        assert [q["class_name"] for q in result["predictions"]] == [CLASSES[i] for i in order]
        np.testing.assert_allclose([q["probability"] for q in result["predictions"]], p[order],
                                   rtol=1e-6)
    # top_k above the number of classes gives every class.
    assert len(predictor.predict_files(paths[0], top_k=10)[0]["predictions"]) == 4


# === Bad input: one clear line each ===


def test_missing_run_folder_and_models(tmp_path, run_dir):
    with pytest.raises(FileNotFoundError, match="No run folder at .*nowhere"):
        keras_resnets.load_run(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="holds no .keras model"):
        keras_resnets.load_run(tmp_path)
    shutil.copy(run_dir / "best.keras", tmp_path / "best.keras")
    with pytest.raises(FileNotFoundError, match=r"No model last.keras .*use which='best'"):
        keras_resnets.load_run(tmp_path, which="last")
    with pytest.raises(ValueError, match=r"Expected one of \('best', 'last'\)"):
        keras_resnets.load_run(tmp_path, which="final")


def test_a_run_without_best_keras_falls_back_to_last(tmp_path, run_dir, capsys):
    """A run with no evaluated epoch (shorter than training.validation_freq)
    has last.keras only: `which="best"` (the default of load_run, predict
    and export) uses it and says so, in one line on the command line."""
    from keras_resnets.inference.loading import RunFileWarning

    shutil.copy(run_dir / "last.keras", tmp_path / "last.keras")
    shutil.copy(run_dir / "preprocessing.json", tmp_path / "preprocessing.json")
    with pytest.warns(RunFileWarning, match=r"has no best.keras .*using last.keras"):
        run = keras_resnets.load_run(tmp_path)
    assert pathlib.Path(run.model_path).name == "last.keras"
    (tmp_path / "images").mkdir()
    image = write_pngs(tmp_path / "images", random_images(1))[0]
    for argv in (["predict", str(tmp_path), str(image)],
                 ["export", str(tmp_path), str(tmp_path / "out.onnx"), "--format", "onnx"]):
        if argv[0] == "export":
            from keras_resnets.export import _ONNX_REQUIREMENTS

            needed = _ONNX_REQUIREMENTS[keras.backend.backend()]
            if any(importlib.util.find_spec(m) is None for m in needed):
                continue  # test_export.py covers the converters
        assert cli.main(argv) == 0
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [
            f"keras-resnets: warning: '{tmp_path}' has no best.keras (no epoch of the run was "
            "evaluated yet); using last.keras."
        ], err


def test_missing_or_incomplete_preprocessing(tmp_path, run_dir):
    shutil.copy(run_dir / "best.keras", tmp_path / "best.keras")
    with pytest.raises(FileNotFoundError, match="neither preprocessing.json nor config.yaml"):
        keras_resnets.load_run(tmp_path)
    meta = preprocessing()
    del meta["class_names"], meta["std"]
    (tmp_path / "preprocessing.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"lacks the keys \['std', 'class_names'\]"):
        keras_resnets.load_run(tmp_path)
    (tmp_path / "preprocessing.json").write_text("{not json")
    with pytest.raises(ValueError, match="preprocessing.json is not valid JSON"):
        keras_resnets.load_run(tmp_path)


def test_bad_images(tmp_path, predictor):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    with pytest.raises(ValueError, match=r"Cannot decode .*broken.jpg.*Expected a JPEG, PNG"):
        predictor.predict_files([broken])
    with pytest.raises(FileNotFoundError, match="No image file at .*absent.png"):
        predictor.predict_files(tmp_path / "absent.png")
    big = write_pngs(tmp_path, random_images(1, size=20))[0]
    with pytest.raises(ValueError, match=r"img0.png is 20x20 but the model takes 16x16"):
        predictor.predict_files(big)
    with pytest.raises(ValueError, match="Expected uint8 images"):
        predictor.predict(random_images(1).astype("float32"))
    with pytest.raises(ValueError, match=r"Expected images of shape \(H, W, C\)"):
        predictor.predict(np.zeros((SIZE, SIZE, 2), np.uint8))
    with pytest.raises(ValueError, match="`top_k`. Expected an int >= 1"):
        predictor.predict_files(big, top_k=0)


def test_bad_predictor_arguments():
    with pytest.raises(ValueError, match="must record"):
        inference.Predictor(tiny_model("linear"), preset="cifar")
    with pytest.raises(ValueError, match="Expected one of .*Received: preset='cifr'"):
        inference.Predictor(tiny_model("linear"), preset="cifr")
    with pytest.raises(ValueError, match="Expected 3 class names"):
        inference.Predictor(tiny_model("linear"), preset="svhn", class_names=["a", "b"])


# === Command line ===


def predict_parser():
    parser = argparse.ArgumentParser(prog="keras-resnets")
    inference.add_predict_arguments(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_predict(tmp_path, run_dir, predictor, last_predictor, capsys):
    paths = write_pngs(tmp_path, random_images(2, seed=5))
    parser = predict_parser()
    args = parser.parse_args(["predict", str(run_dir), *paths, "--top-k", "2"])
    assert (args.which, args.top_k, args.json) == ("best", 2, False)
    assert inference.run_predict(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = predictor.predict_files(paths, top_k=2)
    assert lines == [inference.format_prediction(r) for r in expected]
    assert lines[0].startswith(f"{paths[0]}: ") and lines[0].count(", ") == 1

    args = parser.parse_args(["predict", str(run_dir), *paths, "--last", "--json"])
    assert inference.run_predict(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    last = last_predictor.predict_files(paths)
    assert [r["path"] for r in rows] == paths and len(rows[0]["predictions"]) == 4
    assert [[q["index"] for q in r["predictions"]] for r in rows] == [
        [q["index"] for q in r["predictions"]] for r in last
    ]
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", str(run_dir), paths[0], "--best", "--last"])


def test_parser_module_imports_nothing_heavy():
    # cli.py builds the `predict` parser from keras_resnets.inference: that
    # import (the lazy package, then the inference package) must load no
    # framework, PIL or YAML, and none of the package's heavy modules.
    script = (
        "import argparse, json, sys\n"
        "from keras_resnets.inference import add_predict_arguments\n"
        "add_predict_arguments(argparse.ArgumentParser().add_subparsers())\n"
        "heavy = ('keras', 'tensorflow', 'jax', 'torch', 'PIL', 'yaml')\n"
        "ours = [m for m in sys.modules if m.startswith('keras_resnets.')\n"
        "        and not m.startswith(('keras_resnets.inference', 'keras_resnets._', 'keras_resnets.errors'))]\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)) + ours))\n"
    )
    root = pathlib.Path(inference.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
