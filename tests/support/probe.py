"""An `evidence` command run cold in a fresh interpreter, reporting the
modules it had loaded when it ended: how the tests (tests/test_curator_speed.py)
and the benchmark (tests/benchmarks/bench_curator.py) check that one-story
curator actions never import torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# runs `python -m evidence ARGS` in-process (so it can look at sys.modules
# afterwards) and writes the loaded modules' names to the file in argv[1]
PROBE = """
import json, runpy, sys
out = sys.argv.pop(1)
sys.argv[0] = "evidence"
code = 0
try:
    runpy.run_module("evidence", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
with open(out, "w") as fh:
    json.dump(sorted(m for m in sys.modules if sys.modules[m] is not None), fh)
sys.exit(code)
"""


def real_model_env() -> dict:
    """The environment for a cold command: this checkout first on the path,
    and the real embedding model (the fake one unset)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("EVIDENCE_EMBEDDER", None)
    return env


def run_cold(args: list[str], root: Path, work: Path, timeout: float | None = 600) -> tuple[subprocess.CompletedProcess, set[str]]:
    """`evidence ARGS --root ROOT` in a fresh interpreter (the real model);
    the result and the set of modules loaded when it ended (empty if it
    died before writing them). `work` is a folder for the modules file."""
    out = Path(work) / "modules.json"
    out.unlink(missing_ok=True)
    r = subprocess.run([sys.executable, "-c", PROBE, str(out), *args, "--root", str(root)],
                       capture_output=True, text=True, env=real_model_env(), timeout=timeout)
    return r, set(json.loads(out.read_text())) if out.exists() else set()


def torch_modules(modules: set[str]) -> set[str]:
    """The modules of torch (and sentence-transformers, which loads it) among `modules`."""
    return {m for m in modules if m == "torch" or m.startswith("torch.") or m == "sentence_transformers"}
