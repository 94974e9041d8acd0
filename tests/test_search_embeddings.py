"""The embedding step of the build: passages with offsets, float32 vectors,
only changed text embedded, deletions, privacy, rollback."""
from __future__ import annotations

import numpy as np
import pytest

from evidence.build import BuildOptions, build
from evidence.models.embedder import FakeEmbedder
from evidence.enrich.embeddings import STEP, from_blob, to_blob
from evidence.enrich.embeddings import enrich as embeddings_step
from evidence.enrich.passages import finding_passages, roles_text, sentence_bounds, story_passages, windows
from search_helpers import CountingEmbedder, FailingEmbedder, rows, write_story


# These tests count what the embeddings step embeds; tagging, which embeds
# codebook examples and sentences with the same embedder, is measured in its
# own tests: the build runs the embeddings step alone.
EMBEDDINGS_ONLY = (embeddings_step,)


def _build(base, embedder=None, progress=None):
    return build(base, options=BuildOptions(embedder=embedder or CountingEmbedder(), progress=progress,
                                            enrich_steps=EMBEDDINGS_ONLY))


def test_every_story_and_finding_gets_passages_and_float32_vectors(built):
    work, public = built / "evidence.db", built / "public.db"
    for db in (work, public):
        items = set(rows(db, "SELECT DISTINCT item_type, item_id FROM passages"))
        assert items == {("story", r[0]) for r in rows(db, "SELECT id FROM stories")} | \
            {("finding", r[0]) for r in rows(db, "SELECT id FROM findings")}
        assert rows(db, "SELECT count(*) FROM passages")[0][0] == rows(db, "SELECT count(*) FROM embeddings")[0][0]
    blob, text, population = rows(public, "SELECT e.vector, p.text, f.population FROM embeddings e JOIN passages p "
                                          "USING (item_type, item_id, passage) JOIN findings f ON f.id = e.item_id "
                                          "WHERE e.item_type = 'finding' AND f.population != '' LIMIT 1")[0]
    assert len(blob) == 384 * 4
    vec = np.frombuffer(blob, dtype="<f4")
    # little-endian float32 of the statement with its population (passage_context in pipelines/embedding.yml)
    assert np.allclose(vec, FakeEmbedder().encode([f"{text} ({population})"])[0])
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5


def test_passage_offsets_point_into_the_public_text(built):
    work = built / "evidence.db"
    bodies = dict(rows(work, "SELECT id, public_body FROM stories"))
    summaries = dict(rows(work, "SELECT id, public_summary FROM stories"))
    checked = 0
    for item_id, field, start, end, text in rows(work, "SELECT item_id, field, start_char, end_char, text FROM passages WHERE item_type = 'story'"):
        source = bodies[item_id] if field == "body" else summaries[item_id]
        assert source[start:end] == text
        checked += 1
    assert checked > 7  # more than one passage per story
    # a long story is cut into several overlapping windows
    n = rows(work, "SELECT count(*) FROM passages WHERE item_id = 'older-woman-local-area-coordinator'")[0][0]
    assert n >= 4


def test_sentence_windows_cover_every_sentence_and_overlap():
    text = "One. Two! Three? Four. Five.\n\nSix"
    spans = sentence_bounds(text)
    assert [text[a:b] for a, b in spans] == ["One.", "Two!", "Three?", "Four.", "Five.", "Six"]
    wins = windows(spans, 3, 2)
    assert [text[a:b] for a, b in wins] == ["One. Two! Three?", "Three? Four. Five.", "Five.\n\nSix"]
    ps = story_passages("Title", "Sum.", text, context=("title",))
    assert ps[0].field == "summary" and ps[0].embed_text == "Title. Sum."
    assert all(p.embed_text == "Title: " + p.text for p in ps[1:])
    # the default context: title and summary before every window
    ps = story_passages("Title", "Sum.", text)
    assert ps[0].embed_text == "Title. Sum." and all(p.embed_text == "Title Sum.: " + p.text for p in ps[1:])
    # roles, never names, when asked for; the text and its offsets stay the window's own
    people = [{"name": "Rosa Vane", "role": "homesharer"}, {"name": "Ian", "role": "householder"}, {"role": "homesharer"}]
    ps = story_passages("Title", "Sum.", text, context=("title", "roles"), roles=roles_text(people))
    assert ps[0].embed_text == "Title (homesharer, householder). Sum."
    assert all(p.embed_text == "Title (homesharer, householder): " + p.text for p in ps[1:])
    assert all("Rosa" not in p.embed_text for p in ps) and [p.text for p in ps[1:]] == [text[a:b] for a, b in wins]


