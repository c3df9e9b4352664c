"""The speed defaults of keras_resnets.runtime / keras_resnets._env: oneDNN
switched on before TensorFlow loads, never against the user's own setting."""

import os
import subprocess
import sys

import keras
import pytest

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


@pytest.mark.tensorflow_only
def test_onednn_is_switched_on_when_keras_resnets_comes_first():
    assert probe("import keras_resnets") == ["1", True, []]


@pytest.mark.tensorflow_only
def test_users_choice_wins():
    assert probe("import keras_resnets", onednn="0") == ["0", False, []]


@pytest.mark.tensorflow_only
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


# === Precision chosen by the processor ===

from keras_resnets import runtime  # noqa: E402

CPUINFO = """processor\t: 0
vendor_id\t: {vendor}
model name\t: {name}
flags\t\t: fpu sse sse2 avx avx2 fma {flags}
"""


def write_cpuinfo(tmp_path, name, flags, vendor="GenuineIntel"):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(name=name, flags=flags, vendor=vendor))
    return str(path)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("avx512f avx512_bf16 amx_bf16 amx_tile", True),  # Intel Sapphire Rapids
        ("avx512f avx512_bf16", True),  # AMD Zen 4 EPYC
        ("avx512f avx512bw", False),  # AVX-512 without bf16
        ("", False),  # AMD Zen 3: AVX2 only
    ],
)
def test_bf16_units_from_cpuinfo_flags(tmp_path, flags, expected):
    name, parsed = runtime._cpuinfo(write_cpuinfo(tmp_path, "Some CPU", flags))
    assert name == "Some CPU"
    assert runtime.cpu_has_bf16_units(parsed) is expected


def test_unreadable_cpuinfo_means_no_bf16_units(tmp_path):
    _, flags = runtime._cpuinfo(str(tmp_path / "missing"))
    assert runtime.cpu_has_bf16_units(flags) is False


@pytest.mark.parametrize(
    "flags, policy", [("avx512_bf16 amx_bf16", "mixed_bfloat16"), ("avx2", "float32")]
)
def test_auto_precision_follows_the_processor(monkeypatch, flags, policy):
    monkeypatch.setattr(runtime, "_cpuinfo", lambda: ("Test CPU", frozenset(flags.split())))
    monkeypatch.setattr(runtime, "_gpu_compute_capability", lambda: None)
    chosen, reason = runtime.auto_precision()
    assert chosen == policy
    assert "Test CPU" in reason
    assert runtime.resolve_precision("auto") == policy
    assert runtime.resolve_precision(None) == policy
    # An explicit precision always wins over the processor.
    assert runtime.resolve_precision("float32") == "float32"
    assert runtime.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"


@pytest.mark.parametrize("capability, policy", [((9, 0), "mixed_bfloat16"), ((7, 0), "float32")])
def test_auto_precision_on_gpus(monkeypatch, capability, policy):
    monkeypatch.setattr(runtime, "_gpu_compute_capability", lambda: capability)
    assert runtime.auto_precision()[0] == policy


def test_resolve_precision_rejects_unknown_values():
    with pytest.raises(ValueError, match=r"Received: precision='float64'"):
        runtime.resolve_precision("float64")


def test_processor_info_describes_this_machine():
    info = runtime.processor_info()
    assert set(info) == {"name", "bf16_units", "accelerator"}
    assert isinstance(info["name"], str) and info["name"]
    assert info["bf16_units"] is runtime.cpu_has_bf16_units()
