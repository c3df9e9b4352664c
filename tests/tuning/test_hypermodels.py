"""HyperModels: defaults, overrides, errors, valid draws, parameter budget."""

import keras
import keras_tuner
import pytest

from keras_resnets import count_trainable_params
from keras_resnets.tuning import hypermodels
from keras_resnets.spaces import families as search_spaces
from keras_resnets.tuning import tuners

FAMILIES = sorted(hypermodels.HYPERMODELS)


def test_defaults_are_declared():
    hp = keras_tuner.HyperParameters()
    values = hypermodels.WideResNetHyperModel().declare(hp)
    assert (hp.get("depth"), hp.get("k"), hp.get("dropout_rate")) == (16, 4, 0.0)
    assert (values["learning_rate"], values["weight_decay"], values["label_smoothing"]) == (0.1, 5e-4, 0.0)
    assert (values["batch_size"], values["epochs"]) == (128, 1)
    assert set(hp.values) == set(hypermodels.WideResNetHyperModel().space)
    depth = next(h for h in hp.space if h.name == "depth")
    assert list(depth.values) == [10, 16, 22, 28, 40]


def test_overrides_fixed_choice_range():
    hm = hypermodels.WideResNetHyperModel(
        search_space={"depth": [16, 28], "k": {"min": 2, "max": 8}, "dropout_rate": 0.3,
                      "learning_rate": {"min": 0.01, "max": 0.1, "sampling": "log", "default": 0.05}},
    )
    hp = keras_tuner.HyperParameters()
    hm.declare(hp)
    space = {h.name: h for h in hp.space}
    assert list(space["depth"].values) == [16, 28]
    assert (space["k"].min_value, space["k"].max_value) == (2, 8)
    assert isinstance(space["dropout_rate"], keras_tuner.engine.hyperparameters.Fixed)
    assert hp.get("dropout_rate") == 0.3 and hp.get("learning_rate") == 0.05
    # A range on a choice keeps the valid values inside it.
    narrowed = hypermodels.WideResNetHyperModel(search_space={"depth": {"min": 12, "max": 30}})
    assert narrowed.space["depth"].values == (16, 22, 28)
    # Every draw stays inside the narrowed space.
    for seed in range(50):
        values = hm.sample(seed)
        assert values["depth"] in (16, 28) and 2 <= values["k"] <= 8
        assert values["dropout_rate"] == 0.3 and 0.01 <= values["learning_rate"] <= 0.1


@pytest.mark.parametrize(
    "space, match",
    [
        ({"depth": []}, "`depth`: the list of values is empty; valid values are 6n\\+4"),
        ({"depth": [16, 27]}, "`depth`: every value must be 6n\\+4 .* Received: depth=\\[16, 27\\]"),
        ({"k": {"min": 8, "max": 2}}, "`k`: min \\(8\\) is greater than max \\(2\\)"),
        ({"depth": {"min": 30, "max": 38}}, "no valid value between 30 and 38"),
        ({"k": 13}, "`k`: every value must be an integer in 1..12. Received: k=13"),
        ({"k": 2.5}, "`k`: every value must be an integer"),
        ({"dropout_rate": {"min": 0.1, "max": 0.9}}, "`dropout_rate`: every value must be a number in \\[0, 0.5\\]"),
        ({"learning_rate": {"min": 0.0, "max": 0.1, "sampling": "log"}}, "`learning_rate`"),
        ({"k": {"mn": 2}}, "unknown range key 'mn'"),
        ({"dept": 16}, "Unknown hyperparameter 'dept' .* Did you mean 'depth'\\?"),
    ],
)
def test_invalid_search_space_errors(space, match):
    with pytest.raises(ValueError, match=match):
        hypermodels.WideResNetHyperModel(search_space=space)


def test_other_family_rules_and_unknown_family():
    with pytest.raises(ValueError, match="CIFAR|6n\\+2"):
        hypermodels.CifarResNetHyperModel(search_space={"depth": 16})
    with pytest.raises(ValueError, match="9n\\+2"):
        hypermodels.ResNeXtHyperModel(search_space={"depth": [29, 30]})
    with pytest.raises(ValueError, match="`preactivation`: a boolean"):
        hypermodels.CifarResNetHyperModel(search_space={"preactivation": {"min": 0}})
    with pytest.raises(ValueError, match="Unknown model family 'vgg'.*Valid families: wrn"):
        hypermodels.get_hypermodel("vgg")
    assert isinstance(hypermodels.get_hypermodel("wrn-28-10"), hypermodels.WideResNetHyperModel)
    with pytest.raises(TypeError, match="search_space"):
        hypermodels.WideResNetHyperModel(search_space=[16])
    with pytest.raises(ValueError, match="`model_kwargs` repeats the searched hyperparameter `depth`"):
        hypermodels.WideResNetHyperModel(model_kwargs={"depth": 16})
    with pytest.raises(ValueError, match="max_params"):
        hypermodels.WideResNetHyperModel(max_params=-1)


