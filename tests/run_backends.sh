#!/usr/bin/env bash
# Runs the suite on every Keras backend: everything on TensorFlow, and the
# layer / model / registry / export tests (ONNX, OpenVINO) again on JAX and
# PyTorch (the `test` extra installs each backend's ONNX converter, and
# openvino). Extra arguments go to pytest (e.g. --run_large).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
workers=${PYTEST_WORKERS:-2}
status=0
echo "=== backend: tensorflow (all tests) ==="
KERAS_BACKEND=tensorflow python -m pytest tests -n "$workers" -q -p no:cacheprovider "$@" || status=1
for backend in jax torch; do
  echo "=== backend: $backend (layers, models, registry, export) ==="
  KERAS_BACKEND=$backend python -m pytest tests/layers tests/models tests/test_registry.py \
    tests/test_export.py tests/test_openvino.py \
    -m "not tensorflow_only" -n "$workers" -q -p no:cacheprovider "$@" || status=1
done
exit $status
