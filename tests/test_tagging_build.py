"""Tagging inside the build: tags and entities for every item, the crosswalk,
incremental re-tagging, removal and privacy (fake embedder)."""
import sqlite3
from pathlib import Path

import pytest

from evidence.build import build
from evidence.enrich.tagging import STEP
from support.content import one_tag_per_framework


def q(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_every_item_is_tagged_with_a_checkable_sentence(built_session: Path):
    db = built_session / "evidence.db"
    tagged = q(db, "SELECT item_type, count(*) FROM tagged_items GROUP BY item_type")
    assert dict(tagged) == {"finding": 39, "story": 7}
    rows = q(db, "SELECT t.item_type, t.item_id, t.sentence, t.sentence_start, t.sentence_end, "
                 "coalesce(s.public_body, f.statement), t.status, t.model_id, t.codebook_version, t.run_date "
                 "FROM tags t LEFT JOIN stories s ON s.id = t.story_id LEFT JOIN findings f ON f.id = t.finding_id")
    assert len(rows) > 10
    assert {r[0] for r in rows} == {"story", "finding"}
    for kind, item, sentence, start, end, text, status, model, version, date in rows:
        assert text[start:end] == sentence, (item, sentence)  # offsets into the public text
        assert status == "suggested" and model == "fake-hash-384" and version and date
    # a researcher can find the stories that mention Somerset
    assert q(db, "SELECT DISTINCT item_id FROM entities WHERE label = 'PLACE' AND norm = 'somerset' AND item_type = 'story'") == [
        ("pearl-florist-somerset",)]
    assert q(db, "SELECT value, unit FROM entities WHERE item_id = 'pearl-florist-somerset' AND text = '27 local people'") == [
        (27.0, "local people")]
    people = {r[0] for r in q(db, "SELECT text FROM entities WHERE label = 'PERSON' AND item_id = 'agnes-and-lucia'")}
    assert {"Agnes", "Lucia"} <= people


def test_a_crosswalk_tag_stands_on_its_own_sentences(base: Path):
    one_tag_per_framework(base)
    build(base)
    db = base / "evidence.db"
    cross = set(q(db, "SELECT from_domain, to_domain FROM crosswalk"))
    tags = {(r[0], r[1]): r[2:] for r in q(db, "SELECT item_id, domain, via_crosswalk, via_domain, methods, score, sentence FROM tags")}
    via = [(k, v) for k, v in tags.items() if v[0] == 1]
    assert via, "no tag came through the crosswalk"
    for (item, domain), (_, source, methods, score, sentence) in via:
        assert (source, domain) in cross and (item, source) in tags and methods.startswith("crosswalk+")
        assert score >= 0.3  # its own score reaches the threshold (pipelines/tagging.yml)
        best = q(db, "SELECT sentence, score FROM tag_sentences WHERE item_id = ? AND domain = ? AND rank = 0", [item, domain])
        assert best == [(sentence, score)]  # its own best sentence, not the source's
    # the cap holds for the domains suggested directly
    direct = q(db, "SELECT item_id, framework, count(*) FROM tags WHERE via_crosswalk = 0 AND status = 'suggested' "
                   "GROUP BY item_id, framework HAVING count(*) > 1")
    assert direct == []


def test_second_build_retags_nothing_and_a_change_retags_one_item(base: Path, monkeypatch):
    from evidence.enrich import tagger as tagger_mod

    first = build(base)
    assert first.enriched[STEP] > 0
    seen: list[int] = []
    original = tagger_mod.Tagger.analyse
    monkeypatch.setattr(tagger_mod.Tagger, "analyse", lambda self, docs, *a, **k: seen.append(len(docs)) or original(self, docs, *a, **k))
    again = build(base)
    assert again.enriched[STEP] == 0 and seen == [] and not again.public_written
    story = base / "stories" / "james-and-phil.md"
    story.write_text(story.read_text(encoding="utf-8").replace(
        "such as fishing", "such as fishing, cooking a hot meal every day"), encoding="utf-8")
    third = build(base)
    assert seen == [1] and third.enriched[STEP] > 0 and third.public_written


def test_codebook_change_retags_everything(base: Path):
    build(base)
    fw = base / "pipelines" / "frameworks" / "ascot.yml"
    fw.write_text(fw.read_text(encoding="utf-8").replace('      - "got a job"\n', '      - "got a job"\n      - "paints pictures"\n'), encoding="utf-8")
    before = dict(q(base / "evidence.db", "SELECT item_id, tagger_version FROM tagged_items"))
    build(base)
    after = dict(q(base / "evidence.db", "SELECT item_id, tagger_version FROM tagged_items"))
    assert set(before) == set(after) and all(before[k] != after[k] for k in before)


def test_removed_story_leaves_no_tags_or_entities(base: Path):
    build(base)
    db = base / "evidence.db"
    assert q(db, "SELECT count(*) FROM entities WHERE item_id = 'pearl-florist-somerset'")[0][0] > 0
    (base / "stories" / "pearl-florist-somerset.md").unlink()
    build(base)
    for table in ("tags", "entities", "tagged_items"):
        assert q(db, f"SELECT count(*) FROM {table} WHERE item_id = 'pearl-florist-somerset'") == [(0,)]
    assert q(base / "public.db", "SELECT count(*) FROM entities WHERE item_id = 'pearl-florist-somerset'") == [(0,)]


def test_public_tags_follow_consent_and_pseudonyms(base: Path):
    lucia = base / "stories" / "agnes-and-lucia.md"
    text = lucia.read_text(encoding="utf-8")
    lucia.unlink()  # an anonymised story's id may not hold a name: it is published as it is
    (base / "stories" / "end-of-life-neighbour.md").write_text(
        text.replace("identity: named", "identity: anonymised\n  pseudonym: Rose")
        .replace("id: agnes-and-lucia", "id: end-of-life-neighbour"), encoding="utf-8")
    # the approach's description names them too, and would hold the story back
    approach = base / "approaches" / "compassionate-neighbours.yml"
    approach.write_text(approach.read_text(encoding="utf-8").replace("Lucia, matched with Agnes, says", "one pair says"),
                        encoding="utf-8")
    pearl = base / "stories" / "pearl-florist-somerset.md"
    pearl.write_text(pearl.read_text(encoding="utf-8").replace("scope: public", "scope: research"), encoding="utf-8")
    build(base)
    pub = base / "public.db"
    assert q(pub, "SELECT count(*) FROM tags WHERE item_id = 'pearl-florist-somerset'") == [(0,)]
    assert q(pub, "SELECT count(*) FROM entities WHERE item_id = 'pearl-florist-somerset'") == [(0,)]
    assert q(base / "evidence.db", "SELECT count(*) FROM tags WHERE item_id = 'pearl-florist-somerset'")[0][0] > 0
    sentences = [r[0] for r in q(pub, "SELECT sentence FROM tags WHERE item_id = 'end-of-life-neighbour'")]
    names = [r[0] for r in q(pub, "SELECT text FROM entities WHERE item_id = 'end-of-life-neighbour'")]
    assert sentences and not any("Agnes" in s or "Lucia" in s for s in sentences)
    assert "Rose" in names and "Agnes" not in names and "Lucia" not in names
    assert q(pub, "SELECT count(*) FROM tags WHERE status = 'rejected'") == [(0,)]


def test_unknown_domain_in_a_decision_fails_the_build_cleanly(base: Path, cli):
    build(base)
    story = base / "stories" / "james-and-andy.md"
    story.write_text(story.read_text(encoding="utf-8").replace(
        "\nstatus: published", "\ntags:\n  - {domain: ascot/ocupation, status: confirmed}\nstatus: published"), encoding="utf-8")
    before = q(base / "evidence.db", "SELECT content_hash FROM stories WHERE id = 'james-and-andy'")
    result = cli(["build", "--root", base])
    assert result.exit_code == 1
    assert "unknown domain 'ascot/ocupation'" in result.output and "did you mean 'ascot/occupation'" in result.output
    assert "Traceback" not in result.output
    assert q(base / "evidence.db", "SELECT content_hash FROM stories WHERE id = 'james-and-andy'") == before  # rolled back


@pytest.mark.parametrize("bad, message", [
    ("tags: ascot/occupation", "'tags' must be a list"),
    ("tags:\n  - {domain: occupation, status: confirmed}", "must be written <framework>/<domain-id>"),
    ("tags:\n  - {domain: ascot/occupation, status: maybe}", "use one of: confirmed, rejected"),
    ("tags:\n  - {domain: ascot/occupation, status: confirmed, score: 1}", "unknown field 'score'"),
])
def test_malformed_tag_decisions_are_refused(base: Path, cli, bad, message):
    story = base / "stories" / "james-and-andy.md"
    story.write_text(story.read_text(encoding="utf-8").replace("\nstatus: published", f"\n{bad}\nstatus: published"), encoding="utf-8")
    result = cli(["build", "--root", base])
    assert result.exit_code == 1 and message in result.output and "stories/james-and-andy.md:" in result.output


def test_every_tag_lists_its_supporting_sentences_best_first(built_session: Path):
    db = built_session / "evidence.db"
    tags = q(db, "SELECT item_type, item_id, domain, sentence, sentence_start, sentence_end, score, via_crosswalk "
                 "FROM tags WHERE status != 'rejected'")
    assert tags
    several = 0
    for kind, item, domain, sentence, start, end, score, via in tags:
        rows = q(db, "SELECT rank, sentence, start, end, score FROM tag_sentences "
                     "WHERE item_type = ? AND item_id = ? AND domain = ? ORDER BY rank", [kind, item, domain])
        assert rows, (item, domain)
        assert [r[0] for r in rows] == list(range(len(rows)))
        assert (rows[0][1], rows[0][2], rows[0][3]) == (sentence, start, end)  # rank 0 is the tag's own sentence
        assert abs(rows[0][4] - score) < 1e-3  # a crosswalk tag too: its own best sentence and score
        scores = [r[4] for r in rows]
        assert scores == sorted(scores, reverse=True)
        text = q(db, "SELECT coalesce((SELECT public_body FROM stories WHERE id = ?), (SELECT statement FROM findings WHERE id = ?))",
                 [item, item])[0][0]
        for _, s, a, b, _ in rows:
            assert text[a:b] == s
        several += len(rows) > 1
    assert several, "some tag is supported by more than one sentence"
    # published with the tags of published stories only
    pub = built_session / "public.db"
    assert q(pub, "SELECT count(*) FROM tag_sentences WHERE story_id IS NOT NULL AND story_id NOT IN (SELECT id FROM stories)") == [(0,)]
    assert q(pub, "SELECT count(*) FROM tag_sentences")[0][0] > 0


def test_tags_json_gives_every_supporting_sentence(built_session: Path, cli):
    import json

    db = built_session / "evidence.db"
    item, domain, n = q(db, "SELECT item_id, domain, count(*) FROM tag_sentences WHERE item_type = 'story' "
                            "GROUP BY item_id, domain ORDER BY count(*) DESC, item_id LIMIT 1")[0]
    r = cli(["tags", item, "--json", "--root", built_session])
    assert r.exit_code == 0, r.output
    tag = next(t for t in json.loads(r.stdout)["tags"] if t["domain"] == domain)
    assert len(tag["sentences"]) == n > 1
    assert set(tag["sentences"][0]) == {"text", "start", "end", "score"}
    assert tag["sentences"][0]["text"] == tag["sentence"]
    assert [s["score"] for s in tag["sentences"]] == sorted((s["score"] for s in tag["sentences"]), reverse=True)


def test_the_tagger_s_version_follows_its_code(tmp_path: Path):
    """A base built by an older release is tagged again by a newer one: the
    version the build compares includes the source of the components and
    the tagger, so a change to any of them re-tags."""
    from evidence.content.settings import source_version
    from evidence.enrich import tagging

    here = Path(tagging.__file__).parent
    for name in tagging._CODE:
        (tmp_path / name).write_bytes((here / name).read_bytes())
    assert source_version(*(tmp_path / n for n in tagging._CODE)) == tagging.code_version()
    (tmp_path / "nlp_components.py").write_bytes((here / "nlp_components.py").read_bytes() + b"\n# changed\n")
    assert source_version(*(tmp_path / n for n in tagging._CODE)) != tagging.code_version()
