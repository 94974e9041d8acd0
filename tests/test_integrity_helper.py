"""The integrity helpers that many tests lean on ("nothing stored was
changed") must themselves see a change: a digest that ignored one would let
every such test pass."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from support.integrity import digest, rows


def _db(path: Path, people: list[tuple], order: int = 1) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (id TEXT PRIMARY KEY, age INTEGER, score REAL, photo BLOB)")
    conn.executemany("INSERT INTO people VALUES (?, ?, ?, ?)", people[::order])
    conn.commit()
    conn.close()
    return path


PEOPLE = [("a", 80, 0.5, b"\x00\x01"), ("b", 81, 1.0, None), ("c", None, 2.25, b"")]


def test_the_digest_ignores_row_order_and_sees_every_change(tmp_path: Path):
    one = digest(_db(tmp_path / "one.db", PEOPLE))
    assert digest(_db(tmp_path / "reversed.db", PEOPLE, order=-1)) == one
    for n, changed in enumerate([
        [("a", 80, 0.5, b"\x00\x02"), *PEOPLE[1:]],   # a blob byte
        [("a", 80, 0.75, b"\x00\x01"), *PEOPLE[1:]],  # a float
        [("a", 80, 0.5, b"\x00\x01"), ("b", 81, 1.0, None), ("c", 0, 2.25, b"")],  # NULL -> 0
        PEOPLE[:2],  # a row gone
    ]):
        assert digest(_db(tmp_path / f"changed{n}.db", changed)) != one, changed
    assert digest(tmp_path / "missing.db") == "absent"


def test_rows_are_in_a_canonical_order(tmp_path: Path):
    forward = rows(_db(tmp_path / "f.db", PEOPLE))
    backward = rows(_db(tmp_path / "b.db", PEOPLE, order=-1))
    assert forward == backward
    assert forward["people"][0] == ["age", "id", "photo", "score"]
    assert [r[1] for r in forward["people"][1:]] == ["c", "a", "b"]  # NULL age sorts first
