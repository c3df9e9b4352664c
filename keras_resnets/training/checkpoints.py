"""Files a run folder can trust: atomic writes, checksummed training states,
and one clear error when the disk is full or the folder is not writable.

Every file of a run is written to a hidden temporary name beside it, flushed
to the disk (`fsync`) and moved into place with `os.replace`, so a run killed
at any moment leaves the old or the new version of each file, never half of
one; a write that fails removes its temporary file and raises
`RunFolderWriteError` (one line: the folder, the cause, what was kept).

The training state (`backup/`) keeps the last `KEEP` epochs, each as
`epoch-<n>.weights.h5` (model and optimizer variables, random-generator
states) and `epoch-<n>.json` (its epoch, size and SHA-256). `latest_state`
verifies them newest first and falls back to the newest intact one (the
trainer names each damaged file in one line); `training_metadata.json` names the newest
state, for people and for folders written before the checksums existed.
"""

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import pathlib
import re

KEEP = 2
METADATA = "training_metadata.json"
_STATE_JSON = re.compile(r"epoch-(\d+)\.json")
# Errors that mean "this folder cannot take the file", not a bug: reported
# in one line, and the same command continues once they are fixed.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                             errno.EPERM, errno.EFBIG})


class RunFolderWriteError(OSError):
    """A run-folder file could not be written (full disk, read-only folder,
    permission denied). The message names the file, its folder, the cause
    and what the folder still holds; the folder is left as it was before
    the write (no temporary file).

    Attributes:
        path: the file that could not be written.
        cause: the operating system's words (`"No space left on device"`).
        kept: what the run folder still holds.
    """

    def __init__(self, path, cause, kept):
        self.path, self.cause, self.kept = pathlib.Path(path), cause, kept
        super().__init__(
            f"Cannot write {self.path.name} in {self.path.parent} ({cause}); nothing was "
            f"left half-written and the run folder keeps {kept}. Free space (or fix the "
            "folder's permissions) and run the same command to continue."
        )

    def keeping(self, kept):
        """The same error, saying that the folder keeps `kept`."""
        return RunFolderWriteError(self.path, self.cause, kept)


@dataclasses.dataclass(frozen=True)
class State:
    """One training state of `backup/`.

    Attributes:
        epoch: epochs the state holds.
        weights: path of its `.weights.h5` file.
        record: its `epoch-<n>.json` (what `save_state` was given as
            `extra`, e.g. the random-generator states).
        damaged: one line per newer state that failed verification.
    """

    epoch: int
    weights: pathlib.Path | None
    record: dict = dataclasses.field(default_factory=dict)
    damaged: tuple = ()


def is_storage_error(error):
    """Whether `error` (or an error it was raised from) is a full disk, a
    read-only folder or a permission error."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
            return True
        if "No space left on device" in str(error) or "Read-only file system" in str(error):
            return True  # h5py words the OS error in its own message
        error = error.__cause__ or error.__context__
    return False


def _cause(error):
    while error is not None:
        if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
            return os.strerror(error.errno)
        error = error.__cause__ or error.__context__
    return "No space left on device"


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary(path):
    return path.with_name(f".{path.name}.tmp{''.join(path.suffixes[-2:])}")


@contextlib.contextmanager
def storage_errors(path, kept):
    """Turns a storage error raised inside the block into a
    `RunFolderWriteError` naming `path`'s folder and `kept`."""
    try:
        yield
    except RunFolderWriteError:
        raise
    except Exception as error:
        if not is_storage_error(error):
            raise
        raise RunFolderWriteError(path, _cause(error), kept) from error


