"""A better anonymiser reaches stories published before it: the public texts
of an anonymised story record the anonymiser that made them, and a build by
another version makes them again (and everything derived from them), even
though the story's file has not changed."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from evidence.build import build
from evidence.store.publish import publish
from storyfiles import CONSENT, find_in_tables, fts_vocab_terms, raw_contains, write_story

ANON = {**CONSENT, "identity": "anonymised", "pseudonym": "Rowan"}
PEOPLE = [{"name": "Tobiah Wrenfield", "role": "person supported"}]


def _as_if_published_by_an_older_anonymiser(db_path: Path, story_id: str, leaked: str) -> None:
    """What a build by an older version left: public texts with a form of the
    name it missed (and its tags' sentences and passages made from them),
    the story's hash as that version wrote it, and its version in meta."""
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE stories SET public_body = ? || public_body, content_hash = 'hash-by-an-older-version' "
                     "WHERE id = ?", [leaked + " ", story_id])
        conn.execute("UPDATE passages SET text = ? || text WHERE item_id = ? AND passage = 0", [leaked + " ", story_id])
        conn.execute("UPDATE meta SET value = 'older-version' WHERE key = 'anonymiser'")
    conn.close()


def test_a_new_anonymiser_redoes_unchanged_anonymised_stories(base: Path):
    write_story(base, "a-new-home", body="Tobiah found a home with a Shared Lives carer near the sea.",
                title="A new home", people=PEOPLE, consent=ANON)
    build(base)
    assert find_in_tables(base / "public.db", "Tobiah") == []
    _as_if_published_by_an_older_anonymiser(base / "evidence.db", "a-new-home", "tobiah1950")
    db = sqlite_utils.Database(base / "evidence.db")
    publish(db, base / "public.db", full=True)  # the public.db the older version wrote
    db.close()
    assert find_in_tables(base / "public.db", "Tobiah"), "the setup did not plant the old text"

    summary = build(base)  # the same files, this version of the anonymiser
    assert summary.changed >= 1
    assert find_in_tables(base / "public.db", "Tobiah") == []
    assert not raw_contains(base / "public.db", "tobiah")  # no free page, no FTS segment
    assert not {t for t in fts_vocab_terms(base / "public.db") if "tobiah" in t}
    assert find_in_tables(base / "evidence.db", "tobiah1950") == []
    body = sqlite3.connect(base / "public.db").execute("SELECT body FROM stories WHERE id = 'a-new-home'").fetchone()[0]
    assert body.startswith("Rowan found a home"), body
    assert build(base).changed == 0  # once only
