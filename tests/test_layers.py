"""The house's layers hold: import-linter checks the contract in
pyproject.toml, so an import that runs back up the data flow fails here."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contract() -> dict:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["importlinter"]["contracts"][0]


def test_import_linter_keeps_the_layers_contract():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_every_sub_package_and_top_module_is_in_a_layer():
    named = {m.strip() for layer in _contract()["layers"] for m in layer.replace(":", "|").split("|")}
    pkg = ROOT / "evidence"
    subs = {f"evidence.{p.name}" for p in pkg.iterdir() if (p / "__init__.py").exists()}
    assert subs <= named, f"sub-packages outside the layers contract: {sorted(subs - named)}"
    tops = {p.stem for p in pkg.glob("*.py")} - {"__init__", "__main__"}
    assert {f"evidence.{t}" for t in tops} <= named, "a top-level module is not in the layers contract"


def test_the_package_keeps_its_house_shape():
    pkg = ROOT / "evidence"
    assert len(list(pkg.glob("*.py"))) <= 6, "the top of evidence/ holds at most 6 modules; put a new one in a stage"
    assert len([p for p in pkg.iterdir() if (p / "__init__.py").exists()]) >= 5
    assert not (pkg / "synthetic.py").exists() and not (pkg / "integrity.py").exists()  # test-only code lives in tests/support
