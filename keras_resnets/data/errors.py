"""The errors the readers raise, and how unreadable image files are reported.

Below every other module of `keras_resnets.data` (numpy-free, TensorFlow-free),
so the readers and the decoders can raise them without importing each other.
"""

from keras_resnets.errors import UserError

# Bad files named in an error message.
MAX_LISTED_FILES = 5


class DataUnavailableError(UserError, RuntimeError):
    """A data set cannot be read (e.g. offline, or not downloaded yet)."""


class MissingPackageError(DataUnavailableError):
    """A source or option needs a package that is not installed (e.g.
    tensorflow-datasets names without TensorFlow); the message names it.

    Attributes:
        package: str, the pip name of the missing package.
    """

    def __init__(self, message, package=""):
        super().__init__(message)
        self.package = package


class CorruptImagesError(UserError, ValueError):
    """Image files that cannot be decoded; the message names them.

    Attributes:
        files: list of str, the bad files, relative to the folder or archive.
        total: int, number of image files in the data set.
    """

    def __init__(self, message, files=(), total=0):
        super().__init__(message)
        self.files = list(files)
        self.total = total


def handle_corrupt(failed, total, skip_corrupt, label):
    """Raises `CorruptImagesError` naming `failed` files, or prints how many
    are skipped when `skip_corrupt`."""
    if not failed:
        return
    failed = sorted(failed)
    count = len(failed)
    files = "file" if count == 1 else "files"
    if not skip_corrupt:
        listed = ", ".join(failed[:MAX_LISTED_FILES])
        if count > MAX_LISTED_FILES:
            listed += f" and {count - MAX_LISTED_FILES} more"
        raise CorruptImagesError(
            f"{count} {files} of {total:,} in {label} could not be decoded as "
            f"images: {listed}; remove them, or set data.skip_corrupt: true "
            "(skip_corrupt=True in load_arrays) to skip them.",
            files=failed,
            total=total,
        )
    images = "image" if count == 1 else "images"
    print(f"skipped {count} corrupt {images} of {total:,} in {label} (first: {failed[0]})")
