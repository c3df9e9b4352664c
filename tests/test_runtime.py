"""The speed defaults of keras_resnets.runtime / keras_resnets._env: oneDNN
switched on before TensorFlow loads, never against the user's own setting."""

import os
import subprocess
import sys

import keras
import pytest

pytestmark = pytest.mark.tensorflow_only

PROBE = (
    "import json, os, warnings\n"
    "warnings.simplefilter('always')\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    {imports}\n"
    "    from keras_resnets.runtime import onednn_enabled\n"
    "    print(json.dumps([os.environ.get('TF_ENABLE_ONEDNN_OPTS'), onednn_enabled(),\n"
    "                      [str(w.message) for w in caught if 'oneDNN' in str(w.message)]]))\n"
)


def probe(imports, onednn=None):
    import json

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports)],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_onednn_is_switched_on_when_keras_resnets_comes_first():
    assert probe("import keras_resnets") == ["1", True, []]


def test_users_choice_wins():
    assert probe("import keras_resnets", onednn="0") == ["0", False, []]


def test_warns_when_tensorflow_was_imported_first_without_onednn():
    value, enabled, warned = probe("import tensorflow; import keras_resnets")
    assert value == "1"
    # CPUs with AVX-512/AMX get oneDNN from TensorFlow itself: nothing to warn about.
    assert bool(warned) == (enabled is False)
    if warned:
        assert "import keras_resnets first" in warned[0].lower()


def test_benchmark_reports_onednn():
    from keras_resnets.runtime import onednn_enabled

    assert onednn_enabled() is (True if keras.backend.backend() == "tensorflow" else None)
