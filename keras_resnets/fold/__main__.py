"""`python -m keras_resnets.fold MODEL [MODEL ...]`: inference images/s of
registered models before and after `fold_batch_norm` (see `main`)."""

import sys

from keras_resnets.fold import main

sys.exit(main())
