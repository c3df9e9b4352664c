"""A `keras-resnets train` process that kills itself at a chosen moment
(run by tests/training/test_faults.py in a subprocess).

    python -m tests.training.fault_child CONFIG OUTPUT [FAULT] [--epochs N]

FAULT is one of:
- `write:NAME:EPOCH`: SIGKILL while the file NAME (`epoch-2.weights.h5`,
  `last.keras`, `log.csv`, `metrics.json`, ...) is being written for the
  EPOCH-th time: its temporary file is cut to half its size first, as a kill
  in the middle of the write leaves it;
- `batch:EPOCH:BATCH`: SIGKILL after training batch BATCH (0-based) of
  EPOCH (1-based);
- `test_batch:EPOCH:BATCH`: SIGKILL after evaluation batch BATCH of EPOCH.

Without FAULT it trains normally. Exits with `keras-resnets train`'s code.
"""

import argparse
import os
import pathlib
import signal
import sys

import keras


def _kill():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _KillAt(keras.callbacks.Callback):
    def __init__(self, kind, epoch, batch):
        super().__init__()
        self.kind, self.epoch, self.batch = kind, epoch, batch
        self.current = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.kind == "batch" and (self.current, batch) == (self.epoch, self.batch):
            _kill()

    def on_test_batch_end(self, batch, logs=None):
        if self.kind == "test_batch" and (self.current, batch) == (self.epoch, self.batch):
            _kill()


def _kill_during_write(name, count):
    """Wraps `os.replace` so that the `count`-th write of `name` dies
    half-way (the temporary file cut to half, then SIGKILL)."""
    original = os.replace
    seen = {"n": 0}

    def replace(src, dst, *args, **kwargs):
        if pathlib.Path(dst).name == name:
            seen["n"] += 1
            if seen["n"] == count:
                src = pathlib.Path(src)
                size = src.stat().st_size
                with open(src, "r+b") as f:
                    f.truncate(size // 2)
                _kill()
        return original(src, dst, *args, **kwargs)

    os.replace = replace


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("output")
    parser.add_argument("fault", nargs="?")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)

    from keras_resnets import cli
    from keras_resnets import training

    callbacks = []
    if args.fault:
        kind, *where = args.fault.split(":")
        if kind == "write":
            _kill_during_write(where[0], int(where[1]))
        else:
            callbacks.append(_KillAt(kind, int(where[0]), int(where[1])))
    overrides = [f"training.output_dir={args.output}", *args.overrides]
    if args.epochs:
        overrides.append(f"training.epochs={args.epochs}")
    original_train = training.train
    training.train = lambda config, **kwargs: original_train(
        config, callbacks=callbacks, **kwargs)
    return cli.main(["train", args.config, *sum((["--set", o] for o in overrides), [])])


if __name__ == "__main__":
    sys.exit(main())
