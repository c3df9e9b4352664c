"""Throughput benchmark: `keras-resnets benchmark MODEL`.

Times the same compiled train step `model.fit` uses (forward + backward +
SGD update) and the compiled predict step on synthetic data that is already
in memory, so the input pipeline is not measured. The backend is the one in
`KERAS_BACKEND`. Keras and NumPy are imported inside the functions; the
command line's arguments are defined in `cli.py`.

`--runtime openvino` (`run_openvino_benchmark`) times inference only: the
model exported with Keras's exporter and compiled by the OpenVINO runtime
for a static batch shape (`inference.openvino.OpenVINOModel`), at the batch
size (images/s) and at batch 1 (latency).
"""

import json
import resource
import time

from keras_resnets.errors import UserValueError

# FLOPs per image and forward multiply-add: a multiply and an add (2); a
# training step also does the two backward products (x 3).
FLOPS_PER_MAC = {"train": 2 * 3, "infer": 2}


def gflops(images_per_sec, macs_per_image, kind):
    """GFLOP/s of `kind` ("train" or "infer") at `images_per_sec` for a
    model of `macs_per_image` forward multiply-adds."""
    return images_per_sec * macs_per_image * FLOPS_PER_MAC[kind] / 1e9


def _peak_memory_mb():
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "gpu":
                return device.memory_stats()["peak_bytes_in_use"] / 2**20
    except Exception:  # memory stats are best effort
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step_timer(warmup):
    """A callback timing the train steps after the first `warmup`."""
    import keras

    class _StepTimer(keras.callbacks.Callback):
        def __init__(self, warmup):
            super().__init__()
            self.warmup = warmup
            self.start = None
            self.timed_steps = 0

        # With steps_per_execution N, Keras calls this once per N steps with
        # the index of the last one: count steps by index, not by calls.
        def on_train_batch_end(self, batch, logs=None):
            if self.start is None:
                if batch + 1 >= self.warmup:
                    self.start, self.first = time.perf_counter(), batch
            else:
                self.timed_steps = batch - self.first

        def on_train_end(self, logs=None):
            self.elapsed = time.perf_counter() - self.start

    return _StepTimer(warmup)


def _infer_rate(model, x, warmup, steps):
    """Images/s of `predict_on_batch` on `x`, after `warmup` calls."""
    import numpy as np

    for _ in range(warmup):
        model.predict_on_batch(x)
    start = time.perf_counter()
    for _ in range(steps):
        out = model.predict_on_batch(x)
    np.asarray(out)
    return len(x) * steps / (time.perf_counter() - start)


def _logits_model(model_name, image_size, num_classes, model_kwargs):
    """The registered model `model_name` at `image_size`, with logits out
    (what both runtimes time)."""
    import keras_resnets

    return keras_resnets.create_model(
        model_name,
        input_shape=(image_size, image_size, 3),
        classifier_activation="linear",
        num_classes=num_classes,
        **(model_kwargs or {}),
    )


