"""Random search over Wide ResNets with the HyperModel and keras_tuner directly.

Tiny by default (512 CIFAR-10 training images, 256 held out for scoring, 3 trials of
1 epoch on the CPU):

    python examples/tune_wrn_random_search.py [--data PATH] [--trials 3] [--train 512]
        [--validation 256] [--epochs 1] [--max-params 1.5e6] [--directory DIR]

`--data` defaults to the lossless CIFAR-10 beside the repository
(../shared/data/cifar10.npz) where it exists, else to the tensorflow-datasets name
`cifar10` (downloaded once). Trials whose model has more than `--max-params` trainable
parameters are pruned before training (one line each). The script prints the best
completed trial and exits with status 1, naming why, when no trial completed. Each run
starts the search afresh in `--directory`.

For the full pipeline (configs, resuming, results table, a best config for a full run)
use `keras-resnets tune configs/tuning/wrn-16-4_cifar10_random.yaml`.
"""

import argparse
import functools
import pathlib
import sys

import keras_resnets

keras_resnets.hide_backend_logs()  # as the CLI does; before keras is imported

import keras_tuner  # noqa: E402

from keras_resnets import data  # noqa: E402
from keras_resnets.tuning import SearchFailedError  # noqa: E402
from keras_resnets.tuning import WideResNetHyperModel  # noqa: E402
from keras_resnets.tuning.results import best_completed  # noqa: E402
from keras_resnets.tuning.results import format_markdown  # noqa: E402
from keras_resnets.tuning.results import results_table  # noqa: E402
from keras_resnets.tuning.tuners import recording_tuner  # noqa: E402

SHARED_CIFAR10 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10.npz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_CIFAR10) if SHARED_CIFAR10.is_file()
                        else "cifar10", help="tfds name or local path (default: %(default)s)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--train", type=int, default=512, help="training images")
    parser.add_argument("--validation", type=int, default=256,
                        help="images held out of the training set to score the trials")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-params", type=float, default=1.5e6,
                        help="larger models are pruned before training (default: %(default)g)")
    parser.add_argument("--directory", default="runs/examples/tune_wrn")
    args = parser.parse_args()

    @functools.cache
    def datasets(batch_size):
        # The CIFAR pipeline (pad-and-crop, flips, normalisation) for a trial's
        # batch size: `ResidualHyperModel.fit` calls it and takes `train`,
        # `validation` and `steps_per_epoch` from the `data.Datasets` it returns.
        return data.build_datasets(
            args.data, batch_size=batch_size, validation_size=args.validation,
            train_limit=args.train, test_limit=args.validation, seed=0,
            repeat=True, drop_remainder=True,
        )

    hypermodel = WideResNetHyperModel(
        search_space={
            "depth": [10, 16],
            "k": {"min": 1, "max": 4},
            "dropout_rate": 0.3,
            "learning_rate": {"min": 0.01, "max": 0.2, "sampling": "log"},
            "batch_size": 64,
            "epochs": args.epochs,
        },
        num_classes=datasets(64).num_classes,
        input_shape=datasets(64).input_shape,
        max_params=args.max_params,
    )
    # `recording_tuner` adds what the `tune` command records: each trial's
    # status, parameters, time and error, and one line per pruned trial.
    tuner = recording_tuner(keras_tuner.RandomSearch)(
        hypermodel,
        objective="val_accuracy",
        max_trials=args.trials,
        max_consecutive_failed_trials=args.trials + 1,  # pruned trials count as failed
        directory=args.directory,
        project_name="random_search",
        overwrite=True,
        seed=0,
    )
    tuner.search_space_summary()
    tuner.search(datasets, verbose=2)
    rows = results_table(tuner, hypermodel)
    print(format_markdown(rows))
    try:
        best = best_completed(rows, max_params=args.max_params, where=tuner.project_dir)
    except SearchFailedError as error:
        sys.exit(f"error: {error}")
    values = {name: h.default for name, h in hypermodel.space.items()}
    values.update(best["hyperparameters"])
    print(f"best: trial {best['trial']}, val_accuracy {best['objective']:.4f}, "
          f"{best['params']} parameters: {hypermodel.model_section(values)} {best['hyperparameters']}")


if __name__ == "__main__":
    main()
