"""`evidence withdraw`: the story's text is removed everywhere, a tombstone
(with no personal content) stops it coming back by accident, and derived
tables added by other features are swept too."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from conftest import Server
from evidence.content import tombstones
from evidence.build import build
from evidence.errors import EvidenceError
from storyfiles import find_in_tables, fts_vocab_terms, porter_terms, raw_contains, write_story

CANARY = "qzxwithdrawcanary"
STORY_ID = f"{CANARY}-story"
BODY = (f"Nobody else will ever write {CANARY} in a story. Ivy joined the {CANARY} gardening club through "
        "Shared Lives and now grows beans for the whole street every summer.\n\n"
        "Her carer said the change in her confidence over the first year was remarkable to see.\n")


def _write_canary(root: Path) -> Path:
    return write_story(root, STORY_ID, body=BODY, title=f"Ivy and the {CANARY} allotment",
                       summary=f"Ivy found friends at the {CANARY} club.",
                       people=[{"name": f"Ivy {CANARY.capitalize()}", "role": "person supported"}],
                       place=f"{CANARY.capitalize()}ton")


def _add_derived_tables(db_path: Path, story_id: str, other_id: str) -> None:
    """Tables as features not written yet (a cache, another index) might add
    them, naming the story in the ways the sweep convention allows. The real
    derived tables (tags, entities, passages, embeddings) are filled by the
    build itself and checked below."""
    db = sqlite_utils.Database(db_path)
    db["future_vectors"].insert_all([{"item": f"story:{story_id}", "model": "m", "vector": CANARY.encode()},
                                     {"item": f"story:{other_id}", "model": "m", "vector": b"other"}])
    db["future_links"].insert_all([{"story_id": story_id, "finding_id": "f1"}, {"story_id": other_id, "finding_id": "f2"}])
    db["future_notes"].insert_all([{"item_type": "story", "item_id": story_id, "note": f"{CANARY} note"},
                                   {"item_type": "story", "item_id": other_id, "note": "other"}])
    db["future_notes"].enable_fts(["note"], create_triggers=True)
    db["search_cache"].insert({"q": "beans", "html": "…" + BODY.split("\n")[0][-120:]})
    db.close()


@pytest.mark.server
def test_withdraw_canary_is_found_nowhere_afterwards(base: Path, cli):
    _write_canary(base)
    build(base)
    _add_derived_tables(base / "evidence.db", STORY_ID, "james-and-andy")
    work, public = base / "evidence.db", base / "public.db"
    import sqlite3

    conn = sqlite3.connect(work)
    for table in ("entities", "passages", "embeddings"):  # the real derived tables hold the story
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE item_id = ?", [STORY_ID]).fetchone()[0] > 0, table
    conn.close()
    assert find_in_tables(public, CANARY) and find_in_tables(work, CANARY)
    server = Server(base)
    try:
        status, _, body = server.get(f"/public/stories/{STORY_ID}")
        assert status == 200 and CANARY.encode() in body
        result = cli(["withdraw", STORY_ID, "--reason", "consent-withdrawn", "--root", base])
        assert result.exit_code == 0, result.output
    finally:
        server.stop()

    # nowhere in any table, FTS index or vocabulary, or raw bytes of either database
    for db_file in (work, public):
        assert find_in_tables(db_file, CANARY) == [], db_file
        assert not porter_terms(CANARY) & fts_vocab_terms(db_file), db_file
        conn = sqlite3.connect(db_file)
        try:
            fts = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")]
            for name in fts:
                assert conn.execute(f"SELECT count(*) FROM [{name}] WHERE [{name}] MATCH ?", [CANARY]).fetchone()[0] == 0
        finally:
            conn.close()
    for f in (work, Path(f"{work}-wal"), public, Path(f"{public}-wal")):
        assert not raw_contains(f, CANARY), f
        assert not raw_contains(f, "remarkable to see"), f
    # nor in any file under the evidence base (the test server's own access log aside), and no temp file left
    for p in base.rglob("*"):
        if p.is_file() and not p.name.startswith("serve-"):
            assert not raw_contains(p, CANARY), p
            assert not p.name.endswith(".tmp"), p
    assert not (base / "stories" / f"{STORY_ID}.md").exists()
    # other stories' derived rows survive
    conn = sqlite3.connect(work)
    try:
        for table in ("tags", "entities", "passages", "embeddings"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE item_id = ?", [STORY_ID]).fetchone()[0] == 0, table
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE item_id = 'james-and-andy'").fetchone()[0] > 0, table
        assert conn.execute("SELECT count(*) FROM future_vectors").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM future_links").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM future_notes").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM search_cache").fetchone()[0] == 0
    finally:
        conn.close()
    # a new server on the new public database answers 404 for the story
    server = Server(base)
    try:
        assert server.get(f"/public/stories/{STORY_ID}")[0] == 404
        assert server.get(f"/public/stories/{STORY_ID}.json")[0] == 404
        status, _, body = server.get(f"/public/stories.json?_search={CANARY}&_shape=array")
        assert status == 200 and body.strip() == b"[]"
        assert server.get("/public/stories/james-and-andy")[0] == 200
    finally:
        server.stop()


def test_the_tombstone_holds_no_personal_content_and_stops_build_and_add(built: Path, cli, tmp_path: Path):
    original = (built / "stories" / "james-and-andy.md").read_text()
    result = cli(["withdraw", "james-and-andy", "--reason", "person-request", "--root", built])
    assert result.exit_code == 0, result.output
    stone_file = (built / tombstones.WITHDRAWN_FILE).read_text()
    assert "james" not in stone_file.lower() and "andy" not in stone_file.lower()
    assert "person-request" in stone_file
    rows = sqlite3.connect(built / "evidence.db").execute("SELECT * FROM tombstones").fetchall()
    assert len(rows) == 1 and rows[0][0] == tombstones.id_key("james-and-andy", tombstones.load_key(built)) and rows[0][2] == "person-request"

    # build refuses the file coming back (a git checkout, a copy), with one line
    (built / "stories" / "james-and-andy.md").write_text(original)
    refused = cli(["build", "--root", built])
    assert refused.exit_code == 1
    lines = [line for line in refused.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: stories/james-and-andy.md:") and "withdrawn" in lines[0]
    assert "james-and-andy" not in {r[0] for r in sqlite3.connect(built / "public.db").execute("SELECT id FROM stories")}

    # add refuses it without the override, and accepts it with it
    (built / "stories" / "james-and-andy.md").unlink()
    incoming = tmp_path / "in" / "james-and-andy.md"
    incoming.parent.mkdir()
    incoming.write_text(original)
    refused = cli(["add", "--file", incoming, "--root", built])
    assert refused.exit_code == 1 and "--override-tombstone" in refused.stderr
    assert not (built / "stories" / "james-and-andy.md").exists()
    added = cli(["add", "--file", incoming, "--override-tombstone", "--root", built])
    assert added.exit_code == 0, added.output
    assert tombstones.find(built, "james-and-andy") is None
    assert "james-and-andy" in {r[0] for r in sqlite3.connect(built / "public.db").execute("SELECT id FROM stories")}
    assert sqlite3.connect(built / "evidence.db").execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0


def failing_step(db, summary, options) -> None:
    """An enrichment step that fails (to test rollbacks)."""
    from evidence.errors import EvidenceError

    raise EvidenceError("injected failure in an enrichment step")


def test_a_failed_override_puts_the_tombstone_back(built: Path, cli, tmp_path: Path):
    from evidence.build import BuildOptions
    from evidence.curate.add import add_story_file

    original = (built / "stories" / "james-and-phil.md").read_text()
    assert cli(["withdraw", "james-and-phil", "--root", built]).exit_code == 0
    incoming = tmp_path / "james-and-phil.md"
    incoming.write_text(original)
    with pytest.raises(EvidenceError, match="injected failure"):
        add_story_file(built, incoming, override_tombstone=True, options=BuildOptions(enrich_steps=(failing_step,)))
    assert tombstones.find(built, "james-and-phil") is not None
    assert not (built / "stories" / "james-and-phil.md").exists()


def test_an_interrupted_withdrawal_is_refused_by_build_and_finished_by_withdraw(built: Path, cli):
    assert find_in_tables(built / "public.db", "come to visit me")
    tombstones.add(built, "agnes-and-lucia", "consent-withdrawn")  # as if killed right after the tombstone
    refused = cli(["build", "--root", built])
    assert refused.exit_code == 1 and "stories/agnes-and-lucia.md" in refused.stderr
    assert cli(["withdraw", "agnes-and-lucia", "--root", built]).exit_code == 0
    assert find_in_tables(built / "evidence.db", "come to visit me") == []
    assert find_in_tables(built / "public.db", "come to visit me") == []
    again = cli(["withdraw", "agnes-and-lucia", "--root", built])  # idempotent
    assert again.exit_code == 0 and "already gone" in again.stderr


def test_withdraw_is_not_blocked_by_another_broken_file(built: Path, cli):
    assert find_in_tables(built / "public.db", "simple systems and processes")
    (built / "stories" / "debs-creative-minds.md").write_text("---\nid: [broken\n---\nbody\n")
    result = cli(["withdraw", "pearl-florist-somerset", "--root", built])
    assert result.exit_code == 0, result.output
    assert "the build failed" in result.stderr
    assert find_in_tables(built / "evidence.db", "simple systems and processes") == []
    assert find_in_tables(built / "public.db", "simple systems and processes") == []


@pytest.mark.parametrize("args,word", [
    (["no-such-story"], "no story"),
    (["Not An Id"], "not a story id"),
    (["james-and-andy", "--reason", "bored"], "reason"),
])
def test_withdraw_refuses_bad_input_in_one_line(built: Path, cli, args, word):
    before = (built / "stories").iterdir()
    result = cli(["withdraw", *args, "--root", built])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and word in lines[0], lines
    assert sorted(before) == sorted((built / "stories").iterdir())
    assert not (built / tombstones.WITHDRAWN_FILE).exists()


def test_sweep_follows_references_and_their_kind_columns(tmp_path: Path):
    from evidence.store.writes import story_ref, sweep

    assert [story_ref(v) for v in ("x", "story:x", "stories/x", "x#3", "x:p2", "story:x:3", "finding:x", "", None)] == \
        ["x", "x", "x", "x", "x", "x", None, None, None]
    db = sqlite_utils.Database(tmp_path / "d.db")
    db["tags"].insert_all([{"item_type": "story", "item_id": "x"}, {"item_type": "finding", "item_id": "x"},
                           {"item_type": "story", "item_id": "y"}])
    db["entities"].insert_all([{"item_id": "x", "kind": "PERSON"}, {"item_id": "y", "kind": "PERSON"}])
    db["links"].insert_all([{"from_kind": "story", "from_id": "x", "to_kind": "finding", "to_id": "f"},
                            {"from_kind": "finding", "from_id": "f", "to_kind": "story", "to_id": "x"},
                            {"from_kind": "finding", "from_id": "x", "to_kind": "finding", "to_id": "g"}])
    db["findings"].insert({"id": "x", "statement": "a record table is never swept"})
    counts = sweep(db, {"x"})
    assert counts == {"tags": 1, "entities": 1, "links": 2}
    assert [r["item_type"] for r in db["tags"].rows] == ["finding", "story"]
    assert [r["from_id"] for r in db["links"].rows] == ["x"]
    assert db["findings"].count == 1
