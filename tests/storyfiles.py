"""Helpers for privacy and reliability tests: story files with chosen
consent, people and text, and searches of whole databases for a string."""
from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import yaml

CONSENT = {
    "basis": "given-by-person", "scope": "public", "identity": "named", "date": "2026-01-02",
    "recorded_by": "test curator", "wording": "Consent form v2: may be published with my first name",
}


def story_front(story_id: str, **fields) -> dict:
    """Front matter of a valid public story; `fields` override (None removes a key)."""
    front = {
        "id": story_id,
        "title": f"Story {story_id}",
        "summary": "A short summary of the story.",
        "people": [{"name": "Person", "role": "person supported"}],
        "approach": "shared-lives",
        "organisation": "Test Organisation",
        "place": "Testtown",
        "source": {"title": "Test source", "organisation": "Test Organisation"},
        "consent": copy.deepcopy(CONSENT),
        "status": "published",
        "added": "2026-01-02",
    }
    for key, value in fields.items():
        if value is None:
            front.pop(key, None)
        else:
            front[key] = value
    return front


def story_text(story_id: str, body: str = "A narrative about support in the community.", **fields) -> str:
    """The text of a story file (front matter, then `body`)."""
    fm = yaml.safe_dump(story_front(story_id, **fields), sort_keys=False, allow_unicode=True, width=200)
    return f"---\n{fm}---\n{body}\n"


def write_story(root: Path, story_id: str, body: str = "A narrative about support in the community.", **fields) -> Path:
    """Write stories/<id>.md under root; returns its path."""
    path = Path(root) / "stories" / f"{story_id}.md"
    path.write_text(story_text(story_id, body, **fields), encoding="utf-8")
    return path


def text_columns(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table, column) of every table and view column in the database."""
    out = []
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"):
        for r in conn.execute(f"PRAGMA table_info([{name}])"):
            out.append((name, r[1]))
    return out


def find_in_tables(db_path: Path, needle: str) -> list[str]:
    """'table.column' of every cell whose value (as text) contains `needle`, any case."""
    conn = sqlite3.connect(str(db_path))
    try:
        hits = []
        for table, col in text_columns(conn):
            try:
                n = conn.execute(f"SELECT count(*) FROM [{table}] WHERE instr(lower(CAST([{col}] AS TEXT)), lower(?)) > 0",
                                 [needle]).fetchone()[0]
            except sqlite3.OperationalError:  # e.g. an FTS hidden column
                continue
            if n:
                hits.append(f"{table}.{col}")
        return hits
    finally:
        conn.close()


def fts_vocab_terms(db_path: Path) -> set[str]:
    """Every term in every FTS5 index of the database (through fts5vocab)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("ATTACH DATABASE ? AS d", (str(db_path),))
        names = [r[0] for r in conn.execute(
            "SELECT name FROM d.sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")]
        terms: set[str] = set()
        for name in names:
            conn.execute(f"CREATE VIRTUAL TABLE temp.[v_{name}] USING fts5vocab(d, [{name}], 'row')")
            terms |= {r[0] for r in conn.execute(f"SELECT term FROM temp.[v_{name}]")}
        return terms
    finally:
        conn.close()


def porter_terms(text: str) -> set[str]:
    """The terms an FTS5 porter index makes of `text` (what fts5vocab shows)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter')")
        conn.execute("INSERT INTO t (x) VALUES (?)", [text])
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
        return {r[0] for r in conn.execute("SELECT term FROM v")}
    finally:
        conn.close()


def raw_contains(path: Path, needle: str) -> bool:
    """True when the file's bytes hold `needle` (UTF-8, any case)."""
    p = Path(path)
    if not p.exists():
        return False
    return needle.lower().encode("utf-8") in p.read_bytes().lower()
