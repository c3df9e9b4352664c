"""Shared pytest set-up: the `large` marker, seeding, the active backend."""

import importlib
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Importing the package first applies its default (oneDNN on) before TensorFlow loads.
import keras_resnets  # noqa: E402, F401

import keras  # noqa: E402

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def pytest_addoption(parser):
    parser.addoption(
        "--run_large", action="store_true", default=False, help="run tests marked large"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "large: slow test, runs only with --run_large")
    config.addinivalue_line(
        "markers", "tensorflow_only: needs the TensorFlow backend (tf.GradientTape, tf.distribute)"
    )
    backend = keras.backend.backend()
    # A backend that is not installed is a failure, never a silent skip.
    importlib.import_module(BACKEND_MODULES[backend])


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


def pytest_collection_modifyitems(config, items):
    skip_large = pytest.mark.skip(reason="large test: pass --run_large to run it")
    skip_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend, running on {keras.backend.backend()}"
    )
    for item in items:
        if "large" in item.keywords and not config.getoption("--run_large"):
            item.add_marker(skip_large)
        if "tensorflow_only" in item.keywords and keras.backend.backend() != "tensorflow":
            item.add_marker(skip_tf)


@pytest.fixture(autouse=True)
def _seed_and_reset():
    keras.utils.set_random_seed(1337)
    yield
    keras.config.set_dtype_policy("float32")
