"""`keras-resnets`: the command-line front end (no logic of its own).

Usage (`python -m keras_resnets ...` is the same):

    keras-resnets train CONFIG.yaml [--data PATH] [--output DIR] [--epochs N]
                        [--strategy NAME] [--set section.key=value ...]
                        [--overwrite] [--json]
    keras-resnets evaluate RUN_DIR_or_MODEL [--data PATH] [--best] [--batch-size N]
    keras-resnets tune CONFIG.yaml [...]    (keras_resnets.tuning: hyperparameter search)
    keras-resnets benchmark MODEL [--batch N] [--image-size S] [--steps N]
                            [--precision P] [--jit/--no-jit] [--runtime keras|openvino] [--json]
    keras-resnets predict RUN_DIR IMAGE... [--top-k K] [--json] [--runtime keras|openvino]
                                                                 (keras_resnets.inference)
    keras-resnets export RUN_DIR_or_MODEL OUTPUT [--format savedmodel|onnx|openvino] [--last]
    keras-resnets list-models [PATTERN]
    keras-resnets --version

Bad input (config keys, types, values, model names, data sources: a
`keras_resnets.errors.UserError`) is reported as one line on stderr with
exit status 2 (so is a run folder that holds another run); any other
exception is a bug and keeps its traceback. A diverged run, and a search in
which no trial completed, exit with one line and status 1; Ctrl-C during
training prints one line ("interrupted in epoch N; the same command resumes
after epoch N-1") and exits with status 130; a run folder that cannot be
written (full disk, read-only, permission denied) prints one line naming the
folder and what it kept, and exits with status 74. `--traceback` shows the full
Python traceback instead.

Only the command that runs imports Keras and a backend: `--help`, every
`COMMAND --help` and `list-models` import neither. The backends' log lines
(TensorFlow's C++ INFO/WARNING, "failed call to cuInit" on machines without
a GPU, absl) are hidden unless `--verbose` is given.
"""

import argparse
import json
import sys

from keras_resnets import _quiet
from keras_resnets._argtypes import positive_int
from keras_resnets.errors import UserError
from keras_resnets.errors import UserValueError

EXIT_USAGE = 2
EXIT_FAILED = 1  # a diverged run, a search without a completed trial
EXIT_STORAGE = 74  # sysexits EX_IOERR: the run folder could not be written


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse prints the usage too)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} "
                              f"(see {self.prog} --help)\n")


