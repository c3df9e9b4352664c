import json

import keras
import pytest

from keras_resnets.benchmark import run as benchmark
from keras_resnets import cli


def test_benchmark_prints_valid_json(capsys):
    assert cli.main(
        ["benchmark", "resnet-20", "--batch", "4", "--steps", "1", "--warmup", "1", "--json", "--no-jit"]
    ) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "resnet-20"
    assert result["trainable_params"] == 269_722
    assert result["macs_per_image"] > 40e6
    assert result["train_images_per_sec"] > 0 and result["infer_images_per_sec"] > 0
    assert result["batch_size"] == 4 and result["image_size"] == 32
    # Inference of the deployment model too: BNs folded, a true bfloat16
    # model where training runs mixed_bfloat16.
    assert result["infer_folded_images_per_sec"] > 0
    expected = {"mixed_bfloat16": "bfloat16"}.get(result["precision"], "float32")
    assert result["infer_folded_dtype"] == expected
    # `precision: auto` is the default: resolved by the processor and recorded.
    from keras_resnets import runtime

    assert result["precision_requested"] == "auto"
    assert result["precision"] == runtime.resolve_precision("auto")
    assert result["processor"] == runtime.processor_info()


def test_benchmark_device_augmentation_and_steps_per_execution(capsys):
    """`--augment-on device` times the uint8 input stage in the train step;
    `--steps-per-execution` is compile's, and the steps are still counted
    one by one (Keras reports every N-th)."""
    per_call = "1" if keras.backend.backend() == "torch" else "2"  # torch: 1 only
    assert cli.main(
        ["benchmark", "resnet-20", "--batch", "4", "--steps", "4", "--warmup", "2", "--json",
         "--no-jit", "--augment-on", "device", "--steps-per-execution", per_call]
    ) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["augment_on"] == "device" and result["steps_per_execution"] == int(per_call)
    assert result["train_images_per_sec"] > 0 and result["infer_images_per_sec"] > 0
    timer = benchmark._step_timer(warmup=2)
    for batch in (1, 3, 5):  # steps_per_execution 2: called after steps 2, 4, 6
        timer.on_train_batch_end(batch)
    assert timer.timed_steps == 4


def test_benchmark_table(capsys):
    cli.main(["benchmark", "resnet-20", "--batch", "2", "--steps", "1", "--warmup", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("processor: ") and "bf16 units" in lines[0]
    assert lines[1].startswith("| model")


def test_benchmark_errors():
    with pytest.raises(ValueError, match="precision"):
        benchmark.run_benchmark("resnet-20", precision="float64")
    with pytest.raises(ValueError, match="steps"):
        benchmark.run_benchmark("resnet-20", steps=0)
    with pytest.raises(ValueError, match="`steps` >= `steps_per_execution`.*steps_per_execution=4"):
        benchmark.run_benchmark("resnet-20", steps=2, steps_per_execution=4)
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="must be 1 on the PyTorch backend"):
            benchmark.run_benchmark("resnet-20", steps_per_execution=2)
    with pytest.raises(ValueError, match="'host' or 'device'.*'gpu'"):
        benchmark.run_benchmark("resnet-20", augment_on="gpu")
    with pytest.raises(ValueError, match="Unknown model name"):
        benchmark.run_benchmark("resnet-21")


def test_cli_benchmark_subcommand(capsys):
    from keras_resnets import cli

    assert cli.main(
        ["benchmark", "resnet-20", "--batch", "2", "--steps", "1", "--warmup", "1", "--json"]
    ) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "resnet-20"


def test_cli_benchmark_unknown_model_is_one_line_error(capsys):
    from keras_resnets import cli

    assert cli.main(["benchmark", "resnet-21", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-resnets: error: Unknown model name") and "\n" not in err
