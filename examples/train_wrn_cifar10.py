"""Train a Wide ResNet on CIFAR-10 with plain `model.fit` (Zagoruyko & Komodakis 2016).

The paper's recipe (arXiv:1605.07146, Sec. 4): SGD with Nesterov momentum 0.9, coupled
weight decay 5e-4, batch 128, lr 0.1 x 0.2 at epochs 60/120/160, 200 epochs. The defaults
here are tiny so the script runs in a minute on a CPU; for the paper's WRN-28-10 (4.17%):

    python examples/train_wrn_cifar10.py --model wrn-28-10 --epochs 200 --limit 0

`--data` defaults to the lossless CIFAR-10 beside the repository
(../shared/data/cifar10.npz) where it exists, else to the tensorflow-datasets name
`cifar10` (downloaded once). The model outputs logits (`classifier_activation=None`).
"""

import argparse
import pathlib

import keras_resnets

keras_resnets.hide_backend_logs()  # as the CLI does; before keras is imported

import keras  # noqa: E402

from keras_resnets import data  # noqa: E402
from keras_resnets import training  # noqa: E402

SHARED_CIFAR10 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10.npz"

parser = argparse.ArgumentParser()
parser.add_argument("--data", default=str(SHARED_CIFAR10) if SHARED_CIFAR10.is_file() else "cifar10",
                    help="tfds name or local path (default: %(default)s)")
parser.add_argument("--model", default="wrn-16-4")
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--limit", type=int, default=1024, help="training images (0 = all)")
args = parser.parse_args()

splits, info = data.load_arrays(args.data)
(x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
if args.limit:  # a quick run: the first `limit` training and limit/4 test images
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_test, y_test = x_test[: args.limit // 4], y_test[: args.limit // 4]
mean, std = data.compute_mean_std(x_train)
pipeline = dict(preset="cifar", mean=mean, std=std, padding_mode="reflect")
train_ds = data.make_dataset(x_train, y_train, batch_size=args.batch_size, training=True,
                             seed=0, **pipeline)
test_ds = data.make_dataset(x_test, y_test, batch_size=256, training=False, **pipeline)

steps_per_epoch = -(-len(y_train) // args.batch_size)
epoch = lambda e: int(e * args.epochs / 200 * steps_per_epoch)  # noqa: E731 (paper epochs)
schedule = training.MultiStepDecay(0.1, [epoch(60), epoch(120), epoch(160)], gamma=0.2)
model = keras_resnets.create_model(
    args.model, num_classes=info.num_classes, input_shape=info.image_shape,
    classifier_activation=None,
)
model.compile(
    optimizer=training.SGD(schedule, momentum=0.9, nesterov=True, coupled_weight_decay=5e-4),
    loss=training.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
)
model.fit(train_ds, epochs=args.epochs, validation_data=test_ds, shuffle=False)
loss, accuracy = model.evaluate(test_ds, verbose=0)
print(f"{args.model}: test accuracy {100 * accuracy:.2f}% (error {100 * (1 - accuracy):.2f}%)")
