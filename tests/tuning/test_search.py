"""`keras-resnets tune`: a real two-trial search, resuming, results, errors."""

import csv
import json
import os
import pathlib

import pytest
import yaml

from keras_resnets import cli
from keras_resnets.training import config_from_dict
from keras_resnets.training import load_config
from keras_resnets.training.config import TunerConfig
from keras_resnets.tuning import results
from keras_resnets.tuning import search
from keras_resnets.tuning import tuners
from tests.testing import write_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
CIFAR = ROOT.parent / "shared" / "data" / "cifar10-jpg.tar.gz"


def _require_cifar():
    if not CIFAR.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the CIFAR-10 archive at {CIFAR}")
        pytest.skip(f"the CIFAR-10 archive is absent ({CIFAR})")


def _sections(**tuner):
    """A 2-trial WRN search (every section but `data`)."""
    return {
        "model": {"name": "wrn-16-4"},
        "optimizer": {"learning_rate": 0.05, "nesterov": True, "weight_decay": 5e-4},
        "schedule": {"name": "cosine"},
        "training": {"epochs": 1, "batch_size": 64, "verbose": 0, "jit_compile": False,
                     "tensorboard": False},
        "tuner": {
            "name": "random_search", "max_trials": 2, "seed": 1,
            "search_space": {"depth": 10, "k": 1, "dropout_rate": 0.0,
                             "learning_rate": {"min": 0.01, "max": 0.1, "sampling": "log"}},
            **tuner,
        },
    }


def _config(tmp_path, **tuner):
    """The search on 256 CIFAR-10 training images."""
    return write_config(
        tmp_path, name="tune_wrn.yaml", source=CIFAR, **_sections(**tuner),
        data={"validation_size": 128, "train_limit": 256, "test_limit": 128},
    )