@pytest.mark.parametrize("family", FAMILIES)
def test_200_draws_are_valid_architectures(family):
    """Every draw passes the family's rules; a few are built for real."""
    hm = hypermodels.HYPERMODELS[family]()
    draws = [hm.sample(seed) for seed in range(200)]
    for values in draws:
        hm.validate(values)
        assert set(values) == set(hm.space)
    arch = {tuple(sorted((k, str(v)) for k, v in hm.arch_kwargs(d).items())) for d in draws}
    assert len(arch) > 1, "the draws explore the space"
    # Building is slow (1-9 s per model on CPU): 2 draws by default, 5 with --run_large.
    for values in draws[:2]:
        keras.backend.clear_session()
        model = hm.build_model(values)
        assert model.output_shape == (None, 10)


@pytest.mark.large
@pytest.mark.parametrize("family", FAMILIES)
def test_more_draws_build(family):
    hm = hypermodels.HYPERMODELS[family]()
    for seed in range(200, 205):
        keras.backend.clear_session()
        assert hm.build_model(hm.sample(seed)).output_shape == (None, 10)


def test_build_compiles_and_fit_uses_batch_size():
    hm = hypermodels.WideResNetHyperModel(
        search_space={"depth": 10, "k": 1, "batch_size": 4, "epochs": 1, "label_smoothing": 0.1},
        input_shape=(8, 8, 3),
    )
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert hm.last_params == count_trainable_params(model)
    assert model.loss.label_smoothing == 0.1
    # Logits head with a from-logits loss (create_model drops `None`, see
    # test_training_pairs_the_head_with_the_loss).
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert model.loss.from_logits is True
    x = keras.random.uniform((8, 8, 8, 3))
    y = keras.ops.convert_to_numpy(keras.random.randint((8,), 0, 10))
    history = hm.fit(hp, model, keras.ops.convert_to_numpy(x), y, verbose=0)
    assert len(history.history["loss"]) == 1
    assert history.params["steps"] == 2  # 8 images / batch_size 4


def test_recipe_sections_and_context_set_the_compiled_step():
    """`training`, `distribution` and `context` do what they do in
    `keras-resnets train`: the schedule counts `steps_per_epoch`, `jit_compile`
    reaches `compile`, `lr_scaling: linear` multiplies the rate by the
    replicas (whose global batch `fit` uses) and every model is configured."""
    from keras_resnets.training.distribute import DistributionContext

    configured = []

    class Context(DistributionContext):
        def configure_model(self, model):
            configured.append(model)
            return 0

    hm = hypermodels.WideResNetHyperModel(
        search_space={"depth": 10, "k": 1, "learning_rate": 0.05, "epochs": 2, "batch_size": 2},
        input_shape=(8, 8, 3), schedule={"name": "cosine"},
        training={"steps_per_epoch": 3, "jit_compile": False},
        distribution={"lr_scaling": "linear"}, context=Context(num_replicas=2),
    )
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert configured == [model] and model.jit_compile is False
    rate = model.optimizer._learning_rate  # cosine over 3 x 2 iterations from 2 x 0.05
    assert float(rate(0)) == pytest.approx(0.1) and float(rate(6)) == pytest.approx(0.0, abs=1e-7)
    assert float(rate(3)) == pytest.approx(0.05)
    x = keras.ops.convert_to_numpy(keras.random.uniform((8, 8, 8, 3)))
    history = hm.fit(hp, model, x, keras.ops.convert_to_numpy(keras.ops.zeros((8,), "int32")),
                     epochs=1, verbose=0)
    assert history.params["steps"] == 2  # global batch 2 x 2 replicas
    # One replica and no scaling by default; the sections are checked.
    assert hypermodels.WideResNetHyperModel().num_replicas == 1
    with pytest.raises(TypeError, match="`training` must be a TrainingConfig"):
        hypermodels.WideResNetHyperModel(training=[3])
    with pytest.raises(TypeError, match="`distribution` must be a DistributionConfig"):
        hypermodels.WideResNetHyperModel(distribution="linear")


