"""One-story curator actions do not import torch, and enrichment stays
complete: with the real model, a story added after a build is tagged,
embedded (by the numpy encoder, the same vectors as sentence-transformers),
linked and found by the next search; a review and a withdrawal load no
torch either. The timings beside the import of sentence-transformers are in
tests/benchmarks/bench_curator.py."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_base
from support.probe import run_cold, torch_modules

ROOT = Path(__file__).resolve().parent.parent

STORY = """Marek, a retired bus driver in Swansea, stopped going out after his knee operation and ate
toast for every meal. A Community Navigator visited, found him a lunch club at the chapel and a
neighbour who drives him there on Thursdays. He now cooks a proper dinner twice a week with the
recipes he swaps at the club, and says the weeks have a shape again.
"""


@pytest.fixture(scope="module")
def real_base(tmp_path_factory):
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    root = copy_base(tmp_path_factory.mktemp("speed") / "base")
    build(root, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
    return root


@pytest.mark.model
def test_one_story_add_review_withdraw_without_torch_and_fully_enriched(real_base: Path, tmp_path: Path):
    body = tmp_path / "marek.md"
    body.write_text(STORY, encoding="utf-8")
    r, mods = run_cold(["add", "--title", "Marek's Thursday lunch club", "--approach", "community-navigators",
                  "--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "form v2",
                  "--source-title", "Navigator notes", "--source-organisation", "Swansea Council",
                  "--person", "Marek:person supported", "--body-file", str(body), "--no-input"], real_base, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "spacy" in mods, "the add did tag the story with spaCy"
    assert not torch_modules(mods), "a one-story add must not import torch"
    conn = sqlite3.connect(real_base / "evidence.db")
    try:
        sid = "mareks-thursday-lunch-club"
        assert conn.execute("SELECT count(*) FROM tags WHERE item_id = ?", [sid]).fetchone()[0] > 0
        n, model = conn.execute("SELECT count(*), min(model) FROM embeddings WHERE item_id = ?", [sid]).fetchone()
        assert n > 0 and model == "all-MiniLM-L6-v2"
        assert conn.execute("SELECT count(*) FROM tagged_items WHERE item_id = ?", [sid]).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM linked_stories WHERE story_id = ?", [sid]).fetchone() == (1,)
    finally:
        conn.close()
    # found by the next search, which runs on the public database
    s = subprocess.run([sys.executable, "-m", "evidence", "search", "an older man eating alone who now goes to a lunch club",
                        "--json", "--limit", "3", "--root", str(real_base)], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert s.returncode == 0, s.stderr
    assert sid in [h["id"] for h in json.loads(s.stdout)]
    # a review and a withdrawal: no torch either
    conn = sqlite3.connect(real_base / "evidence.db")
    domain = conn.execute("SELECT domain FROM tags WHERE item_id = ? ORDER BY score DESC", [sid]).fetchone()[0]
    conn.close()
    r, mods = run_cold(["review", sid, domain, "--confirm", "--by", "Speed Test"], real_base, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "spacy" in mods and not torch_modules(mods)  # the review re-tagged the story
    r, mods = run_cold(["withdraw", sid, "--reason", "consent-withdrawn"], real_base, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert mods and not torch_modules(mods)


@pytest.mark.model
def test_small_batches_on_the_numpy_encoder_match_sentence_transformers():
    """The small-batch path (padded batches of different lengths) gives the
    vectors sentence-transformers gives."""
    from evidence.models.embedder import SentenceTransformerEmbedder
    from evidence.models.weights import BUNDLED_SHA256, bundled_path

    texts = ["Short one.", STORY, "He cooks a proper dinner twice a week.", "A lunch club at the chapel " * 40,
             "Ffion, 91, taught her neighbour's children to knit."]
    emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_path(), BUNDLED_SHA256)
    small = emb.encode(texts)  # torch not loaded yet: the numpy encoder
    assert emb._model is None and emb._small is not None
    model = emb.load()
    ref = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    assert np.abs(small - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