def test_two_trial_search_resumes_and_exports_a_training_config(tmp_path, capsys):
    _require_cifar()
    path, out = _config(tmp_path), tmp_path / "out"
    assert cli.main(["tune", str(path), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| trial | status | best val | params | time (s) |" in printed
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {r["status"] for r in rows} == {"completed"}
    assert all(int(r["params"]) == 77850 for r in rows)  # WRN-10-1, 32x32 inputs
    assert all(0.0 <= float(r["best_objective"]) <= 1.0 and float(r["time_s"]) > 0 for r in rows)
    assert {"depth", "k", "learning_rate", "batch_size"} <= set(rows[0])
    assert "| trial |" in (out / "results.md").read_text()
    records = sorted(out.glob("tuner/search/trial_*/keras_resnets_trial.json"))
    times = [json.loads(p.read_text())["time_s"] for p in records]
    assert len(times) == 2

    best = load_config(out / "best_config.yaml")  # the loader `train` uses
    # WRN-10-1 is in no paper table: its family name, never another model's.
    assert best.model.name == "wrn"
    assert (best.model.kwargs["depth"], best.model.kwargs["k"]) == (10, 1)
    assert best.tuner == TunerConfig() and best.training.batch_size == 64 and best.training.epochs == 1
    # A full run: the search's limits and hold-out stay in search_config.yaml.
    assert (best.data.train_limit, best.data.test_limit, best.data.validation_size) == (None, None, 0)
    assert best.training.output_dir == "runs/wrn_depth10_k1_cifar10-jpg_tuned"
    assert "epochs; set tuner.final_epochs" in printed
    assert best.optimizer.learning_rate == pytest.approx(float(rows[0]["learning_rate"]))

    # The same command again: the finished trials are not repeated.
    assert cli.main(["tune", str(path), "--output", str(out)]) == 0
    with (out / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 2
    assert [json.loads(p.read_text())["time_s"] for p in records] == times
    assert len(list(out.glob("tuner/search/trial_*"))) == 2

    # The exported config trains the trial's architecture and claims no paper error.
    run = tmp_path / "train_run"
    code = cli.main(["train", str(out / "best_config.yaml"), "--output", str(run),
                     "--set", "training.steps_per_epoch=2", "--set", "training.tensorboard=false",
                     "--set", "data.test_limit=128"])
    assert code == 0 and (run / "metrics.json").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["trainable_params"] == 77850 and metrics["paper_error"] is None


def test_unknown_tuner_name_is_one_line_error(tmp_path, capsys):
    path = _config(tmp_path, name="grid_search")
    assert cli.main(["tune", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Unknown tuner `tuner.name`" in err
    assert "random_search, hyperband, bayesian_optimization" in err
    assert "grid_search" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="Did you mean 'hyperband'"):
        tuners.tuner_class("hyperbnd")
    assert tuners.tuner_class("Bayesian")[0] == "bayesian_optimization"
    assert tuners.tuner_class("RandomSearch")[0] == "random_search"


@pytest.mark.parametrize(
    "tuner, match",
    [
        ({"search_space": {"depth": []}}, "tuner.search_space: .*`depth`: the list of values is empty"),
        ({"search_space": {"k": {"min": 9, "max": 3}}}, "`k`: min \\(9\\) is greater than max \\(3\\)"),
        ({"search_space": {"depth": 12}}, "`depth`: every value must be 6n\\+4"),
        ({"max_trails": 3}, "Unknown config key `tuner.max_trails`. Did you mean `tuner.max_trials`"),
        ({"max_params": "lots"}, "`tuner.max_params`: expected a number"),
        ({"family": "vgg"}, "Unknown model family 'vgg'"),
    ],
)
def test_bad_tuner_sections_fail_before_anything_runs(tmp_path, capsys, tuner, match):
    path = _config(tmp_path, **tuner)
    assert cli.main(["tune", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "out").exists()


def _tuner(**tuner):
    return config_from_dict({"model": {"name": "wrn-16-4"}, "data": {"source": "cifar10"},
                             "tuner": tuner}).tuner


def test_tuner_config_parses_budget_and_defaults():
    config = _tuner(name="hyperband", max_params="3e6", max_epochs=4)
    assert config.max_params == 3e6 and config.name == "hyperband" and config.overwrite is False
    assert _tuner().name == "random_search"
    assert _tuner(name="Bayes").name == "bayesian_optimization"


def test_shipped_tuning_config_validates():
    path = ROOT / "configs" / "tuning" / "wrn-16-4_cifar10_random.yaml"
    config = load_config(path, check_paths=False)
    tuner = config.tuner
    assert isinstance(tuner, TunerConfig)
    hypermodel = search.make_hypermodel(config)
    assert hypermodel.space["depth"].values == (10, 16, 22, 28)
    assert hypermodel.max_params == 3e6 and tuner.name == "random_search"


def test_exported_config_names_what_it_builds(tmp_path):
    """An unregistered best architecture (WRN-10-4) is exported under the
    family name with its depth and width, never as wrn-28-10 with overrides;
    a registered one (WRN-16-4) under its own name. Both build the trial's
    model through the loader `keras-resnets train` uses."""
    from keras_resnets import registry
    from keras_resnets.training.recipe import build_from_config

    config = load_config(_config(tmp_path), check_paths=False)
    hm = search.make_hypermodel(config, num_classes=4, input_shape=(8, 8, 3))
    for (depth, k), name in (((10, 4), "wrn"), ((16, 4), "wrn-16-4")):
        hps = {"depth": depth, "k": k, "dropout_rate": 0.0, "learning_rate": 0.05}
        row = {"trial": "3", "objective": 0.5, "params": None, "hyperparameters": hps}
        path = results.export_best_config(config, hm, row, tmp_path / f"best_{depth}_{k}.yaml")
        best = load_config(path, check_paths=False)
        assert best.model.name == name
        facts = registry.model_facts(name)
        if name == "wrn":
            assert (best.model.kwargs["depth"], best.model.kwargs["k"]) == (10, 4)
            assert facts["error"] is None and facts["params"] is None
        else:
            assert "depth" not in best.model.kwargs and facts["error"] == 5.02
        trial = hm.build_model({**{n: h.default for n, h in hm.space.items()}, **hps})
        trained = build_from_config(best, num_classes=4, input_shape=(8, 8, 3))
        assert trained.count_params() == trial.count_params()
        assert [w.shape for w in trained.weights] == [w.shape for w in trial.weights]


@pytest.mark.parametrize(
    "tuner, match",
    [
        ({"max_trails": 3}, "Unknown config key `tuner.max_trails`. Did you mean `tuner.max_trials`"),
        ({"name": "hyperbnd"}, "Unknown tuner `tuner.name`. Did you mean 'hyperband'"),
        ({"max_trials": 0}, "`tuner.max_trials` must be > 0"),
        ({"overwrite": "yes"}, "Wrong type for `tuner.overwrite`"),
        ({"search_space": {"depth": [16, 27]}}, "tuner.search_space: .*`depth`: every value must be 6n\\+4"),
        ({"search_space": {"dropout_rate": 0.3}}, "`dropout_rate` is both a model kwarg"),
        ({"family": "vgg"}, "tuner.family .*Unknown model family 'vgg'"),
    ],
)
def test_tuner_section_is_checked_when_the_config_loads(tmp_path, tuner, match):
    """The `tuner:` section is typed like the other sections: `train` and
    `tune` both refuse a bad one at load time, in one line."""
    import re

    from keras_resnets.training import ConfigError

    raw = {"model": {"name": "wrn-16-4", "dropout_rate": 0.0}, "data": {"source": "cifar10"},
           "tuner": tuner}
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert re.search(match, str(info.value)) and "\n" not in str(info.value), str(info.value)


def test_exported_best_config_never_contradicts_itself(tmp_path):
    """Searched from `model: wrn-28-10`, a WRN-10-1 trial is exported as
    `wrn` with depth 10 and k 1 (never `wrn-28-10` with depth 10, k 1), and
    a WRN-28-10 trial as `wrn-28-10` with neither depth nor k."""
    raw = yaml.safe_load(_config(tmp_path).read_text())
    raw["model"] = {"name": "wrn-28-10"}
    config = config_from_dict(raw, check_paths=False)
    hm = search.make_hypermodel(config, num_classes=4, input_shape=(8, 8, 3))
    for (depth, k), name in (((10, 1), "wrn"), ((28, 10), "wrn-28-10")):
        hps = {"depth": depth, "k": k, "dropout_rate": 0.0, "learning_rate": 0.05}
        row = {"trial": "0", "objective": 0.5, "params": None, "hyperparameters": hps}
        best = load_config(results.export_best_config(config, hm, row, tmp_path / f"{name}.yaml"),
                           check_paths=False)
        kwargs = best.model.kwargs
        assert best.model.name == name
        if name == "wrn":
            assert (kwargs["depth"], kwargs["k"]) == (10, 1)
        else:
            assert "depth" not in kwargs and "k" not in kwargs and kwargs["dropout_rate"] == 0.0


# === Issue 27: no success from failed trials; the best config is a full run ===


def _tiny_config(tmp_path, **tuner):
    """The search on `make_npz`'s 4-class 8x8 images."""
    return write_config(tmp_path, name="tiny_tune.yaml", **_sections(**tuner),
                        data={"validation_size": 32})


def test_search_without_a_completed_trial_fails_in_one_line(tmp_path, capsys):
    """Every trial pruned (WRN-10-1 with 4 classes: 77.5k parameters > 1000): exit
    status 1, one line naming why, and no best_config.yaml."""
    out = tmp_path / "out"
    (out).mkdir()
    (out / "best_config.yaml").write_text("# from an earlier search\n")
    path = _tiny_config(tmp_path, max_params=1000, overwrite=True)
    assert cli.main(["tune", str(path), "--output", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("keras-resnets: error: No trial of the search completed")
    assert "2 pruned before training (parameters > max_params 1k; the smallest had 77.5k" in err
    assert not (out / "best_config.yaml").exists()
    with (out / "results.csv").open() as f:
        assert {r["status"] for r in csv.DictReader(f)} == {"pruned"}


def test_exported_config_is_the_recipe_of_a_full_run(tmp_path):
    """The search's budget (limits, hold-out, steps, the trials' epochs, the
    limited data's statistics) stays out of best_config.yaml; the run
    folder is named after the model."""
    raw = yaml.safe_load(_config(tmp_path, final_epochs=200).read_text())
    raw["data"].update(source="cifar10")
    raw["training"]["steps_per_epoch"] = 3
    config = config_from_dict(raw)
    hm = search.make_hypermodel(config, num_classes=10)
    hps = {"depth": 10, "k": 1, "dropout_rate": 0.0, "learning_rate": 0.05}
    row = {"trial": "1", "objective": 0.5, "params": 77850, "hyperparameters": hps}
    path = results.export_best_config(config, hm, row, tmp_path / "best_config.yaml")
    best = load_config(path)
    assert (best.data.train_limit, best.data.test_limit, best.data.validation_size) == (None, None, 0)
    assert best.data.mean is None and best.data.std is None and best.data.source == "cifar10"
    assert best.training.steps_per_epoch is None and best.training.epochs == 200
    assert best.training.output_dir == "runs/wrn_depth10_k1_cifar10_tuned"
    assert best.optimizer.learning_rate == 0.05 and best.tuner == TunerConfig()
    header = path.read_text().split("\nmodel:")[0]
    assert "the search's budget (1 epochs per trial, train_limit=256, test_limit=128, " \
        "validation_size=128, steps_per_epoch=3) is in search_config.yaml" in header
    assert "final_epochs" not in header

    # Without tuner.final_epochs the trials' epochs stay, and the header says so.
    config = config_from_dict({**raw, "tuner": {**raw["tuner"], "final_epochs": None}})
    hps = {"depth": 16, "k": 4, "dropout_rate": 0.0, "learning_rate": 0.05}
    row = {"trial": "2", "objective": 0.5, "params": 2748890, "hyperparameters": hps}
    path = results.export_best_config(config, hm, row, tmp_path / "best_config.yaml")
    best = load_config(path)
    assert best.training.epochs == 1 and best.training.output_dir == "runs/wrn-16-4_cifar10_tuned"
    assert "training.epochs: 1 is the trials' budget (tuner.final_epochs was not set)" in path.read_text()


def test_exported_source_stays_relative(tmp_path, monkeypatch):
    npz = tmp_path / "data" / "tiny.npz"
    npz.parent.mkdir()
    npz.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert results.portable_source(str(npz)) == os.path.join("data", "tiny.npz")
    assert results.portable_source("cifar10") == "cifar10"
    assert results.run_name({"name": "wrn-16-4", "dropout_rate": 0.3}, "data/tiny.npz") == \
        "wrn-16-4_tiny_tuned"
