"""Inference through the OpenVINO runtime: `OpenVINOModel`.

A Keras model goes to OpenVINO's intermediate representation (IR: an
`.xml` graph and a `.bin` of weights) through Keras's own exporter,
`model.export(path, format="openvino")` (Keras 3.15). On TensorFlow it
traces the model into a TensorFlow function and converts it with
`openvino.convert_model`; on PyTorch it converts a `torch.jit.trace`; on
Keras's own `openvino` backend it builds the graph directly. On JAX it goes
through jax2tf, whose output (one `XlaCallModule` op: JAX 0.10 serializes
natively only) OpenVINO cannot convert: a one-line ValueError says to
export from TensorFlow or PyTorch (the `.keras` file loads on any backend).
The IR has a dynamic batch dimension.

The runtime is then used directly (`openvino.Core().compile_model`), not
through Keras's `openvino` backend, whose `predict_on_batch` was measured
several times slower (issue 25): `OpenVINOModel` compiles the graph for
each batch size it is given (a static shape, kept for the next call), with
an explicit inference precision (`"float32"`, or `"bfloat16"`: OpenVINO's
CPU plugin computes in bfloat16 on processors with bfloat16 units, and
picks it by default there, so float32 must be asked for) and a thread count
(default: the physical cores, as OpenVINO's latency mode counts them).

Batch-norm folding is not needed before the export: OpenVINO's converter
folds every inference BatchNormalization into the preceding convolution
itself (ResNet-20: the same 143 IR operations, and the same 136 compiled
ones, from the model and from `fold_batch_norm(model)`).

`openvino` is an optional dependency: `pip install "keras-resnets[deploy]"`.
Nothing here imports it (or Keras) at import time.
"""

import os
import pathlib
import tempfile

import numpy as np

from keras_resnets.errors import MissingExtraError
from keras_resnets.errors import UserTypeError
from keras_resnets.errors import UserValueError

DEPLOY_EXTRA = 'pip install "keras-resnets[deploy]"'
PRECISIONS = ("float32", "bfloat16")
HINTS = ("latency", "throughput")
_OV_PRECISION = {"float32": "f32", "bfloat16": "bf16"}
_MAX_COMPILED = 4  # batch sizes kept compiled at once


def require_openvino():
    """The `openvino` module; a one-line ImportError naming the extra that
    installs it when it is missing."""
    try:
        import openvino
    except ImportError:
        raise MissingExtraError(
            f"The OpenVINO runtime is not installed: {DEPLOY_EXTRA} (or pip install openvino)."
        ) from None
    return openvino


def check_precision(precision):
    if precision not in PRECISIONS:
        raise UserValueError(
            "Invalid value received for argument `precision`. OpenVINO inference runs in "
            f"one of {PRECISIONS}. Received: precision={precision!r}"
        )
    return precision