def _parser():
    parser = _Parser(
        prog="keras-resnets",
        description="Train and evaluate residual networks from paper-recipe YAML configs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    for flag, help_text in _GLOBAL_FLAGS:
        parser.add_argument(flag, action="store_true", help=help_text)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train from a YAML config (resumes an interrupted run)")
    train.add_argument("config", help="YAML config, e.g. configs/resnet/resnet-20_cifar10.yaml")
    train.add_argument("--data", help="data set: tfds name or local path (sets data.source)")
    train.add_argument("--output", help="run folder (sets training.output_dir)")
    train.add_argument("--epochs", type=positive_int, help="sets training.epochs")
    train.add_argument("--strategy", choices=_STRATEGIES, help="sets distribution.strategy")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="dotted override, value parsed as YAML (repeatable), e.g. --set optimizer.learning_rate=0.05",
    )
    train.add_argument(
        "--overwrite", action="store_true",
        help="remove the run folder's run files and start over (another run is refused otherwise)",
    )
    train.add_argument(
        "--json", action="store_true", help="also print the result as one JSON line at the end"
    )

    evaluate = sub.add_parser("evaluate", help="test accuracy of a run folder or .keras model")
    evaluate.add_argument("target", help="run folder or .keras file")
    evaluate.add_argument("--data", help="data set (default: the run's data.source)")
    evaluate.add_argument("--best", action="store_true", help="use best.keras instead of last.keras")
    evaluate.add_argument("--batch-size", type=positive_int, help="evaluation batch size")

    tune = sub.add_parser(
        "tune", help="hyperparameter search from a YAML config's `tuner` section (resumes)"
    )
    tune.add_argument(
        "config", help="YAML config with a `tuner:` section, e.g. "
        "configs/tuning/wrn-16-4_cifar10_random.yaml",
    )
    tune.add_argument("--data", help="data set: tfds name or local path (sets data.source)")
    tune.add_argument("--output", help="output folder (sets tuner.directory)")
    tune.add_argument("--tuner", help="random_search | hyperband | bayesian_optimization (sets tuner.name)")
    tune.add_argument("--max-trials", type=positive_int, help="sets tuner.max_trials")
    tune.add_argument("--epochs", type=positive_int, help="sets training.epochs")
    tune.add_argument("--strategy", choices=_STRATEGIES, help="sets distribution.strategy")
    tune.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    tune.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="dotted override, value parsed as YAML (repeatable), e.g. --set tuner.max_params=3e6",
    )

    _add_benchmark_arguments(
        sub.add_parser(
            "benchmark", help="training/inference images per second of a model",
            description="Training and inference images per second of registered models "
            "on synthetic in-memory data (the backend is KERAS_BACKEND's).",
        )
    )

    # keras_resnets.inference imports keras only inside its functions.
    from keras_resnets.inference import add_predict_arguments

    add_predict_arguments(sub)

    export = sub.add_parser(
        "export",
        help="write a run folder's or .keras model as a SavedModel, ONNX or OpenVINO IR file",
    )
    export.add_argument("target", help="run folder or .keras file")
    export.add_argument("output",
                        help="output folder (savedmodel) or file (onnx: .onnx, openvino: .xml)")
    export.add_argument("--format", choices=("savedmodel", "onnx", "openvino"),
                        default="savedmodel",
                        help="SavedModel (TF-Serving; tensorflow and jax backends), ONNX "
                        "(pip install 'keras_resnets[export]', [export-jax] or [export-torch]) "
                        "or OpenVINO IR (pip install 'keras-resnets[deploy]')")
    export.add_argument("--last", action="store_true", help="use last.keras instead of best.keras")

    models = sub.add_parser("list-models", help="registered model names and parameter counts")
    models.add_argument(
        "pattern", nargs="?", default="*",
        help="part of a name, case and -/_ ignored (e.g. 'resnet', 'WRN_28'), or an "
        "fnmatch pattern (e.g. 'wrn-*-10')",
    )
    for command in sub.choices.values():
        # The global flags also work after the command (`train X --verbose`).
        for flag, help_text in _GLOBAL_FLAGS:
            try:
                command.add_argument(flag, action="store_true", default=argparse.SUPPRESS,
                                     help=help_text)
            except argparse.ArgumentError:  # the command defines it itself
                pass
    return parser


_GLOBAL_FLAGS = (
    ("--traceback", "show full Python tracebacks instead of one-line errors"),
    ("--verbose", "show the backends' log messages (TensorFlow, JAX, absl)"),
)
_STRATEGIES = ("none", "mirrored", "multi_worker_mirrored", "data_parallel")


