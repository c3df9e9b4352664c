"""Quiet backends for the command line (`keras-resnets` without `--verbose`).

TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` once, when it is imported, so
`quiet_backends()` must run before any backend import. Some lines ignore
that variable: C++ code logging before absl is initialised ("WARNING: All
log messages before absl::InitializeLog() is called...", "cudart_stub.cc:
Could not find cuda drivers", "failed call to cuInit" on machines without a
GPU). `quiet_backends()` therefore also routes file descriptor 2 through a
thread that drops those known lines and passes every other byte on
unchanged (Python tracebacks, warnings and errors included).
"""

import contextlib
import logging
import os
import re
import sys
import threading

# Whole lines dropped from stderr (bytes, matched at the start of a line).
_NOISE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
    # glog-style INFO/WARNING lines from C++ (TF's own are already off).
    rb"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
    # ERROR lines that only say there is no usable GPU.
    rb"|E\d{4} [^\]]*\] (?:failed call to cuInit|.*(?:Unable to register cu(?:DNN|FFT|BLAS) "
    rb"factory|computation placer already registered|kernel driver does not appear))"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
)
# Could a partial line still become a noise line? Then it waits for its end.
_NOISE_START = re.compile(rb"[IWE]\d|WARNING: All|To enable")
_NOISY_LOGGERS = ("tensorflow", "absl", "jax._src.xla_bridge", "h5py")


def _is_noise(line):
    return _NOISE.match(line) is not None


def _may_become_noise(partial):
    head = partial[:12]
    return (
        _NOISE_START.match(partial) is not None
        or any(start.startswith(head) for start in (b"WARNING: All", b"To enable"))
        or (len(head) == 1 and head in b"IWE")
    )


def _pump(read_fd, write_fd):
    """Copies `read_fd` to `write_fd` until EOF, without the noise lines."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        lines = re.split(rb"(?<=[\n\r])", pending)
        pending = lines.pop()  # b"" or an unterminated line
        out = b"".join(line for line in lines if not _is_noise(line))
        if pending and not _may_become_noise(pending):
            out, pending = out + pending, b""
        if out:
            _write_all(write_fd, out)
    if pending and not _is_noise(pending):
        _write_all(write_fd, pending)
    os.close(read_fd)


def _write_all(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass


@contextlib.contextmanager
def filter_stderr():
    """Drops the known backend noise lines from file descriptor 2 while
    the block runs; everything else reaches stderr unchanged."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr: nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_pump, args=(read_fd, saved), daemon=True,
                              name="keras_resnets-stderr")
    thread.start()
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)  # closes the pipe's write end: the pump sees EOF
        thread.join(timeout=5)
        if not thread.is_alive():  # a child still holding the pipe keeps it
            os.close(saved)


def quiet_backends():
    """Sets the backends' log levels before they are imported: TensorFlow's
    C++ INFO/WARNING off (`TF_CPP_MIN_LOG_LEVEL=2` unless set), and the
    TensorFlow, absl and JAX Python loggers to ERROR."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


_PROCESS_FILTER = []


def hide_backend_logs():
    """What `keras-resnets` does without `--verbose`, for a script: call it
    after `import keras_resnets` and before keras, keras_tuner or a backend
    is imported. Sets the backends' log levels (`quiet_backends`) and drops
    their known noise lines from stderr (`filter_stderr`) until the process
    exits; Python tracebacks, warnings and errors still reach stderr."""
    import atexit

    quiet_backends()
    if not _PROCESS_FILTER:
        context = filter_stderr()
        context.__enter__()
        _PROCESS_FILTER.append(context)
        atexit.register(context.__exit__, None, None, None)
