"""RandomPadCrop (keras_resnets.layers.augmentation): one random crop offset
per image, drawn uniformly from the 2 * padding + 1 possible, on every backend."""

import keras
import numpy as np
import pytest

from keras_resnets.layers.augmentation import RandomPadCrop
from tests.testing import crop_offsets_and_flips
from tests.testing import run_layer_test
from tests.testing import to_numpy


def ramp_images(count, dtype="float32"):
    """`count` copies of a 16x16 horizontal ramp (transposed for rows)."""
    ramp = np.arange(16, dtype=np.uint8) * 15 + 10
    image = np.tile(ramp[None, :, None], (16, 1, 3))
    return ramp, np.repeat(image[None], count, axis=0).astype(dtype)


def test_layer_contract():
    run_layer_test(
        RandomPadCrop,
        {"padding": 2, "padding_mode": "constant", "seed": 3},
        np.random.default_rng(0).normal(size=(4, 6, 6, 3)).astype("float32"),
        (4, 6, 6, 3),
        expected_num_trainable_weights=0,
        expected_num_seed_generators=1,
        stochastic=True,
        expectation=False,  # a crop's mean is not the image
    )


@pytest.mark.parametrize("padding_mode", ["constant", "reflect"])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_every_image_is_a_window_of_its_padded_image(padding_mode, dtype):
    ramp, images = ramp_images(576, dtype)
    layer = RandomPadCrop(4, padding_mode, seed=1)
    out = to_numpy(layer(images, training=True))
    assert out.shape == images.shape and out.dtype == np.dtype(dtype)
    # Along the ramp (width): a window at an offset in [0, 8], never flipped.
    offsets, flips = crop_offsets_and_flips(ramp, out.astype("float32"), padding_mode)
    assert not any(flips)
    # 576 draws: each of the 9 offsets has frequency 1/9 +- 0.04 (about 3 sigma).
    np.testing.assert_allclose(np.bincount(offsets, minlength=9) / 576, 1 / 9, atol=0.04)
    # Across the ramp (height): the rows are shifted by an independent offset,
    # so with zero padding some images have padded (zero) rows at the top,
    # others at the bottom, others none.
    if padding_mode == "constant":
        top_zero = (out[:, 0, 6, 0] == 0).mean()
        bottom_zero = (out[:, -1, 6, 0] == 0).mean()
        assert 0.3 < top_zero < 0.6 and 0.3 < bottom_zero < 0.6  # 4/9 each


def test_offsets_differ_between_images_and_calls_and_follow_the_seed():
    _, images = ramp_images(64)
    a, b = RandomPadCrop(4, seed=5), RandomPadCrop(4, seed=5)
    first = to_numpy(a(images, training=True))
    np.testing.assert_array_equal(first, to_numpy(b(images, training=True)))
    assert len({row.tobytes() for row in first[:, 6, :, 0]}) > 3  # per image, not per batch
    assert not np.array_equal(first, to_numpy(a(images, training=True)))


def test_inference_and_zero_padding_are_the_identity():
    _, images = ramp_images(4)
    np.testing.assert_array_equal(to_numpy(RandomPadCrop(4)(images)), images)
    np.testing.assert_array_equal(to_numpy(RandomPadCrop(0)(images, training=True)), images)


def test_inside_a_compiled_train_step():
    _, images = ramp_images(8)
    model = keras.Sequential([
        keras.Input((16, 16, 3)), RandomPadCrop(4, seed=0),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2),
    ])
    model.compile("sgd", "mse", jit_compile=keras.backend.backend() == "jax")
    history = model.fit(images, np.zeros((8, 2)), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(ValueError, match="non-negative integer.*padding=-1"):
        RandomPadCrop(-1)
    with pytest.raises(ValueError, match=r"one of \('constant', 'reflect'\).*'edge'"):
        RandomPadCrop(4, "edge")
    with pytest.raises(ValueError, match="padding < the image size.*padding=4 for 4x4"):
        RandomPadCrop(4, "reflect")(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="batch of images"):
        RandomPadCrop(4)(np.zeros((4, 4, 3), "float32"))
