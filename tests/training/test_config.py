"""Config loading and validation: errors name the key and what is valid."""

import pathlib

import pytest
import yaml

from keras_resnets import cli
from keras_resnets.training import config as config_lib
from keras_resnets.training.config import ConfigError
from keras_resnets.training.config import ConfigTypeError
from keras_resnets.training.config import config_from_dict
from keras_resnets.training.config import load_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("**/*.yaml"))


def _raw(**sections):
    raw = {"model": {"name": "resnet-20"}, "data": {"source": "cifar10"}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


def test_defaults_and_sections():
    config = config_from_dict(_raw(training={"epochs": 3}, tuner={"max_trials": 2}))
    assert config.model.name == "resnet-20"
    assert config.training.epochs == 3
    assert config.optimizer.weight_decay_mode == "coupled"
    assert config.optimizer.decay_bn_and_bias is True
    assert config.tuner.max_trials == 2 and config.to_dict()["tuner"] == {"max_trials": 2}
    assert isinstance(config.optimizer.learning_rate, float)
    with pytest.raises(AttributeError):  # frozen
        config.training.epochs = 5


def test_public_names_and_layers():
    """`training.config` keeps every public name of the split modules, the
    dataclasses module imports nothing of the package (every layer can read a
    `Config`), and `training.train` is the function, not a module."""
    import ast
    import types

    from keras_resnets import training
    from keras_resnets.training import config_sections
    from keras_resnets.training import trainer

    names = {"Config", "ConfigError", "ConfigTypeError", "DataConfig", "DistributionConfig",
             "ModelConfig", "OptimizerConfig", "ScheduleConfig", "TrainingConfig", "TunerConfig",
             "KNOWN_TFDS", "LOCAL_KINDS", "SECTIONS", "TUNER_NAMES", "apply_override",
             "config_from_dict", "load_config", "tuner_name"}
    assert names <= set(config_lib.__all__)
    for name in config_lib.__all__:
        value = getattr(config_lib, name)
        if hasattr(config_sections, name):
            assert value is getattr(config_sections, name), name
    assert config_lib.tuner_name("bayes") == "bayesian_optimization"
    tree = ast.parse(pathlib.Path(config_sections.__file__).read_text())
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    # Only two standard-library modules below it: the data layer's record of
    # the `data:` settings, and the user errors.
    ours = [m for m in imported if m.startswith("keras_resnets")]
    assert ours == ["keras_resnets.data.options", "keras_resnets.errors"], imported
    assert isinstance(training.train, types.FunctionType)
    assert training.train is trainer.train


def test_data_section_is_the_data_settings(monkeypatch):
    """One schema: the `data:` section is `DataSettings` plus `source`,
    `DataOptions` is `DataSettings` plus the run's fields, and `load_data`
    hands every setting of the section to `build_datasets`."""
    import dataclasses

    from keras_resnets import data as data_lib
    from keras_resnets.data import presets
    from keras_resnets.training import trainer
    from keras_resnets.training.config_sections import DataConfig
    from keras_resnets.training.config_sections import section_fields

    settings = [f.name for f in dataclasses.fields(data_lib.DataSettings)]
    assert [f.name for f in section_fields(DataConfig)] == ["source"] + settings
    assert issubclass(DataConfig, data_lib.DataSettings)
    assert issubclass(data_lib.DataOptions, data_lib.DataSettings)
    for name in ("padding", "padding_mode", "image_size", "scale_range", "lighting_std"):
        assert presets.PREPROCESSING_DEFAULTS[name] == getattr(data_lib.DataOptions(), name)
    changed = dict(data_dir="tfds", cache_dir="cache", preset="none", validation_size=10,
                   validation_method="random", padding=2, padding_mode="reflect",
                   mean="cifar10", std=[0.2, 0.2, 0.2], image_size=64, scale_range=[64, 80],
                   lighting_std=0.0, eval_batch_size=7, train_limit=30, test_limit=20,
                   skip_corrupt=True, loader="numpy", augment_on="host")
    assert sorted(changed) == sorted(settings)  # a new setting is added here too
    config = config_from_dict(_raw(data={"source": "cifar10", **changed}))
    seen = {}
    monkeypatch.setattr(data_lib, "build_datasets",
                        lambda source, options, **kw: seen.update(options.replace(**kw).settings()))
    trainer.load_data(config)
    assert seen == {**changed, "std": (0.2, 0.2, 0.2), "scale_range": (64, 80)}


def test_model_kwargs_are_kept():
    config = config_from_dict(_raw(model={"name": "WRN_16_4", "dropout_rate": 0.3}))
    assert config.model.name == "wrn-16-4"
    assert config.model.kwargs == {"dropout_rate": 0.3}


def test_unknown_key_did_you_mean():
    with pytest.raises(ConfigError, match=r"`training.epoch`.*Did you mean `training.epochs`"):
        config_from_dict(_raw(training={"epoch": 3}))
    with pytest.raises(ConfigError, match=r"`optimzer`.*Did you mean `optimizer`"):
        config_from_dict({**_raw(), "optimzer": {}})


def test_wrong_type():
    with pytest.raises(ConfigTypeError, match=r"`training.epochs`: expected an int.*'ten'"):
        config_from_dict(_raw(training={"epochs": "ten"}))
    with pytest.raises(TypeError, match="optimizer.nesterov"):
        config_from_dict(_raw(optimizer={"nesterov": "yes"}))


def test_bad_choice_and_values():
    with pytest.raises(ConfigError, match=r"schedule.name.*Did you mean 'cosine'.*Received"):
        config_from_dict(_raw(schedule={"name": "cosin"}))
    with pytest.raises(ConfigError, match=r"optimizer.learning_rate` must be > 0.*-0.1"):
        config_from_dict(_raw(optimizer={"learning_rate": -0.1}))
    with pytest.raises(ConfigError, match="milestones"):
        config_from_dict(_raw(schedule={"name": "step"}))


def test_model_argument_typo_is_caught_at_load(tmp_path, capsys):
    # data.source does not exist: the model section is checked first, from
    # the registered constructor's signature (nothing is built or loaded).
    with pytest.raises(
        ConfigError,
        match=r"^Unknown argument `model.dropout` for model 'wrn-16-4' \(WideResNet\)\. "
        r"Did you mean `model.dropout_rate`\? Valid arguments: depth, k, dropout_rate, ",
    ):
        config_from_dict(
            _raw(model={"name": "wrn-16-4", "dropout": 0.3}, data={"source": "nowhere/x.tar.gz"})
        )
    with pytest.raises(ConfigError, match=r"`model.depth` is fixed by the model name 'resnet-50'"):
        config_from_dict(_raw(model={"name": "resnet-50", "depth": 101}))
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(_raw(model={"name": "resnet-20", "num_class": 100})))
    assert cli.main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Did you mean `model.num_classes`" in err


