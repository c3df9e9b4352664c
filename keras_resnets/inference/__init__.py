"""Inference from a run folder: `load_run(run_dir)` and `keras-resnets predict`.

A run folder of `keras-resnets train` holds the model (`best.keras`,
`last.keras`) and, in `preprocessing.json`, what evaluation feeds it:

```json
{"preset": "cifar", "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616],
 "image_size": 224, "input_shape": [32, 32, 3], "class_names": ["airplane", ...],
 "num_classes": 10}
```

Runs written before `preprocessing.json` existed are read from their
`config.yaml` (`data.preset`, `data.mean`, `data.std`, `data.image_size`);
their class names are unknown and become `"0"`, ..., `"N-1"` (with a
warning).

Images are preprocessed by the evaluation transform of the input pipelines
themselves (`training=False`; numpy's `numpy_pipeline.transform`, equal to
the tf.data pipeline's to the bit, and tf.data's resizing for `"imagenet"`,
which needs TensorFlow), so `predict` feeds the model exactly what
`model.evaluate` on the run's test pipeline does: `"cifar"` normalises with the run's per-channel statistics, `"svhn"`
scales to `[0, 1]`, `"imagenet"` resizes the shorter side to
`round(image_size * 256 / 224)`, takes the central `image_size` crop and
normalises, `"none"` passes `[0, 255]` pixels (normalised when the run has
statistics). Files are decoded with PIL as RGB, which gives the same pixels
as the pipeline's TensorFlow decoder for JPEG (libjpeg's accurate DCT) and
the lossless formats.

`load_run(run_dir, runtime="openvino")` runs the same model in the OpenVINO
runtime instead (`openvino.OpenVINOModel`, converted with Keras's exporter;
`pip install "keras-resnets[deploy]"`), behind the same `Predictor`.

The package has one module per role: `loading` (the run folder:
`load_run`, `preprocessing.json`, the `config.yaml` fallback), `predictor`
(`Predictor`: preprocessing, probabilities, top-k), `images` (decoding and
checking images), `openvino` (`OpenVINOModel`, `export_openvino`) and
`command` (the `predict` subcommand). It imports only
NumPy at import time (keras, TensorFlow, PIL and YAML are imported inside
the functions), so `add_predict_arguments` builds a parser cheaply.
"""

from keras_resnets.inference.command import add_predict_arguments
from keras_resnets.inference.command import format_prediction
from keras_resnets.inference.command import run_predict
from keras_resnets.inference.images import IMAGE_FORMATS
from keras_resnets.inference.images import read_image
from keras_resnets.inference.loading import PREPROCESSING_FILE
from keras_resnets.inference.loading import PREPROCESSING_KEYS
from keras_resnets.inference.loading import WHICH
from keras_resnets.inference.loading import load_run
from keras_resnets.inference.openvino import OpenVINOModel
from keras_resnets.inference.predictor import Predictor

__all__ = ["OpenVINOModel", "Predictor", "add_predict_arguments", "format_prediction",
           "load_run", "read_image", "run_predict"]
