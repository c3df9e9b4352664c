"""`keras-resnets`: the command-line front end (no logic of its own).

Usage:

    keras-resnets train CONFIG.yaml [--data PATH] [--output DIR] [--epochs N]
                        [--strategy NAME] [--set section.key=value ...]
    keras-resnets evaluate RUN_DIR_or_MODEL [--data PATH] [--best] [--batch-size N]
    keras-resnets tune CONFIG.yaml [...]    (keras_resnets.tuning: hyperparameter search)
    keras-resnets benchmark MODEL [--batch N] [--image-size S] [--steps N]
                            [--precision P] [--jit/--no-jit] [--json]
    keras-resnets list-models [PATTERN]

Bad input (config keys, types, values, model names, data sources) is
reported as one line on stderr with exit status 2; a diverged run exits
with status 1. `--traceback` shows the full Python traceback instead.
"""

import argparse
import json
import os
import sys

EXIT_USAGE = 2
EXIT_DIVERGED = 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-resnets",
        description="Train and evaluate residual networks from paper-recipe YAML configs.",
    )
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train from a YAML config (resumes an interrupted run)")
    train.add_argument("config", help="YAML config, e.g. configs/resnet/resnet-20_cifar10.yaml")
    train.add_argument("--data", help="data set: tfds name or local path (sets data.source)")
    train.add_argument("--output", help="run folder (sets training.output_dir)")
    train.add_argument("--epochs", type=int, help="sets training.epochs")
    train.add_argument(
        "--strategy",
        choices=("none", "mirrored", "multi_worker_mirrored", "data_parallel"),
        help="sets distribution.strategy",
    )
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
    evaluate.add_argument("--batch-size", type=int, help="evaluation batch size")

    from keras_resnets.tuning.search import add_tune_arguments  # light: no keras import

    add_tune_arguments(sub)

    from keras_resnets.benchmark import add_arguments as add_benchmark_arguments

    add_benchmark_arguments(
        sub.add_parser("benchmark", help="training/inference images per second of a model")
    )

    models = sub.add_parser("list-models", help="registered model names and parameter counts")
    models.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'wrn*'")
    return parser


def _train(args):
    from keras_resnets import training

    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data.source={json.dumps(args.data)}")
    if args.output is not None:
        overrides.append(f"training.output_dir={json.dumps(args.output)}")
    if args.epochs is not None:
        overrides.append(f"training.epochs={args.epochs}")
    if args.strategy is not None:
        overrides.append(f"distribution.strategy={args.strategy}")
    config = training.load_config(args.config, overrides)
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
        from keras_resnets.training.train import default_output_dir

        output = config.training.output_dir or default_output_dir(config)
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


def _list_models(args):
    from keras_resnets import registry

    names = registry.list_models(args.pattern)
    if not names:
        raise ValueError(
            f"No registered model matches {args.pattern!r}. Try `keras-resnets list-models`."
        )
    width = max(len(n) for n in names)
    for name in names:
        spec = registry.get_spec(name)
        error = f"{spec.error}% {spec.dataset}" if spec.error is not None else (spec.dataset or "")
        print(f"{name:<{width}}  {_format_params(spec.params):>8}  {spec.paper or '':<16}  {error}")
    return 0


def _benchmark(args):
    from keras_resnets.benchmark import run_from_args

    return run_from_args(args)


def _tune(args):
    from keras_resnets.tuning.search import run_tune

    return run_tune(args)


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def main(argv=None):
    """Entry point of `keras-resnets`; returns the exit status."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    commands = {"train": _train, "evaluate": _evaluate, "tune": _tune,
                "benchmark": _benchmark, "list-models": _list_models}
    from keras_resnets.data import DataUnavailableError
    from keras_resnets.training import TrainingDivergedError

    try:
        return commands[args.command](args)
    except TrainingDivergedError as e:
        if args.traceback:
            raise
        print(f"keras-resnets: {_one_line(e)}", file=sys.stderr)
        return EXIT_DIVERGED
    except (ValueError, TypeError, FileNotFoundError, DataUnavailableError) as e:
        if args.traceback:
            raise
        print(f"keras-resnets: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
