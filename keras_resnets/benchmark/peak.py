"""The machine's matmul peak, measured inside one framework's process:
`python -m keras_resnets.benchmark.compare --measure-peak torch|tensorflow`
runs `measure_peak_here` (`compare.measure_peaks` starts one such
process per framework and keeps the best).
"""

import os
import time

from keras_resnets.errors import UserValueError

# The matmul dtype whose peak a run's precision is measured against.
PEAK_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "bfloat16": "bfloat16",
               "mixed_float16": "float16"}


def measure_peak_here(framework, dtypes, size, repeats, threads):
    """GFLOP/s of a `size` x `size` matmul per dtype (best of `repeats`
    after one untimed call), in this process. Returns {dtype: GFLOP/s,
    "version": ...}."""
    result = {}
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        result["version"] = f"torch {torch.__version__}"
        for dtype in dtypes:
            a = torch.randn(size, size, device=device).to(getattr(torch, dtype))
            b = torch.randn(size, size, device=device).to(getattr(torch, dtype))
            matmul = lambda: (torch.mm(a, b), sync())
            result[dtype] = _best_gflops(matmul, size, repeats)
    elif framework == "tensorflow":
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
        import tensorflow as tf

        result["version"] = f"tensorflow {tf.__version__}"
        for dtype in dtypes:
            a = tf.cast(tf.random.normal((size, size)), dtype)
            b = tf.cast(tf.random.normal((size, size)), dtype)
            matmul = lambda: tf.linalg.matmul(a, b)[0, 0].numpy()
            result[dtype] = _best_gflops(matmul, size, repeats)
    else:
        raise UserValueError(f"Unknown framework {framework!r}; expected 'torch' or 'tensorflow'.")
    return result


def _best_gflops(fn, size, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return round(2 * size**3 / best / 1e9, 1)
