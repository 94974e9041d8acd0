"""Fitted models kept in the working database between builds: today the
tagger's classifier, stored as bytes under a key that hashes everything it
was fitted on (training sentences, their labels, settings, the sentence
model). Each entry also keeps `base` (the hash of what must match for it to
be used at all: settings, model, domains) and `examples` (a hash per
training example), so a caller can measure how far an entry is from what
it would fit now. A build product like the rest of evidence.db: never
published, safe to delete."""
from __future__ import annotations

from typing import Any

KEEP = 3  # the most recently used entries kept


def _touch(db: Any, key: str) -> None:
    db.execute("UPDATE classifier_cache SET used = (SELECT coalesce(max(used), 0) + 1 FROM classifier_cache) "
               "WHERE key = ?", [key])


def get(db: Any, key: str) -> bytes | None:
    """The bytes stored under `key`, marked as just used; None when absent."""
    row = db.execute("SELECT data FROM classifier_cache WHERE key = ?", [key]).fetchone()
    if row is None:
        return None
    _touch(db, key)
    return bytes(row[0])


def latest(db: Any, base: str) -> tuple[str, bytes, bytes] | None:
    """(key, examples, data) of the most recently used entry with this
    `base`, or None."""
    row = db.execute("SELECT key, examples, data FROM classifier_cache WHERE base = ? ORDER BY used DESC LIMIT 1",
                     [base]).fetchone()
    if row is None:
        return None
    _touch(db, row[0])
    return row[0], bytes(row[1] or b""), bytes(row[2])


def put(db: Any, key: str, data: bytes, base: str = "", examples: bytes = b"") -> None:
    """Store `data` under `key`, keeping the KEEP most recently used entries."""
    db.execute("INSERT OR REPLACE INTO classifier_cache (key, base, examples, data, used) "
               "VALUES (?, ?, ?, ?, (SELECT coalesce(max(used), 0) + 1 FROM classifier_cache))",
               [key, base, examples, data])
    db.execute("DELETE FROM classifier_cache WHERE key NOT IN "
               "(SELECT key FROM classifier_cache ORDER BY used DESC LIMIT ?)", [KEEP])
