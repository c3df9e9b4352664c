import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import count_flops
from keras_resnets import count_trainable_params
from keras_resnets.models.resnet import cifar_resnet
from keras_resnets.models.resnet import depth_layout
from keras_resnets.models.resnet import imagenet_resnet
from tests.testing import run_model_test

# He 2015 Table 6 / He 2016 (exact counts from ../shared/PAPERS.md).
CIFAR_PARAMS = {
    "resnet-20": 269_722,
    "resnet-32": 464_154,
    "resnet-44": 658_586,
    "resnet-56": 853_018,
    "resnet-110": 1_727_962,
    "preact-resnet-164": 1_703_258,
}
# He 2015 Table 1.
IMAGENET = {
    "resnet-18": (11_689_512, 1.8e9),
    "resnet-34": (21_797_672, 3.6e9),
    "resnet-50": (25_557_032, 3.8e9),
    "resnet-101": (44_549_160, 7.6e9),
    "resnet-152": (60_192_808, 11.3e9),
}


@pytest.mark.parametrize("name", sorted(CIFAR_PARAMS))
def test_cifar_param_counts(name):
    model = keras_resnets.create_model(name)
    assert count_trainable_params(model) == CIFAR_PARAMS[name]


@pytest.mark.large
@pytest.mark.parametrize(
    "name, params", [("resnet-1202", 19_421_274), ("preact-resnet-1001", 10_327_706)]
)
def test_very_deep_cifar_param_counts(name, params):
    assert count_trainable_params(keras_resnets.create_model(name)) == params


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_params_and_flops(name):
    params, flops = IMAGENET[name]
    model = keras_resnets.create_model(name)
    assert count_trainable_params(model) == params
    # The paper rounds to 0.1 GFLOPs (ResNet-50: 3.86e9 counted, "3.8e9").
    assert abs(count_flops(model) - flops) / flops < 0.02


def test_resnet50_v2_matches_keras_applications_count():
    # keras.applications' ResNet50V2 has 25,568,360 trainable parameters
    # (biases on the convs that are not followed by BN).
    model = keras_resnets.create_model("resnet-50-v2")
    assert count_trainable_params(model) == 25_568_360


def test_resnet20_flops():
    # 3x3 convs on 32x32 / 16x16 / 8x8 maps: ~41M multiply-adds.
    assert abs(count_flops(keras_resnets.create_model("resnet-20")) - 40.8e6) < 0.5e6