def run_benchmark(
    model_name,
    *,
    batch_size=128, image_size=32,
    steps=20, warmup=5,
    precision="auto",
    jit_compile=None,
    num_classes=None,
    model_kwargs=None,
    steps_per_execution=1,
    augment_on="host",
):
    """Builds `model_name` and measures training and inference images/second.

    Returns a dict: model, backend, precision, jit_compile, batch_size,
    image_size, trainable_params, macs_per_image, train_images_per_sec,
    train_gflops (`gflops`: multiply-adds x 2 x 3 per image), infer_images_per_sec,
    infer_folded_images_per_sec and infer_folded_dtype (the deployment model:
    `fold_batch_norm(model, dtype=...)`, a true bfloat16/float16 model when
    `precision` is a mixed one, else float32), peak_memory_mb,
    steps_per_execution and augment_on.

    `steps_per_execution` is `model.compile`'s. `augment_on="device"` feeds
    uint8 batches to the model wrapped as `data.augment_on: device` trains
    it (`training.device_input`: CIFAR normalisation, pad-crop and flip in
    the train step), so the training figure includes the augmentation and
    ships a quarter of the bytes; with `"host"` the batches are float32 and
    nothing is augmented. Inference is always the model alone on float32.
    """
    import keras
    import numpy as np

    import keras_resnets
    from keras_resnets.data.build import device_preprocessing
    from keras_resnets.fold import fold_batch_norm
    from keras_resnets.runtime import default_jit_compile
    from keras_resnets.runtime import onednn_enabled
    from keras_resnets.runtime import processor_info
    from keras_resnets.runtime import resolve_precision
    from keras_resnets.training.device_input import DeviceAugmentedModel

    requested = precision
    precision = resolve_precision(precision)
    if min(steps, warmup, batch_size, steps_per_execution) < 1 or steps < steps_per_execution:
        raise UserValueError(
            "`steps`, `warmup`, `batch_size` and `steps_per_execution` must be >= 1, "
            "and `steps` >= `steps_per_execution` (timing starts at a call boundary). "
            f"Received: steps={steps}, warmup={warmup}, batch_size={batch_size}, "
            f"steps_per_execution={steps_per_execution}"
        )
    if steps_per_execution != 1 and keras.backend.backend() == "torch":
        raise UserValueError(
            "`steps_per_execution` must be 1 on the PyTorch backend (Keras runs its "
            f"train step one step at a time). Received: steps_per_execution={steps_per_execution}"
        )
    if augment_on not in ("host", "device"):
        raise UserValueError(
            "`augment_on` must be 'host' or 'device'. Received: "
            f"augment_on={augment_on!r}"
        )
    if jit_compile is None:
        jit_compile = default_jit_compile()
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = _logits_model(model_name, image_size, num_classes, model_kwargs)
        classes = model.output_shape[-1]
        trained = model
        rng = np.random.default_rng(0)
        x = rng.random((batch_size, image_size, image_size, 3), dtype=np.float32)
        y = rng.integers(0, classes, size=(batch_size,)).astype("int32")
        x_train = x
        if augment_on == "device":
            trained = DeviceAugmentedModel(
                model, device_preprocessing("cifar", "cifar10", "cifar10", 4, "constant"),
                seed=0,
            )
            x_train = (x * 255).astype(np.uint8)
        trained.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
        )
        # The same batch repeated: in-memory arrays, no tensorflow needed
        # (GPU machines may only have the JAX or PyTorch backend).
        total = warmup + steps
        xs = np.concatenate([x_train] * total)
        ys = np.concatenate([y] * total)
        timer = _step_timer(warmup)
        trained.fit(
            xs, ys, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
            callbacks=[timer],
        )
        del xs, ys
        train_ips = batch_size * timer.timed_steps / timer.elapsed

        infer_ips = _infer_rate(model, x, warmup, steps)
        peak_memory = _peak_memory_mb()  # of the model as trained
        # The deployment model: BNs folded and, under a mixed policy, a true
        # low-precision model (weights cast once) in its compute dtype.
        folded_dtype = keras.DTypePolicy(precision).compute_dtype
        folded = fold_batch_norm(model, dtype=folded_dtype)
        folded.compile(jit_compile=jit_compile)
        folded_ips = _infer_rate(folded, x, warmup, steps)
        macs = keras_resnets.count_flops(model)
        return {
            "model": model_name,
            "backend": keras.backend.backend(),
            "precision": precision,
            "precision_requested": requested,
            "processor": processor_info(),
            "jit_compile": bool(jit_compile),
            "onednn": onednn_enabled(),
            "batch_size": batch_size,
            "image_size": image_size,
            "trainable_params": keras_resnets.count_trainable_params(model),
            "macs_per_image": macs,
            "train_images_per_sec": round(train_ips, 1),
            "train_gflops": round(gflops(train_ips, macs, "train"), 1),
            "infer_images_per_sec": round(infer_ips, 1),
            "infer_folded_images_per_sec": round(folded_ips, 1),
            "infer_folded_dtype": folded_dtype,
            "peak_memory_mb": round(peak_memory, 1),
            "steps_per_execution": steps_per_execution,
            "augment_on": augment_on,
        }
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _median_seconds(call, warmup, steps):
    """The median seconds of `call()` over `steps` calls after `warmup`."""
    import statistics

    for _ in range(warmup):
        call()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def openvino_precision(precision):
    """OpenVINO's inference precision for a `--precision` value: "auto"
    gives bfloat16 where the CPU has bfloat16 units (`runtime.
    cpu_has_bf16_units`), float32 elsewhere; the mixed and pure bfloat16
    policies give bfloat16."""
    from keras_resnets.runtime import cpu_has_bf16_units

    if precision in (None, "auto"):
        return "bfloat16" if cpu_has_bf16_units() else "float32"
    if precision in ("mixed_bfloat16", "bfloat16"):
        return "bfloat16"
    if precision == "float32":
        return "float32"
    raise UserValueError(
        "OpenVINO inference runs in float32 or bfloat16: `--precision` must be auto, "
        f"float32, mixed_bfloat16 or bfloat16 with --runtime openvino. Received: "
        f"precision={precision!r}"
    )


