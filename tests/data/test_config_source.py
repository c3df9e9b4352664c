"""The `data:` config section: where `data.source` points, `skip_corrupt`,
and the data sets the shipped configs name."""

import pathlib

import numpy as np
import pytest
import yaml

from keras_resnets import cli
from keras_resnets import data
from keras_resnets.training.config import KNOWN_TFDS
from keras_resnets.training.config import ConfigError
from keras_resnets.training.config import ConfigTypeError
from keras_resnets.training.config import config_from_dict
from keras_resnets.training.config import load_config
from tests.data.test_datasets import _make_corrupt_folder

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("**/*.yaml"))
# Data set part of a config's file name -> the tfds name it should use.
TFDS_NAMES = {"cifar10": "cifar10", "cifar100": "cifar100", "svhn": "svhn_cropped",
              "imagenet": "imagenet2012"}  # fmt: skip


def _write_config(folder, source, **data_options):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    raw = {"model": {"name": "resnet-20"}, "data": {"source": source, **data_options}}
    path.write_text(yaml.safe_dump(raw))
    return path


def test_bare_name_beside_the_config_is_a_path(tmp_path, monkeypatch):
    config_dir = tmp_path / "project" / "configs"
    path = _write_config(config_dir, "good")
    (config_dir / "good").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path).data.source == str(config_dir / "good")
    # The config folder's parents are searched too.
    (tmp_path / "project" / "pictures").mkdir()
    nested = _write_config(config_dir / "nested", "pictures")
    assert load_config(nested).data.source == str(tmp_path / "project" / "pictures")
    # The current directory comes first.
    (elsewhere / "good").mkdir()
    assert load_config(path).data.source == str(elsewhere / "good")


def test_bare_name_not_found_is_a_tfds_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write_config(tmp_path / "configs", "cifar10")
    assert load_config(path).data.source == "cifar10"
    assert load_config(path, ["data.source=mnist"]).data.source == "mnist"  # any tfds name


def test_unknown_bare_name_is_one_clear_error(tmp_path, monkeypatch, capsys):
    config_dir = tmp_path / "configs"
    path = _write_config(config_dir, "goood")
    (config_dir / "good").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "`data.source`: no file or folder named 'goood'" in message
    assert f"(looked in {tmp_path}, {config_dir} and its parents)" in message
    assert "and no tensorflow-datasets data set of that name. Did you mean 'good'?" in message
    assert "(cifar10, cifar100, svhn_cropped, imagenet2012, or any other tfds name)" in message
    assert message.endswith("Received: data.source='goood'")
    assert load_config(path, check_paths=False).data.source == "goood"
    # The CLI prints it as one line, exit status 2, and writes nothing.
    assert cli.main(["train", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no file or folder named 'goood'" in err
    assert not (tmp_path / "out").exists()


def test_skip_corrupt_option():
    raw = {"model": {"name": "resnet-20"}, "data": {"source": "cifar10"}}
    assert config_from_dict(raw).data.skip_corrupt is False
    assert config_from_dict(raw, ["data.skip_corrupt=true"]).data.skip_corrupt is True
    with pytest.raises(ConfigTypeError, match=r"`data.skip_corrupt`: expected true/false"):
        config_from_dict(raw, ["data.skip_corrupt=sometimes"])


def test_corrupt_images_through_the_config(tmp_path, capsys):
    from keras_resnets.training.trainer import load_data

    root = _make_corrupt_folder(tmp_path / "mydata")
    path = _write_config(tmp_path, str(root), cache_dir=str(tmp_path / "cache"))
    assert cli.main(["train", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "2 files of 11 in" in err and "test/dog/cut.jpg, train/cat/notes.jpg" in err
    assert "data.skip_corrupt: true" in err and not (tmp_path / "out").exists()
    config = load_config(path, ["data.skip_corrupt=true", "training.batch_size=2"])
    ds = load_data(config)
    assert "skipped 2 corrupt images of 11" in capsys.readouterr().out
    assert ds.num_train == 6 and ds.info.num_examples["test"] == 3


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_name_their_data_set(path):
    """Paper configs name the data set as users know it (the tfds name), not
    a path into this repository's surroundings; --data PATH overrides it."""
    assert "../shared" not in path.read_text()
    config = load_config(path, check_paths=False)
    assert config.data.source in KNOWN_TFDS
    assert config.data.source == TFDS_NAMES[path.stem.split("_")[1]]


def test_data_override_replaces_the_named_data_set(tmp_path):
    npz = tmp_path / "mine.npz"
    np.savez(npz, x_train=np.zeros((2, 4, 4, 3), np.uint8), y_train=np.array([0, 1]))
    config = load_config(CONFIGS[0], [f"data.source={npz}"])
    assert config.data.source == str(npz)
    _, info = data.load_arrays(config.data.source, cache_dir=False)
    assert info.name == "mine"
