"""Importing spaCy without torch, and sqlite-utils without pandas.

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
import importlib.abc
import sys
import types


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


@contextlib.contextmanager
def spacy_cli_deferred():
    """spaCy's __init__ imports its whole command line (spacy.cli: every
    command, typer, weasel, requests; about half a second of every curator
    action) for one name, `spacy.info`, which nothing here calls. Inside the
    block, `import spacy` binds spacy.info to a function that imports the
    command line when it is called; after the block `import spacy.cli`
    imports the real one."""
    if "spacy" in sys.modules:
        yield
        return
    cli = types.ModuleType("spacy.cli")
    cli.__path__ = []  # a package, as the real one
    info_module = types.ModuleType("spacy.cli.info")

    def info(*args, **kwargs):
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    info_module.info = info  # type: ignore[attr-defined]
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = cli, info_module
    try:
        yield
    finally:
        for name, module in (("spacy.cli", cli), ("spacy.cli.info", info_module)):
            if sys.modules.get(name) is module:
                del sys.modules[name]
        spacy = sys.modules.get("spacy")
        if spacy is not None and getattr(spacy, "cli", None) is cli:
            delattr(spacy, "cli")


class _WithoutPandas(importlib.abc.Loader):
    """Runs the real loader of sqlite_utils.db with pandas hidden."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if "pandas" in sys.modules:
            return self.loader.exec_module(module)
        sys.modules["pandas"] = None  # type: ignore[assignment]
        try:
            self.loader.exec_module(module)
        finally:
            if sys.modules.get("pandas", 0) is None:
                del sys.modules["pandas"]


class SqliteUtilsWithoutPandas(importlib.abc.MetaPathFinder):
    """sqlite-utils imports pandas when it is installed, only to map
    pandas.Timestamp to TEXT (nothing here inserts pandas objects); pandas
    costs about a second of a curator's one-story action. This finder loads
    `sqlite_utils.db` with pandas hidden; pandas itself still imports
    normally afterwards. Installed once by evidence/__init__.py."""

    def find_spec(self, name, path, target=None):
        if name != "sqlite_utils.db" or "pandas" in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _WithoutPandas(spec.loader)
                return spec
        return None


def install() -> None:
    """Install the sqlite-utils finder once per process."""
    if not any(isinstance(f, SqliteUtilsWithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, SqliteUtilsWithoutPandas())
