"""Random search over Wide ResNets with the HyperModel and keras_tuner directly.

Tiny by default (512 CIFAR-10 training images, 3 trials of 1 epoch on the CPU):

    python examples/tune_wrn_random_search.py [--data ../shared/data/cifar10-jpg.tar.gz]
        [--trials 3] [--train 512] [--epochs 1]

For the full pipeline (configs, resuming, results table, best config) use
`keras-resnets tune configs/tuning/wrn-16-4_cifar10_random.yaml`.
"""

import argparse
import importlib.util

import keras_tuner

from keras_resnets import data
from keras_resnets.tuning import WideResNetHyperModel
from keras_resnets.tuning.tuners import recording_tuner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10-jpg.tar.gz")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--train", type=int, default=512, help="training images")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--directory", default="runs/examples/tune_wrn")
    args = parser.parse_args()

    splits, info = data.load_arrays(args.data, validation_size=256)
    x_train, y_train = splits["train"][0][: args.train], splits["train"][1][: args.train]
    x_val, y_val = splits["validation"]
    # The CIFAR pipeline (pad-and-crop, flips, normalisation) for one batch size.
    mean, std = data.compute_mean_std(x_train)

    def datasets(batch_size):
        kwargs = dict(batch_size=batch_size, preset="cifar", mean=mean, std=std)
        return {
            "train": data.make_dataset(x_train, y_train, training=True, seed=0, **kwargs),
            "validation": data.make_dataset(x_val, y_val, training=False, **kwargs),
        }

    hypermodel = WideResNetHyperModel(
        search_space={
            "depth": [10, 16],
            "k": {"min": 1, "max": 4},
            "dropout_rate": 0.3,
            "learning_rate": {"min": 0.01, "max": 0.2, "sampling": "log"},
            "batch_size": 64,
            "epochs": args.epochs,
        },
        num_classes=info.num_classes,
        input_shape=info.image_shape,
        max_params=1.5e6,  # larger models are pruned before training
    )
    tuner_cls = keras_tuner.RandomSearch
    if importlib.util.find_spec("tensorboard") is None:
        # keras-tuner 1.4 imports tensorboard in every trial on the TensorFlow
        # backend; this subclass skips that when no TensorBoard callback is used.
        tuner_cls = recording_tuner(keras_tuner.RandomSearch)
    tuner = tuner_cls(
        hypermodel,
        objective="val_accuracy",
        max_trials=args.trials,
        max_consecutive_failed_trials=args.trials + 1,  # pruned trials count as failed
        directory=args.directory,
        project_name="random_search",
        seed=0,
    )
    tuner.search_space_summary()
    # `fit(hp, model, x)` calls `datasets(batch_size)` with the trial's batch size.
    tuner.search(datasets, verbose=2)
    tuner.results_summary(num_trials=3)
    best = tuner.get_best_hyperparameters(1)[0]
    print("best:", hypermodel.model_section(best.values), best.values)


if __name__ == "__main__":
    main()
