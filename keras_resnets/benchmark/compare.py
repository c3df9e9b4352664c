"""Ours against plain PyTorch at its best, back to back: the per-processor
table of docs/benchmarks.md.

    python -m keras_resnets.benchmark.compare --torch-reference ../shared/bench/torch_reference.py

For each model, `keras-resnets benchmark` (TensorFlow backend, `--precision
auto`; with `--ours-runtime openvino` also or instead `benchmark --runtime
openvino`, inference only) and the plain-PyTorch reference script in each of
its configs (float32; `--channels-last`; `--compile`, torch.compile; and
`--bf16 --channels-last`, eager and compiled, where the processor has
bfloat16 units or a GPU is visible) run one after another, each in its own
subprocess with the same number of threads (all cores), and the whole round
is repeated `--repeats` times, in reverse order every other time, so slow
drift of a shared machine hits every config alike. Each config's figure is
the median over the repeats; PyTorch's best is the highest median among its
configs, for training and for inference separately; ratio = ours / that best.

The machine's matmul peak (float32, and bfloat16/float16 where a run used
them) is measured at the end with a large square matmul in PyTorch and in
TensorFlow (best of a few; the higher framework counts), and each model's
GFLOP/s is given as a fraction of the peak in the precision it ran in.
GFLOP/s follows `keras-resnets benchmark`: training = images/s x forward
multiply-adds x 2 (FLOPs per MAC) x 3 (forward + two backward products),
inference = images/s x MACs x 2.

This module runs the subprocesses and writes the document; the table is
made in `table` (`summarize`, `format_markdown`: plain dicts in,
tested without running anything) and the peak is measured in
`peak`. Keras, TensorFlow and PyTorch are imported only in the
subprocesses.
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys
import time

from keras_resnets import _quiet
from keras_resnets.benchmark.peak import PEAK_DTYPES
from keras_resnets.benchmark.peak import measure_peak_here
from keras_resnets.benchmark.table import format_markdown
from keras_resnets.benchmark.table import summarize
from keras_resnets.runtime import PRECISIONS  # no Keras import at the top
from keras_resnets.errors import UserValueError

DEFAULT_MODELS = (
    "resnet-20", "resnet-56", "wrn-16-4", "wrn-28-10", "shake-shake-26-2x32d", "resnet-50",
)
# (timed steps, warmup steps) per model, so the default table fits in about
# 15 minutes on a 2-core CPU; --steps/--warmup override them for every model.
# PyTorch takes the median of its timed steps, ours the mean; each figure is
# then the median over the repeats.
DEFAULT_STEPS = {
    "resnet-20": (5, 1),
    "resnet-56": (3, 1),
    "wrn-16-4": (2, 1),
    "shake-shake-26-2x32d": (2, 1),
    "wrn-28-10": (1, 1),
    "resnet-50": (2, 1),
}
OTHER_STEPS = (3, 1)


@dataclasses.dataclass(frozen=True)
class Config:
    """One way of running a model: ours at a precision, or a PyTorch config."""

    framework: str  # "ours" or "pytorch"
    label: str  # ours: the precision asked for (+ " spe8", " device-aug"); pytorch: "float32", ...
    args: tuple = ()


TORCH_CONFIGS = {
    "float32": (),
    "channels_last": ("--channels-last",),
    "compile": ("--compile",),
    "bf16+channels_last": ("--bf16", "--channels-last"),
    "bf16+channels_last+compile": ("--bf16", "--channels-last", "--compile"),
}


def torch_configs(labels=None, *, bf16=False):
    """PyTorch's configs: `labels` (keys of `TORCH_CONFIGS`), or by default
    every one: eager float32, channels_last, torch.compile, and where
    bfloat16 is fast (`bf16`) bf16 autocast + channels_last, eager and
    compiled."""
    if labels is None:
        labels = [label for label in TORCH_CONFIGS if bf16 or "bf16" not in label]
    return [Config("pytorch", label, TORCH_CONFIGS[label]) for label in labels]


RUNTIMES = ("keras", "openvino")


def ours_configs(precisions, steps_per_execution=(1,), augment_on="host", runtimes=("keras",)):
    """Our configs: one per runtime, precision and steps-per-execution
    value, named `auto`, `auto spe8`, `auto device-aug`, ... (plain names for
    the defaults, so CPU tables read as before); the OpenVINO runtime's
    (`benchmark --runtime openvino`: inference only) one per precision,
    `auto openvino`, `float32 openvino`."""
    configs = []
    for precision in precisions if "openvino" in runtimes else ():
        configs.append(Config("ours", f"{precision} openvino",
                              ("--runtime", "openvino", "--precision", precision)))
    for precision in precisions if "keras" in runtimes else ():
        for n in steps_per_execution:
            name = precision + (f" spe{n}" if n != 1 else "")
            args = ("--precision", precision)
            if n != 1:
                args += ("--steps-per-execution", str(n))
            if augment_on != "host":
                name, args = name + " device-aug", args + ("--augment-on", augment_on)
            configs.append(Config("ours", name, args))
    return configs


def torch_model_name(name):
    """The torch_reference.py name of one of ours: `resnet-20` -> `resnet20`;
    the others (`wrn-16-4`, `shake-shake-26-2x32d`) are spelled alike."""
    return re.sub(r"^resnet-(\d+)$", r"resnet\1", name)


def steps_for(model, steps=None, warmup=None):
    default_steps, default_warmup = DEFAULT_STEPS.get(model, OTHER_STEPS)
    return (steps or default_steps, warmup or default_warmup)


def schedule(models, configs, repeats):
    """(model, config, repeat) in run order: model by model, every config
    back to back, in reverse order on odd repeats."""
    order = []
    for model in models:
        for repeat in range(repeats):
            round_ = configs if repeat % 2 == 0 else configs[::-1]
            order.extend((model, config, repeat) for config in round_)
    return order


def command(model, config, *, steps, warmup, threads, torch_reference, backend="tensorflow",
            batch=None):
    """(argv, environment) of one run: a subprocess printing JSON."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    batch_args = ("--batch", str(batch)) if batch else ()
    if config.framework == "ours":
        env.update(KERAS_BACKEND=backend, TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_CPP_MIN_LOG_LEVEL="2")
        # OpenVINO's threads: the same count as every other process.
        thread_args = ("--threads", str(threads)) if "openvino" in config.args else ()
        argv = [sys.executable, "-m", "keras_resnets", "benchmark", model, *config.args,
                "--steps", str(steps), "--warmup", str(warmup), *batch_args, *thread_args,
                "--json"]
    else:
        argv = [sys.executable, str(torch_reference), torch_model_name(model), *config.args,
                "--steps", str(steps), "--warmup", str(warmup), "--threads", str(threads),
                *batch_args, "--json"]
    return argv, env


