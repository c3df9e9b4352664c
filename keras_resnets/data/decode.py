"""Image decoding for the readers: TensorFlow when it is installed, else Pillow.

TensorFlow decodes JPEG with `INTEGER_ACCURATE` (libjpeg's default, which
Pillow uses too), so both give the same pixels for PNG/BMP/GIF and, with the
same libjpeg build, for JPEG. Where TensorFlow is installed it always decodes,
so decoded-array caches do not depend on the loader chosen for training.
"""

import io

import numpy as np

from keras_resnets.data.errors import MissingPackageError

_BACKEND = None


def tensorflow_available():
    """Whether `import tensorflow` works (imports it: a cached answer)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def pillow_available():
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def backend():
    """`"tensorflow"` or `"pillow"`; raises `MissingPackageError` when
    neither is installed."""
    global _BACKEND
    if _BACKEND is None:
        if tensorflow_available():
            _BACKEND = "tensorflow"
        elif pillow_available():
            _BACKEND = "pillow"
        else:
            raise MissingPackageError(
                "Decoding image files needs the Pillow package (or tensorflow); "
                "neither is installed. Install pillow, or pass an .npz file with "
                "x_train, y_train, x_test, y_test as the data source.",
                package="pillow",
            )
    return _BACKEND


# === TensorFlow ===


def _tf_decode(data):
    import tensorflow as tf

    # INTEGER_ACCURATE matches PIL/libjpeg's default and is faster than
    # decode_image's default (INTEGER_FAST).
    return tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )


def _tf_decode_images(payloads, from_files, batch_size):
    import tensorflow as tf

    count = len(payloads)
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.range(count, dtype=tf.int64), tf.constant(list(payloads), dtype=tf.string))
    )
    if from_files:
        ds = ds.map(lambda i, p: (i, tf.io.read_file(p)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda i, d: (i, _tf_decode(d)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.ignore_errors()  # drops unreadable files; their indices go missing.
    try:
        batches = list(ds.batch(batch_size).prefetch(tf.data.AUTOTUNE).as_numpy_iterator())
    except tf.errors.InvalidArgumentError:
        # Decode errors were dropped above, so batching failed on sizes.
        sized = ds.map(lambda i, image: (i, tf.shape(image)[:2]))
        shapes = [(int(i), (int(h), int(w))) for i, (h, w) in sized.as_numpy_iterator()]
        return None, [i for i, _ in shapes], shapes
    if not batches:
        return np.zeros((0, 0, 0, 3), np.uint8), [], None
    decoded = np.concatenate([indices for indices, _ in batches])
    images = np.concatenate([images for _, images in batches], axis=0)
    return images, decoded, None


# === Pillow ===


def pil_decode(data):
    """One image (encoded bytes) as a uint8 `(H, W, 3)` array, decoded as
    TensorFlow's reader does: grey repeated, alpha dropped, first frame."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, np.uint8)


def _pil_read(payload, from_files):
    try:
        if from_files:
            with open(payload, "rb") as f:
                payload = f.read()
        return pil_decode(payload)
    except (OSError, ValueError, SyntaxError, EOFError):  # PIL's decode errors
        return None


def _pil_decode_images(payloads, from_files):
    decoded, images = [], []
    for index, payload in enumerate(payloads):
        image = _pil_read(payload, from_files)
        if image is not None:
            decoded.append(index)
            images.append(image)
    if not images:
        return np.zeros((0, 0, 0, 3), np.uint8), [], None
    if len({image.shape for image in images}) > 1:
        shapes = [(i, tuple(image.shape[:2])) for i, image in zip(decoded, images)]
        return None, decoded, shapes
    return np.stack(images), decoded, None


# === Either ===


def read_one(payload, from_files):
    """`payload` (bytes, or a file path when `from_files`) decoded to a
    uint8 `(H, W, 3)` array, or None when it cannot be read or decoded."""
    if backend() == "pillow":
        return _pil_read(payload, from_files)
    import tensorflow as tf

    try:
        return _tf_decode(tf.io.read_file(payload) if from_files else payload).numpy()
    except tf.errors.OpError:
        return None


def decode_images(payloads, *, from_files=False, batch_size=2048):
    """Decodes same-size JPEG/PNG/BMP/GIF images into one uint8 array.

    With TensorFlow, decoding runs in a parallel `tf.data` map; with Pillow,
    in a loop. Files that cannot be read or decoded are left out and
    reported, never mistaken for a size mismatch.

    Args:
        payloads: list of encoded image bytes, or of file paths.
        from_files: bool, whether `payloads` are file paths.
        batch_size: int, images decoded per step (TensorFlow).

    Returns:
        `(images, failed, shapes)`: `images` is a uint8 array
        `(N - len(failed), H, W, 3)` of the images that decode, in order, or
        None when their sizes differ; `failed` is the sorted list of indices
        of `payloads` that could not be decoded; `shapes` is None, or, when
        sizes differ, a list of `(index, (H, W))` of every decoded image.
    """
    if backend() == "pillow":
        images, decoded, shapes = _pil_decode_images(payloads, from_files)
    else:
        images, decoded, shapes = _tf_decode_images(payloads, from_files, batch_size)
    failed = np.setdiff1d(np.arange(len(payloads)), np.asarray(decoded, np.int64)).tolist()
    return images, failed, shapes
