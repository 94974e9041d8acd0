"""Fine-tuning the sentence model for search (issue 17): the training pairs
generated from the evidence base's own stories, the fine-tuning itself with
sentence-transformers' trainer, and a fine-tuned model running in the
torch-free query encoder. The relevance it buys is measured by
tests/benchmarks/bench_search_finetune.py, not here."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT


def _pairs(built, **kw):
    from evidence.enrich.search_pairs import training_pairs
    from evidence.models.embedder import FakeEmbedder

    return training_pairs(built / "evidence.db", FakeEmbedder(), root=built, **kw)


def test_a_sentence_is_paired_with_its_window_without_it(built):
    (built / "pipelines" / "abbreviations.yml").unlink()  # text as written (the next test expands it)
    pairs = _pairs(built)
    conn = sqlite3.connect(built / "evidence.db")
    stories = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, public_title, public_body FROM stories")}
    conn.close()
    assert len({p.item for p in pairs if p.kind in ("sentence", "keywords")}) == len(stories)  # every story gives pairs
    sentences = [p for p in pairs if p.kind == "sentence"]
    assert sentences
    for p in sentences:
        title, body = stories[p.item]
        assert p.query in body and p.query not in p.passage  # the cloze: the sentence is taken out
        assert p.passage.startswith(title)  # the window keeps its context, as it is embedded
        assert len(p.query.split()) >= 6
    titles = [p for p in pairs if p.kind == "title"]
    assert {p.item for p in titles} == set(stories) and all(p.query == stories[p.item][0] for p in titles)


def test_the_pairs_expand_abbreviations_as_the_build_and_search_do(built):
    from evidence.content.abbreviations import load_glossary

    glossary = load_glossary(built)
    plain = {(p.kind, p.item, p.query) for p in _pairs(built)}
    assert plain
    (built / "pipelines" / "abbreviations.yml").write_text("abbreviations:\n  SL: Shared Lives carer\n",
                                                          encoding="utf-8")
    pairs = _pairs(built)
    assert any("Shared Lives carer (SL)" in p.passage for p in pairs)
    assert any("Shared Lives carer (SL)" in p.query for p in pairs if p.kind == "sentence")
    assert glossary and all("(SL)" not in q for _, _, q in plain)


def test_excluded_items_give_no_pairs_and_the_cap_per_story_holds(built):
    conn = sqlite3.connect(built / "evidence.db")
    ids = [r[0] for r in conn.execute("SELECT id FROM stories ORDER BY id")]
    conn.close()
    pairs = _pairs(built, exclude={ids[0]}, per_story=2,
                   questions=[{"query": "people who met new friends", "expect": ids[0]},
                              {"query": "someone who moved house", "expect": ids[1]}])
    assert ids[0] not in {p.item for p in pairs}
    per_story = {}
    for p in pairs:
        if p.kind == "sentence":
            per_story[p.item] = per_story.get(p.item, 0) + 1
    assert per_story and max(per_story.values()) <= 2
    questions = [p for p in pairs if p.kind == "question"]
    assert [(p.query, p.item) for p in questions] == [("someone who moved house", ids[1])]
    # the question's passage is one of its story's embedded passages
    from evidence.enrich.embeddings import _rows, item_passages
    from sqlite_utils import Database

    db = Database(str(built / "evidence.db"))
    row = _rows(db, "story", [ids[1]])[0]
    db.close()
    assert questions[0].passage in [p.embed_text for p in item_passages("story", row, 3, 2, ("title", "summary"))]
    assert _pairs(built, exclude={ids[0]}, per_story=2) == _pairs(built, exclude={ids[0]}, per_story=2)  # seeded


def test_keywords_drop_stop_words_and_names_and_keep_abbreviations():
    from evidence.content.words import keywords

    assert keywords("After his wife died, Frank stopped going out and rarely spoke to anyone in Leeds.") == \
        "wife died stopped going out rarely spoke anyone"
    assert keywords("Her PAs help with MND care at home every morning.") == "PAs help MND care home every morning"
    assert keywords("One two three four five six", limit=4) == "one two three four"
    assert keywords("It was what it was.") == ""


def test_a_share_of_sentence_pairs_asks_in_keywords(built):
    from evidence.content.words import keywords
    from evidence.enrich.passages import sentence_bounds
    from evidence.enrich.search_pairs import KEYWORD_SHARE, MIN_KEYWORDS

    (built / "pipelines" / "abbreviations.yml").unlink()  # text as written
    pairs = _pairs(built)
    conn = sqlite3.connect(built / "evidence.db")
    bodies = dict(conn.execute("SELECT id, public_body FROM stories"))
    conn.close()
    asked = [p for p in pairs if p.kind in ("sentence", "keywords")]
    short = [p for p in asked if p.kind == "keywords"]
    # a share near KEYWORD_SHARE (a sentence with too few content words stays a sentence)
    assert 0.5 * KEYWORD_SHARE * len(asked) <= len(short) <= KEYWORD_SHARE * len(asked) * 1.3 + 2
    for p in short:
        body = bodies[p.item]
        sources = [body[s:e].strip() for s, e in sentence_bounds(body)]
        source = [t for t in sources if keywords(t) == p.query]
        assert source, p.query  # the keywords of one of the story's sentences...
        assert any(t not in p.passage for t in source)  # ...and that sentence is taken out of its window
        assert len(p.query.split()) >= MIN_KEYWORDS and p.query != source[0]


def _copy_bundled(tmp_path, pooling: dict):
    from evidence.models.weights import bundled_path

    folder = tmp_path / "model"
    shutil.copytree(bundled_path(), folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


@pytest.mark.parametrize("pooling,ok", [
    ({"pooling_mode": "mean", "embedding_dimension": 384}, True),  # as sentence-transformers 6 saves a model
    ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, True),  # as older versions did
    ({"pooling_mode": "cls", "embedding_dimension": 384}, False),
    ({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, False),
])
def test_the_numpy_encoder_runs_mean_pooled_models_however_their_pooling_is_written(tmp_path, pooling, ok):
    from evidence.models.numpy_encoder import supported

    assert supported(_copy_bundled(tmp_path, pooling)) is ok


@pytest.mark.model
def test_a_fine_tuned_model_is_a_folder_the_torch_free_query_encoder_runs(built, tmp_path):
    from evidence.models.finetune import finetune

    pairs = _pairs(built)[:8]
    out = finetune([(p.query, p.passage) for p in pairs], tmp_path / "ft", batch=4, progress=False)
    from evidence.models.weights import bundled_path, sha256_file

    assert sha256_file(out / "model.safetensors") != sha256_file(bundled_path() / "model.safetensors")  # it trained
    code = ("import sys, json; from pathlib import Path; from evidence.models.embedder import get_query_embedder; "
            f"v = get_query_embedder({str(out)!r}).encode(['an older man who found company']); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'v': [float(x) for x in v[0]]}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["torch"] is False
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(out), device="cpu").encode(["an older man who found company"], normalize_embeddings=True)
    assert np.abs(np.array(got["v"]) - ref[0]).max() < 1e-4


def test_fine_tuning_refuses_too_few_pairs(tmp_path):
    from evidence.errors import EvidenceError
    from evidence.models.finetune import finetune

    with pytest.raises(EvidenceError, match="at least 2"):
        finetune([("a question", "")], tmp_path / "ft")
