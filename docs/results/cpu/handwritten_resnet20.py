"""A minimal hand-written functional Keras ResNet-20 (He 2015, option A
shortcuts), timed the way `keras-resnets benchmark` times a model, to check
that the package adds no overhead over plain Keras.

    python docs/results/cpu/handwritten_resnet20.py [--batch 128] [--steps 10]

It imports keras_resnets only for the timing loop, so TensorFlow runs with the
same settings (oneDNN on) for both. By default it uses keras.layers.
BatchNormalization, i.e. what a user writing the model by hand gets.
"""

import argparse
import json
import time

import keras
import numpy as np

from keras_resnets.benchmark import _StepTimer


def conv_bn(x, filters, strides, relu=True):
    x = keras.layers.Conv2D(filters, 3, strides, padding="same", use_bias=False,
                            kernel_initializer="he_normal")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return keras.layers.ReLU()(x) if relu else x


def resnet20(num_classes=10):
    inputs = keras.Input((32, 32, 3))
    x = conv_bn(inputs, 16, 1)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(x, filters, strides)
            y = conv_bn(y, filters, 1, relu=False)
            if strides == 2:  # option A: subsample and zero-pad channels
                x = keras.layers.MaxPooling2D(1, 2)(x)
                x = keras.layers.ZeroPadding3D(((0, 0), (0, 0), (filters // 4, filters // 4)))(
                    keras.layers.Reshape((x.shape[1], x.shape[2], x.shape[3], 1))(x)
                )
                x = keras.layers.Reshape((y.shape[1], y.shape[2], filters))(x)
            x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    model = resnet20()
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=(args.batch,)).astype("int32")
    total = args.steps + args.warmup
    timer = _StepTimer(args.warmup)
    model.fit(np.concatenate([x] * total), np.concatenate([y] * total),
              batch_size=args.batch, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    for _ in range(args.warmup):
        model.predict_on_batch(x)
    start = time.perf_counter()
    for _ in range(args.steps):
        model.predict_on_batch(x)
    infer = args.batch * args.steps / (time.perf_counter() - start)
    print(json.dumps({
        "model": "handwritten-keras-resnet-20",
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "train_images_per_sec": round(args.batch * timer.timed_steps / timer.elapsed, 1),
        "infer_images_per_sec": round(infer, 1),
    }))


if __name__ == "__main__":
    main()
