"""Per-replica randomness (keras_resnets.layers.seeds) and our `Dropout`.

On one device every random layer must draw exactly what it drew with a
plain `keras.random.SeedGenerator` (every backend); under a
`tf.distribute.MirroredStrategy` over 2 logical CPUs, in a user's own
script (no `keras-resnets train`, no `per_replica_seeds`), identical inputs
on the two replicas must give different draws, and the same seeds the same
run. The strategy runs in a fresh process: logical devices must be set up
before TensorFlow starts.
"""

import json

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets.layers import DropPath
from keras_resnets.layers import Dropout
from keras_resnets.layers import ReplicaSeedGenerator
from keras_resnets.layers import ShakeDrop
from keras_resnets.layers import ShakeShake
from keras_resnets.layers.augmentation import RandomPadCrop
from keras_resnets.layers.seeds import per_replica
from keras_resnets.models.fractalnet import FractalJoin
from keras_resnets.models.fractalnet import FractalPathSampler
from tests.testing import run_python
from tests.testing import run_layer_test
from tests.testing import to_numpy


def _draws(generator, n=4, ordered=True):
    return [to_numpy(generator.next(ordered=ordered)).tolist() for _ in range(n)]


@pytest.mark.parametrize("seed", [3, None])
def test_replica_generator_draws_what_a_keras_generator_draws(seed):
    for ordered in (True, False):
        keras.utils.set_random_seed(0)
        ours = _draws(ReplicaSeedGenerator(seed), ordered=ordered)
        keras.utils.set_random_seed(0)
        assert ours == _draws(keras.random.SeedGenerator(seed), ordered=ordered)


def test_replica_generator_names_follow_keras():
    """Same names (one counter), so the state variables keep their paths."""
    keras.utils.clear_session()
    plain = [keras.random.SeedGenerator(1) for _ in range(3)]
    keras.utils.clear_session()
    mixed = [ReplicaSeedGenerator(1), keras.random.SeedGenerator(1), ReplicaSeedGenerator(1)]
    assert [g.name for g in mixed] == [g.name for g in plain]
    assert [g.state.path for g in mixed] == [g.state.path for g in plain]
    assert mixed[0].name == "seed_generator" and mixed[2].name == "seed_generator_2"
    assert ReplicaSeedGenerator(1, name="mine").name == "mine"


def _sampler_inputs():
    return np.ones((32, 2, 2, 3), "float32")


def _join_inputs():
    return [np.full((32, 2, 2, 3), v, "float32") for v in (1.0, 10.0, 100.0)]


# (layer factory, call inputs): every random layer of the package.
RANDOM_LAYERS = {
    "DropPath": (lambda: DropPath(0.5, seed=3), lambda: np.ones((32, 2, 2, 3), "float32")),
    "ShakeDrop": (lambda: ShakeDrop(0.5, seed=3), lambda: np.ones((32, 2, 2, 3), "float32")),
    "ShakeShake": (
        lambda: ShakeShake(seed=3),
        lambda: [np.ones((32, 2, 2, 3), "float32"), np.zeros((32, 2, 2, 3), "float32")],
    ),
    "FractalPathSampler": (lambda: FractalPathSampler(3, seed=3), _sampler_inputs),
    "FractalJoin": (lambda: FractalJoin([0, 1, 2], 0.5, seed=3), _join_inputs),
    "RandomPadCrop": (
        lambda: RandomPadCrop(2, seed=3),
        lambda: np.arange(32 * 6 * 6 * 3, dtype="float32").reshape(32, 6, 6, 3),
    ),
}


@pytest.mark.parametrize("name", sorted(RANDOM_LAYERS))
def test_layers_draw_what_they_drew_with_a_keras_generator(name):
    """One device: the layer equals its twin holding a plain
    `keras.random.SeedGenerator` (what every random layer held before)."""
    make, inputs = RANDOM_LAYERS[name]
    layer, before = make(), make()
    assert type(layer.seed_generator) is ReplicaSeedGenerator
    before.seed_generator.__class__ = keras.random.SeedGenerator
    x = inputs()
    for _ in range(3):  # the state advances alike
        np.testing.assert_array_equal(
            to_numpy(layer(x, training=True)), to_numpy(before(x, training=True))
        )


