"""`python -m keras_resnets.fold MODEL`: images/s before and after folding."""

import argparse
import json
import time

import keras
import numpy as np

from keras_resnets.fold.folding import DTYPES
from keras_resnets.fold.folding import _functional_view
from keras_resnets.fold.folding import count_batch_norms
from keras_resnets.fold.folding import fold_batch_norm
from keras_resnets.errors import UserValueError


def benchmark_folding(
    model, *, batch_size=128, image_size=None, steps=10, warmup=2, repeats=3,
    jit_compile=None, dtype=None,
):
    """Inference images/s of a model before and after folding.

    Both models run `predict_on_batch` on the same in-memory float32 batch
    in one process, call by call in alternating order, so that a busy
    machine slows both alike; `repeats` rounds of `steps` calls each give
    one images/s figure per model per round. Speed does not depend on the
    BN statistics, so a freshly built registered model is as good as a
    trained one.

    Args:
        model: a registered model name (built with a linear classifier), or
            a functional/Sequential `keras.Model` (not compiled or changed:
            a functional view of its graph is what runs).
        batch_size: int. Defaults to 128.
        image_size: int, for a model name; default 224 for ImageNet models,
            else 32.
        steps: int, timed calls per round.
        warmup: int, untimed calls per model first.
        repeats: int, rounds.
        jit_compile: bool or None (then
            `keras_resnets.runtime.default_jit_compile()`).
        dtype: `fold_batch_norm`'s dtype. With "bfloat16" or "float16" and
            a model name, the original is built with the matching mixed
            policy (as trained), so the figure is what the true
            low-precision model gains over the mixed one.

    Returns:
        dict: model, backend, processor, batch_size, input_shape,
        batch_norms (in the model), folded_batch_norms (how many
        disappeared), original_images_per_s and folded_images_per_s (one
        number per round), speedup (median over the rounds of folded /
        original), max_abs_diff (between the two models' outputs on the
        batch).
    """
    import keras_resnets
    from keras_resnets.runtime import default_jit_compile
    from keras_resnets.runtime import processor_info

    for arg, value in (("batch_size", batch_size), ("steps", steps), ("warmup", warmup),
                       ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserValueError(
                f"Invalid value received for argument `{arg}`. Expected an "
                f"integer >= 1. Received: {arg}={value!r}"
            )
    if isinstance(model, str):
        spec = keras_resnets.get_spec(model)
        size = image_size or (224 if spec.dataset == "imagenet" else 32)
        model = keras_resnets.create_model(
            spec.name, input_shape=(size, size, 3), classifier_activation="linear",
            dtype=f"mixed_{dtype}" if dtype in ("bfloat16", "float16") else dtype,
        )
        name = spec.name
    else:
        name = getattr(model, "name", None)
    if jit_compile is None:
        jit_compile = default_jit_compile()
    original = _functional_view(model)
    folded = fold_batch_norm(model, dtype=dtype)
    input_shape = tuple(original.input_shape[1:])
    x = np.random.default_rng(0).random((batch_size,) + input_shape, dtype=np.float32)
    runs = {"original": original, "folded": folded}
    for m in runs.values():
        m.compile(jit_compile=jit_compile)
        for _ in range(warmup):
            m.predict_on_batch(x)
    rates = {key: [] for key in runs}
    for _ in range(repeats):
        seconds = {key: 0.0 for key in runs}
        for step in range(steps):
            # Call by call, in alternating order: a change in the machine's
            # load hits both models alike.
            for key in runs if step % 2 == 0 else reversed(list(runs)):
                start = time.perf_counter()
                np.asarray(runs[key].predict_on_batch(x))
                seconds[key] += time.perf_counter() - start
        for key in runs:
            rates[key].append(round(batch_size * steps / seconds[key], 1))
    as_float = lambda out: np.asarray(keras.ops.convert_to_numpy(out), dtype="float32")
    diff = np.abs(
        as_float(original.predict_on_batch(x)) - as_float(folded.predict_on_batch(x))
    ).max()
    total = count_batch_norms(model)
    return {
        "model": name,
        "backend": keras.backend.backend(),
        "processor": processor_info()["name"],
        "batch_size": batch_size,
        "input_shape": input_shape,
        "dtype": dtype,
        "batch_norms": total,
        "folded_batch_norms": total - count_batch_norms(folded),
        "original_images_per_s": rates["original"],
        "folded_images_per_s": rates["folded"],
        "speedup": round(
            float(np.median(np.divide(rates["folded"], rates["original"]))), 3
        ),
        "max_abs_diff": float(diff),
    }


def main(argv=None):
    """`python -m keras_resnets.fold MODEL [MODEL ...]`: prints one line per
    model with images/s before and after folding."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_resnets.fold",
        description="Inference images/s of registered models before and after "
        "fold_batch_norm, measured back to back in one process.",
    )
    parser.add_argument("model", nargs="+", help="registered model name(s)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input size (default 32 for CIFAR models, 224 for ImageNet)")
    parser.add_argument("--steps", type=int, default=10, help="timed calls per round and model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--repeats", type=int, default=3, help="rounds")
    parser.add_argument("--dtype", default=None, choices=DTYPES,
                        help="dtype of the folded model; bfloat16/float16 compare it with "
                        "the model under the matching mixed policy (default: unchanged)")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args(argv)
    for name in args.model:
        result = benchmark_folding(
            name, batch_size=args.batch, image_size=args.image_size, steps=args.steps,
            warmup=args.warmup, repeats=args.repeats, dtype=args.dtype,
        )
        if args.json:
            print(json.dumps(result))
            continue
        fmt = lambda rates: "/".join(f"{r:,.0f}" for r in rates)
        print(
            f"{result['model']} ({result['backend']}, {result['processor']}, batch "
            f"{result['batch_size']} of {'x'.join(map(str, result['input_shape']))}"
            f"{', folded to ' + result['dtype'] if result['dtype'] else ''}): "
            f"{result['folded_batch_norms']} of {result['batch_norms']} BNs folded; "
            f"images/s {fmt(result['original_images_per_s'])} -> "
            f"{fmt(result['folded_images_per_s'])} ({result['speedup']}x); "
            f"max abs diff {result['max_abs_diff']:.1e}"
        )
    return 0

