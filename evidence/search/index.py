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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evidence.errors import EvidenceError
from evidence.search.sign_codes import SignCodes

TYPES = ("story", "finding")
FACETS = ("approach", "area_of_work", "place")

# the one big matrix-vector product is split over this many threads (numpy
# releases the GIL; BLAS itself runs one thread each) when the matrix is
# larger than SPLIT_BYTES
THREADS = max(1, min(4, int(os.environ.get("EVIDENCE_SEARCH_THREADS") or os.cpu_count() or 1)))
SPLIT_BYTES = 64 << 20
# from this many passages on, a sign-bit first pass picks candidates that are
# then scored exactly (evidence/search/sign_codes.py); 0 turns it off
QUANTISE_ROWS = int(os.environ.get("EVIDENCE_QUANTISE_ROWS") or 500_000)
RESCORE = 1000  # rows rescored exactly, at least (100 per result asked for)
_pool: ThreadPoolExecutor | None = None


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix @ vector, split over THREADS threads for a large matrix."""
    global _pool
    if THREADS < 2 or matrix.nbytes < SPLIT_BYTES:
        return matrix @ vector
    if _pool is None:
        _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="evidence-matvec")
    out = np.empty(len(matrix), dtype=np.float32)
    bounds = np.linspace(0, len(matrix), THREADS + 1).astype(int)

    def part(a: int, b: int) -> None:
        np.matmul(matrix[a:b], vector, out=out[a:b])

    for f in [_pool.submit(part, a, b) for a, b in zip(bounds[:-1], bounds[1:])]:
        f.result()
    return out


# the filter columns of every item; works on the public and the working database
ITEMS_SQL = """
SELECT 'story' AS item_type, s.id, s.approach AS approach,
       COALESCE(NULLIF(s.area_of_work, ''), (SELECT a.area_of_work FROM approaches a WHERE a.id = s.approach)) AS area,
       s.place AS place
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
    from evidence.store.schema import check_readable

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    check_readable(conn, path)
    return conn


class IdList:
    """Item ids, sorted within each type, as one numpy bytes array (a few
    bytes per id instead of a Python object each)."""

    def __init__(self, ids: list[str]):
        self.ids = np.array([i.encode("utf-8") for i in ids], dtype=bytes) if ids else np.array([], dtype="S1")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> str:
        return self.ids[i].decode("utf-8")

    def find(self, item_id: str, lo: int, hi: int) -> int | None:
        """Position of the id between lo and hi (sorted there), or None."""
        key = item_id.encode("utf-8")
        i = lo + int(np.searchsorted(self.ids[lo:hi], key))
        return i if i < hi and self.ids[i] == key else None


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
    item_ids: IdList
    facets: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)  # codes, values
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # type -> (first, last + 1) item
    codes: SignCodes | None = None  # the quantised first pass, for very large matrices

    def __post_init__(self) -> None:
        if not isinstance(self.item_ids, IdList):
            self.item_ids = IdList(list(self.item_ids))
        # items are sorted by (type, id): an id is found by bisection, no dict needed
        for code, name in enumerate(TYPES):
            where = np.flatnonzero(self.item_type == code)
            self.ranges[name] = (int(where[0]), int(where[-1]) + 1) if len(where) else (0, 0)

    @property
    def size(self) -> int:
        return len(self.item_ids)

    def item(self, item_type: str, item_id: str) -> int | None:
        """The item number of (type, id), or None."""
        lo, hi = self.ranges.get(item_type, (0, 0))
        return self.item_ids.find(item_id, lo, hi)

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
        sims = matvec(self.matrix, query)
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
        best first, as (item number, similarity). With sign codes (very large
        indexes) the candidates come from them and are scored exactly."""
        if self.codes is None or k <= 0 or (mask is not None and mask.sum() < self.size // 4):
            return top_k(self.item_scores(query, mask), k)
        query = np.asarray(query, dtype=np.float32)
        rows = self.codes.candidates(query, max(RESCORE, 100 * int(k)),
                                     None if mask is None else mask[self.row_item])
        rows.sort()
        sims = self.matrix[rows] @ query
        items, first = np.unique(self.row_item[rows], return_index=True)
        best = np.maximum.reduceat(sims, first) if len(rows) else sims
        return [(int(items[i]), s) for i, s in top_k(best, k)]

    def quantise(self) -> None:
        """Build the sign codes of the first pass."""
        self.codes = SignCodes(self.matrix)

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
    """Read every vector of the database's model into one matrix, with each
    item's filter values as small integer codes."""
    from evidence.models.numpy_encoder import one_blas_thread

    one_blas_thread()
    idx = _read(Path(path).resolve())
    if QUANTISE_ROWS and len(idx.matrix) >= QUANTISE_ROWS:
        idx.quantise()
    _release_freed_memory()  # now that the loading's temporaries are gone
    return idx


