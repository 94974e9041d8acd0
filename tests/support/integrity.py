"""Checks that a database is whole and fingerprints of what it holds.

Used by the crash test (tests/benchmarks/crash_test.py) and the tests: a
database passes `PRAGMA integrity_check` and every FTS5 index's own
integrity check, and `digest()` is a canonical hash of its rows, so two
databases hold the same records exactly when their digests are equal.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

# per-machine values that are not records (the public db's absolute path)
VOLATILE_META = ("public_path",)


def _connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30)
    conn.execute("PRAGMA query_only = ON")
    return conn


def virtual_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """name -> CREATE statement of every virtual table."""
    return {r[0]: r[1] or "" for r in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")}


def record_tables(conn: sqlite3.Connection) -> list[str]:
    """Ordinary tables, without FTS virtual tables and their shadow tables."""
    virtual = virtual_tables(conn)
    shadows = {f"{v}_{s}" for v in virtual for s in ("data", "idx", "content", "docsize", "config")}
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if r[0] not in virtual and r[0] not in shadows and not r[0].startswith("sqlite_")]


def check(path: str | Path) -> list[str]:
    """Problems found: `PRAGMA integrity_check` and each FTS5 index's
    'integrity-check' (an empty list when the database is whole)."""
    problems = []
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems += [f"integrity_check: {r}" for r in rows]
        for name, sql in virtual_tables(conn).items():
            if "fts5" in sql.lower():
                try:
                    conn.execute(f"INSERT INTO [{name}]([{name}], rank) VALUES ('integrity-check', 1)")
                except sqlite3.DatabaseError as exc:
                    problems.append(f"{name}: {exc}")
        conn.rollback()
    finally:
        conn.close()
    return problems


def _value(v):
    if isinstance(v, bytes):
        return "x:" + v.hex()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def rows(path: str | Path) -> dict[str, list]:
    """Every record table's rows, canonically ordered (columns by name)."""
    conn = _connect(path)
    try:
        out: dict[str, list] = {}
        for table in record_tables(conn):
            cols = sorted(r[1] for r in conn.execute(f"PRAGMA table_info([{table}])"))
            # ordered by every column in SQL (a total order up to equal rows),
            # which costs far less than sorting the rows in Python
            data = [[_value(v) for v in r] for r in conn.execute(
                f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{table}] "
                f"ORDER BY {', '.join(str(i) for i in range(1, len(cols) + 1))}")]
            if table == "meta" and "key" in cols:
                data = [r for r in data if r[cols.index("key")] not in VOLATILE_META]
            out[table] = [cols] + data
        out["user_version"] = [conn.execute("PRAGMA user_version").fetchone()[0]]
        return out
    finally:
        conn.close()


def digest(path: str | Path | None) -> str:
    """Canonical SHA-256 of a database's records ('absent' for no file)."""
    if path is None or not Path(path).exists():
        return "absent"
    h = hashlib.sha256()
    for table, data in sorted(rows(path).items()):
        h.update(f"\0{table}\0".encode("utf-8"))
        for row in data:
            h.update(repr(row).encode("utf-8", "surrogatepass"))
            h.update(b"\n")
    return h.hexdigest()