def physical_cores():
    """Physical cores among the CPUs this process may use (hyper-threads
    counted once); the CPU count where the topology is unknown."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        siblings = pathlib.Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def export_openvino(model, path, *, verbose=False):
    """Writes a Keras model as OpenVINO IR (`path`, ending in `.xml`, and the
    `.bin` beside it) with Keras's exporter and a dynamic batch size.

    Args:
        model: a built `keras.Model` with one image input.
        path: the `.xml` file to write.
        verbose: let Keras print its export message.

    Returns:
        `path`, as a str.
    """
    import keras

    require_openvino()
    path = os.fspath(path)
    if not path.endswith(".xml"):
        raise UserValueError(
            "OpenVINO IR is an .xml file (with a .bin beside it). Expected a path ending "
            f"in .xml. Received: path={path!r}"
        )
    signature = [
        keras.InputSpec(shape=(None,) + tuple(t.shape[1:]), dtype=t.dtype, name=t.name)
        for t in model.inputs
    ]
    try:
        model.export(path, format="openvino", verbose=verbose,
                     input_signature=[signature[0] if len(signature) == 1 else signature])
    except Exception as error:
        if keras.backend.backend() != "jax" or "XlaCallModule" not in str(error):
            raise
        # jax2tf now always serializes natively (one XlaCallModule op), which
        # OpenVINO's TensorFlow frontend cannot convert.
        raise UserValueError(
            "OpenVINO export from the JAX backend fails: Keras's exporter goes through "
            "jax2tf, whose XlaCallModule op OpenVINO cannot convert. Export from "
            "KERAS_BACKEND=tensorflow (or torch); a .keras file loads on any backend."
        ) from None
    # A torch.jit trace leaves every input dimension dynamic: the IR gets the
    # Keras input's sizes (any batch), as the TensorFlow path writes them.
    ov = require_openvino()
    shape = ov.PartialShape([-1] + [-1 if d is None else int(d) for d in model.inputs[0].shape[1:]])
    ir = read_ir(path)
    if len(ir.inputs) == 1 and ir.inputs[0].get_partial_shape() != shape:
        ir.reshape({ir.inputs[0]: shape})
        ov.save_model(ir, path, compress_to_fp16=False)
    return path


def read_ir(path, core=None):
    """The `openvino.Model` of an IR `.xml` file, its weights read into memory
    (not memory-mapped: the files may then be replaced or removed)."""
    ov = require_openvino()
    weights = np.fromfile(os.path.splitext(os.fspath(path))[0] + ".bin", dtype=np.uint8)
    return (core or ov.Core()).read_model(pathlib.Path(path).read_text(), ov.Tensor(weights))


class OpenVINOModel:
    """A classifier compiled by the OpenVINO runtime, called like a Keras
    model (`predict_on_batch`), so `Predictor` and the benchmark use it
    unchanged.

    Args:
        source: a built `keras.Model` (exported with `export_openvino`
            through a temporary folder), the path of an OpenVINO IR `.xml`
            file (e.g. from `keras-resnets export ... --format openvino`),
            or an `openvino.Model` (e.g. another `OpenVINOModel`'s `model`,
            to compile it again in another precision without converting).
        precision: `"float32"` (the default; OpenVINO's
            `INFERENCE_PRECISION_HINT` f32, the Keras model's top-1) or
            `"bfloat16"` (bf16: fast on CPUs with bfloat16 units; float32
            where there are none).
        threads: int, inference threads; None: `physical_cores()`.
        hint: `"latency"` (the default: one stream using every thread on
            one batch at a time, as the PyTorch reference times it) or
            `"throughput"` (OpenVINO's streams; `async_rate` keeps several
            batches in flight).
        device: OpenVINO device name. Defaults to `"CPU"`.
        classifier_activation: what the network ends with, for `Predictor`
            (`"softmax"`, or `"linear"` for logits). None: the Keras
            model's own (an `.xml` or `openvino.Model` source is taken to
            give logits, as a run folder's models do).

    Attributes:
        name, input_shape, output_shape (`(None, ...)`, as Keras gives
        them), classifier_activation, precision, threads, hint, device,
        model (the `openvino.Model`), source_path.

    Example:
    >>> model = keras_resnets.create_model("resnet-20", weights="cifar10")
    >>> ov_model = OpenVINOModel(model, precision="bfloat16")
    >>> ov_model.predict_on_batch(np.zeros((8, 32, 32, 3), "float32")).shape
    (8, 10)
    """

    def __init__(self, source, *, precision="float32", threads=None, hint="latency",
                 device="CPU", classifier_activation=None):
        ov = require_openvino()
        check_precision(precision)
        if hint not in HINTS:
            raise UserValueError(
                f"Invalid value received for argument `hint`. Expected one of {HINTS}. "
                f"Received: hint={hint!r}"
            )
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise UserValueError(
                "Invalid value received for argument `threads`. Expected a positive int or "
                f"None. Received: threads={threads!r}"
            )
        self.precision, self.hint, self.device = precision, hint, device
        self.threads = threads or physical_cores()
        self._core = ov.Core()
        self._compiled = {}
        if isinstance(source, (str, os.PathLike)):
            path = pathlib.Path(source)
            if path.suffix != ".xml" or not path.is_file():
                raise UserValueError(
                    "Expected a keras.Model or an existing OpenVINO IR .xml file. "
                    f"Received: source={str(source)!r}"
                )
            self.model = self._core.read_model(str(path))
            self.name, self.source_path = path.stem, str(path)
            activation = classifier_activation or "linear"
        elif isinstance(source, ov.Model):
            self.model, self.name, self.source_path = source, source.get_friendly_name(), None
            activation = classifier_activation or "linear"
        elif hasattr(source, "export") and hasattr(source, "inputs"):  # a keras.Model
            from keras_resnets.inference.predictor import _output_activation

            self.model = self._convert(source)
            self.name, self.source_path = source.name, None
            activation = classifier_activation or _output_activation(source)
        else:
            raise UserTypeError(
                "`source` must be a keras.Model, the path of an OpenVINO IR .xml file or an "
                f"openvino.Model. Received: source={source!r}"
            )
        if len(self.model.inputs) != 1 or len(self.model.outputs) != 1:
            raise UserValueError(
                "Expected a model with one input and one output. Received: "
                f"{len(self.model.inputs)} inputs, {len(self.model.outputs)} outputs"
            )
        self.classifier_activation = activation
        self.input_shape = _keras_shape(self.model.inputs[0].get_partial_shape())
        self.output_shape = _keras_shape(self.model.outputs[0].get_partial_shape())

    def _convert(self, keras_model):
        """The `openvino.Model` of a Keras model, through Keras's exporter;
        the IR's weights are read into memory, so nothing is left on disk."""
        with tempfile.TemporaryDirectory(prefix="keras_resnets_ov_") as folder:
            return read_ir(export_openvino(keras_model, os.path.join(folder, "model.xml")),
                           self._core)

    def __repr__(self):
        return (f"OpenVINOModel(name={self.name!r}, precision={self.precision!r}, "
                f"threads={self.threads}, hint={self.hint!r}, device={self.device!r})")

    def config(self, hint=None):
        """The `compile_model` properties: performance hint (`hint`, default
        the model's), inference precision and threads."""
        return {
            "PERFORMANCE_HINT": (hint or self.hint).upper(),
            "INFERENCE_PRECISION_HINT": _OV_PRECISION[self.precision],
            "INFERENCE_NUM_THREADS": self.threads,
        }

    def compiled(self, batch_size, *, hint=None):
        """`(compiled model, infer request)` for a static batch size and a
        performance hint (default: the model's); compiled once, then kept
        (the `_MAX_COMPILED` most recent)."""
        key = (int(batch_size), hint or self.hint)
        if key not in self._compiled:
            if len(self._compiled) >= _MAX_COMPILED:
                self._compiled.pop(next(iter(self._compiled)))
            model = self.model.clone()
            shape = [d.get_length() if d.is_static else -1
                     for d in self.model.inputs[0].get_partial_shape()]
            shape[0] = key[0]
            model.reshape({model.inputs[0]: shape})
            compiled = self._core.compile_model(model, self.device, self.config(key[1]))
            self._compiled[key] = (compiled, compiled.create_infer_request())
        return self._compiled[key]

    def predict_on_batch(self, x):
        """The network's outputs for one float32 batch `(N, H, W, C)`, as a
        float32 NumPy array `(N, num_classes)`."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        compiled, request = self.compiled(x.shape[0])
        result = request.infer({0: x})
        return np.array(result[compiled.outputs[0]], dtype=np.float32)


def _keras_shape(partial_shape):
    return tuple(d.get_length() if d.is_static else None for d in partial_shape)