def test_a_finding_is_embedded_with_its_population_or_study_as_asked():
    assert finding_passages("Rates fell.", "Study", ())[0].embed_text == "Rates fell."
    p = finding_passages("Rates fell.", "[A study]", ("study", "population"), population="older people")[0]
    assert p.embed_text == "A study: Rates fell. (older people)" and p.text == "Rates fell." and (p.start, p.end) == (0, 11)


def test_an_unknown_passage_context_is_a_one_line_error():
    from evidence.enrich.embeddings import passage_context
    from evidence.errors import EvidenceError

    assert passage_context({}) == ("title", "summary", "population")
    with pytest.raises(EvidenceError, match="passage_context has 'names'; use a list of: title, summary, roles"):
        passage_context({"passage_context": ["title", "names"]})


def test_vectors_round_trip_as_little_endian_float32():
    v = np.array([1.5, -2.25, 0.0], dtype=np.float32)
    blob = to_blob(v)
    assert blob == b"\x00\x00\xc0?\x00\x00\x10\xc0\x00\x00\x00\x00"
    assert np.array_equal(from_blob(blob), v)


def test_unchanged_text_is_never_embedded_again(base):
    first = CountingEmbedder()
    _build(base, first)
    assert len(first.texts) == rows(base / "evidence.db", "SELECT count(DISTINCT text_hash) FROM passages")[0][0]
    again = CountingEmbedder()
    summary = _build(base, again)
    assert again.texts == [] and STEP not in summary.enriched and not summary.public_written


def test_a_changed_story_embeds_only_its_new_passages(base):
    _build(base)
    work = base / "evidence.db"
    before = dict(((r[0], r[1]), r[2]) for r in rows(work, "SELECT item_id, passage, text_hash FROM passages"))
    path = base / "stories" / "james-and-phil.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("fishing and going to the greyhound races", "fishing, bowls and going to the greyhound races"),
                    encoding="utf-8")
    emb = CountingEmbedder()
    summary = _build(base, emb)
    assert summary.changed == 1
    assert emb.texts and all("bowls" in t for t in emb.texts)  # the windows holding the changed sentence, nothing else
    after = dict(((r[0], r[1]), r[2]) for r in rows(work, "SELECT item_id, passage, text_hash FROM passages"))
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed and {k[0] for k in changed} == {"james-and-phil"}
    public = rows(base / "public.db", "SELECT text FROM passages WHERE item_id = 'james-and-phil'")
    assert any("bowls" in t for (t,) in public)


def test_a_deleted_story_leaves_no_passages_or_vectors(base):
    _build(base)
    (base / "stories" / "james-and-phil.md").unlink()
    summary = _build(base)
    assert summary.removed == 1
    for db in ("evidence.db", "public.db"):
        assert rows(base / db, "SELECT count(*) FROM passages WHERE item_id = 'james-and-phil'") == [(0,)]
        assert rows(base / db, "SELECT count(*) FROM embeddings WHERE item_id = 'james-and-phil'") == [(0,)]


def test_anonymised_story_is_embedded_from_the_pseudonymised_text(base):
    write_story(base, "hidden-name", "Wilhelmina finds a home", "Wilhelmina moved in with her carer. Wilhelmina now gardens every day.",
                summary="Wilhelmina gardens.", identity="anonymised", pseudonym="a woman",
                people="  - {name: Wilhelmina, role: person supported}\n")
    emb = CountingEmbedder()
    _build(base, emb)
    assert not any("Wilhelmina" in t for t in emb.texts)
    assert any("a woman now gardens" in t for t in emb.texts)
    for db in ("evidence.db", "public.db"):
        texts = [t for (t,) in rows(base / db, "SELECT text FROM passages WHERE item_id = 'hidden-name'")]
        assert texts and not any("Wilhelmina" in t for t in texts)