def atomic_save(path, save, *, kept="its previous files"):
    """Writes `path` through `save(temporary_path)`, `fsync` and `os.replace`.

    Args:
        path: the file to write.
        save: callable writing the file it is given.
        kept: what the run folder holds if the write fails (for the message).

    Raises:
        RunFolderWriteError: a storage error; the temporary file is removed.
    """
    path = pathlib.Path(path)
    tmp = _temporary(path)
    with storage_errors(path, kept):
        try:
            save(tmp)
            _fsync(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def atomic_write_text(path, text, *, kept="its previous files", if_changed=False):
    """Writes `text` to `path` atomically (see `atomic_save`).

    Args:
        if_changed: leave the file alone when it already holds `text` (a
            resumed run on a full disk gets to its first epoch).
    """
    path = pathlib.Path(path)
    if if_changed and path.is_file():
        try:
            if path.read_text() == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
    atomic_save(path, lambda tmp: pathlib.Path(tmp).write_text(text), kept=kept)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_state(folder, epoch, save_weights, *, extra=None):
    """Writes the state after `epoch` into `folder` and keeps the last `KEEP`.

    The weights file goes first, then its checksum file (the state exists
    once both are in place), then `training_metadata.json`; older states
    beyond `KEEP` are deleted last.

    Args:
        folder: the `backup/` folder.
        epoch: int, epochs the state holds.
        save_weights: callable writing the weights file it is given.
        extra: JSON-ready dict stored in the state's record.

    Raises:
        RunFolderWriteError: a storage error; the states already there are
            kept.
    """
    folder = pathlib.Path(folder)
    previous = latest_state(folder)
    kept = (f"the state after epoch {previous.epoch} ({folder.name}/"
            f"{previous.weights.name})" if previous.weights else "no training state yet")
    with storage_errors(folder / "x", kept):
        folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epoch}.weights.h5"
    atomic_save(folder / name, save_weights, kept=kept)
    record = json.dumps({**(extra or {}), "epoch": epoch, "weights": name,
                         "bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)})
    atomic_write_text(folder / f"epoch-{epoch}.json", record + "\n", kept=kept)
    atomic_write_text(folder / METADATA, record + "\n", kept=kept)
    for old_epoch in sorted(_state_epochs(folder))[:-KEEP]:
        (folder / f"epoch-{old_epoch}.json").unlink(missing_ok=True)
        (folder / f"epoch-{old_epoch}.weights.h5").unlink(missing_ok=True)
    for stray in folder.glob("epoch-*.weights.h5"):  # weights without a record
        match = re.fullmatch(r"epoch-(\d+)\.weights\.h5", stray.name)
        if match and int(match[1]) not in _state_epochs(folder):
            stray.unlink(missing_ok=True)


def _state_epochs(folder):
    epochs = []
    for path in pathlib.Path(folder).glob("epoch-*.json"):
        match = _STATE_JSON.fullmatch(path.name)
        if match:
            epochs.append(int(match[1]))
    return epochs


def latest_state(folder):
    """The newest intact training state in `folder`.

    States are verified newest first (record readable, weights file present,
    size and SHA-256 as recorded). A folder from before the checksums
    (`training_metadata.json` alone) is trusted when its weights file opens
    as HDF5.

    Args:
        folder: the `backup/` folder.

    Returns:
        A `State` (its `damaged` names each newer state that failed, for
        the caller to report); `State(0, None)` when there is none.
    """
    folder = pathlib.Path(folder)
    damaged = []
    epochs = sorted(_state_epochs(folder), reverse=True)
    for epoch in epochs:
        path = folder / f"epoch-{epoch}.json"
        problem, weights, record = _verify(folder, path, epoch)
        if problem is None:
            return State(epoch, weights, record, tuple(damaged))
        damaged.append(problem)
    if not epochs:
        legacy = _legacy_state(folder, damaged)
        if legacy is not None:
            return State(legacy[0], legacy[1], {}, tuple(damaged))
    return State(0, None, {}, tuple(damaged))


def _verify(folder, record_path, epoch):
    try:
        record = json.loads(record_path.read_text())
        weights = folder / record["weights"]
        expected_size, expected_sum = int(record["bytes"]), record["sha256"]
        if int(record["epoch"]) != epoch:
            raise ValueError("wrong epoch")
    except (OSError, ValueError, KeyError, TypeError):
        return f"{record_path} is damaged (not a state record)", None, None
    if not weights.is_file():
        return f"{weights} is missing", None, None
    size = weights.stat().st_size
    if size != expected_size:
        return (f"{weights} is damaged ({size:,} bytes instead of {expected_size:,})",
                None, None)
    if sha256(weights) != expected_sum:
        return (f"{weights} is damaged (its SHA-256 differs from {record_path.name}'s)",
                None, None)
    return None, weights, record


def _legacy_state(folder, damaged):
    meta = folder / METADATA
    if not meta.is_file():
        return None
    try:
        state = json.loads(meta.read_text())
        epoch, weights = int(state["epoch"]), folder / state["weights"]
    except (OSError, ValueError, KeyError, TypeError):
        damaged.append(f"{meta} is damaged")
        return None
    if not _opens_as_hdf5(weights):
        damaged.append(f"{weights} is missing or damaged")
        return None
    return epoch, weights


def _opens_as_hdf5(path):
    try:
        import h5py

        with h5py.File(path, "r"):
            return True
    except (OSError, ValueError):
        return False
