"""torchvision/timm checkpoints load exactly into our ImageNet models.

torchvision is not installed here, so the reference is a plain-PyTorch
model in torchvision's layout with its exact state-dict keys (`conv1`,
`bn1`, `layer1.0.conv1`, `layer1.0.downsample.0/1`, `fc`; timm's SE-ResNet:
`layer1.0.se.fc1/fc2`): stride on the bottleneck's 3x3, stem conv padded by
3 and max-pool by 1. Its weights and BN statistics are random, it is saved
as `.pth` and `.safetensors`, loaded into ours, and the logits of both must
agree to 1e-4 (relative to the largest logit) on every backend.
"""

import os
import sys

import keras
import numpy as np
import pytest

import keras_resnets
from keras_resnets import weights as weights_lib
from keras_resnets.weights import pretrained
from keras_resnets.weights import torch_checkpoints
from tests.testing import float_images

torch = pytest.importorskip("torch")
nn = torch.nn

SIZE = 64
RTOL = 1e-4


def _safetensors():
    """The safetensors package; a failure, not a skip, under CI=true."""
    if os.environ.get("CI") == "true":
        import safetensors.torch

        return safetensors.torch
    return pytest.importorskip("safetensors.torch")


# === A torchvision/timm-layout ResNet in plain PyTorch ===
class TorchSE(nn.Module):
    """timm's SEModule: 1x1 convs fc1 (C -> C/16) and fc2, ReLU, sigmoid."""

    def __init__(self, channels):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // 16, 1)
        self.fc2 = nn.Conv2d(channels // 16, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class TorchBlock(nn.Module):
    """torchvision's BasicBlock / Bottleneck (stride on the 3x3)."""

    def __init__(self, cin, width, cout, stride, *, bottleneck, groups, se):
        super().__init__()
        if bottleneck:
            specs = [(cin, width, 1, 1, 1), (width, width, 3, stride, groups), (width, cout, 1, 1, 1)]
        else:
            specs = [(cin, cout, 3, stride, 1), (cout, cout, 3, 1, 1)]
        for i, (a, b, k, s, g) in enumerate(specs, 1):
            setattr(self, f"conv{i}", nn.Conv2d(a, b, k, s, k // 2, groups=g, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(b))
        self.n = len(specs)
        self.se = TorchSE(cout) if se else None
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = x
        for i in range(1, self.n + 1):
            y = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(y))
            if i < self.n:
                y = torch.relu(y)
        if self.se is not None:
            y = self.se(y)
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(y + shortcut)


class TorchResNet(nn.Module):
    """torchvision.models.ResNet's structure and key names."""

    def __init__(self, layers, *, bottleneck, groups=1, width_per_group=64, se=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, expansion = 64, 4 if bottleneck else 1
        for s, n in enumerate(layers):
            planes = 64 * 2**s
            width = int(planes * width_per_group / 64) * groups
            blocks = []
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(
                    TorchBlock(cin, width, planes * expansion, stride,
                               bottleneck=bottleneck, groups=groups, se=se)
                )
                cin = planes * expansion
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, 1000)

    def features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for s in range(1, 5):
            x = getattr(self, f"layer{s}")(x)
        return x.mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


# Registered name -> the torchvision/timm constructor arguments.
TORCH_MODELS = {
    "resnet-18": dict(layers=[2, 2, 2, 2], bottleneck=False),
    "resnet-34": dict(layers=[3, 4, 6, 3], bottleneck=False),
    "resnet-50": dict(layers=[3, 4, 6, 3], bottleneck=True),
    "resnet-101": dict(layers=[3, 4, 23, 3], bottleneck=True),
    "resnet-152": dict(layers=[3, 8, 36, 3], bottleneck=True),
    "resnext-50-32x4d": dict(layers=[3, 4, 6, 3], bottleneck=True, groups=32, width_per_group=4),
    "resnext-101-32x8d": dict(layers=[3, 4, 23, 3], bottleneck=True, groups=32, width_per_group=8),
    "resnext-101-64x4d": dict(layers=[3, 4, 23, 3], bottleneck=True, groups=64, width_per_group=4),
    "wide-resnet-50-2": dict(layers=[3, 4, 6, 3], bottleneck=True, width_per_group=128),
    "wide-resnet-101-2": dict(layers=[3, 4, 23, 3], bottleneck=True, width_per_group=128),
    "se-resnet-50": dict(layers=[3, 4, 6, 3], bottleneck=True, se=True),
}


def torch_model(name, seed=0):
    """The torch model of `name` with random weights and BN statistics."""
    torch.manual_seed(seed)
    model = TorchResNet(**TORCH_MODELS[name])
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(7)
    return model.eval()


def save(model, path):
    state = model.state_dict()
    if str(path).endswith(".safetensors"):
        _safetensors().save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, str(path))
    return str(path)


def torch_outputs(model, x, features=False):
    with torch.no_grad():
        t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        return (model.features(t) if features else model(t)).numpy()


def assert_close(ours, ref):
    ours = keras.ops.convert_to_numpy(ours)
    scale = np.max(np.abs(ref))
    assert scale > 0
    assert np.max(np.abs(ours - ref)) <= RTOL * scale, np.max(np.abs(ours - ref)) / scale


def load_and_compare(name, path, ref, **kwargs):
    ours = keras_resnets.create_model(
        name, input_shape=(SIZE, SIZE, 3), classifier_activation="linear", weights=path, **kwargs
    )
    x = float_images(SIZE, normal=True)
    assert_close(ours(x, training=False), torch_outputs(ref, x))
    return ours


@pytest.fixture(scope="module")
def resnet18():
    return torch_model("resnet-18")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_resnet18_logits(resnet18, tmp_path, suffix):
    path = save(resnet18, tmp_path / f"resnet18{suffix}")
    ours = load_and_compare("resnet-18", path, resnet18)
    assert ours.get_layer("stage2_block1").stride_index == 0  # basic: first conv


def test_resnext50_logits_safetensors(tmp_path):
    ref = torch_model("resnext-50-32x4d")
    path = save(ref, tmp_path / "resnext50_32x4d.safetensors")
    load_and_compare("resnext-50-32x4d", path, ref)


def test_se_resnet50_logits_pth(tmp_path):
    """timm's seresnet50 keys; our se-resnet-50 is built striding on the 3x3."""
    ref = torch_model("se-resnet-50")
    path = save(ref, tmp_path / "seresnet50.pth")
    ours = load_and_compare("se-resnet-50", path, ref)
    assert ours.stride_index == 1


def test_without_top_the_classifier_is_ignored(resnet18, tmp_path):
    path = save(resnet18, tmp_path / "r18.pth")
    ours = keras_resnets.create_model(
        "resnet-18", input_shape=(SIZE, SIZE, 3), include_top=False, pooling="avg", weights=path
    )
    x = float_images(SIZE, normal=True)
    assert_close(ours(x, training=False), torch_outputs(resnet18, x, features=True))


def test_other_bn_epsilon_matches_torch(tmp_path):
    """Our BN epsilon differs from torch's 1e-5: the moving variance is
    shifted, or gamma rescaled where the variance is too small to shift."""
    ref = torch_model("resnet-18")
    with torch.no_grad():
        ref.bn1.running_var[:3] = 0.0  # var + 1e-5 - 1e-3 < 0: gamma path
    path = save(ref, tmp_path / "r18.pth")
    load_and_compare("resnet-18", path, ref, bn_epsilon=1e-3)


def test_wrapped_state_dict_and_module_prefix(resnet18, tmp_path):
    """timm's train.py checkpoints wrap the state dict; DataParallel adds
    "module." to every key."""
    state = {f"module.{k}": v for k, v in resnet18.state_dict().items()}
    path = str(tmp_path / "checkpoint.pth")
    torch.save({"state_dict": state, "epoch": 3}, path)
    load_and_compare("resnet-18", path, resnet18)


def test_direct_class_picks_the_layout(resnet18, tmp_path):
    path = save(resnet18, tmp_path / "r18.safetensors")
    ours = keras_resnets.ResNet(18, input_shape=(SIZE, SIZE, 3), classifier_activation="linear",
                                weights=path)
    x = float_images(SIZE, normal=True)
    assert_close(ours(x, training=False), torch_outputs(resnet18, x))
    # A bottleneck ResNet built directly strides on the 3x3 for a checkpoint,
    # on the 1x1 (He 2015, keras.applications) without one.
    bottleneck = dict(stackwise_num_filters=[64, 128, 256, 512], block_type="bottleneck",
                      input_shape=(SIZE, SIZE, 3))
    assert keras_resnets.ResNet([1, 1, 1, 1], **bottleneck).stride_index == 0
    with pytest.raises(ValueError, match="missing keys"):  # layout chosen, then keys checked
        keras_resnets.ResNet([1, 1, 1, 1], weights=path, **bottleneck)
    model = keras_resnets.ResNet([1, 1, 1, 1], **bottleneck)
    with pytest.raises(ValueError, match=r"stride_index=0 \(needs 1\)"):
        weights_lib.load_torch_checkpoint(model, path)


def test_key_map_names(resnet18):
    ours = keras_resnets.create_model("resnet-18", input_shape=(SIZE, SIZE, 3))
    expected = {k for k in resnet18.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(torch_checkpoints.torch_key_map(ours)) == expected


# === Errors ===
def test_wrong_model_lists_missing_and_unexpected_keys(resnet18, tmp_path):
    path = save(resnet18, tmp_path / "r18.pth")
    with pytest.raises(ValueError, match=r"missing keys: \d+ \(layer1\.2\.bn1\.bias") as info:
        keras_resnets.create_model("resnet-34", input_shape=(SIZE, SIZE, 3), weights=path)
    assert "does not fit" in str(info.value)


def test_shape_mismatch_lists_keys(resnet18, tmp_path):
    path = save(resnet18, tmp_path / "r18.pth")
    with pytest.raises(ValueError, match=r"shape mismatches.*fc\.weight \(1000, 512\).*num_classes"):
        keras_resnets.create_model(
            "resnet-18", input_shape=(SIZE, SIZE, 3), num_classes=10, weights=path
        )


def test_unexpected_keys_listed(resnet18, tmp_path):
    state = dict(resnet18.state_dict())
    state["layer1.0.se.fc1.weight"] = torch.zeros(4, 64, 1, 1)
    path = str(tmp_path / "extra.pth")
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"unexpected keys: 1 \(layer1\.0\.se\.fc1\.weight\)"):
        keras_resnets.create_model("resnet-18", input_shape=(SIZE, SIZE, 3), weights=path)


def test_layout_errors(resnet18, tmp_path):
    path = save(resnet18, tmp_path / "r18.pth")
    with pytest.raises(ValueError, match=r"stride_index=1 \(needs 0\)"):
        keras_resnets.ResNet(18, input_shape=(SIZE, SIZE, 3), stride_index=1, weights=path)
    with pytest.raises(ValueError, match="Received a PreActResNet model"):
        keras_resnets.PreActResNet(18, input_shape=(SIZE, SIZE, 3), weights=path)
    with pytest.raises(ValueError, match=r"stem='cifar' \(needs 'imagenet'\)"):
        keras_resnets.ResNet(20, weights=path)


def test_file_errors(tmp_path, monkeypatch):
    model = keras_resnets.ResNet([1, 1, 1, 1], [64, 128, 256, 512], input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="no such file"):
        weights_lib.load_torch_checkpoint(model, str(tmp_path / "none.pth"))
    path = tmp_path / "x.pth"
    torch.save([1, 2], str(path))
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        weights_lib.load_torch_checkpoint(model, str(path))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"needs PyTorch \(pip install torch\)"):
        torch_checkpoints.read_checkpoint(str(path))
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"")
    with pytest.raises(ImportError, match="needs the `safetensors` package"):
        torch_checkpoints.read_checkpoint(str(path))


