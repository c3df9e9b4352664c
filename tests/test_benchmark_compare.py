"""The ours-vs-PyTorch table: its logic on fake subprocess results, then one
tiny real run."""

import json
import os
import pathlib
import sys

import pytest

from keras_resnets.benchmark import compare as bc

TORCH_REFERENCE = (
    pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "torch_reference.py"
)
OURS = bc.Config("ours", "auto", ("--precision", "auto"))
FP32, CL, BF16 = bc.torch_configs(["float32", "channels_last", "bf16+channels_last"])


def _ours(train, infer, precision="float32", macs=40_000_000):
    return {"train_images_per_sec": train, "infer_images_per_sec": infer, "precision": precision,
            "macs_per_image": macs, "batch_size": 128, "image_size": 32,
            "processor": {"name": "Fake CPU", "bf16_units": True, "accelerator": None}}


def _torch(train, infer, precision="float32"):
    return {"train_images_per_s": train, "infer_images_per_s": infer, "precision": precision,
            "batch": 128, "image_size": 32, "threads": 2, "framework": "pytorch 2.13.0"}


def _record(model, config, repeat, raw):
    return {"model": model, "framework": config.framework, "label": config.label,
            "repeat": repeat, **bc.normalize(raw, config)}


def _fake_runs():
    return [
        _record("resnet-20", OURS, 0, _ours(400, 1000, "mixed_bfloat16")),
        _record("resnet-20", OURS, 1, _ours(500, 1400, "mixed_bfloat16")),
        _record("resnet-20", OURS, 2, _ours(300, 1200, "mixed_bfloat16")),
        _record("resnet-20", FP32, 0, _torch(300, 900)),
        _record("resnet-20", FP32, 1, _torch(320, 1100)),
        _record("resnet-20", CL, 0, _torch(350, 800)),
        _record("resnet-20", CL, 1, _torch(330, 820)),
        # bf16 + channels_last: the best in inference only.
        _record("resnet-20", BF16, 0, _torch(200, 2000, "bf16 autocast")),
        {"model": "resnet-20", "framework": "pytorch", "label": BF16.label, "repeat": 1,
         "error": "RuntimeError: out of memory"},
        _record("wrn-16-4", OURS, 0, _ours(50, 150, macs=1_000_000_000)),
        _record("wrn-16-4", FP32, 0, _torch(40, 200)),
    ]


PEAKS = {"float32": {"gflops": 100.0, "framework": "torch", "size": 4096},
         "bfloat16": {"gflops": 200.0, "framework": "tensorflow", "size": 4096}}


def test_summarize_medians_best_of_pytorch_ratios_and_peak_fractions():
    resnet20, wrn = bc.summarize(_fake_runs(), PEAKS)
    assert resnet20["ours_train"] == 400 and resnet20["ours_infer"] == 1200  # medians of 3
    assert resnet20["ours_precision"] == "mixed_bfloat16"
    assert resnet20["torch"]["float32"]["train"] == 310  # median of 2 = mean
    assert resnet20["torch"]["bf16+channels_last"]["train_runs"] == [200]  # failed run left out
    assert resnet20["torch"]["bf16+channels_last"]["errors"] == ["RuntimeError: out of memory"]
    # Best of PyTorch, separately for training and inference.
    assert (resnet20["torch_best_train"], resnet20["torch_best_train_config"]) == (340,
                                                                                  "channels_last")
    assert (resnet20["torch_best_infer"], resnet20["torch_best_infer_config"]) == (
        2000, "bf16+channels_last")
    assert resnet20["ratio_train"] == pytest.approx(400 / 340)
    assert resnet20["ratio_infer"] == pytest.approx(1200 / 2000)
    # GFLOP/s: train = img/s x MACs x 6, infer = img/s x MACs x 2, against the
    # peak of the precision used (bfloat16 here, float32 for wrn-16-4).
    assert resnet20["ours_train_gflops"] == pytest.approx(400 * 40e6 * 6 / 1e9)
    assert resnet20["ours_train_peak_fraction"] == pytest.approx(96 / 200)
    assert resnet20["ours_infer_peak_fraction"] == pytest.approx(1200 * 40e6 * 2 / 1e9 / 200)
    assert wrn["peak_dtype"] == "float32" and wrn["ratio_train"] == pytest.approx(1.25)
    assert wrn["ours_train_peak_fraction"] == pytest.approx(300 / 100)
    assert wrn["torch_best_infer_config"] == "float32"