def _read(path: Path) -> VectorIndex:
    path = Path(path).resolve()
    stamp = file_stamp(path)
    conn = connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if "embeddings" not in tables:
            raise EvidenceError(f"{path.name} has no embeddings table; run 'evidence build' to embed stories and findings")
        row = None
        if "meta" in tables:  # a working database may hold two models' vectors: search uses the search model's
            for key in ("search_model", "embedding_model"):
                row = conn.execute("SELECT model, length(vector) FROM embeddings WHERE model = "
                                   "(SELECT value FROM meta WHERE key = ?) LIMIT 1", [key]).fetchone()
                if row is not None:
                    break
        row = row or conn.execute("SELECT model, length(vector) FROM embeddings LIMIT 1").fetchone()
        if row is None:
            raise EvidenceError(f"{path.name} holds no embeddings; run 'evidence build' to embed stories and findings")
        model, nbytes = row[0], row[1]
        dim = nbytes // 4
        count = conn.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0]
        matrix = np.empty((count, dim), dtype=np.float32)
        row_item = np.empty(count, dtype=np.int32)
        row_passage = np.empty(count, dtype=np.int32)
        item_ids: list[str] = []
        item_type: list[int] = []
        starts: list[int] = []
        lookups: list[dict[str, int]] = [{} for _ in FACETS]
        codes: list[list[int]] = [[] for _ in FACETS]
        # vectors in item order, each with its item's filter values; vectors
        # of items that no longer exist drop out in the join
        cur = conn.execute(f"""
SELECT e.item_type, e.item_id, e.passage, e.vector, m.approach, m.area, m.place
  FROM embeddings e JOIN ({ITEMS_SQL}) m ON m.item_type = e.item_type AND m.id = e.item_id
 WHERE e.model = ? AND length(e.vector) = ?
 ORDER BY e.item_type, e.item_id, e.passage""", [model, nbytes])
        n = 0
        last = None
        while True:
            chunk = cur.fetchmany(4096)
            if not chunk:
                break
            blobs = []
            for t, i, p, blob, *values in chunk:
                if (t, i) != last:
                    last = (t, i)
                    item_ids.append(i)
                    item_type.append(TYPES.index(t))
                    starts.append(n + len(blobs))
                    for j, v in enumerate(values):
                        codes[j].append(lookups[j].setdefault(v or "", len(lookups[j])))
                row_item[n + len(blobs)] = len(item_ids) - 1
                row_passage[n + len(blobs)] = p
                blobs.append(blob)
            matrix[n:n + len(blobs)] = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
            n += len(blobs)
            del chunk, blobs
    finally:
        conn.close()
    if n < count:
        matrix, row_item, row_passage = matrix[:n].copy(), row_item[:n].copy(), row_passage[:n].copy()
    for start in range(0, n, 65536):  # unit length, in place
        block = matrix[start:start + 65536]
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    facets = {}
    for j, name in enumerate(FACETS):
        values = [""] * len(lookups[j])
        for v, c in lookups[j].items():
            values[c] = v
        facets[name] = (np.array(codes[j], dtype=np.int32), values)
    return VectorIndex(
        path=str(path), stamp=stamp, model=model, matrix=matrix, row_item=row_item, row_passage=row_passage,
        item_start=np.array(starts, dtype=np.int64), item_type=np.array(item_type, dtype=np.int8),
        item_ids=item_ids, facets=facets)


def _release_freed_memory() -> None:
    """Hand the heap pages freed after loading back to the system (glibc)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


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
