"""The search module and the `evidence search` / `evidence similar` commands
(fake embedder: these test plumbing, ranking mechanics and errors)."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from evidence.search import index as vector_index
from evidence.build import build
from evidence.errors import EvidenceError
from evidence.search.query import Filters, fts_rank, fuse, search, similar, similar_json
from evidence.search.index import VectorIndex, get_index, top_k
from search_helpers import write_story

from evidence.web.urls import row_path  # noqa: E402

BUS = "an older woman isolated after her bus route closed"


def test_search_returns_best_first_with_snippet_and_url(built_session):
    hits = search(built_session / "public.db", "older patient isolation bus service GP", limit=5)
    assert hits[0].id == "older-woman-local-area-coordinator" and hits[0].type == "story"
    assert row_path("public", hits[0].type, hits[0].id) == "/public/stories/older-woman-local-area-coordinator"
    assert "url" not in hits[0].to_dict()  # search returns ids and scores; the web and the CLI build URLs
    assert "bus" in hits[0].snippet
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits) == 5 and len({h.id for h in hits}) == 5


def test_index_refreshes_after_a_story_is_added_and_after_it_is_removed(built):
    public = built / "public.db"
    query = "Zebedee repairs bicycles for his neighbours in the village hall"
    assert all(h.id != "zebedee" for h in search(public, query, limit=3))
    first = get_index(public)
    write_story(built, "zebedee", "Zebedee and the bicycles", "Zebedee repairs bicycles for his neighbours. "
                "He does it in the village hall on Saturdays.")
    build(built)
    hits = search(public, query, limit=3)
    assert hits[0].id == "zebedee"
    assert get_index(public) is not first and get_index(public).size == first.size + 1
    assert similar(public, "zebedee", limit=2)
    (built / "stories" / "zebedee.md").unlink()
    build(built)
    assert all(h.id != "zebedee" for h in search(public, query, limit=10))
    with pytest.raises(EvidenceError, match="unknown id 'zebedee'"):
        similar(public, "zebedee")


def test_the_working_database_refreshes_too(built):
    work = built / "evidence.db"
    before = get_index(work).size
    write_story(built, "research-zebedee", "Zebedee in private", "Zebedee repairs bicycles. Nobody else may know.",
                scope="research")
    build(built)
    assert get_index(work).size == before + 1  # curators can search unpublished stories in the working db
    assert search(work, "Zebedee repairs bicycles", limit=1)[0].id == "research-zebedee"
    assert all(h.id != "research-zebedee" for h in search(built / "public.db", "Zebedee repairs bicycles", limit=50))


def test_a_filter_that_excludes_the_best_match_still_returns_k_of_the_filtered_set(built_session):
    public = built_session / "public.db"
    best = search(public, BUS, limit=1)[0]
    assert best.id == "older-woman-local-area-coordinator"
    conn = sqlite3.connect(public)
    shared = {r[0] for r in conn.execute("SELECT id FROM stories WHERE approach = 'shared-lives'")}
    catalysts = {r[0] for r in conn.execute("SELECT id FROM findings WHERE approach = 'community-catalysts'")}
    conn.close()
    hits = search(public, BUS, limit=3, filters=Filters(approach="shared-lives"))
    assert len(hits) == 3 and {h.id for h in hits} == shared  # all three shared-lives stories, none else
    # a larger filtered set (not the selective code path): still k results, all from the set
    hits = search(public, BUS, limit=8, filters=Filters(approach="community-catalysts", type="finding"))
    assert len(hits) == 8 and {h.id for h in hits} <= catalysts
    # the same scores as ranking everything and keeping the set, k deep (ids may swap on ties)
    everything = [h.score for h in search(public, BUS, limit=46) if h.id in catalysts][:8]
    assert [h.score for h in hits] == pytest.approx(everything)


def test_type_area_and_place_filters(built_session):
    public = built_session / "public.db"
    assert {h.type for h in search(public, BUS, limit=10, filters=Filters(type="finding"))} == {"finding"}
    hits = search(public, BUS, limit=10, filters=Filters(area="whole-community-work"))
    assert hits and all(h.id == "older-woman-local-area-coordinator" or h.type == "finding" for h in hits)
    somerset = search(public, BUS, limit=10, filters=Filters(place="somerset"))  # any case
    assert somerset and {h.id for h in somerset} <= {"pearl-florist-somerset", "somerset-catalyst-ventures",
                                                       "somerset-pearl-local-workers", "somerset-pearl-older-neighbours"}


@pytest.mark.parametrize("filters, message", [
    (Filters(approach="shared-live"), "unknown approach 'shared-live' (did you mean 'shared-lives'?); known approaches: community-catalysts"),
    (Filters(type="stories"), "unknown type 'stories'; use story or finding"),
    (Filters(area="nowhere"), "unknown area of work 'nowhere'"),
    (Filters(place="Atlantis"), "unknown place 'Atlantis'; places in this database: England, Somerset"),
    (Filters(domain="ascot/control"), "unknown domain 'ascot/control'"),
])
def test_unknown_filter_values_are_refused_with_the_valid_ones(built_session, filters, message):
    with pytest.raises(EvidenceError) as err:
        search(built_session / "public.db", BUS, filters=filters)
    assert message in str(err.value) and "\n" not in str(err.value)


def _tagged_copy(src, dest, split: bool):
    shutil.copy(src, dest)
    conn = sqlite3.connect(dest)
    conn.execute("DROP TABLE IF EXISTS tags")  # replaced by a small, known one
    if split:  # framework and domain in separate columns, with a review status
        conn.execute("CREATE TABLE tags (item_type TEXT, item_id TEXT, framework TEXT, domain TEXT, review_status TEXT)")
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?)", [
            ("story", "james-and-andy", "ascot", "accommodation", "suggested"),
            ("story", "james-and-phil", "ascot", "accommodation", "rejected"),
            ("finding", "poet2-independent-living-support", "ascot", "accommodation", "confirmed"),
            ("story", "agnes-and-lucia", "ascot", "social-participation", "confirmed")])
    else:
        conn.execute("CREATE TABLE tags (item_type TEXT, item_id TEXT, domain TEXT, score REAL)")
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, 0.9)", [
            ("story", "james-and-andy", "ascot/accommodation"),
            ("finding", "poet2-independent-living-support", "ascot/accommodation"),
            ("story", "agnes-and-lucia", "ascot/social-participation")])
    conn.commit()
    conn.close()
    return dest


@pytest.mark.parametrize("split", [False, True])
def test_domain_filter_uses_the_tags_table(built_session, tmp_path, split):
    db = _tagged_copy(built_session / "public.db", tmp_path / "public.db", split)
    hits = search(db, BUS, limit=10, filters=Filters(domain="ascot/accommodation"))
    assert {h.id for h in hits} == {"james-and-andy", "poet2-independent-living-support"}  # rejected tag ignored
    assert [h.id for h in search(db, BUS, limit=10, filters=Filters(domain="accommodation", type="story"))] == ["james-and-andy"]
    with pytest.raises(EvidenceError, match="unknown domain 'ascot/nope'.*; known domains: ascot/accommodation, "):
        search(db, BUS, filters=Filters(domain="ascot/nope"))


def test_domain_filter_without_tags_says_so(built_session, tmp_path):
    db = tmp_path / "public.db"
    shutil.copy(built_session / "public.db", db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE tags")
    conn.commit()
    conn.close()
    with pytest.raises(EvidenceError, match="no outcome tags in this database; run evidence build with tagging"):
        search(db, BUS, filters=Filters(domain="ascot/occupation"))


def test_fuse_is_reciprocal_rank_fusion():
    vector = [(1, 0.9), (2, 0.8), (3, 0.7)]
    words = [(3, 12.0), (4, 8.0)]
    fused = fuse(vector, words, k=60)
    assert [item for item, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 61)


def test_hybrid_search_blends_cosine_and_normalised_bm25(built_session):
    from evidence.search.query import DEFAULT_MODE, HYBRID_VECTOR_WEIGHT as w

    public = built_session / "public.db"
    query = "Pearl florist kettle"
    vec = search(public, query, limit=100, mode="vector")
    fts = search(public, query, limit=100, mode="fts")
    hyb = search(public, query, limit=5, mode="hybrid")
    assert DEFAULT_MODE == "hybrid" and [h.id for h in search(public, query, limit=5)] == [h.id for h in hyb]
    assert fts and fts[0].id in {"pearl-florist-somerset", "somerset-pearl-local-workers"}
    best = fts[0].score
    words = {h.id: h.score / best for h in fts}
    scores = {h.id: w * h.score + (1 - w) * words.get(h.id, 0.0) for h in vec}
    expected = sorted(scores, key=lambda i: -scores[i])[:5]
    assert [h.id for h in hyb] == expected
    assert [h.score for h in hyb] == pytest.approx([scores[i] for i in expected])
    assert 0 < hyb[-1].score < hyb[0].score <= 1.0  # on the cosine scale


def test_a_filtered_hybrid_search_keeps_each_item_s_score(built_session):
    public = built_session / "public.db"
    everything = {h.id: h.score for h in search(public, BUS, limit=46, mode="hybrid")}
    hits = search(public, BUS, limit=5, mode="hybrid", filters=Filters(type="finding"))
    assert len(hits) == 5 and all(h.type == "finding" for h in hits)
    assert [h.score for h in hits] == pytest.approx([everything[h.id] for h in hits])


def test_fts_mode_needs_no_model_and_honours_filters(built_session, monkeypatch):
    import evidence.search.query as s

    monkeypatch.setattr(s, "embed_query", lambda *a: (_ for _ in ()).throw(AssertionError("model used")))
    public = built_session / "public.db"
    hits = {h.id: h for h in search(public, "florist", mode="fts", limit=5)}
    assert set(hits) == {"pearl-florist-somerset", "somerset-pearl-local-workers"}  # the only texts with the word
    assert "florist" in hits["pearl-florist-somerset"].snippet  # the passage sharing the query's words
    assert search(public, "florist", mode="fts", filters=Filters(type="finding"))[0].id.startswith("somerset-pearl")
    assert search(public, "florist", mode="fts", filters=Filters(approach="shared-lives")) == []


def test_similar_leaves_the_item_out_and_takes_filters(built_session):
    public = built_session / "public.db"
    hits = similar(public, "james-and-andy", limit=5)
    assert len(hits) == 5 and "james-and-andy" not in {h.id for h in hits}
    assert {h.type for h in similar(public, "finding:national-pb-holders", limit=3, filters=Filters(type="story"))} == {"story"}


def test_sql_function_json(built_session):
    out = json.loads(similar_json(built_session / "public.db", BUS, 3))
    assert len(out) == 3 and set(out[0]) == {"id", "type", "score"}
    assert all(o["type"] == "finding" for o in json.loads(similar_json(built_session / "public.db", BUS, 4, "finding")))
    assert similar_json(built_session / "public.db", "  ", 3) == "[]"


def _random_index(n_items: int, passages: int, seed: int = 0) -> VectorIndex:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, passages + 1, n_items)
    m = rng.standard_normal((int(counts.sum()), 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    row_item = np.repeat(np.arange(n_items), counts).astype(np.int32)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    ids = [f"i{i:05d}" for i in range(n_items)]
    return VectorIndex(path="x.db", stamp=(), model="m", matrix=m, row_item=row_item,
                       row_passage=np.concatenate([np.arange(c) for c in counts]).astype(np.int32),
                       item_start=starts, item_type=np.zeros(n_items, dtype=np.int8), item_ids=ids)


@pytest.mark.parametrize("share", [0.05, 0.6, 1.0])
def test_index_top_k_equals_brute_force_with_masks(share):
    idx = _random_index(2000, 4)
    rng = np.random.default_rng(1)
    q = rng.standard_normal(16).astype(np.float32)
    q /= np.linalg.norm(q)
    mask = rng.random(2000) < share
    sims = idx.matrix @ q
    best = np.full(2000, -np.inf)
    for row, item in enumerate(idx.row_item):
        if mask[item]:
            best[item] = max(best[item], sims[row])
    expected = [int(i) for i in np.argsort(-best)[:10]]
    got = idx.top_k(q, 10, mask)
    assert [i for i, _ in got] == expected
    assert [s for _, s in got] == pytest.approx([best[i] for i in expected])


def test_top_k_handles_small_and_empty_inputs():
    assert top_k(np.array([0.1, 0.5], dtype=np.float32), 10) == [(1, 0.5), (0, pytest.approx(0.1))]
    assert top_k(np.array([-np.inf, 0.2], dtype=np.float32), 2) == [(1, pytest.approx(0.2))]
    assert top_k(np.array([], dtype=np.float32), 3) == []


def test_a_database_without_embeddings_gets_a_clear_error(tmp_path):
    db = tmp_path / "empty.db"
    sqlite3.connect(db).execute("CREATE TABLE stories (id TEXT)").connection.close()
    with pytest.raises(EvidenceError, match="has no embeddings table; run 'evidence build'"):
        search(db, "anything")
    vector_index._indexes.clear()


# ---------------------------------------------------------------------------
# the command line


def test_cli_search_json(cli, built_session):
    r = cli(["search", "older patient isolation bus service GP", "--root", built_session, "--json", "--limit", "3"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out) == 3 and out[0]["id"] == "older-woman-local-area-coordinator"
    assert {"id", "type", "title", "score", "snippet", "url"} <= set(out[0])
    assert out[0]["url"] == "/-/story/older-woman-local-area-coordinator"  # the story's page
    assert out[0]["score"] >= out[1]["score"] >= out[2]["score"]


def test_cli_search_text_and_filters(cli, built_session):
    r = cli(["search", BUS, "--root", built_session, "--type", "story", "--approach", "shared-lives", "-n", "2"])
    assert r.exit_code == 0
    assert "1. " in r.stdout and "2. " in r.stdout and "3. " not in r.stdout and "shared" not in r.stderr
    assert "/-/story/" in r.stdout


def test_cli_similar(cli, built_session):
    r = cli(["similar", "james-and-andy", "--root", built_session, "--json", "-n", "4"])
    assert r.exit_code == 0
    ids = [h["id"] for h in json.loads(r.stdout)]
    assert len(ids) == 4 and "james-and-andy" not in ids


def test_cli_no_match_is_an_empty_result(cli, built_session):
    # goodgym has no stories or findings: nothing to rank, not an error
    r = cli(["search", BUS, "--root", built_session, "--approach", "goodgym", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    r = cli(["search", BUS, "--root", built_session, "--approach", "goodgym"])
    assert r.exit_code == 0 and r.stdout == "" and "no results" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["search", ""], "Error: the query is empty; give some words to search for"),
    (["search"], "Error: the query is empty"),
    (["search", BUS, "--approach", "nope"], "Error: unknown approach 'nope'; known approaches: community-catalysts, "),
    (["search", BUS, "--type", "people"], "Error: unknown type 'people'; use story or finding"),
    (["search", BUS, "--mode", "magic"], "Error: unknown mode 'magic'; use one of: hybrid, vector, fts"),
    (["search", BUS, "--limit", "0"], "Error: limit 0 is out of range"),
    (["search", BUS, "--domain", "ascot/control"], "Error: unknown domain 'ascot/control'"),
    (["similar", "no-such-story"], "Error: unknown id 'no-such-story'"),
    (["similar"], "Error: no id given"),
    (["search", BUS, "--db", "missing.db"], "does not exist; run 'evidence build' first"),
])
def test_cli_bad_input_is_one_line_exit_1(cli, built_session, args, message):
    r = cli([*args, "--root", built_session])
    assert r.exit_code == 1
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""


def test_cli_search_imports_no_torch(built_session):
    code = ("import sys; from typer.testing import CliRunner; import evidence.cli as c; "
            f"r = CliRunner().invoke(c.app, ['search', 'bus', '--root', r'{built_session}', '--json']); "
            "assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'spacy', 'sentence_transformers', 'sklearn', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_fts_rank_applies_the_mask_in_sql(built_session):
    public = built_session / "public.db"
    idx = get_index(public)
    conn = sqlite3.connect(public)
    mask = idx.item_type == 1
    ranked = fts_rank(idx, conn, "Pearl florist", mask, 10)
    conn.close()
    assert ranked and all(idx.item_type[i] == 1 for i, _ in ranked)


def test_a_story_added_with_evidence_add_is_found_by_the_next_search(cli, built, tmp_path):
    public = built / "public.db"
    query = "Ottoline teaches neighbours to mend clothes at the library"
    before = get_index(public).size
    (tmp_path / "stories").mkdir()
    src = write_story(tmp_path, "ottoline", "Ottoline mends", "Ottoline teaches her neighbours to mend clothes. "
                      "They meet at the library every Tuesday.")
    r = cli(["add", "--file", src, "--root", built, "--quiet"])
    assert r.exit_code == 0, r.output
    hits = search(public, query, limit=1)
    assert hits[0].id == "ottoline" and get_index(public).size == before + 1
    assert "mend clothes" in hits[0].snippet or "mends" in hits[0].title


def test_the_sign_bit_first_pass_finds_what_exact_search_finds_and_honours_masks():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((300, 384)).astype(np.float32)
    matrix = centres[rng.integers(0, 300, 30_000)] + rng.standard_normal((30_000, 384)).astype(np.float32) * 0.06
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    qs = matrix[rng.integers(0, 30_000, 20)] + rng.standard_normal((20, 384)).astype(np.float32) * 0.03
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    n = len(matrix)
    idx = VectorIndex(path="x.db", stamp=(), model="m", matrix=matrix, row_item=np.arange(n, dtype=np.int32),
                      row_passage=np.zeros(n, dtype=np.int32), item_start=np.arange(n),
                      item_type=np.zeros(n, dtype=np.int8), item_ids=[f"i{i:05d}" for i in range(n)])
    exact = [idx.top_k(q, 10) for q in qs]
    idx.quantise()
    assert idx.codes.nbytes == 30_000 * 48
    recall = [len({i for i, _ in e} & {i for i, _ in idx.top_k(q, 10)}) / 10 for q, e in zip(qs, exact)]
    assert np.mean(recall) >= 0.95
    got = idx.top_k(qs[0], 10)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert all(s == pytest.approx(float(matrix[i] @ qs[0]), abs=1e-5) for i, s in got)  # exact scores
    mask = np.zeros(idx.size, dtype=bool)
    mask[::2] = True  # half the items: the first pass, not the selective path
    assert all(i % 2 == 0 for i, _ in idx.top_k(qs[0], 10, mask)) and len(idx.top_k(qs[0], 10, mask)) == 10


def test_large_indexes_are_quantised_when_loaded(built_session, monkeypatch):
    public = built_session / "public.db"
    exact = [(h.id, h.score) for h in search(public, BUS, limit=5)]
    monkeypatch.setattr(vector_index, "QUANTISE_ROWS", 10)
    idx = vector_index.load(public)
    assert idx.codes is not None
    monkeypatch.setitem(vector_index._indexes, str(public.resolve()), idx)
    got = [(h.id, h.score) for h in search(public, BUS, limit=5)]
    assert [i for i, _ in got] == [i for i, _ in exact]
    assert [s for _, s in got] == pytest.approx([s for _, s in exact], abs=1e-6)


@pytest.mark.parametrize("query,cleaned", [
    ("a story about an older man who lost his wife", "an older man who lost his wife"),
    ("Stories of carers getting a break", "carers getting a break"),
    ("is there evidence that micro-enterprises are cheaper?", "micro-enterprises are cheaper?"),
    ("find me examples of volunteers visiting dying people", "volunteers visiting dying people"),
    ("research on personal budgets and work", "personal budgets and work"),
    # a frame word that is part of what is asked stays
    ("the evidence base", "the evidence base"),
    ("older people and evidence of loneliness", "older people and evidence of loneliness"),
    ("evidence about", "evidence about"),
])
def test_a_request_frame_is_taken_off_the_query(query, cleaned):
    from evidence.search.query import clean_query

    assert clean_query(query) == cleaned


def test_a_framed_query_ranks_as_the_plain_one(built_session):
    public = built_session / "public.db"
    plain = search(public, BUS, limit=5, mode="hybrid")
    framed = search(public, f"a story about {BUS}", limit=5, mode="hybrid")
    assert [(h.id, h.score) for h in framed] == [(h.id, h.score) for h in plain]


def test_search_into_a_closed_pipe_reports_no_disk_error(built_session):
    """`evidence search ... | head -1`: the reader has gone; the command used
    to say 'Broken pipe; check free disk space and permissions'."""
    import os
    from pathlib import Path

    r, w = os.pipe()
    os.close(r)  # the reader is gone before the command writes
    checkout = Path(__file__).resolve().parent.parent  # `-m evidence` from here runs this checkout's code
    try:
        p = subprocess.run([sys.executable, "-m", "evidence", "search", "a lonely older woman", "--root", str(built_session),
                            "-n", "50"], cwd=checkout, stdout=w, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w)
    assert p.returncode == 1 and p.stderr == "", p.stderr