def _add_benchmark_arguments(parser):
    """The `benchmark` arguments (`keras_resnets.benchmark.run_from_args`)."""
    from keras_resnets.runtime import PRECISIONS  # runtime imports no Keras at the top

    parser.add_argument("model", nargs="+", help="registered model name(s), e.g. resnet-20 wrn-16-4")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="batch size (default: 128 at 32x32, 16 at 224x224)")
    parser.add_argument("--image-size", type=positive_int, default=None,
                        help="input size (default: 32 for CIFAR models, 224 for ImageNet ones)")
    parser.add_argument("--steps", type=positive_int, default=20, help="timed steps (default: %(default)s)")
    parser.add_argument("--warmup", type=positive_int, default=5,
                        help="untimed steps before them (default: %(default)s)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="Keras dtype policy; auto: mixed_bfloat16 on hardware with fast bfloat16 "
        "units, float32 elsewhere (default: %(default)s)",
    )
    jit = parser.add_mutually_exclusive_group()
    jit.add_argument("--jit", dest="jit_compile", action="store_true", default=None,
                     help="compile with XLA (default: on with a GPU, off on CPU and PyTorch)")
    jit.add_argument("--no-jit", dest="jit_compile", action="store_false",
                     help="do not compile with XLA")
    parser.add_argument(
        "--steps-per-execution", type=positive_int, default=1, metavar="N",
        help="train steps per compiled call (model.compile's steps_per_execution; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--augment-on", choices=("host", "device"), default="host",
        help="device: feed uint8 batches and time the CIFAR normalisation, pad-crop and "
        "flip inside the train step (data.augment_on: device); host: float32 batches, "
        "no augmentation timed (default: %(default)s)",
    )
    parser.add_argument(
        "--runtime", choices=("keras", "openvino"), default="keras",
        help="keras: train and infer on KERAS_BACKEND; openvino: inference only, the model "
        "exported and compiled by the OpenVINO runtime (pip install \"keras-resnets[deploy]\"), "
        "images/s at the batch size and batch-1 latency; --precision auto is bfloat16 there "
        "where the CPU has bfloat16 units (default: %(default)s)",
    )
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="OpenVINO inference threads (default: the physical cores)")
    parser.add_argument("--hint", choices=("latency", "throughput"), default=None,
                        help="OpenVINO performance hint: latency (one stream, all threads on "
                        "one batch; the default) or throughput (streams, batches in flight)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _version():
    from keras_resnets import __version__

    return __version__


def _overrides(args, **keys):
    """`--set` overrides (YAML text), then a typed `(key, value)` for each
    flag given (`data` -> `data.source`, ...), applied by `load_config`."""
    overrides = list(args.overrides)
    for flag, key in keys.items():
        value = getattr(args, flag)
        if value is not None:
            overrides.append((key, value))
    return overrides


def _train(args):
    from keras_resnets.training.config import load_config  # no keras: a typo costs no backend

    overrides = _overrides(args, data="data.source", output="training.output_dir",
                           epochs="training.epochs", strategy="distribution.strategy")
    config = load_config(args.config, overrides)
    from keras_resnets import training  # the lazy package: keras from here on
    from keras_resnets.training import trainer

    try:
        metrics = training.train(config, overwrite=args.overwrite)
    except training.TrainingInterrupted as e:
        print(f"keras-resnets: {_one_line(e)}", file=sys.stderr)
        return 130  # 128 + SIGINT, what a shell reports for Ctrl-C
    if args.json:
        digits = {"test_accuracy": 4, "test_error": 2, "wall_time_s": 1, "images_per_second": 1}
        summary = {k: metrics.get(k) for k in ("status", "test_accuracy", "test_error", "epochs",
                                               "wall_time_s", "images_per_second")}
        summary = {k: round(v, digits[k]) if k in digits and v is not None else v
                   for k, v in summary.items()}
        output = config.training.output_dir or trainer.default_output_dir(config)
        print(json.dumps({**summary, "output_dir": str(output)}))
    return 0


def _evaluate(args):
    from keras_resnets import training

    result = training.evaluate(
        args.target, source=args.data, batch_size=args.batch_size,
        which="best" if args.best else "last",
    )
    print(
        f"test accuracy {100 * result['test_accuracy']:.2f}% (error "
        f"{result['test_error']:.2f}%) on {result['examples']} images, {result['model']}"
    )
    print(json.dumps(result))
    return 0


def _format_params(params):
    if params is None:
        return "-"
    return f"{params / 1e6:.2f}M"


def _pattern(text):
    """A list-models argument as an fnmatch pattern: without wildcards it
    matches the names that contain it."""
    return text if any(c in text for c in "*?[") else f"*{text}*"


def _list_models(args):
    from keras_resnets import registry

    pattern = _pattern(args.pattern)
    names = registry.list_models(pattern)
    families = registry.list_models(pattern, families=True)
    if not names and not families:
        raise UserValueError(
            f"No registered model matches {args.pattern!r}. Try `keras-resnets list-models`."
        )
    width = max(len(n) for n in names + families)
    for name in names:
        facts = registry.model_facts(name)
        error = facts["error"]
        error = f"{error}% {facts['dataset']}" if error is not None else (facts["dataset"] or "")
        print(f"{name:<{width}}  {_format_params(facts['params']):>8}  "
              f"{facts['paper'] or '':<16}  {error}")
    if families:
        if names:
            print()
        print("Family names (any valid architecture: set depth, width, ... in `model:`):")
        for name in families:
            print(f"{name:<{width}}  {'any':>8}  {registry.model_facts(name)['paper'] or ''}")
    return 0


def _benchmark(args):
    from keras_resnets.benchmark.run import run_from_args

    return run_from_args(args)


def _tune(args):
    from keras_resnets.training.config import load_config  # no keras: a typo costs no backend

    overrides = _overrides(args, data="data.source", output="tuner.directory", tuner="tuner.name",
                           max_trials="tuner.max_trials", epochs="training.epochs",
                           strategy="distribution.strategy")
    if args.overwrite:
        overrides.append(("tuner.overwrite", True))
    config = load_config(args.config, overrides)
    from keras_resnets.tuning.search import search

    result = search(config)
    best = result["best"]  # search raises SearchFailedError when no trial completed
    print(json.dumps({
        "output_dir": result["output_dir"],
        "trials": len(result["rows"]),
        "best_trial": best["trial"],
        "best_objective": best["objective"],
        "best_config": result["best_config"],
    }))
    return 0


def _predict(args):
    from keras_resnets.inference import run_predict

    return run_predict(args)


def _export(args):
    from keras_resnets.export import export_model

    path = export_model(args.target, args.output, format=args.format,
                        which="last" if args.last else "best")
    print(f"wrote {path} ({args.format})")
    return 0


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _loaded_class(module, name):
    """`module.name` if that module was imported, else None (an exception
    of a module that never ran cannot have been raised)."""
    return getattr(sys.modules.get(module), name, None)


def _run(args):
    commands = {"train": _train, "evaluate": _evaluate, "tune": _tune,
                "benchmark": _benchmark, "predict": _predict, "export": _export,
                "list-models": _list_models}
    try:
        return commands[args.command](args)
    except Exception as e:
        if args.traceback:
            raise
        storage = _loaded_class("keras_resnets.training.checkpoints", "RunFolderWriteError")
        if storage is not None and isinstance(e, storage):
            print(f"keras-resnets: {_one_line(e)}", file=sys.stderr)
            return EXIT_STORAGE
        diverged = _loaded_class("keras_resnets.training.trainer", "TrainingDivergedError")
        if diverged is not None and isinstance(e, diverged):
            print(f"keras-resnets: {_one_line(e)}", file=sys.stderr)
            return EXIT_FAILED
        search_failed = _loaded_class("keras_resnets.tuning.results", "SearchFailedError")
        if search_failed is not None and isinstance(e, search_failed):
            print(f"keras-resnets: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_FAILED
        if isinstance(e, UserError):  # bad input: config, arguments, files, data
            print(f"keras-resnets: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_USAGE
        raise  # a bug (ours or a library's): its traceback


class _OneLineWarnings:
    """While a command runs, the package's own warning classes (e.g. a run
    folder without best.keras: `inference.loading.RunFileWarning`) print as
    one line each; every other warning is shown as Python shows it."""

    def __enter__(self):
        import warnings

        self._warnings, self._original = warnings, warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if category.__module__.startswith("keras_resnets"):
                print(f"keras-resnets: warning: {_one_line(message)}", file=sys.stderr)
            else:
                self._original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return self

    def __exit__(self, *exc_info):
        self._warnings.showwarning = self._original


def main(argv=None):
    """Entry point of `keras-resnets`; returns the exit status.

    Args:
        argv: list of str, the arguments (default `sys.argv[1:]`).
    """
    args = _parser().parse_args(argv)
    if args.verbose:
        with _OneLineWarnings():
            return _run(args)
    _quiet.quiet_backends()  # before anything imports a backend
    with _quiet.filter_stderr(), _OneLineWarnings():
        return _run(args)


if __name__ == "__main__":
    sys.exit(main())
