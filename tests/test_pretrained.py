"""The weights shipped inside the package reach their recorded test accuracy.

Evaluates every `keras_resnets.weights.pretrained.PACKAGED` entry on the original
CIFAR-10 test set (../shared/data/cifar10.npz); skips where that file is absent,
never under CI=true.
"""

import os

import numpy as np
import pytest

from keras_resnets import create_model
from keras_resnets.weights import pretrained
from tests.testing import cifar10_test_set


@pytest.fixture(scope="module")
def cifar10_test():
    return cifar10_test_set()


def test_packaged_files_exist_and_are_small():
    assert pretrained.PACKAGED, "no weights shipped"
    for entry in pretrained.PACKAGED.values():
        size = os.path.getsize(pretrained.packaged_path(entry))
        assert size < 5 * 2**20, (entry.file, size)


@pytest.mark.parametrize("key", sorted(pretrained.PACKAGED), ids="-".join)
def test_packaged_weights_reach_recorded_accuracy(key, cifar10_test):
    entry = pretrained.PACKAGED[key]
    x, y = cifar10_test
    assert len(y) == entry.test_examples
    model = create_model(entry.model, weights=entry.tag)
    inputs = (x.astype("float32") / 255.0 - np.float32(entry.mean)) / np.float32(entry.std)
    correct = int((model.predict(inputs, batch_size=500, verbose=0).argmax(-1) == y).sum())
    # Float32 sums run in another order on other processors: a handful of
    # borderline images may flip, never more than 0.1 points.
    assert abs(correct - entry.correct) <= 10, (correct, entry.correct)
    assert entry.accuracy == pytest.approx(100.0 * entry.correct / entry.test_examples)


def test_unknown_tag_lists_what_is_shipped():
    with pytest.raises(ValueError, match="resnet-20 weights='cifar10'"):
        create_model("resnet-20", weights="cifar100")
