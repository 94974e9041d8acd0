"""The in-memory vector index: every passage vector of a database in one
normalised float32 matrix, loaded once per process and loaded again when the
database file changes (another inode, size or modification time, of the
file or of its write-ahead log).

Ranking is exact cosine similarity: one matrix-vector product (numpy/BLAS),
the best passage per item, then `argpartition` for the top k. Filters come
in as a boolean mask over items and are applied before the top k is taken.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import EvidenceError

TYPES = ("story", "finding")
FACETS = ("approach", "area_of_work", "place")

# the filter columns of every item; works on the public and the working database
ITEMS_SQL = """
SELECT 'story', s.id, s.approach,
       COALESCE(NULLIF(s.area_of_work, ''), (SELECT a.area_of_work FROM approaches a WHERE a.id = s.approach)),
       s.place
  FROM stories s
UNION ALL
SELECT 'finding', f.id, f.approach, (SELECT a.area_of_work FROM approaches a WHERE a.id = f.approach), f.place
  FROM findings f"""


def file_stamp(path: Path) -> tuple:
    """What changes when the database changes: inode, size and mtime of the
    file and of its -wal file."""
    out: list = []
    for p in (Path(path), Path(f"{path}-wal")):
        try:
            st = p.stat()
            out += [st.st_ino, st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            out += [None]
    return tuple(out)


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing database."""
    path = Path(path)
    if not path.exists():
        raise EvidenceError(f"{path} does not exist; run 'evidence build' first (or pass --db PATH)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


@dataclass
class VectorIndex:
    """Passage vectors of one database plus what filters need per item."""

    path: str
    stamp: tuple
    model: str
    matrix: np.ndarray            # (passages, dim) float32, rows of unit length
    row_item: np.ndarray          # (passages,) item number of each row
    row_passage: np.ndarray       # (passages,) passage number within its item
    item_start: np.ndarray        # (items,) first row of each item
    item_type: np.ndarray         # (items,) 0 story, 1 finding
    item_ids: list[str]
    facets: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)  # codes, values
    position: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.item_ids)

    def item(self, item_type: str, item_id: str) -> int | None:
        """The item number of (type, id), or None."""
        return self.position.get((item_type, item_id))

    def item_rows(self, item: int) -> slice:
        end = self.item_start[item + 1] if item + 1 < len(self.item_start) else len(self.row_item)
        return slice(int(self.item_start[item]), int(end))

    def item_scores(self, query: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Best passage similarity per item (-inf where the mask is False)."""
        query = np.asarray(query, dtype=np.float32)
        items = self.size
        if mask is not None and mask.sum() < items // 4:
            chosen = np.flatnonzero(mask)  # a selective filter: score only its rows
            rows = np.flatnonzero(mask[self.row_item])
            scores = np.full(items, -np.inf, dtype=np.float32)
            if len(rows):
                sub = self.matrix[rows] @ query
                if len(rows) == len(chosen):
                    scores[chosen] = sub
                else:
                    starts = np.flatnonzero(np.r_[True, self.row_item[rows][1:] != self.row_item[rows][:-1]])
                    scores[self.row_item[rows][starts]] = np.maximum.reduceat(sub, starts)
            return scores
        sims = self.matrix @ query
        scores = sims if len(sims) == items else np.maximum.reduceat(sims, self.item_start)
        if mask is not None:
            scores = np.where(mask, scores, np.float32(-np.inf))
        return scores

    def best_passage(self, item: int, query: np.ndarray) -> tuple[int, float]:
        """(passage number, similarity) of the item's passage closest to the query."""
        rows = self.item_rows(item)
        sims = self.matrix[rows] @ np.asarray(query, dtype=np.float32)
        best = int(np.argmax(sims))
        return int(self.row_passage[rows][best]), float(sims[best])

    def top_k(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k items most similar to the query among those the mask keeps,
        best first, as (item number, similarity)."""
        return top_k(self.item_scores(query, mask), k)

    def centroid(self, item: int) -> np.ndarray:
        """The normalised mean of an item's passage vectors."""
        v = self.matrix[self.item_rows(item)].mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12)


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and values of the k largest finite scores, best first."""
    k = min(int(k), len(scores))
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx if np.isfinite(scores[i])]


def load(path: str | Path) -> VectorIndex:
    """Read every vector of the database's model into one matrix."""
    path = Path(path).resolve()
    stamp = file_stamp(path)
    conn = connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if "embeddings" not in tables:
            raise EvidenceError(f"{path.name} has no embeddings table; run 'evidence build' to embed stories and findings")
        row = conn.execute("SELECT model, length(vector) FROM embeddings LIMIT 1").fetchone()
        if row is None:
            raise EvidenceError(f"{path.name} holds no embeddings; run 'evidence build' to embed stories and findings")
        model, nbytes = row[0], row[1]
        dim = nbytes // 4
        meta: dict[tuple[str, str], tuple] = {}
        for r in conn.execute(ITEMS_SQL):
            meta[(r[0], r[1])] = r[2:]
        count = conn.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0]
        matrix = np.empty((count, dim), dtype=np.float32)
        row_item = np.empty(count, dtype=np.int32)
        row_passage = np.empty(count, dtype=np.int32)
        item_ids: list[str] = []
        item_type: list[int] = []
        starts: list[int] = []
        position: dict[tuple[str, str], int] = {}
        cur = conn.execute("SELECT item_type, item_id, passage, vector FROM embeddings WHERE model = ? "
                           "ORDER BY item_type, item_id, passage", [model])
        n = 0
        while True:
            chunk = cur.fetchmany(20000)
            if not chunk:
                break
            keep = []
            for t, i, p, blob in chunk:
                key = (t, i)
                if key not in meta or len(blob) != nbytes:
                    continue  # a vector whose item is gone (or of another size): never shown
                item = position.get(key)
                if item is None:
                    item = position[key] = len(item_ids)
                    item_ids.append(i)
                    item_type.append(TYPES.index(t))
                    starts.append(n + len(keep))
                row_item[n + len(keep)] = item
                row_passage[n + len(keep)] = p
                keep.append(blob)
            if keep:
                matrix[n:n + len(keep)] = np.frombuffer(b"".join(keep), dtype="<f4").reshape(len(keep), dim)
                n += len(keep)
    finally:
        conn.close()
    if n < count:
        matrix, row_item, row_passage = matrix[:n].copy(), row_item[:n].copy(), row_passage[:n].copy()
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, np.maximum(norms, 1e-12), out=matrix)
    facets = {}
    item_meta = [meta[(TYPES[t], i)] for t, i in zip(item_type, item_ids)]
    for j, name in enumerate(FACETS):
        values = sorted({m[j] or "" for m in item_meta})
        lookup = {v: c for c, v in enumerate(values)}
        facets[name] = (np.array([lookup[m[j] or ""] for m in item_meta], dtype=np.int32), values)
    return VectorIndex(
        path=str(path), stamp=stamp, model=model, matrix=matrix, row_item=row_item, row_passage=row_passage,
        item_start=np.array(starts, dtype=np.int64), item_type=np.array(item_type, dtype=np.int8),
        item_ids=item_ids, facets=facets, position=position)


_indexes: dict[str, VectorIndex] = {}
_lock = threading.Lock()


def get_index(path: str | Path) -> VectorIndex:
    """The index of this database, loaded on first use and again whenever
    the file has changed since; safe to call from several threads."""
    key = str(Path(path).resolve())
    idx = _indexes.get(key)
    if idx is not None and idx.stamp == file_stamp(Path(key)):
        return idx
    with _lock:
        idx = _indexes.get(key)
        if idx is None or idx.stamp != file_stamp(Path(key)):
            _indexes.pop(key, None)  # let the old matrix go before the new one is read
            del idx
            idx = _indexes[key] = load(key)
        return idx