def test_stories_without_public_consent_stay_out_of_the_public_vectors(base):
    write_story(base, "research-only", "Research only story", "Ezekiel told us about the allotment. It was private.",
                scope="research")
    write_story(base, "a-draft", "Draft story", "A draft about the allotment. Not yet published.", status="draft")
    _build(base)
    assert rows(base / "evidence.db", "SELECT count(*) FROM embeddings WHERE item_id = 'research-only'")[0][0] > 0
    for item in ("research-only", "a-draft"):
        assert rows(base / "public.db", "SELECT count(*) FROM embeddings WHERE item_id = ?", [item]) == [(0,)]
        assert rows(base / "public.db", "SELECT count(*) FROM passages WHERE item_id = ?", [item]) == [(0,)]


def test_a_failing_embedder_rolls_the_whole_build_back(base):
    _build(base)
    work = base / "evidence.db"
    before = rows(work, "SELECT item_id, passage, text_hash FROM passages ORDER BY 1, 2")
    write_story(base, "new-one", "A new one", "Someone new. Something else happened.")
    with pytest.raises(RuntimeError, match="fell over"):
        _build(base, FailingEmbedder())
    assert rows(work, "SELECT item_id, passage, text_hash FROM passages ORDER BY 1, 2") == before
    assert rows(work, "SELECT count(*) FROM stories WHERE id = 'new-one'") == [(0,)]
    _build(base)  # and the next build picks the story up
    assert rows(work, "SELECT count(*) FROM passages WHERE item_id = 'new-one'")[0][0] >= 1


def test_a_new_model_reembeds_everything_and_drops_the_old_vectors(base):
    _build(base)
    other = CountingEmbedder("other-model")
    summary = _build(base, other)
    assert summary.public_written and summary.enriched[STEP] > 0
    n = rows(base / "evidence.db", "SELECT count(DISTINCT text_hash) FROM passages")[0][0]
    assert len(other.texts) == n
    for db in ("evidence.db", "public.db"):
        assert rows(base / db, "SELECT DISTINCT model FROM embeddings") == [("other-model",)]


def test_embedding_reports_progress(base):
    seen = []
    _build(base, progress=lambda stage, done, total: seen.append((stage, done, total)))
    embedding = [s for s in seen if s[0] == "embedding passages"]
    assert embedding and embedding[-1][1] == embedding[-1][2] > 0


def test_a_story_withdrawn_but_kept_as_a_row_loses_its_vectors(base):
    from types import SimpleNamespace

    from evidence.store import schema as store
    from evidence.build import BuildSummary
    from evidence.enrich.embeddings import enrich

    _build(base)
    db = store.open_db(base / "evidence.db")
    try:
        with db.atomic():
            db.execute("UPDATE stories SET status = 'withdrawn' WHERE id = 'james-and-phil'")
            summary = BuildSummary(changed_ids={"stories": ["james-and-phil"]})
            enrich(db, summary, SimpleNamespace(root=base, embedder=CountingEmbedder(), progress=None))
        assert db.execute("SELECT count(*) FROM passages WHERE item_id = 'james-and-phil'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM embeddings WHERE item_id = 'james-and-phil'").fetchone()[0] == 0
        assert summary.enriched[STEP] > 0
    finally:
        db.close()


def test_list_items_and_headings_end_a_passage_sentence():
    """Passages are cut from the same sentences the tagger sees: a list item
    or a Markdown heading is one (its number stays with its words), a
    hard-wrapped line or a #hashtag is not."""
    text = "## What changed\n- Moira opens her post\n1. She walks weekly, she says\n#Fife folk ask her\n2) She cooks"
    assert [text[a:b] for a, b in sentence_bounds(text)] == [
        "## What changed", "- Moira opens her post", "1. She walks weekly, she says\n#Fife folk ask her", "2) She cooks"]
