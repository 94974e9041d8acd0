"""Importing spaCy without torch.

thinc (spaCy's machine-learning library) imports torch at import time
whenever torch is installed, to offer its PyTorch wrappers; that costs
seconds and hundreds of megabytes, and the evidence base's spaCy pipeline
(a blank English pipeline with rule components) never uses it. While
`torch_hidden()` is active, `import torch` raises ImportError (Python's own
rule for a `None` entry in sys.modules), so thinc records `has_torch =
False`; afterwards torch imports normally, e.g. for sentence-transformers
on a large build. A torch that is already imported is left alone.

The window is only the import of spaCy, at module import time (imports
hold Python's import lock for the module being imported, but another thread
importing torch at that very moment would fail: nothing in evidence does).
"""
from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def torch_hidden():
    """Make `import torch` fail inside the block unless torch is already loaded."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