def parse_json_output(stdout):
    """The last JSON object printed (one line, or indented over several)."""
    lines = stdout.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("{"):
            try:
                return json.loads("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
    raise UserValueError("no JSON object in the output")


def normalize(raw, config):
    """One run's record with the same keys for ours and PyTorch."""
    if config.framework == "ours" and raw.get("runtime") == "openvino":
        return {"train": None, "infer": raw["infer_images_per_sec"],
                "infer_unfolded": None, "infer_model": "openvino",
                "latency_ms": raw["latency_ms_batch1"],
                "precision": raw["precision"], "macs_per_image": raw["macs_per_image"],
                "batch": raw["batch_size"], "image_size": raw["image_size"],
                "processor": raw.get("processor"), "framework_version": raw.get("openvino")}
    if config.framework == "ours":
        # Inference of ours is the deployment model (`fold_batch_norm`, a
        # true bfloat16 model under mixed_bfloat16); the trained model's
        # figure stays beside it.
        folded = raw.get("infer_folded_images_per_sec")
        return {"train": raw["train_images_per_sec"],
                "infer": folded if folded is not None else raw["infer_images_per_sec"],
                "infer_unfolded": raw["infer_images_per_sec"] if folded is not None else None,
                "infer_model": f"folded, {raw['infer_folded_dtype']}" if folded else "as trained",
                "precision": raw["precision"], "macs_per_image": raw["macs_per_image"],
                "batch": raw["batch_size"], "image_size": raw["image_size"],
                "processor": raw.get("processor")}
    precision = raw.get("precision", "float32")
    return {"train": raw["train_images_per_s"], "infer": raw["infer_images_per_s"],
            "precision": precision, "batch": raw.get("batch"),
            "image_size": raw.get("image_size"), "threads": raw.get("threads"),
            "framework_version": raw.get("framework")}


def run_one(argv, env, timeout=None):
    """Runs one benchmark subprocess; its parsed JSON, or {"error": ...}."""
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {"error": tail[:300]}
    try:
        return parse_json_output(proc.stdout)
    except ValueError as e:
        return {"error": str(e)}


# === Matmul peak ===


def measure_peaks(dtypes, *, size, repeats, threads, frameworks=("torch", "tensorflow")):
    """The best matmul GFLOP/s per dtype over `frameworks`, each measured in
    its own subprocess. Returns ({dtype: {gflops, framework, size,
    by_framework}}, versions); a framework that fails is left out."""
    by_dtype, versions = {}, {}
    for framework in frameworks:
        argv = [sys.executable, "-m", "keras_resnets.benchmark.compare", "--measure-peak",
                framework, "--peak-dtypes", ",".join(dtypes), "--peak-size", str(size),
                "--peak-repeats", str(repeats), "--threads", str(threads)]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2")
        result = run_one(argv, env)
        if "error" in result:
            print(f"peak: {framework} failed: {result['error']}", file=sys.stderr)
            continue
        versions[framework] = result.pop("version")
        for dtype, gflops in result.items():
            entry = by_dtype.setdefault(dtype, {"gflops": 0.0, "by_framework": {}})
            entry["by_framework"][framework] = gflops
            if gflops > entry["gflops"]:
                entry.update(gflops=gflops, framework=framework, size=size)
    return by_dtype, versions


# === Running it all ===


def _threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _gpu_visible():
    """An NVIDIA GPU the subprocesses will see (checked without importing a
    framework)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = pathlib.Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def _versions(backend):
    versions = {"python": platform.python_version()}
    for package in ("keras", backend, "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _check_args(args):
    from keras_resnets.registry import model_facts

    for flag in ("repeats", "steps", "warmup", "batch", "threads", "peak_size", "peak_repeats"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserValueError(f"`--{flag.replace('_', '-')}` must be >= 1. Received: {value}")
    if not args.torch_reference.is_file():
        raise UserValueError(
            "`--torch-reference` must be the path of torch_reference.py (plain-PyTorch "
            f"models, e.g. ../shared/bench/torch_reference.py). Received: {args.torch_reference}"
        )
    # Canonical names (aliases such as "resnet20" accepted); an unknown name
    # gets the registry's message with the closest valid names (it loads
    # Keras to look: its backend's log lines are dropped).
    _quiet.quiet_backends()
    with _quiet.filter_stderr():
        return [model_facts(name)["name"] for name in args.models]


def run_comparison(args, progress=None):
    """Runs everything `args` asks for, printing one line per run on
    `progress` (default stderr); returns the JSON document (None for
    `--dry-run`)."""
    progress = progress or sys.stderr
    models = _check_args(args)
    threads = args.threads or _threads()
    from keras_resnets.runtime import cpu_has_bf16_units

    bf16 = cpu_has_bf16_units() or _gpu_visible()
    configs = ours_configs(
        args.ours_precision, args.ours_steps_per_execution, args.ours_augment_on,
        args.ours_runtime,
    ) + torch_configs(args.torch_configs, bf16=bf16)
    steps = {m: steps_for(m, args.steps, args.warmup) for m in models}
    order = schedule(models, configs, args.repeats)
    runs = []
    started = time.perf_counter()
    for i, (model, config, repeat) in enumerate(order, 1):
        argv, env = command(model, config, steps=steps[model][0], warmup=steps[model][1],
                            threads=threads, torch_reference=args.torch_reference,
                            backend=args.backend, batch=args.batch)
        if args.dry_run:
            print(shlex.join(argv))
            continue
        t = time.perf_counter()
        raw = run_one(argv, env, timeout=args.timeout)
        record = {"model": model, "framework": config.framework, "label": config.label,
                  "repeat": repeat}
        record.update(raw if "error" in raw else normalize(raw, config))
        runs.append(record)
        train = "-" if record.get("train") is None else f"{record['train']:,.1f}"
        outcome = (f"failed: {raw['error']}" if "error" in raw else
                   f"train {train}, infer {record['infer']:,.1f} img/s "
                   f"({record['precision']})")
        print(f"[{i}/{len(order)}] {model} {config.framework} {config.label} "
              f"(repeat {repeat + 1}/{args.repeats}): {outcome} "
              f"[{time.perf_counter() - t:.0f} s, {time.perf_counter() - started:.0f} s total]",
              file=progress, flush=True)
    if args.dry_run:
        return None
    used = {PEAK_DTYPES[r["precision"]] for r in runs if r.get("precision") in PEAK_DTYPES}
    if any("bf16" in str(r.get("precision")) for r in runs):
        used.add("bfloat16")
    dtypes = ["float32"] + sorted(used - {"float32"})
    peaks, peak_versions = measure_peaks(dtypes, size=args.peak_size, repeats=args.peak_repeats,
                                         threads=threads, frameworks=args.peak_frameworks)
    processor = next((r["processor"] for r in runs if r.get("processor")), None)
    if processor is None:
        from keras_resnets.runtime import _cpuinfo

        processor = {"name": _cpuinfo()[0], "bf16_units": cpu_has_bf16_units(),
                     "accelerator": None}
    header = {
        "processor": processor,
        "threads": threads,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": {**_versions(args.backend), "backend": args.backend},
        "command": "python -m keras_resnets.benchmark.compare " + shlex.join(args.argv),
        "repeats": args.repeats,
        "steps": steps,
        "bf16_fast": bf16,
        "configs": [dataclasses.asdict(c) for c in configs],
        "batch": args.batch,
        "peaks": peaks,
        "peak_versions": peak_versions,
        "peak_repeats": args.peak_repeats,
        "seconds": round(time.perf_counter() - started),
    }
    rows = summarize(runs, peaks)
    return {"header": header, "rows": rows, "runs": runs}


def add_arguments(parser):
    parser.add_argument("--torch-reference", type=pathlib.Path,
                        default=pathlib.Path("../shared/bench/torch_reference.py"),
                        help="the plain-PyTorch script (default: %(default)s)")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS),
                        help="registered model names (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds of every config, alternating order (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps for every model (default per model: "
                        + ", ".join(f"{m} {s}" for m, (s, _) in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps before them (default per model: "
                        + ", ".join(f"{m} {w}" for m, (_, w) in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--ours-precision", nargs="+", choices=PRECISIONS, default=["auto"],
                        help="our precision(s), one table row each (default: auto; "
                        "add float32 for the explicit float32 row)")
    parser.add_argument("--ours-steps-per-execution", nargs="+", type=int, default=[1],
                        metavar="N", help="our steps_per_execution value(s), one row each "
                        "(default: 1; on a GPU try 1 8 32)")
    parser.add_argument("--ours-runtime", nargs="+", choices=RUNTIMES, default=["keras"],
                        help="keras: our training and inference on --backend; openvino: "
                        "inference only, in the OpenVINO runtime (`benchmark --runtime "
                        "openvino`; --ours-precision auto float32 gives its bfloat16 and "
                        "float32 rows); default: keras")
    parser.add_argument("--ours-augment-on", choices=("host", "device"), default="host",
                        help="device: our runs feed uint8 batches and time the augmentation in "
                        "the train step (`benchmark --augment-on device`; default: host)")
    parser.add_argument("--torch-configs", nargs="+", choices=tuple(TORCH_CONFIGS), default=None,
                        help="PyTorch's configs (default: float32, channels_last and compile "
                        "(torch.compile), plus bf16+channels_last and "
                        "bf16+channels_last+compile where the CPU has bfloat16 units or a GPU "
                        "is visible)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size of every model (default: 128 at 32x32, 16 at 224x224)")
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax", "torch"),
                        help="our Keras backend (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of every process (default: all cores)")
    parser.add_argument("--peak-size", type=int, default=4096,
                        help="square matmul size of the peak (default: %(default)s)")
    parser.add_argument("--peak-repeats", type=int, default=3,
                        help="timed matmuls, the best counts (default: %(default)s)")
    parser.add_argument("--peak-frameworks", nargs="+", choices=("torch", "tensorflow"),
                        default=["torch", "tensorflow"],
                        help="where the peak is measured; the best counts (default: both)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before one run is abandoned (default: none)")
    parser.add_argument("--save", type=pathlib.Path, default=None,
                        help="also write the JSON document to this file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands in run order and exit")
    # Internal: the peak measurement's own subprocess.
    parser.add_argument("--measure-peak", choices=("torch", "tensorflow"), help=argparse.SUPPRESS)
    parser.add_argument("--peak-dtypes", default="float32", help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = add_arguments(argparse.ArgumentParser(
        prog="python -m keras_resnets.benchmark.compare",
        description="Ours vs plain PyTorch at its best, back to back, with fractions of the "
        "machine's matmul peak: the per-processor table of docs/benchmarks.md.",
    ))
    args = parser.parse_args(argv)
    args.argv = argv
    if args.measure_peak:
        threads = args.threads or _threads()
        result = measure_peak_here(args.measure_peak, args.peak_dtypes.split(","),
                                   args.peak_size, args.peak_repeats, threads)
        print(json.dumps(result))
        return 0
    try:
        document = run_comparison(args)
    except ValueError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    if document is None:  # --dry-run
        return 0
    if args.save:
        args.save.write_text(json.dumps(document, indent=2) + "\n")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(format_markdown(document["rows"], document["header"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