def run_openvino_benchmark(
    model_name,
    *,
    precision="auto",
    hint="latency",
    threads=None,
    batch_size=128, image_size=32,
    steps=20, warmup=5, latency_steps=None,
    num_classes=None,
    model_kwargs=None,
):
    """Inference images/second of `model_name` in the OpenVINO runtime.

    The model (`create_model`, logits) is exported with Keras's exporter
    and compiled for a static `(batch_size, image_size, image_size, 3)`
    input with OpenVINO's inference precision and performance hints
    (`inference.openvino.OpenVINOModel`). Each figure is the median over
    `steps` synchronous calls after `warmup` (as the PyTorch reference
    script times them); with `hint="throughput"` the images/s is instead
    the rate of `steps` batches per infer request kept in flight by an
    `AsyncInferQueue` of OpenVINO's optimal number of requests.

    Returns a dict: model, runtime ("openvino"), openvino (version),
    backend (the Keras backend that exported it), precision (the inference
    precision), precision_requested, hint, threads, processor, batch_size,
    image_size, trainable_params, macs_per_image, export_seconds,
    infer_images_per_sec, infer_gflops, latency_ms_batch1 (the median of
    `latency_steps` single-image calls, default `max(10, steps)`, compiled
    with the latency hint), train_images_per_sec (None: not measured).
    """
    import keras
    import numpy as np

    import keras_resnets
    from keras_resnets.inference import openvino
    from keras_resnets.runtime import processor_info

    ov = openvino.require_openvino()
    requested = precision
    precision = openvino_precision(precision)
    if min(steps, warmup, batch_size) < 1:
        raise UserValueError(
            "`steps`, `warmup` and `batch_size` must be >= 1. Received: "
            f"steps={steps}, warmup={warmup}, batch_size={batch_size}"
        )
    model = _logits_model(model_name, image_size, num_classes, model_kwargs)
    start = time.perf_counter()
    runner = openvino.OpenVINOModel(model, precision=precision, threads=threads, hint=hint)
    export_seconds = time.perf_counter() - start
    x = np.random.default_rng(0).random((batch_size, image_size, image_size, 3), np.float32)
    compiled, request = runner.compiled(batch_size)
    if hint == "throughput":
        queue = ov.AsyncInferQueue(compiled, compiled.get_property(
            "OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        for _ in range(warmup * len(queue)):
            queue.start_async({0: x})
        queue.wait_all()
        start = time.perf_counter()
        for _ in range(steps * len(queue)):
            queue.start_async({0: x})
        queue.wait_all()
        infer_ips = batch_size * steps * len(queue) / (time.perf_counter() - start)
    else:
        infer_ips = batch_size / _median_seconds(lambda: request.infer({0: x}), warmup, steps)
    _, request_1 = runner.compiled(1, hint="latency")
    latency = _median_seconds(lambda: request_1.infer({0: x[:1]}), warmup,
                              latency_steps or max(10, steps))
    macs = keras_resnets.count_flops(model)
    return {
        "model": model_name,
        "runtime": "openvino",
        "openvino": ov.__version__,
        "backend": keras.backend.backend(),
        "precision": precision,
        "precision_requested": requested,
        "hint": hint,
        "threads": runner.threads,
        "processor": processor_info(),
        "batch_size": batch_size,
        "image_size": image_size,
        "trainable_params": keras_resnets.count_trainable_params(model),
        "macs_per_image": macs,
        "export_seconds": round(export_seconds, 1),
        "infer_images_per_sec": round(infer_ips, 1),
        "infer_gflops": round(gflops(infer_ips, macs, "infer"), 1),
        "latency_ms_batch1": round(latency * 1000, 2),
        "train_images_per_sec": None,
    }


def format_table(results):
    """A markdown table of `run_benchmark` results; the processor (the same
    for every row) is printed once above it."""
    keys = [k for k in results[0] if k != "processor"]
    rows = [[str(r[k]) for k in keys] for r in results]
    widths = [max(len(k), *(len(row[i]) for row in rows)) for i, k in enumerate(keys)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(keys), sep] + [line(r) for r in rows])


def run_from_args(args):
    import keras_resnets

    runtime = getattr(args, "runtime", "keras")
    if runtime != "openvino" and (args.threads is not None or args.hint is not None):
        raise UserValueError(
            "`--threads` and `--hint` apply to --runtime openvino only. Received: "
            f"--runtime {runtime}, --threads {args.threads}, --hint {args.hint}"
        )
    if runtime == "openvino" and (args.jit_compile is not None or args.steps_per_execution != 1
                                  or args.augment_on != "host"):
        raise UserValueError(
            "`--jit`, `--steps-per-execution` and `--augment-on` time Keras training, which "
            "--runtime openvino does not run (it times inference only)."
        )
    results = []
    for name in args.model:
        spec = keras_resnets.get_spec(name)
        size = args.image_size if args.image_size is not None else (
            224 if spec.dataset == "imagenet" else 32)
        batch = args.batch if args.batch is not None else (16 if size >= 128 else 128)
        if runtime == "openvino":
            results.append(run_openvino_benchmark(
                spec.name, batch_size=batch, image_size=size, steps=args.steps,
                warmup=args.warmup, precision=args.precision, threads=args.threads,
                hint=args.hint or "latency",
            ))
            continue
        results.append(
            run_benchmark(
                spec.name, batch_size=batch, image_size=size, steps=args.steps,
                warmup=args.warmup, precision=args.precision, jit_compile=args.jit_compile,
                steps_per_execution=args.steps_per_execution, augment_on=args.augment_on,
            )
        )
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    else:
        processor = results[0]["processor"]
        print(f"processor: {processor['name']} (bf16 units: {processor['bf16_units']}"
              f"{', ' + processor['accelerator'] if processor['accelerator'] else ''})")
        print(format_table(results))
    return 0