def test_dropout_draws_what_keras_dropout_draws():
    x = np.ones((16, 8), "float32")
    ours, theirs = Dropout(0.5, seed=3), keras.layers.Dropout(0.5, seed=3)
    assert isinstance(ours, keras.layers.Dropout)
    assert type(ours.seed_generator) is ReplicaSeedGenerator
    assert ours.get_config().keys() == theirs.get_config().keys()
    for _ in range(3):
        np.testing.assert_array_equal(
            to_numpy(ours(x, training=True)), to_numpy(theirs(x, training=True))
        )
    assert not hasattr(Dropout(0.0), "seed_generator")  # as Keras: none at rate 0


def test_dropout_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 3)).astype("float32")
    run_layer_test(
        Dropout,
        {"rate": 0.4, "noise_shape": (None, 1, 1, 3), "seed": 3},
        x,
        x.shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=1,
        stochastic=True,
        tmp_path=tmp_path,
    )


def test_dropout_rate_error():
    with pytest.raises(ValueError, match="Invalid value received for argument `rate`"):
        Dropout(1.5)


def test_per_replica_turns_a_generator_in_place():
    generator = keras.random.SeedGenerator(5)
    state, name = generator.state, generator.name
    assert per_replica(generator) is generator
    assert type(generator) is ReplicaSeedGenerator
    assert generator.state is state and generator.name == name
    assert per_replica(generator) is generator and type(generator) is ReplicaSeedGenerator

    class Counting(keras.random.SeedGenerator):
        calls = 0

        def next(self, ordered=True):
            Counting.calls += 1
            return super().next(ordered=ordered)

    custom = per_replica(Counting(5))
    assert isinstance(custom, ReplicaSeedGenerator) and isinstance(custom, Counting)
    expected = _draws(keras.random.SeedGenerator(5), 2)
    assert _draws(custom, 2) == expected and Counting.calls == 2
    with pytest.raises(TypeError, match="expects a `keras.random.SeedGenerator`"):
        per_replica(3)


def test_replica_generator_serializes_under_safe_mode():
    generator = ReplicaSeedGenerator(3, name="g")
    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(generator))),
        safe_mode=True,
    )
    assert type(revived) is ReplicaSeedGenerator
    assert revived.get_config() == {"seed": 3, "name": "g"}
    assert _draws(revived) == _draws(keras.random.SeedGenerator(3))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("wrn-16-4", {"k": 1, "dropout_rate": 0.3}),
        ("fractalnet-20", {"stackwise_num_filters": [4, 8], "stackwise_dropout_rates": [0.1, 0.2],
                           "seed": 5}),
    ],
)
def test_models_with_dropout_save_and_load(tmp_path, name, kwargs):
    """A `.keras` file loads under the default safe_mode with our Dropout
    (and per-replica generators) inside, and computes the same."""
    model = keras_resnets.create_model(name, input_shape=(8, 8, 3), num_classes=3, **kwargs)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        to_numpy(loaded(x, training=False)), to_numpy(model(x, training=False)), atol=1e-6
    )
    for m in (model, loaded):
        layers = list(m._flatten_layers(include_self=False, recursive=True))
        dropouts = [l for l in layers if isinstance(l, keras.layers.Dropout)]
        assert dropouts and all(type(l) is Dropout for l in dropouts)
        generators = [g for l in layers for g in l._seed_generators]
        assert generators and all(isinstance(g, ReplicaSeedGenerator) for g in generators)


