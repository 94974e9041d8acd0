"""The package imports without the heavy stages."""
import subprocess
import sys


def test_help_does_not_import_torch_or_spacy():
    code = ("import sys, evidence.cli; "
            "from typer.testing import CliRunner; r = CliRunner().invoke(evidence.cli.app, ['--help']); "
            "assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'spacy', 'sentence_transformers', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