def test_registered_architectures_use_the_registry():
    section = hypermodels.WideResNetHyperModel().model_section(
        {"depth": 28, "k": 10, "dropout_rate": 0.3}
    )
    assert section == {"name": "wrn-28-10", "dropout_rate": 0.3}
    section = hypermodels.WideResNetHyperModel().model_section({"depth": 10, "k": 1, "dropout_rate": 0.0})
    assert section == {"name": "wrn", "depth": 10, "k": 1, "dropout_rate": 0.0}
    assert search_spaces.exact_registry_name("resnet", {"depth": 20, "preactivation": False}) == "resnet-20"


def test_parameter_budget_prunes_before_training():
    hm = hypermodels.WideResNetHyperModel(search_space={"depth": 10, "k": 8}, max_params=1e5)
    with pytest.raises(hypermodels.ParameterBudgetExceeded, match="exceed max_params=100000"):
        hm.build(keras_tuner.HyperParameters())
    assert hm.last_params > 1e5
    assert issubclass(hypermodels.ParameterBudgetExceeded, keras_tuner.errors.FailedTrialError)


class _NoTraining(hypermodels.WideResNetHyperModel):
    """Scores a trial without training (the budget test needs no data)."""

    def fit(self, hp, model, *args, **kwargs):
        return {"val_accuracy": 1.0 / hp.get("k")}


def test_search_continues_past_pruned_trials_and_honours_budget(tmp_path):
    budget = 700_000  # k <= 3 fits (677,274 parameters at k=3), k >= 4 is pruned
    hm = _NoTraining(search_space={"depth": 10, "k": {"min": 1, "max": 6}}, input_shape=(8, 8, 3),
                     max_params=budget)
    tuner = tuners.recording_tuner(keras_tuner.RandomSearch)(
        hm, objective="val_accuracy", max_trials=6, seed=3, directory=str(tmp_path),
        max_consecutive_failed_trials=7,
    )
    built = []
    original = hm.build

    def build(hp):
        try:
            return original(hp)
        finally:
            built.append((hp.get("k"), hm.last_params))

    hm.build = build
    tuner.search(verbose=0)
    trials = list(tuner.oracle.trials.values())
    statuses = [t.status for t in trials]
    assert len(trials) == 6, "the search ran every trial"
    assert "FAILED" in statuses and "COMPLETED" in statuses
    for (k, params), trial in zip(built, trials):
        assert trial.hyperparameters.get("k") == k
        assert (trial.status == "FAILED") == (params > budget)


# One small architecture per family that no paper table registers.
UNREGISTERED = {
    "wrn": {"depth": 10, "k": 2, "dropout_rate": 0.0},
    "resnet": {"depth": 8, "preactivation": True},
    "shake-shake": {"depth": 8, "width": 16},
    "pyramidnet": {"depth": 20, "alpha": 12, "shakedrop": True},
    "resnext": {"depth": 11, "cardinality": 2, "base_width": 4},
    "fractalnet": {"num_columns": 1, "width": 16, "local_drop_rate": 0.1},
}


def _unregistered(family):
    hm = hypermodels.HYPERMODELS[family](search_space=UNREGISTERED[family])
    values = hm.sample(0)
    return hm, values, hm.model_section(values)


@pytest.mark.parametrize("family", FAMILIES)
def test_unregistered_architectures_export_under_the_family_name(family):
    """The exported `model:` section names the family's generic registry
    entry (no paper params or error) with every architecture kwarg."""
    from keras_resnets import registry
    from keras_resnets.training import config_from_dict

    hm, values, section = _unregistered(family)
    fam = search_spaces.get_family(family)
    assert section == {"name": fam.generic, **hm.arch_kwargs(values)}
    assert search_spaces.exact_registry_name(family, hm.arch_kwargs(values)) is None
    spec = registry.get_spec(section["name"])
    assert spec.error is None and spec.params is None
    assert spec.name not in registry.list_models() and spec.name in registry.list_models(families=True)
    assert search_spaces.get_family(spec.name) is fam
    config = config_from_dict({"model": section, "data": {"source": "cifar10"}})
    assert config.model.name == fam.generic
    # The generic entry checks its arguments like every registered one.
    assert set(hm.arch_kwargs(values)) <= set(registry.model_arguments(fam.generic))
    with pytest.raises(TypeError, match="dpeth"):
        registry.create_model(fam.generic, dpeth=3)


# Building is backend-independent arithmetic of weight shapes but costs a
# minute per model on JAX (one XLA compile per initializer shape).
@pytest.mark.tensorflow_only
@pytest.mark.parametrize("family", FAMILIES)
def test_exported_family_section_builds_the_trial_model(family):
    from keras_resnets import registry

    hm, values, section = _unregistered(family)
    keras.backend.clear_session()
    trial = hm.build_model(values)
    name = section.pop("name")
    exported = registry.create_model(name, classifier_activation="linear", **section)
    assert count_trainable_params(exported) == count_trainable_params(trial)
    assert [w.shape for w in exported.weights] == [w.shape for w in trial.weights]


