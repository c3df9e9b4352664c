"""The `keras-resnets predict` subcommand: its arguments, its output lines
and its run."""

import json
import warnings

from keras_resnets._argtypes import positive_int
from keras_resnets.inference.images import IMAGE_FORMATS
from keras_resnets.inference.loading import RUNTIMES
from keras_resnets.inference.loading import load_run


def add_predict_arguments(subparsers):
    """Adds the `predict` subcommand to an argparse `subparsers`."""
    predict = subparsers.add_parser(
        "predict", help="top-k classes of image files with a run folder's model"
    )
    predict.add_argument("run", help="run folder of `keras-resnets train` (or a .keras in one)")
    predict.add_argument("images", nargs="+", help=f"image files ({IMAGE_FORMATS})")
    predict.add_argument("--top-k", type=positive_int, default=5, help="classes shown per image (default 5)")
    which = predict.add_mutually_exclusive_group()
    which.add_argument("--best", dest="which", action="store_const", const="best",
                       help="use best.keras (the default)")
    which.add_argument("--last", dest="which", action="store_const", const="last",
                       help="use last.keras")
    predict.set_defaults(which="best")
    predict.add_argument("--batch-size", type=positive_int, default=32, help="images per model call")
    predict.add_argument("--json", action="store_true", help="one JSON object per image and line")
    predict.add_argument("--runtime", choices=RUNTIMES, default="keras",
                         help="keras: the Keras model on KERAS_BACKEND; openvino: converted and "
                         "run by the OpenVINO runtime (pip install \"keras-resnets[deploy]\"; "
                         "default: %(default)s)")
    predict.add_argument("--precision", choices=("float32", "bfloat16"), default=None,
                         help="OpenVINO's inference precision (--runtime openvino; default: "
                         "float32, the Keras model's top-1)")
    return predict


def format_prediction(result):
    """One human-readable line: `path: name 0.9123, name 0.0456, ...`."""
    classes = ", ".join(
        f"{p['class_name']} {p['probability']:.4f}" for p in result["predictions"]
    )
    return f"{result['path']}: {classes}"


def run_predict(args):
    """Runs `keras-resnets predict` for parsed `args`; prints one line per
    image and returns the exit status (0). Warnings (e.g. unknown class
    names) go to stderr as one line each."""
    import sys

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        predictor = load_run(args.run, which=args.which,
                             runtime=getattr(args, "runtime", "keras"),
                             precision=getattr(args, "precision", None))
    for w in caught:
        print(f"keras-resnets: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    results = predictor.predict_files(
        args.images, top_k=args.top_k, batch_size=getattr(args, "batch_size", 32)
    )
    for result in results:
        print(json.dumps(result) if args.json else format_prediction(result))
    return 0