# === Named (shipped) weights and our own weight files ===
def test_unknown_named_weights():
    with pytest.raises(ValueError, match=r"No weights named 'cifar100' are shipped for 'resnet-20'"):
        keras_resnets.create_model("resnet-20", weights="cifar100")
    with pytest.raises(ValueError, match=r"create_model\(NAME, weights='cifar10'\)"):
        keras_resnets.ResNet(20, weights="cifar10")


def test_named_weights_load_through_the_table(tmp_path, monkeypatch):
    """A PACKAGED entry loads its file into the registered model by name."""
    source = keras_resnets.create_model("wrn-16-4")
    file = tmp_path / "wrn.weights.h5"
    source.save_weights(str(file))
    entry = pretrained.PackagedWeights("wrn-16-4", "testtag", file.name, accuracy=95.0)
    monkeypatch.setitem(pretrained.PACKAGED, ("wrn-16-4", "testtag"), entry)
    monkeypatch.setattr(pretrained, "packaged_path", lambda e: str(tmp_path / e.file))
    loaded = keras_resnets.create_model("wrn-16-4", weights="testtag")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(source(x, training=False)),
        rtol=1e-6, atol=1e-6,
    )


def test_own_weights_file(tmp_path):
    kwargs = dict(stem="cifar", stackwise_num_filters=[16, 32, 64], cardinality=2, base_width=4)
    source = keras_resnets.ResNeXt([1, 1, 1], **kwargs)
    path = str(tmp_path / "own.weights.h5")
    source.save_weights(path)
    loaded = keras_resnets.ResNeXt([1, 1, 1], weights=path, **kwargs)
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_imagenet_only_for_keras_applications_models():
    with pytest.raises(ValueError, match="not into a ResNeXt"):
        keras_resnets.ResNeXt([1, 1, 1], stem="cifar", weights="imagenet")


# === Every other model with a torchvision/timm counterpart (slow) ===
@pytest.mark.large
@pytest.mark.parametrize(
    "name", [n for n in TORCH_MODELS if n not in ("resnet-18", "resnext-50-32x4d", "se-resnet-50")]
)
def test_every_counterpart(name, tmp_path):
    ref = torch_model(name)
    path = save(ref, tmp_path / "model.safetensors")
    load_and_compare(name, path, ref)