def test_one_row_per_block():
    model = keras_resnets.create_model("resnet-20")
    blocks = [l.name for l in model.layers if l.name.startswith("stage")]
    assert len(blocks) == 9
    assert blocks[0] == "stage1_block1" and blocks[-1] == "stage3_block3"


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize(
    "include_top, pooling, expected",
    [(True, None, (2, 7)), (False, "avg", (2, 64)), (False, "max", (2, 64)), (False, None, None)],
)
def test_cifar_output_shapes(size, include_top, pooling, expected):
    model = cifar_resnet(
        8, input_shape=(size, size, 3), include_top=include_top, pooling=pooling,
        num_classes=7,
    )
    y = model(np.zeros((2, size, size, 3), "float32"))
    if expected is None:
        expected = (2, size // 4, size // 4, 64)
    assert tuple(y.shape) == expected


@pytest.mark.parametrize("size", [32, 224])
def test_imagenet_output_shapes(size):
    model = imagenet_resnet(18, input_shape=(size, size, 3), include_top=False)
    assert model.output_shape == (None, size // 32, size // 32, 512)
    model = imagenet_resnet(18, input_shape=(size, size, 3), classes=5,
                            classifier_activation=None)
    assert model.output_shape == (None, 5)


@pytest.mark.parametrize("preactivation", [False, True])
def test_save_load_round_trip(preactivation, tmp_path):
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    run_model_test(
        lambda: cifar_resnet(8, preactivation=preactivation, num_classes=3),
        x, (2, 3), tmp_path=tmp_path,
    )


def test_imagenet_v2_round_trip(tmp_path):
    x = np.random.rand(1, 64, 64, 3).astype("float32")
    run_model_test(
        lambda: keras_resnets.PreActResNet(
            [1, 1], [8, 16], block_type="bottleneck", stem="imagenet",
            downsample_last=True, stride_index=1, residual_bias=True,
            input_shape=(64, 64, 3), num_classes=4,
        ),
        x, (1, 4), tmp_path=tmp_path,
    )


def test_model_trains_and_loss_decreases():
    model = cifar_resnet(8, num_classes=4, classifier_activation=None)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    x = np.random.rand(16, 32, 32, 3).astype("float32")
    y = np.arange(16) % 4
    history = model.fit(x, y, batch_size=16, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda: cifar_resnet(21), r"6n\+2"),
        (lambda: cifar_resnet(165, preactivation=True, bottleneck=True), r"9n\+2"),
        (lambda: imagenet_resnet(42), "18, 34, 50, 101, 152"),
        (lambda: imagenet_resnet(18, input_shape=(16, 16, 3)), "at least 32x32"),
        (lambda: cifar_resnet(20, shortcut="Z"), "shortcut"),
        (lambda: keras_resnets.ResNet([1], [8], block_type="wide"), "block_type"),
        (lambda: keras_resnets.ResNet([1, 1], [8], stem="cifar"), "same length"),
        (lambda: cifar_resnet(20, pooling="mean"), "pooling"),
        (lambda: cifar_resnet(20, num_classes=3, classes=4), "classes"),
        (lambda: cifar_resnet(20, dropout_rate=1.5), "dropout_rate"),
    ],
)
def test_errors(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


# === A depth alone: ResNet(20), ResNet(50), PreActResNet(164) ===


def _config(model):
    config = model.get_config()
    config.pop("name")
    return config


def test_depth_builds_the_registered_cifar_network():
    model, registered = keras_resnets.ResNet(20), keras_resnets.create_model("resnet-20")
    assert _config(model) == _config(registered)
    assert [l.name for l in model.layers] == [l.name for l in registered.layers]
    assert count_trainable_params(model) == CIFAR_PARAMS["resnet-20"]


def test_preact_depth_defaults_to_the_registered_bottlenecks():
    # "preact-resnet-164" is cifar_resnet(164, preactivation=True,
    # bottleneck=True); depth 20 = 9*2+2 resolves the same way, faster.
    model = keras_resnets.PreActResNet(20)
    reference = cifar_resnet(20, preactivation=True, bottleneck=True)
    assert _config(model) == _config(reference)
    assert model.block_type == "bottleneck" and model.shortcut == "B"


# Backend-independent layout arithmetic; a paper-size build costs ~30 s on JAX.
@pytest.mark.tensorflow_only
def test_depth_50_is_the_imagenet_resnet50():
    model = keras_resnets.ResNet(50)
    assert model.stem == "imagenet" and model.stackwise_num_blocks == [3, 4, 6, 3]
    assert count_trainable_params(model) == IMAGENET["resnet-50"][0]


@pytest.mark.large
@pytest.mark.parametrize(
    "cls, depth, name",
    [
        (keras_resnets.PreActResNet, 164, "preact-resnet-164"),
        (keras_resnets.PreActResNet, 50, "resnet-50-v2"),
        (keras_resnets.ResNet, 110, "resnet-110"),
        (keras_resnets.ResNet, 152, "resnet-152"),
    ],
)
def test_depth_builds_the_registered_network(cls, depth, name):
    model, registered = cls(depth), keras_resnets.create_model(name)
    assert _config(model) == _config(registered)
    assert count_trainable_params(model) == keras_resnets.get_spec(name).params


@pytest.mark.parametrize(
    "depth, kwargs, blocks, block_type, stem",
    [
        (50, {}, [3, 4, 6, 3], "bottleneck", "imagenet"),  # ImageNet depths win
        (50, {"stem": "cifar"}, [8, 8, 8], "basic", "cifar"),  # 50 = 6*8+2
        (152, {"stem": "cifar"}, [25, 25, 25], "basic", "cifar"),
        (18, {}, [2, 2, 2, 2], "basic", "imagenet"),
        (110, {}, [18, 18, 18], "basic", "cifar"),
        (29, {"block_type": "bottleneck"}, [3, 3, 3], "bottleneck", "cifar"),
    ],
)
def test_depth_layout_rule(depth, kwargs, blocks, block_type, stem):
    layout = depth_layout("ResNet", depth, **kwargs)
    assert layout["stackwise_num_blocks"] == blocks
    assert (layout["block_type"], layout["stem"]) == (block_type, stem)


def test_preact_depth_layout_rule():
    # Pre-activation CIFAR networks default to bottlenecks (He 2016's 164, 1001).
    assert depth_layout("PreActResNet", 110, preactivation=True)["stackwise_num_blocks"] == [12] * 3
    basic = depth_layout("PreActResNet", 110, preactivation=True, block_type="basic")
    assert basic["stackwise_num_blocks"] == [18] * 3 and basic["shortcut"] == "B"
    assert depth_layout("PreActResNet", 101, preactivation=True)["stem"] == "imagenet"
    cifar = depth_layout("PreActResNet", 101, preactivation=True, stem="cifar")
    assert cifar["stackwise_num_blocks"] == [11] * 3
    v2 = depth_layout("PreActResNet", 50, preactivation=True)
    assert v2["downsample_last"] and v2["stride_index"] == 1 and v2["residual_bias"]


def test_depth_with_overrides_round_trips(tmp_path):
    # The depth form with SE blocks saves and loads (config stores the
    # lists), and keras.Model's `trainable` passes through both ways.
    x = np.random.rand(2, 8, 8, 3).astype("float32")
    model = run_model_test(
        lambda: keras_resnets.ResNet(
            8, se_ratio=4, num_classes=3, input_shape=(8, 8, 3), trainable=False
        ),
        x, (2, 3), tmp_path=tmp_path,
    )
    config = model.get_config()
    assert config["stackwise_num_blocks"] == [1, 1, 1] and config["trainable"] is False
    assert not model.trainable_weights
    loaded = keras.saving.load_model(str(tmp_path / "model.keras"))
    assert not loaded.trainable


@pytest.mark.parametrize(
    "fn, match",
    [
        (
            lambda: keras_resnets.ResNet(21),
            r"^ResNet depth must be 6n\+2 for CIFAR \(e.g. 20, 32, 44, 56, 110, 1202\) or "
            r"one of 18, 34, 50, 101, 152 for ImageNet. Received: depth=21$",
        ),
        (
            lambda: keras_resnets.PreActResNet(21),
            r"^PreActResNet depth must be 9n\+2 for CIFAR \(bottleneck blocks, e.g. 164, "
            r"1001; 6n\+2 with block_type='basic'\) or one of 18, 34, 50, 101, 152",
        ),
        (lambda: keras_resnets.ResNet(50, block_type="basic"), r"ResNet-50 has bottleneck.*stem='cifar'"),
        (lambda: keras_resnets.ResNet(42, stem="imagenet"), "ImageNet ResNet depth must be one of"),
        (lambda: keras_resnets.ResNet(20.0), r"Received: depth=20.0"),
        (lambda: keras_resnets.ResNet(20, depth=20), "Pass the depth once"),
        (lambda: keras_resnets.ResNet([3, 3, 3], depth=20), "either `depth` or `stackwise_num_blocks`"),
        (lambda: keras_resnets.ResNet([3, 3, 3]), r"needs a depth \(e.g. ResNet\(20\)"),
    ],
)
def test_depth_errors(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()
