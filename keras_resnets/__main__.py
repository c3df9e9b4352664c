"""`python -m keras_resnets ...`: the same as the `keras-resnets` command."""

import sys

from keras_resnets.cli import main

if __name__ == "__main__":
    sys.exit(main())