def test_pruned_trials_print_one_line_each(tmp_path, capfd):
    budget = 100_000  # WRN-10-4 has 1.2M parameters: every trial is pruned
    hm = _NoTraining(search_space={"depth": 10, "k": 4}, input_shape=(8, 8, 3), max_params=budget)
    tuner = tuners.recording_tuner(keras_tuner.RandomSearch)(
        hm, objective="val_accuracy", max_trials=2, seed=3, directory=str(tmp_path),
        max_consecutive_failed_trials=3,
    )
    debug = tuners._tuner_config_module().DEBUG
    tuner.search(verbose=1)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "ParameterBudgetExceeded" not in out + err
    lines = [l for l in (out + err).splitlines() if "pruned" in l]
    params = hm.last_params
    assert params > budget
    expected = f"pruned: {tuners._count(params)} parameters > max_params 100k"
    assert [l.split(" ", 2)[2] for l in lines] == [expected] * 2, lines
    trials = list(tuner.oracle.trials.values())
    assert [t.message for t in trials] == [f"trial {t.trial_id} {expected}" for t in trials]
    assert tuners._tuner_config_module().DEBUG == debug  # restored for real failures


# === Declared search spaces (keras_resnets/models/<family>.py `SEARCH_SPACE`) ===


def _builder_call(spec, monkeypatch, **kwargs):
    """The arguments the registry entry `spec` passes to its model class or
    builder for `kwargs`, with the defaults filled in (nothing is built)."""
    import inspect

    builder = spec.fn.model_builder or spec.fn.model_class
    calls = []
    monkeypatch.setitem(spec.fn.__globals__, builder.__name__, lambda *a, **k: calls.append((a, k)))
    spec.fn(**kwargs)
    monkeypatch.undo()
    assert len(calls) == 1, spec.name
    bound = inspect.signature(builder).bind(*calls[0][0], **calls[0][1])
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.update(arguments.pop("kwargs", {}))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()}


@pytest.mark.parametrize("family", list(search_spaces.families()))
def test_paper_names_are_the_registered_architectures(family, monkeypatch):
    """Each family's `paper_names` entry, passed to the generic entry, gives
    its registered model's exact constructor arguments."""
    from keras_resnets import registry

    fam = search_spaces.get_family(family)
    assert fam.paper_names, family
    generic = registry.get_spec(fam.generic)
    for name, fixed in fam.paper_names.items():
        spec = registry.get_spec(name)
        assert spec.name == name and search_spaces.get_family(name) is fam
        assert _builder_call(spec, monkeypatch) == _builder_call(generic, monkeypatch, **fixed), name
        assert search_spaces.model_section(fam, fixed) == {"name": name}


def test_sections_never_name_another_architecture():
    """A paper name is used only when every argument it fixes agrees:
    ResNet-50 is also 6n+2 but "resnet-50" is the ImageNet network,
    PyramidNet-272-a200 has bottleneck blocks, and a fixed `bottleneck`
    model kwarg makes a depth-20 ResNet another network than resnet-20."""
    section = search_spaces.model_section("resnet", {"depth": 50, "preactivation": False})
    assert section == {"name": "cifar-resnet", "depth": 50, "preactivation": False}
    arch = {"depth": 272, "alpha": 200, "shakedrop": True}
    assert search_spaces.model_section("pyramidnet", arch)["name"] == "pyramidnet"
    assert search_spaces.model_section("pyramidnet", arch, bottleneck=True) == {
        "name": "pyramidnet-272-a200-shakedrop"
    }
    arch = {"depth": 20, "preactivation": False}
    assert search_spaces.model_section("resnet", arch, bottleneck=True) == {
        "name": "cifar-resnet", **arch, "bottleneck": True
    }
    assert search_spaces.model_section("resnet", {"depth": 164, "preactivation": True},
                                       bottleneck=True) == {"name": "preact-resnet-164"}
    # Other kwargs go with the paper name, as in a training config.
    assert search_spaces.model_section("resnet", arch, drop_path_rate=0.1) == {
        "name": "resnet-20", "drop_path_rate": 0.1
    }
    with pytest.raises(ValueError, match="contradicts the searched architecture"):
        search_spaces.model_section("wrn", {"depth": 10, "k": 1}, k=10)