def test_ours_inference_is_the_folded_model():
    raw = {**_ours(400, 1000, "mixed_bfloat16"), "infer_folded_images_per_sec": 1800,
           "infer_folded_dtype": "bfloat16"}
    runs = [_record("resnet-20", OURS, 0, raw), _record("resnet-20", BF16, 0,
                                                       _torch(450, 1500, "bf16 autocast"))]
    assert runs[0]["infer"] == 1800 and runs[0]["infer_unfolded"] == 1000
    (row,) = bc.summarize(runs, PEAKS)
    assert row["ours_infer"] == 1800 and row["ours_infer_unfolded"] == 1000
    assert row["ours_infer_model"] == "folded, bfloat16"
    assert row["ratio_infer"] == pytest.approx(1800 / 1500)
    header = {"processor": {"name": "Fake CPU", "bf16_units": True, "accelerator": None},
              "threads": 2, "date": "d", "versions": {}, "command": "c", "repeats": 1,
              "steps": {"resnet-20": [1, 1]}, "peaks": PEAKS}
    assert "| resnet-20 | 400 / 1,800 [1,000] (mixed_bfloat16) |" in bc.format_markdown(
        [row], header)


def test_summarize_all_failed_and_no_peak():
    runs = [{"model": "resnet-20", "framework": "ours", "label": "auto", "repeat": 0,
             "error": "boom"},
            _record("resnet-20", FP32, 0, _torch(300, 900))]
    (row,) = bc.summarize(runs, {})
    assert row["ours_train"] is None and row["ratio_train"] is None
    assert row["ours_train_gflops"] is None and row["ours_errors"] == ["boom"]
    assert row["torch_best_train"] == 300


def test_format_markdown():
    rows = bc.summarize(_fake_runs(), PEAKS)
    header = {"processor": {"name": "Fake CPU", "bf16_units": True, "accelerator": None},
              "threads": 2, "date": "2026-12-02 12:40 UTC",
              "versions": {"keras": "3.15.1", "torch": "2.13.0"},
              "command": "python -m keras_resnets.benchmark.compare --repeats 3",
              "repeats": 3, "steps": {"resnet-20": [10, 2], "wrn-16-4": [4, 1]},
              "peaks": PEAKS, "peak_repeats": 3}
    text = bc.format_markdown(rows, header)
    lines = text.splitlines()
    assert lines[0] == ("Processor: Fake CPU; bf16 units: yes; threads: 2; date: 2026-12-02 "
                        "12:40 UTC; keras 3.15.1, torch 2.13.0.")
    assert "`python -m keras_resnets.benchmark.compare --repeats 3`" in lines[1]
    assert "resnet-20 10/2, wrn-16-4 4/1" in lines[1]
    assert "float32 100 GFLOP/s (torch 4096x4096), bfloat16 200 GFLOP/s" in lines[2]
    assert ("| resnet-20 | 400 / 1,200 (mixed_bfloat16) | 340 (channels_last) "
            "| 2,000 (bf16+channels_last) | 1.18x / 0.60x | 96.0 (48%) / 96.0 (48%) |") in lines
    assert ("| wrn-16-4 | 50.0 / 150 (float32) | 40.0 (float32) | 200 (float32) "
            "| 1.25x / 0.75x | 300 (300%) / 300 (300%) |") in lines
    assert ("| resnet-20 | pytorch bf16+channels_last (failed: RuntimeError: out of memory) "
            "| 200 [200] | 2,000 [2,000] |") in lines
    assert "| resnet-20 | pytorch float32 | 310 [300, 320] | 1,000 [900, 1,100] |" in lines


def test_parse_json_output():
    assert bc.parse_json_output('noise\n{"a": 1}\n') == {"a": 1}
    indented = json.dumps({"model": "resnet-20", "x": [1, 2]}, indent=2)
    assert bc.parse_json_output("WARNING {not json\n" + indented + "\n")["x"] == [1, 2]
    with pytest.raises(ValueError, match="no JSON"):
        bc.parse_json_output("Traceback ...\n")


def test_schedule_alternates_and_commands_use_all_threads(tmp_path):
    configs = [OURS, FP32, CL]
    order = bc.schedule(["resnet-20", "resnet-50"], configs, 3)
    assert [c.label for m, c, r in order if m == "resnet-20"] == [
        "auto", "float32", "channels_last", "channels_last", "float32", "auto",
        "auto", "float32", "channels_last"]
    assert [r for m, c, r in order][:6] == [0, 0, 0, 1, 1, 1]
    reference = tmp_path / "torch_reference.py"
    argv, env = bc.command("resnet-50", CL, steps=3, warmup=1, threads=7,
                           torch_reference=reference)
    assert argv[1:] == [str(reference), "resnet50", "--channels-last", "--steps", "3",
                        "--warmup", "1", "--threads", "7", "--json"]
    assert env["OMP_NUM_THREADS"] == "7"
    argv, env = bc.command("wrn-16-4", OURS, steps=4, warmup=1, threads=7,
                           torch_reference=reference, batch=8)
    assert argv[1:] == ["-m", "keras_resnets", "benchmark", "wrn-16-4", "--precision", "auto",
                        "--steps", "4", "--warmup", "1", "--batch", "8", "--json"]
    assert env["TF_NUM_INTRAOP_THREADS"] == "7" and env["KERAS_BACKEND"] == "tensorflow"
    assert bc.torch_model_name("shake-shake-26-2x32d") == "shake-shake-26-2x32d"
    assert [c.label for c in bc.torch_configs(bf16=False)] == [
        "float32", "channels_last", "compile"]
    assert [c.args for c in bc.torch_configs(bf16=True)][2:] == [
        ("--compile",), ("--bf16", "--channels-last"), ("--bf16", "--channels-last", "--compile")]
    assert bc.steps_for("wrn-28-10") == (1, 1) and bc.steps_for("wrn-28-10", 3, 2) == (3, 2)


