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


def test_the_pipeline_imports_spacy_without_its_command_line_which_still_works_when_asked():
    """spaCy's own __init__ imports spacy.cli (half a second) for spacy.info;
    the tagger's import defers it: spacy.info and spacy.cli still work."""
    code = ("import sys, evidence.enrich.nlp, spacy; "
            "print('spacy.cli' in sys.modules, 'weasel' in sys.modules, 'torch' in sys.modules); "
            "assert sorted(spacy.info(markdown=False, silent=True))[:1] == ['location']; "
            "import spacy.cli; print(callable(spacy.cli.download), 'spacy.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["False False False", "True True"], out