def test_cifar_depth_50_trial_builds_the_cifar_network():
    hm = hypermodels.get_hypermodel("resnet", search_space={"depth": [50], "preactivation": False},
                                    input_shape=(8, 8, 3))
    values = hm.sample(0)
    assert hm.model_section(values)["name"] == "cifar-resnet"
    keras.backend.clear_session()
    # The ImageNet ResNet-50 has 23.5M trainable parameters, the CIFAR one 0.76M (ResNet-44 and -56 plus or minus one block pair).
    assert count_trainable_params(hm.build_model(values)) == 755_802


def test_model_kwargs_may_not_set_what_the_search_sets():
    with pytest.raises(ValueError, match="repeats the searched hyperparameter `stackwise_num_filters`"):
        hypermodels.FractalNetHyperModel(model_kwargs={"stackwise_num_filters": [8, 16, 32, 64, 64]})


def test_declared_rules_and_families():
    assert list(search_spaces.families()) == ["wrn", "resnet", "shake-shake", "pyramidnet",
                                              "resnext", "fractalnet"]
    assert search_spaces.FAMILIES is search_spaces.families()
    space = {h.name: h for h in search_spaces.get_family("wrn").space}
    assert space["depth"].rule == "6n+4 (e.g. 10, 16, 22, 28, 40)"
    assert [d for d in range(60) if space["depth"].is_valid(d)] == [10, 16, 22, 28, 34, 40, 46, 52, 58]
    assert space["dropout_rate"].is_valid(0.5) and not space["dropout_rate"].is_valid(0.51)
    rate = {h.name: h for h in search_spaces.get_family("fractalnet").space}["local_drop_rate"]
    assert rate.is_valid(0.0) and not rate.is_valid(1.0) and rate.rule == "a number in [0, 1)"
    assert search_spaces.get_family("cifar-resnext").name == "resnext"
    with pytest.raises(ValueError, match="declares no valid domain"):
        search_spaces.Family.from_declaration(
            {"family": "x", "hyperparameters": {"depth": {"default": 3, "min": 1, "max": 4}}},
            generic="x",
        )
    # A declared family without a named HyperModel subclass still gets one.
    assert type(hypermodels.get_hypermodel("wrn")) is hypermodels.WideResNetHyperModel


# === Failed trials (issue 27) ===


def test_a_data_callable_must_return_datasets():
    """`fit(hp, model, x)` with a callable `x`: it must return a
    `data.Datasets`; a dict is a TypeError that says so (not an
    AttributeError from deep inside the trial)."""
    hm = hypermodels.WideResNetHyperModel(search_space={"depth": 10, "k": 1}, input_shape=(8, 8, 3))
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    with pytest.raises(TypeError, match="must return a keras_resnets.data.Datasets.*Received: a dict"):
        hm.fit(hp, model, lambda batch_size: {"train": None, "validation": None})


class _FailingFit(hypermodels.WideResNetHyperModel):
    def fit(self, hp, model, *args, **kwargs):
        return {}["train"]  # a KeyError, as a broken data function gives


def test_failed_and_pruned_trials_are_recorded_and_no_best_is_claimed(tmp_path):
    from keras_resnets.tuning import results

    # k=1 (77,850 parameters) fits the budget and fails in fit; k >= 2 is pruned.
    hm = _FailingFit(search_space={"depth": 10, "k": {"min": 1, "max": 4}}, input_shape=(8, 8, 3),
                     max_params=200_000)
    tuner = tuners.recording_tuner(keras_tuner.RandomSearch)(
        hm, objective="val_accuracy", max_trials=4, seed=0, directory=str(tmp_path),
        max_consecutive_failed_trials=5,
    )
    tuner.search(verbose=0)
    rows = results.results_table(tuner, hm)
    statuses = sorted({r["status"] for r in rows})
    assert statuses == ["failed", "pruned"], rows
    for row in rows:
        if row["status"] == "failed":
            assert row["error"] == "KeyError: 'train'"
        else:
            assert row["error"] is None and row["params"] > 200_000
    with pytest.raises(results.SearchFailedError) as info:
        results.best_completed(rows, max_params=hm.max_params, where=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("No trial of the search completed, so there is no best configuration")
    assert "failed (trial" in message and "KeyError: 'train'" in message
    assert "pruned before training (parameters > max_params 200k" in message
    # keras-tuner's own "best" falls back to unfinished trials; ours never does.
    assert tuner.get_best_hyperparameters(1)
    write_dir = tmp_path / "results"
    write_dir.mkdir()
    results.write_results(rows, write_dir)
    assert "failed: KeyError: 'train'" in (write_dir / "results.md").read_text()
    assert "KeyError: 'train'" in (write_dir / "results.csv").read_text()