NO_TENSORFLOW = r"""
import sys
import numpy as np
import keras_resnets
from keras_resnets.layers import DropPath, Dropout
x = np.ones((4, 3), "float32")
DropPath(0.5, seed=1)(x, training=True)
Dropout(0.5, seed=1)(x, training=True)
print("tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_no_tensorflow_import_on_other_backends(backend):
    out = run_python(NO_TENSORFLOW, env={"KERAS_BACKEND": backend})
    assert out.strip().splitlines()[-1] == "False"


# A user's own script: models built in `strategy.scope()`, run with
# `strategy.run` and trained with `model.fit`; identical inputs on both replicas.
USER_SCRIPT = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import keras_resnets
from keras_resnets.layers import DropPath, Dropout, ShakeDrop, ShakeShake
from keras_resnets.models.fractalnet import FractalJoin, FractalPathSampler

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2

def build():
    keras.utils.set_random_seed(7)
    x = keras.Input((4, 4, 2))
    a, b, c = x, x * 10.0, x * 100.0
    layers = {
        "DropPath": DropPath(0.5, seed=1)(x),
        "ShakeDrop": ShakeDrop(0.5, seed=2)(x),
        "ShakeShake": ShakeShake(seed=3)([x, x * 0.0]),
        "FractalPathSampler": FractalPathSampler(3, seed=4)(x),
        "FractalJoin": FractalJoin([0, 1, 2], 0.5, seed=5)([a, b, c]),
        "Dropout": Dropout(0.5, seed=6)(x),
        "keras.Dropout": keras.layers.Dropout(0.5, seed=6)(x),
    }
    models = {"layers": keras.Model(x, layers)}
    for name, kwargs in (("wrn-16-4", {"k": 1, "dropout_rate": 0.5}),
                         ("fractalnet-20", {"stackwise_num_filters": [4, 8], "seed": 5,
                                            "stackwise_dropout_rates": [0.3, 0.3]})):
        models[name] = keras_resnets.create_model(name, input_shape=(8, 8, 3), num_classes=3,
                                                  **kwargs)
    return models

def draws():
    with strategy.scope():
        models = build()
    def replica_fn():
        out = dict(models["layers"](tf.ones((32, 4, 4, 2)), training=True))
        images = tf.reshape(tf.range(4 * 8 * 8 * 3, dtype="float32") / 768.0, (4, 8, 8, 3))
        for name in ("wrn-16-4", "fractalnet-20"):
            out[name] = models[name](images, training=True)
        return out
    step = tf.function(lambda: strategy.run(replica_fn))
    steps = []  # [step][name][replica] -> values
    for _ in range(2):
        out = step()
        steps.append({k: [strategy.experimental_local_results(v)[r].numpy().ravel().tolist()
                          for r in range(2)] for k, v in out.items()})
    return steps

def fit_increments(make_layer):
    # w starts at 0 and each example's output is keep * 2w (rate 0.5), the
    # loss is its mean with a minus sign: each step adds the number of kept
    # examples (one per replica) times a constant to w.
    keras.utils.set_random_seed(3)
    with strategy.scope():
        inputs = keras.Input((1,))
        dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        model = keras.Model(inputs, make_layer()(dense(inputs)))
        model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False,
                      loss=lambda y, p: -keras.ops.mean(p))
    kernels = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: kernels.append(float(dense.kernel.numpy()[0, 0])))
    model.fit(np.ones((64, 1), "float32"), np.zeros((64, 1), "float32"), batch_size=2,
              epochs=1, shuffle=False, verbose=0, callbacks=[record])
    return np.diff([0.0] + kernels).round(4).tolist()

print(json.dumps({
    "draws": draws(), "again": draws(),
    "fit": {"DropPath": fit_increments(lambda: DropPath(0.5, seed=1)),
            "Dropout": fit_increments(lambda: Dropout(0.5, seed=1)),
            "keras.Dropout": fit_increments(lambda: keras.layers.Dropout(0.5, seed=1))},
}))
"""


@pytest.fixture(scope="module")
def user_script():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("needs the TensorFlow backend (tf.distribute)")
    return json.loads(run_python(USER_SCRIPT).strip().splitlines()[-1])


OURS = ["DropPath", "ShakeDrop", "ShakeShake", "FractalPathSampler", "FractalJoin", "Dropout",
        "wrn-16-4", "fractalnet-20"]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name", OURS)
def test_replicas_draw_their_own_numbers_in_a_users_script(user_script, name):
    """MirroredStrategy, 2 replicas, identical inputs: our layers (and the
    models' Dropout / drop-path) give each replica its own draws, and the
    same seeds give the same numbers again."""
    for step in user_script["draws"]:
        first, second = (np.array(v) for v in step[name])
        assert first.shape == second.shape
        assert not np.array_equal(first, second), f"{name}: both replicas drew the same"
    assert user_script["draws"][0][name] != user_script["draws"][1][name]  # the state advances
    assert user_script["again"] == user_script["draws"]


@pytest.mark.tensorflow_only
def test_a_plain_keras_generator_is_shared_by_the_replicas(user_script):
    """What the check above would see without per-replica generators:
    Keras's own Dropout draws the same mask on both replicas."""
    for step in user_script["draws"]:
        first, second = step["keras.Dropout"]
        assert first == second


@pytest.mark.tensorflow_only
def test_model_fit_draws_per_replica(user_script):
    """In `model.fit` (one example per replica, identical): with independent
    masks a step keeps 0, 1 or 2 examples, with a shared mask only 0 or 2,
    so the kernel's increments take three values, or two."""
    for name in ("DropPath", "Dropout"):
        increments = sorted(set(user_script["fit"][name]))
        assert len(increments) == 3 and increments[0] == 0.0, (name, increments)
        assert increments[2] == pytest.approx(2 * increments[1]), (name, increments)
    assert len(set(user_script["fit"]["keras.Dropout"])) == 2
