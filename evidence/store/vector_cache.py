"""A cache of sentence vectors in the working database, so that a build
that tags one new story does not embed the codebooks' anchor texts and the
training sentences again (a few hundred texts: seconds, and the reason a
one-story add used to load torch).

`CachedEmbedder(db, embedder)` has the embedder's interface; texts whose
vector is stored for the same model are not encoded. Rows carry the number
of the build that last used them, and `prune()` keeps every row used by
this build plus the most recently used ones up to `CAP` (a full retag of a
large corpus does not leave hundreds of megabytes of one-off sentence
vectors behind). It is a build product like the rest of evidence.db: never
published, and safe to delete.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from evidence.store.writes import select_in

CAP = 20_000  # rows kept besides this build's (about 1.5 kB each at 384 dimensions)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Wraps an embedder; reads and writes `vector_cache` on `db` (inside the
    caller's transaction)."""

    def __init__(self, db: Any, embedder: Any):
        self.db = db
        self.embedder = embedder
        self.model_id = embedder.model_id
        self.dim = getattr(embedder, "dim", 384)
        row = db.execute("SELECT max(used) FROM vector_cache").fetchone()
        self.generation = (row[0] or 0) + 1
        self.hits = 0
        self.misses = 0

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return np.asarray(self.embedder.encode([]), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        unique = sorted(set(keys))
        known = {h: np.frombuffer(v, dtype="<f4") for h, v in select_in(
            self.db, "SELECT text_hash, vector FROM vector_cache WHERE model = ? AND text_hash IN ({marks})",
            unique, params=[self.model_id])}
        todo = {}
        for k, t in zip(keys, texts):
            if k not in known:
                todo.setdefault(k, t)
        if todo:
            vecs = np.asarray(self.embedder.encode(list(todo.values()), batch_size=batch_size, progress=progress),
                              dtype=np.float32)
            rows = []
            for k, v in zip(todo, vecs):
                known[k] = v
                rows.append((self.model_id, k, np.asarray(v, dtype="<f4").tobytes(), self.generation))
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO vector_cache (model, text_hash, vector, used) VALUES (?, ?, ?, ?)", rows)
        self._mark_used([k for k in unique if k not in todo])
        self.hits += len(texts) - sum(1 for k in keys if k in todo)
        self.misses += len(todo)
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)

    def keep(self, texts: list[str]) -> None:
        """Mark the stored vectors of `texts` as used by this build, so that
        prune() keeps them: the training sentences of a classifier reused
        from an earlier build, which a later refit needs (a withdrawal takes
        a story's sentences out of the training data) and would otherwise
        encode again, importing torch, once a large retag had pushed them out."""
        self._mark_used(sorted({text_key(str(t)) for t in texts}))

    def _mark_used(self, hashes: list[str]) -> None:
        """Set `used` of the stored rows of these text hashes to this build."""
        for start in range(0, len(hashes), 500):
            part = hashes[start:start + 500]
            self.db.execute(f"UPDATE vector_cache SET used = ? WHERE model = ? AND text_hash IN ({','.join('?' * len(part))})",
                            [self.generation, self.model_id, *part])

    def stored(self, texts: list[str]) -> dict[str, bytes]:
        """The stored vectors of `texts` (text hash -> bytes), for another
        working database built by this process (add())."""
        return {h: bytes(v) for h, v in select_in(
            self.db, "SELECT text_hash, vector FROM vector_cache WHERE model = ? AND text_hash IN ({marks})",
            sorted({text_key(str(t)) for t in texts}), params=[self.model_id])}

    def add(self, vectors: dict[str, bytes]) -> None:
        """Store vectors (text hash -> bytes) of this model, as used by this build."""
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO vector_cache (model, text_hash, vector, used) VALUES (?, ?, ?, ?)",
            [(self.model_id, h, v, self.generation) for h, v in vectors.items()])

    def prune(self) -> int:
        """Drop rows beyond CAP that this build did not use; returns how many."""
        return self.db.execute(
            "DELETE FROM vector_cache WHERE used < ? AND rowid NOT IN "
            "(SELECT rowid FROM vector_cache ORDER BY used DESC LIMIT ?)", [self.generation, CAP]).rowcount