def test_main_end_to_end_on_fake_subprocesses(tmp_path, monkeypatch, capsys):
    reference = tmp_path / "torch_reference.py"
    reference.write_text("")
    calls = []

    def fake_run_one(argv, env, timeout=None):
        calls.append(argv)
        if "--measure-peak" in argv:
            dtypes = argv[argv.index("--peak-dtypes") + 1].split(",")
            gflops = 100.0 if argv[argv.index("--measure-peak") + 1] == "torch" else 120.0
            return {"version": "x 1.0", **{d: gflops * (2 if d == "bfloat16" else 1)
                                           for d in dtypes}}
        if "benchmark" in argv:
            return _ours(400, 1000, "mixed_bfloat16")
        if "--bf16" in argv:
            return _torch(500, 3000, "bf16 autocast")
        return _torch(300, 900)

    monkeypatch.setattr(bc, "run_one", fake_run_one)
    monkeypatch.setattr(bc, "_gpu_visible", lambda: True)  # bf16 config on any CPU
    save = tmp_path / "out.json"
    assert bc.main(["--torch-reference", str(reference), "--models", "resnet20",
                    "--repeats", "2", "--threads", "2", "--save", str(save)]) == 0
    out = capsys.readouterr()
    assert "[12/12] resnet-20" in out.err  # 6 configs x 2 repeats, progress on stderr
    assert "| resnet-20 | 400 / 1,000 (mixed_bfloat16) | 500 (bf16+channels_last) " in out.out
    assert "| 0.80x / 0.33x | 96.0 (40%) / 80.0 (33%) |" in out.out  # bf16 peak: TF's 240
    document = json.loads(save.read_text())
    assert document["header"]["peaks"]["bfloat16"]["framework"] == "tensorflow"
    assert document["header"]["peaks"]["bfloat16"]["by_framework"] == {"torch": 200.0,
                                                                       "tensorflow": 240.0}
    assert document["header"]["threads"] == 2 and len(document["runs"]) == 12
    assert sum("--measure-peak" in argv for argv in calls) == 2


