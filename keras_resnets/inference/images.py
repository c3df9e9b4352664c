"""Images for a `Predictor`: decoding files with PIL (`read_image`) and
checking arrays (`as_image_list`)."""

import pathlib

import numpy as np

from keras_resnets.errors import UserFileNotFoundError
from keras_resnets.errors import UserValueError

IMAGE_FORMATS = "JPEG, PNG, BMP or GIF"


def as_image_list(images):
    """A list of uint8 `(H, W, 3)` arrays."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    elif isinstance(images, np.ndarray) or not isinstance(images, (list, tuple)):
        images = [images]
    out = []
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise UserValueError(
                "Expected uint8 images (pixel values 0-255), as decoded from image files. "
                f"Received: image {i} of dtype={image.dtype}"
            )
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or 0 in image.shape:
            raise UserValueError(
                "Expected images of shape (H, W, C) with C = 1, 3 or 4, or a batch "
                f"(N, H, W, C). Received: image {i} of shape={image.shape}"
            )
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        out.append(image[..., :3])
    if not out:
        raise UserValueError("Expected at least one image. Received: an empty batch")
    return out


def read_image(path):
    """Decodes an image file into a uint8 RGB array `(H, W, 3)` with PIL.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is not a JPEG, PNG, BMP or GIF image.
    """
    from PIL import Image
    from PIL import UnidentifiedImageError

    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise UserFileNotFoundError(f"No image file at {str(path)!r}.")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserValueError(
            f"Cannot decode {str(path)!r} as an image ({type(e).__name__}). "
            f"Expected a {IMAGE_FORMATS} file."
        ) from None
