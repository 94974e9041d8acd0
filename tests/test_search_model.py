"""The search model (issue 17): a copy of the sentence model fine-tuned on
the evidence base's own stories by `evidence build`, kept beside the
working database, used by search only. Here: its life in the build
(trained when due, not again when nothing grew, again when the stories grew,
never by a curator's action, dropped when a story it learnt from is
withdrawn or when switched off), search with it in numpy, and the errors.
What it buys in relevance is measured on the 280 items by
tests/test_search_relevance.py and tests/benchmarks/bench_relevance.py."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, copy_base
from evidence.enrich.search_model import id_key
from support.probe import run_cold, torch_modules

# small enough for the seven seed stories (91 pairs at most): 48 pairs, two
# training steps (the first is the warm-up, at learning rate 0); the
# repository's own settings need 1,500
SMALL = "\nsearch_tuning_min_pairs: 20\nsearch_tuning_max_pairs: 48\n"
CORPUS = ROOT / "tests" / "corpus" / "stories"


def _meta(db: Path, key: str) -> str:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else ""
    finally:
        conn.close()


def _models(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT model, count(*) FROM embeddings GROUP BY model"))
    finally:
        conn.close()


def _build(root: Path, tune: bool = True):
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    return build(root, options=BuildOptions(embedder=get_embedder(root, name="all-MiniLM-L6-v2"), tune_search=tune))


# ---------------------------------------------------------------------------
# without the model


@pytest.mark.parametrize("line, words", [
    ("search_tuning: sometimes", "'search_tuning' must be true or false"),
    ("search_tuning_min_pairs: 1", "'search_tuning_min_pairs' must be a whole number"),
    ("search_tuning_max_pairs: 2.5", "'search_tuning_max_pairs' must be a whole number"),
    ("search_tuning_growth: -1", "'search_tuning_growth' must be a number from 0 to 100"),
])
def test_a_wrong_search_tuning_setting_is_a_one_line_error(tmp_path: Path, line: str, words: str):
    from evidence.errors import EvidenceError
    from evidence.models.embedder import settings

    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "embedding.yml").write_text(f"model: all-MiniLM-L6-v2\n{line}\n", encoding="utf-8")
    with pytest.raises(EvidenceError) as err:
        settings(tmp_path)
    assert words in str(err.value) and "embedding.yml" in str(err.value) and "\n" not in str(err.value)


def test_the_fake_model_and_a_small_evidence_base_train_nothing(built: Path):
    """The shipped settings need 1,500 pairs; the seed stories give fewer, and
    the fake embedder of plumbing tests never trains."""
    from evidence.build import BuildOptions, build

    summary = build(built, options=BuildOptions(tune_search=True, force_publish=True))
    assert "search_model" not in summary.enriched
    assert not (built / ".evidence-models").exists() and not _meta(built / "evidence.db", "search_model")
    assert set(_models(built / "public.db")) == {"fake-hash-384"}


def test_a_database_naming_a_missing_search_model_is_a_one_line_error(built: Path):
    conn = sqlite3.connect(built / "public.db")
    conn.execute("UPDATE embeddings SET model = 'search-0123456789abcdef'")
    conn.commit()
    conn.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("EVIDENCE_MODELS_DIR", None)
    r = subprocess.run([sys.executable, "-m", "evidence", "search", "an older woman", "--root", str(built)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1
    line = r.stderr.strip()
    assert "\n" not in line and "search-0123456789abcdef" in line and ".evidence-models" in line
    assert "evidence build" in line and "unexpected" not in line.lower()


def test_build_can_be_told_not_to_train(tmp_path: Path):
    r = subprocess.run([sys.executable, "-m", "evidence", "build", "--help"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200"), timeout=60)
    assert r.returncode == 0 and "--no-tune" in r.stdout


# ---------------------------------------------------------------------------
# with the real model: one evidence base through its life


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> Path:
    root = copy_base(tmp_path_factory.mktemp("tuned") / "base")
    cfg = root / "pipelines" / "embedding.yml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + SMALL, encoding="utf-8")
    summary = _build(root)
    assert summary.enriched.get("search_model")
    return root


@pytest.mark.model
def test_the_build_trains_a_search_model_and_publishes_its_vectors(tuned: Path):
    model = _meta(tuned / "evidence.db", "search_model")
    assert model.startswith("search-")
    folder = tuned / ".evidence-models" / model
    info = json.loads((folder / "evidence-model.json").read_text(encoding="utf-8"))
    assert info["pairs"] == 48 and info["stories"] == 7 and len(info["sha256"]) == 64
    assert (folder / "model.safetensors").exists()
    assert not (folder / "README.md").exists()  # sentence-transformers' model card quotes training pairs
    working = _models(tuned / "evidence.db")
    assert working[model] == working["all-MiniLM-L6-v2"] > 0  # every passage in both; tagging keeps the bundled one
    assert set(_models(tuned / "public.db")) == {model}  # only what search uses is published
    # it was really trained: the same passage has another vector
    conn = sqlite3.connect(tuned / "evidence.db")
    rows = conn.execute("SELECT model, vector FROM embeddings WHERE item_type = 'story' AND passage = 1 AND "
                        "item_id = 'agnes-and-lucia'").fetchall()
    conn.close()
    a, b = (np.frombuffer(v, dtype="<f4") for _, v in sorted(rows))
    assert len(rows) == 2 and float(a @ b) < 0.9999


@pytest.mark.model
def test_search_embeds_the_query_with_the_search_model_in_numpy(tuned: Path, tmp_path: Path):
    r, mods = run_cold(["search", "an older woman isolated after her bus route closed", "--json", "--limit", "3",
                        "--mode", "vector"],
                       tuned, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not torch_modules(mods) and "evidence.models.numpy_encoder" in mods
    hits = json.loads(r.stdout)
    assert hits[0]["id"] == "older-woman-local-area-coordinator"
    # the score is the search model's cosine: recompute it from the folder's weights
    from evidence.models.embedder import get_query_embedder
    from evidence.search.index import get_index

    idx = get_index(tuned / "public.db")
    assert idx.model == _meta(tuned / "evidence.db", "search_model")
    q = get_query_embedder(idx.model, near=tuned / "public.db").encode(
        ["an older woman isolated after her bus route closed"])[0]
    item = idx.item("story", hits[0]["id"])
    assert float(idx.item_scores(q)[item]) == pytest.approx(hits[0]["score"], abs=2e-3)


@pytest.mark.model
def test_curators_actions_embed_with_it_and_training_waits_for_growth(tuned: Path, tmp_path: Path):
    model = _meta(tuned / "evidence.db", "search_model")
    again = _build(tuned)  # nothing changed: nothing trained, nothing embedded
    assert "search_model" not in again.enriched and _meta(tuned / "evidence.db", "search_model") == model
    # a curator's one-story build: no torch, the new story embedded by the search model
    new = sorted(CORPUS.glob("c-*.md"))[0]
    shutil.copy(new, tuned / "stories" / new.name)
    r, mods = run_cold(["build", "--no-tune"], tuned, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not torch_modules(mods)
    assert _meta(tuned / "evidence.db", "search_model") == model
    conn = sqlite3.connect(tuned / "public.db")
    assert conn.execute("SELECT count(*), min(model) FROM embeddings WHERE item_id = ?", [new.stem]).fetchone()[1] == model
    conn.close()
    # 8 stories after training on 7: not a quarter more, so `evidence build` keeps the model
    assert "search_model" not in _build(tuned).enriched
    second = sorted(CORPUS.glob("c-*.md"))[1]
    shutil.copy(second, tuned / "stories" / second.name)
    summary = _build(tuned)  # 9 >= 7 x 1.25: trained again, on the new stories too
    newer = _meta(tuned / "evidence.db", "search_model")
    assert summary.enriched.get("search_model") and newer != model
    assert id_key(second.stem) in json.loads(_meta(tuned / "evidence.db", "search_model_stories"))
    assert set(_models(tuned / "public.db")) == {newer}
    assert set(_models(tuned / "evidence.db")) == {newer, "all-MiniLM-L6-v2"}


@pytest.mark.model
def test_withdrawing_a_story_it_learnt_from_deletes_the_model(tuned: Path, tmp_path: Path):
    model = _meta(tuned / "evidence.db", "search_model")
    trained_on = json.loads(_meta(tuned / "evidence.db", "search_model_stories"))
    assert id_key("james-and-andy") in trained_on  # hashed: an id often holds a name
    # the withdrawal takes the story's sentences out of the shipped training
    # CSV, so the tagger's classifier is fitted again, on vectors the working
    # database keeps: no torch, even when this process's earlier builds had
    # handed the classifier to the fixture's build from memory
    r, mods = run_cold(["withdraw", "james-and-andy", "--reason", "consent-withdrawn"], tuned, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not torch_modules(mods)
    assert not (tuned / ".evidence-models" / model).exists()
    assert not _meta(tuned / "evidence.db", "search_model")
    assert set(_models(tuned / "public.db")) == {"all-MiniLM-L6-v2"}  # search falls back to the bundled model
    s = subprocess.run([sys.executable, "-m", "evidence", "search", "a man who left an epilepsy centre", "--json",
                        "--root", str(tuned)], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert s.returncode == 0, s.stderr
    assert "james-and-andy" not in [h["id"] for h in json.loads(s.stdout)]
    # `evidence build` trains again, without the withdrawn story; switched off, the model goes
    _build(tuned)
    model = _meta(tuned / "evidence.db", "search_model")
    assert model and id_key("james-and-andy") not in json.loads(_meta(tuned / "evidence.db", "search_model_stories"))
    cfg = tuned / "pipelines" / "embedding.yml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "search_tuning: false\n", encoding="utf-8")
    _build(tuned)
    assert not _meta(tuned / "evidence.db", "search_model") and not (tuned / ".evidence-models" / model).exists()
    assert set(_models(tuned / "public.db")) == {"all-MiniLM-L6-v2"}


def test_every_search_model_gets_the_weak_match_threshold_measured_on_one():
    from evidence.search.query import WEAK_BELOW, weak_threshold

    assert weak_threshold("search-0123456789abcdef") == WEAK_BELOW["search-"]
    assert weak_threshold("all-MiniLM-L6-v2") == WEAK_BELOW["all-MiniLM-L6-v2"]
    assert weak_threshold("/models/some-other-model") is None  # not measured: no flag