def test_dry_run_lists_commands_only(tmp_path, monkeypatch, capsys):
    reference = tmp_path / "torch_reference.py"
    reference.write_text("")
    monkeypatch.setattr(bc, "run_one", lambda *a, **k: pytest.fail("ran something"))
    assert bc.main(["--torch-reference", str(reference), "--models", "resnet-20", "wrn-28-10",
                    "--torch-configs", "float32", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and "wrn-28-10 --precision auto --steps 1 --warmup 1" in lines[4]


def test_errors_are_one_line(tmp_path, capsys):
    reference = tmp_path / "torch_reference.py"
    assert bc.main(["--torch-reference", str(reference)]) == 2
    err = capsys.readouterr().err.strip()
    assert "`--torch-reference` must be the path of torch_reference.py" in err
    assert "\n" not in err
    reference.write_text("")
    assert bc.main(["--torch-reference", str(reference), "--repeats", "0"]) == 2
    assert "`--repeats` must be >= 1. Received: 0" in capsys.readouterr().err
    assert bc.main(["--torch-reference", str(reference), "--models", "resnet-21"]) == 2
    assert "Unknown model name 'resnet-21'" in capsys.readouterr().err


@pytest.mark.large  # three subprocesses, two of them loading TensorFlow or PyTorch
def test_real_smoke_run(tmp_path):
    """One tiny real run: ours and PyTorch float32 in subprocesses, and the peak."""
    if not TORCH_REFERENCE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but the shared PyTorch reference is missing: {TORCH_REFERENCE}")
        pytest.skip(f"needs {TORCH_REFERENCE}")
    pytest.importorskip("torch")
    save = tmp_path / "smoke.json"
    assert bc.main(["--torch-reference", str(TORCH_REFERENCE), "--models", "resnet-20",
                    "--repeats", "1", "--steps", "1", "--warmup", "1", "--batch", "8",
                    "--torch-configs", "float32", "--peak-size", "256", "--peak-repeats", "1",
                    "--peak-frameworks", "torch", "--save", str(save)]) == 0
    document = json.loads(save.read_text())
    assert [r.get("error") for r in document["runs"]] == [None, None]
    (row,) = document["rows"]
    assert row["ours_train"] > 0 and row["torch_best_train_config"] == "float32"
    assert row["ratio_train"] == pytest.approx(row["ours_train"] / row["torch_best_train"])
    assert row["macs_per_image"] > 40e6
    assert document["header"]["peaks"]["float32"]["gflops"] > 0
    peak = document["header"]["peaks"][row["peak_dtype"]]["gflops"]
    assert row["ours_train_peak_fraction"] == pytest.approx(row["ours_train_gflops"] / peak)
    from keras_resnets import runtime

    assert row["ours_precision"] == runtime.resolve_precision("auto")
    assert document["runs"][1]["threads"] == bc._threads()


def test_ours_configs_for_steps_per_execution_and_device_augmentation():
    from keras_resnets.benchmark.compare import ours_configs

    plain = ours_configs(["auto", "float32"])
    assert [(c.label, c.args) for c in plain] == [
        ("auto", ("--precision", "auto")), ("float32", ("--precision", "float32"))]
    gpu = ours_configs(["mixed_bfloat16"], [1, 8], "device")
    assert [(c.label, c.args) for c in gpu] == [
        ("mixed_bfloat16 device-aug", ("--precision", "mixed_bfloat16", "--augment-on", "device")),
        ("mixed_bfloat16 spe8 device-aug", ("--precision", "mixed_bfloat16",
                                            "--steps-per-execution", "8",
                                            "--augment-on", "device")),
    ]


def test_table_names_the_options_of_each_ours_row():
    from keras_resnets.benchmark.table import _ours_config

    assert _ours_config({"ours_precision": "mixed_bfloat16", "ours_label": "auto"}) == "mixed_bfloat16"
    assert _ours_config({"ours_precision": "mixed_bfloat16",
                         "ours_label": "mixed_bfloat16 spe8 device-aug"}) == (
        "mixed_bfloat16, spe8 device-aug")
    assert _ours_config({"ours_precision": None, "ours_label": "float32"}) == "float32"


def _openvino(infer, precision="bfloat16", latency=1.5):
    return {"runtime": "openvino", "openvino": "2026.4", "infer_images_per_sec": infer,
            "latency_ms_batch1": latency, "train_images_per_sec": None, "precision": precision,
            "macs_per_image": 40_000_000, "batch_size": 128, "image_size": 32,
            "processor": {"name": "Fake CPU", "bf16_units": True, "accelerator": None}}


def test_openvino_rows_are_inference_only_with_latency():
    assert [c.label for c in bc.ours_configs(["auto"], runtimes=("openvino",))] == [
        "auto openvino"]
    both = bc.ours_configs(["auto", "float32"], runtimes=("keras", "openvino"))
    assert [c.label for c in both] == ["auto openvino", "float32 openvino", "auto", "float32"]
    assert both[0].args == ("--runtime", "openvino", "--precision", "auto")
    argv, _ = bc.command("resnet-20", both[0], steps=3, warmup=1, threads=2,
                         torch_reference=pathlib.Path("t.py"))
    assert argv[-3:] == ["--threads", "2", "--json"]  # OpenVINO gets the same threads
    ov = bc.Config("ours", "auto openvino", both[0].args)
    runs = _fake_runs() + [
        _record("resnet-20", ov, 0, _openvino(3000, latency=1.0)),
        _record("resnet-20", ov, 1, _openvino(4000, latency=3.0)),
    ]
    rows = bc.summarize(runs, PEAKS)
    row = next(r for r in rows if r["ours_label"] == "auto openvino")
    assert row["ours_train"] is None and row["ratio_train"] is None
    assert row["ours_infer"] == 3500 and row["ratio_infer"] == pytest.approx(3500 / 2000)
    assert row["ours_latency_ms"] == 2.0 and row["peak_dtype"] == "bfloat16"
    text = bc.format_markdown(rows, {
        "processor": {"name": "Fake CPU", "bf16_units": True}, "threads": 2, "date": "d",
        "versions": {}, "command": "c", "repeats": 2, "steps": {"resnet-20": (5, 1)},
        "peaks": PEAKS})
    assert ("| resnet-20 | - / 3,500 (bfloat16, openvino, batch 1: 2.00 ms) "
            "| 340 (channels_last) | 2,000 (bf16+channels_last) | n/a / 1.75x |") in text
    assert "| resnet-20 | ours auto openvino (bfloat16) | - | 3,500 [3,000, 4,000] |" in text
