"""Every benchmark script in tests/benchmarks/ takes --quick (tiny sizes, a
few seconds), so `make bench-quick` (run by `make test`) keeps them all
alive: a new benchmark without --quick fails here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted((ROOT / "tests" / "benchmarks").glob("*.py"))


def test_every_benchmark_script_offers_quick_in_its_help():
    assert len(BENCHMARKS) >= 8, BENCHMARKS
    # all at once: most of the time is each script's imports
    procs = {p.name: subprocess.Popen([sys.executable, str(p), "--help"], cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True) for p in BENCHMARKS}
    missing = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0 or "--quick" not in out:
            missing[name] = (proc.returncode, out[-500:])
    assert not missing, missing
