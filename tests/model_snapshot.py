"""A snapshot of every registered model, to prove a refactoring changes nothing.

    python -m tests.model_snapshot OUT.json [--outputs-max-params N] [--only PATTERN]
    python -m tests.model_snapshot --compare BEFORE.json AFTER.json

For every name of `keras_resnets.list_models()`, every family name (small
arguments) and a few direct class builds, it records, under a fixed seed:
the `get_config` JSON (key order kept) and that of its `from_config` clone,
the model's public attributes, the ordered weight paths, shapes and
trainability, a SHA-256 of all initial weights, and a SHA-256 of the inference output on a fixed input (32x32 unless the
build says otherwise; `--outputs-max-params` skips it for larger models).
It also records the order of the family names. ImageNet models are built at 32x32 (`input_shape`), which
changes no weight shape. Run it before and after a change and `--compare`.
Not a pytest test: building every paper-size model takes minutes.
"""

import argparse
import fnmatch
import hashlib
import json
import sys

import numpy as np

import keras_resnets  # noqa: F401  (oneDNN default before keras)
import keras

from keras_resnets import registry

# Family names and class builds beyond the registered paper names.
EXTRA = {
    "family:wrn": ("wrn", {"depth": 10, "k": 2, "dropout_rate": 0.1}),
    "family:cifar-resnet": ("cifar-resnet", {"depth": 8, "preactivation": True}),
    "family:shake-shake": ("shake-shake", {"depth": 8, "width": 8}),
    "family:pyramidnet": ("pyramidnet", {"depth": 8, "alpha": 12, "shakedrop": True}),
    "family:cifar-resnext": ("cifar-resnext", {"depth": 11, "cardinality": 2, "base_width": 4}),
    "family:fractalnet": ("fractalnet", {
        "num_columns": 2, "stackwise_num_filters": [8, 16], "stackwise_dropout_rates": [0.0, 0.1],
    }),
}
CLASS_BUILDS = {
    "class:ResNet-stackwise": lambda: keras_resnets.ResNet(
        [1, 1], [8, 16], stem="cifar", shortcut="B", stride_index=0, groups=2,
        se_ratio=4, zero_init_last_bn=True, drop_path_rate=0.1,
    ),
    "class:PreActResNet-imagenet": lambda: keras_resnets.PreActResNet(
        18, input_shape=(32, 32, 3), include_top=False, pooling="avg"
    ),
    "class:WideResNet-b313": lambda: keras_resnets.WideResNet(
        13, 1, block_type=(3, 1, 3), stackwise_strides=(1, 2, 2), kernel_regularizer="l2",
    ),
    "class:ResNeXt-imagenet-small": lambda: keras_resnets.ResNeXt(
        [1, 1], 2, base_width=4, stackwise_num_filters=[32, 64], input_shape=(32, 32, 3),
        num_classes=5, classifier_activation=None,
    ),
    "class:ShakeShake-bottleneck": lambda: keras_resnets.ShakeShakeResNet(
        11, 16, block_type="bottleneck", cardinality=2, base_width=4, forward="even",
        backward="keep", level="batch", seed=3,
    ),
    "class:PyramidNet-bottleneck": lambda: keras_resnets.PyramidNet(
        11, 24, bottleneck=True, seed=5, bn_momentum=0.99, bn_epsilon=1e-3
    ),
    "class:FractalNet-nodrop": lambda: keras_resnets.FractalNet(
        3, [8, 16], stackwise_dropout_rates=[0.0, 0.2], drop_path=False, seed=2,
        input_shape=(16, 16, 3), name="fr",
    ),
}


def _plain(value):
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(type(value).__name__)


def _attributes(model):
    return {
        k: _plain(v)
        for k, v in sorted(vars(model).items())
        if not k.startswith("_")
        and isinstance(v, (str, int, float, bool, type(None), list, tuple))
    }


def snapshot(build, with_output):
    keras.utils.set_random_seed(1234)
    model = build()
    config = model.get_config()
    clone = type(model).from_config(config)
    trainable = {id(w) for w in model.trainable_weights}
    digest = hashlib.sha256()
    for w in model.weights:
        digest.update(np.asarray(keras.ops.convert_to_numpy(w.value)).tobytes())
    record = {
        "class": type(model).__name__,
        "config": json.dumps(config),
        "clone_config": json.dumps(clone.get_config()),
        "attributes": _attributes(model),
        "weights": [[w.path, list(w.shape), id(w) in trainable] for w in model.weights],
        "weights_sha256": digest.hexdigest(),
        "params": int(model.count_params()),
    }
    if with_output:
        shape = tuple(model.inputs[0].shape[1:])
        shape = tuple(32 if s is None else s for s in shape)
        x = np.random.default_rng(0).standard_normal((2,) + shape).astype("float32")
        out = keras.ops.convert_to_numpy(model(x, training=False))
        record["output_sha256"] = hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()
        record["output_head"] = [float(v) for v in np.ravel(out)[:4]]
    keras.backend.clear_session()
    return record


def _builds():
    for name in registry.list_models():
        spec = registry.get_spec(name)
        kwargs = {"input_shape": (32, 32, 3)} if spec.dataset == "imagenet" else {}
        yield name, (lambda n=name, kw=kwargs: registry.create_model(n, **kw))
    for key, (name, kwargs) in EXTRA.items():
        yield key, (lambda n=name, kw=kwargs: registry.create_model(n, **kw))
    yield from CLASS_BUILDS.items()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--outputs-max-params", type=float, default=float("inf"))
    parser.add_argument("--only", default="*")
    parser.add_argument("--compare", nargs=2)
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    records = {}
    for key, build in _builds():
        if not fnmatch.fnmatch(key, args.only):
            continue
        params = registry.get_spec(key).params if ":" not in key else None
        with_output = params is None or params <= args.outputs_max_params
        records[key] = snapshot(build, with_output)
        print(key, records[key]["params"], "output" if with_output else "", flush=True)
    records["meta:family_order"] = {"names": [s.name for s in registry.family_specs()]}
    with open(args.out, "w") as f:
        json.dump({"backend": keras.backend.backend(), "models": records}, f, indent=1)
    return 0


def compare(before_path, after_path):
    before = json.load(open(before_path))["models"]
    after = json.load(open(after_path))["models"]
    failures = []
    if set(before) != set(after):
        failures.append(f"model sets differ: {sorted(set(before) ^ set(after))}")
    fields = {}
    for key in sorted(set(before) & set(after)):
        for field in before[key]:
            fields[field] = fields.get(field, 0) + 1
            if before[key][field] != after[key].get(field):
                failures.append(f"{key}: {field} differs")
    print(f"{len(set(before) & set(after))} models compared; fields: {fields}")
    print("\n".join(failures) or "identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