def test_unknown_model_name():
    with pytest.raises(ConfigError, match=r"model.name: Unknown model name 'resnet-21'.*resnet-20"):
        config_from_dict(_raw(model={"name": "resnet-21"}))


def test_missing_data():
    raw = _raw()
    del raw["data"]
    with pytest.raises(ConfigError, match=r"data.source.*cifar10.*image folder"):
        config_from_dict(raw)
    with pytest.raises(ConfigError, match=r"data.source.*not found.*nowhere/x.tar.gz"):
        config_from_dict(_raw(data={"source": "nowhere/x.tar.gz"}))


def test_overrides():
    config = config_from_dict(
        _raw(),
        ["training.epochs=7", "optimizer.learning_rate=1e-2", "schedule.milestones=[1, 2]",
         "schedule.name=step", "model.dropout_rate=0.1"],
    )
    assert config.training.epochs == 7
    assert config.optimizer.learning_rate == 0.01
    assert config.schedule.milestones == (1.0, 2.0)
    assert config.model.kwargs["dropout_rate"] == 0.1
    with pytest.raises(ConfigError, match="Did you mean `training`"):
        config_from_dict(_raw(), ["trainig.epochs=1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_dict(_raw(), ["epochs"])
    # The command line's flags are typed pairs: their values are not YAML.
    config = config_from_dict(_raw(), ["training.epochs=7", ("training.epochs", 3),
                                       ("training.output_dir", "yes")])
    assert (config.training.epochs, config.training.output_dir) == (3, "yes")
    with pytest.raises(ConfigTypeError, match="training.output_dir"):
        config_from_dict(_raw(), ["training.output_dir=yes"])  # YAML reads a bool


def test_yaml_round_trip(tmp_path):
    config = config_from_dict(_raw(model={"dropout_rate": 0.3}, schedule={"name": "cosine"}))
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    again = load_config(path)
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_validates(path):
    """Every shipped recipe parses, validates and names a registered model."""
    config = load_config(path, check_paths=False)
    assert config.model.name in path.stem
    header = path.read_text().splitlines()[0]
    assert header.startswith("# "), "configs start with a comment naming the paper"
    assert "arXiv:" in path.read_text()


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_raw(training={"epohcs": 2})))
    assert cli.main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Did you mean `training.epochs`" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
    assert cli.main(["train", str(path), "--set", "training.epohcs=", "--set", "optimizer.momentum=fast"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "optimizer.momentum" in err
    assert cli.main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "Config file not found" in capsys.readouterr().err


def test_cli_list_models(capsys):
    assert cli.main(["list-models", "resnet-2*"]) == 0
    out = capsys.readouterr().out
    assert "resnet-20" in out and "0.27M" in out
    assert cli.main(["list-models", "nothing-like-this"]) == 2


@pytest.mark.large
@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_builds_its_model(path):
    """Every recipe's model builds with the config's kwargs (no training)."""
    from keras_resnets import count_trainable_params
    from keras_resnets.training.recipe import build_from_config

    config = load_config(path, check_paths=False)
    imagenet = config.data.preset == "imagenet"
    num_classes = 1000 if imagenet else (100 if "cifar100" in path.stem else 10)
    shape = (224, 224, 3) if imagenet else (32, 32, 3)
    model = build_from_config(config, num_classes=num_classes, input_shape=shape)
    assert model.output_shape == (None, num_classes)
    assert count_trainable_params(model) > 0


@pytest.mark.parametrize("activation, from_logits", [(None, True), ("linear", True), ("softmax", False)])
def test_training_pairs_the_head_with_the_loss(activation, from_logits):
    """Regression: `None` is dropped by create_model, so training once built a
    softmax head and fed probabilities to a from-logits loss (double softmax)."""
    import numpy as np

    from keras_resnets.training.recipe import build_from_config
    from keras_resnets.training.recipe import compile_from_config

    overrides = [] if activation is None else [f"model.classifier_activation={activation}"]
    config = load_config(
        ROOT / "configs/resnet/resnet-20_cifar10_fast.yaml", overrides, check_paths=False
    )
    model = build_from_config(config, num_classes=4, input_shape=(8, 8, 3))
    compile_from_config(model, config, 0.1)
    assert model.layers[-1].get_config()["activation"] == (activation or "linear")
    assert model.loss.from_logits is from_logits
    out = np.asarray(model(np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype("float32")))
    assert np.allclose(out.sum(axis=-1), 1.0, atol=1e-4) is (not from_logits)
