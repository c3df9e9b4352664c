"""argparse `type=` functions for the command line's numbers (standard
library only, so every subcommand's argument definitions can use them).

A bad value becomes argparse's error, which `cli` prints as one line with
exit status 2: `argument --batch-size: must be an integer >= 1. Received: 0`.
"""

import argparse


def _integer(text, minimum):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"must be an integer >= {minimum}. Received: {text!r}"
        ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Received: {value}")
    return value


def positive_int(text):
    """An int >= 1 (batch sizes, steps, epochs, top-k)."""
    return _integer(text, 1)
