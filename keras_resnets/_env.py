"""Process-wide settings that must be made before TensorFlow is imported."""

import os
import sys


def prefer_onednn():
    """Defaults TF_ENABLE_ONEDNN_OPTS to 1 unless the user set it.

    TensorFlow reads the variable once, when it is imported, and by default
    enables oneDNN only on CPUs with AVX-512/AMX. Returns True when
    TensorFlow was already imported, so the default came too late.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    return "tensorflow" in sys.modules
