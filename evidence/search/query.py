"""Semantic search over stories and findings: the one module behind
`evidence search`, `evidence similar` and the Datasette plugin.

Three rankings, chosen by `mode`:
- `hybrid` (default): both below, fused linearly: an item scores
  HYBRID_VECTOR_WEIGHT x its cosine similarity + (1 - HYBRID_VECTOR_WEIGHT)
  x its bm25 divided by the best bm25 of the query (0 when no query word is
  in it). Scores stay on the cosine scale (0..1), so a threshold on them
  means about the same in both meaning modes.
- `vector`: exact cosine similarity between the query's embedding and every
  passage; an item scores as its best passage, which becomes the snippet.
- `fts`: SQLite full-text search (FTS5, bm25, porter stemming); no model is
  loaded.

Linear fusion, the weight and the default were chosen on the development
half of tests/relevance.yml (see docs/search.md); reciprocal rank fusion,
`fuse` below, is kept for comparison.

Filters (type, approach, outcome domain, area of work, place) become a mask
over items that is applied before anything is ranked, so a filtered search
returns the best k of the filtered set.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from evidence.content.abbreviations import Glossary
from evidence.content.words import STOPWORDS
from evidence.errors import EvidenceError
from evidence.models.weights import SEARCH_PREFIX
from evidence.search.filters import Filters, columns, filter_mask
from evidence.search.index import TYPES, VectorIndex, connect, get_index

MODES = ("hybrid", "vector", "fts")
DEFAULT_MODE = "hybrid"
# hybrid: the share of the cosine similarity in an item's score (the rest is
# its normalised bm25); measured on the dev set, 0.7-0.9 were all better
# than reciprocal rank fusion, 0.85 best by MRR
HYBRID_VECTOR_WEIGHT = 0.85
TABLES = {"story": "stories", "finding": "findings"}
RRF_K = 60
CANDIDATES = 100  # per ranking, before fusion
MAX_LIMIT = 1000


@dataclass
class Hit:
    """One result: an item, its score and its best passage."""

    id: str
    type: str
    title: str
    score: float
    snippet: str
    passage: int
    field: str
    start: int
    end: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON shape of a result (`extra` is left out)."""
        d = asdict(self)
        d.pop("extra")
        d["score"] = round(self.score, 6)
        return d


# ---------------------------------------------------------------------------
# query handling: the words around a question that say what is wanted, not
# what it is about ("a story about ...", "is there evidence that ...") are
# taken off before the query is embedded and matched; a query that is
# nothing but such words is kept as it is

_FRAME = re.compile(r"""^\s*(?:
    (?:please\s+)?(?:find|show|give|get|search\s+for|look\s+for|list)(?:\s+me)?\s+ |
    (?:are|is)\s+there\s+(?:any\s+)? |
    (?:i\s+(?:am|'m)\s+looking\s+for|i\s+want|i\s+need)\s+
)?(?:
    (?:an?\s+|the\s+|some\s+|any\s+)?
    (?:stor(?:y|ies)|examples?|cases?|case\s+stud(?:y|ies)|accounts?|evidence|research|findings?|studies|study|data|figures?|numbers?)
    \s+(?:about|of|on|that|where|in\s+which|showing|for|into|from)\s+
)""", re.IGNORECASE | re.VERBOSE)


def clean_query(query: str) -> str:
    """The query without a leading request frame: "a story about an older
    man who ..." -> "an older man who ..."; "is there evidence that
    micro-enterprises ..." -> "micro-enterprises ..."."""
    query = (query or "").strip()
    m = _FRAME.match(query)
    if m and query[m.end():].strip():
        return query[m.end():].strip()
    return query


# ---------------------------------------------------------------------------
# abbreviations: the glossary the passages were embedded with (the table
# abbreviations, from pipelines/abbreviations.yml), read once per database
# version

_glossaries: dict[tuple, Glossary] = {}


def glossary(idx: VectorIndex, conn: sqlite3.Connection | None = None) -> Glossary:
    """The database's glossary (empty for a database built before it)."""
    key = (idx.path, idx.stamp)
    if key not in _glossaries:
        own = conn is None
        conn = connect(idx.path) if own else conn
        try:
            try:
                rows = conn.execute("SELECT abbreviation, expansion FROM abbreviations").fetchall()
            except sqlite3.OperationalError:  # no such table: built before the glossary
                rows = []
        finally:
            if own:
                conn.close()
        if len(_glossaries) > 16:
            _glossaries.clear()
        _glossaries[key] = Glossary(dict(rows))
    return _glossaries[key]


# ---------------------------------------------------------------------------
# query embeddings: one embedder per model, a small cache of recent queries

_query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def embed_query(model: str, query: str, near: str | Path | None = None) -> np.ndarray:
    """The unit vector of a query under the model the database was built
    with (`near`: the database's path, beside which a search model lives)."""
    from evidence.models.embedder import get_query_embedder

    key = (model, query)
    with _cache_lock:
        if key in _query_cache:
            _query_cache.move_to_end(key)
            return _query_cache[key]
    vector = np.asarray(get_query_embedder(model, near=near).encode([query])[0], dtype=np.float32)
    with _cache_lock:
        _query_cache[key] = vector
        while len(_query_cache) > 256:
            _query_cache.popitem(last=False)
    return vector


# ---------------------------------------------------------------------------
# full-text ranking


def fts_terms(query: str) -> list[str]:
    """The words of a query worth matching (stop words dropped unless they
    are all there is)."""
    words = [w for w in re.findall(r"\w+", query.lower())]
    content = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(content or words))


# in a large table, a word found in more than this share of rows says little
# about relevance and costs a scan of most of the index: it is left out
LARGE_TABLE = 20_000
COMMON_SHARE = 0.05
_df_cache: dict[tuple, int] = {}


def _doc_freq(idx: VectorIndex, conn: sqlite3.Connection, table: str, term: str) -> int:
    """Rows of the table whose text holds the word (as FTS5 tokenises it),
    cached per database version."""
    key = (idx.path, idx.stamp, table, term)
    if key not in _df_cache:
        if len(_df_cache) > 50_000:
            _df_cache.clear()
        _df_cache[key] = conn.execute(f"SELECT count(*) FROM [{table}_fts] WHERE [{table}_fts] MATCH ?",
                                      [f'"{term}"']).fetchone()[0]
    return _df_cache[key]


def informative_terms(idx: VectorIndex, conn: sqlite3.Connection, table: str, terms: list[str]) -> list[str]:
    """The query words worth an FTS5 match in this table: all of them in a
    small table; in a large one, those in at most 5% of its rows (or the
    rarest word, when every word is common)."""
    rows = int(np.sum(idx.item_type == TYPES.index("story" if table == "stories" else "finding")))
    if rows < LARGE_TABLE:
        return terms
    df = {t: _doc_freq(idx, conn, table, t) for t in terms}
    keep = [t for t in terms if 0 < df[t] <= COMMON_SHARE * rows]
    if not keep:
        present = [t for t in terms if df[t] > 0]
        keep = [min(present, key=df.get)] if present else []
    return keep


def fts_rank(idx: VectorIndex, conn: sqlite3.Connection, query: str, mask: np.ndarray | None,
             limit: int) -> list[tuple[int, float]]:
    """Items matching any query word in the FTS5 indexes, best bm25 first,
    as (item number, -bm25); only items the mask keeps."""
    all_terms = fts_terms(query)
    if not all_terms:
        return []
    ranked: list[tuple[float, int]] = []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for item_type, table in TABLES.items():
        if f"{table}_fts" not in tables:
            continue
        terms = informative_terms(idx, conn, table, all_terms)
        if not terms:
            continue
        match = " OR ".join(f'"{t}"' for t in terms)
        params: list = [match]
        keep = ""
        if mask is not None:
            ids = [idx.item_ids[i] for i in np.flatnonzero(mask & (idx.item_type == TYPES.index(item_type)))]
            if not ids:
                continue
            keep = "AND s.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(ids))
        sql = (f"SELECT s.id, bm25([{table}_fts]) AS rank FROM [{table}_fts] JOIN [{table}] s "
               f"ON s.rowid = [{table}_fts].rowid WHERE [{table}_fts] MATCH ? {keep} ORDER BY rank LIMIT ?")
        for item_id, rank in conn.execute(sql, [*params, limit]):
            item = idx.item(item_type, item_id)
            if item is not None:
                ranked.append((rank, item))
    ranked.sort()
    return [(item, -rank) for rank, item in ranked[:limit]]


def blend(vector: list[tuple[int, float]], words: list[tuple[int, float]],
          weight: float = HYBRID_VECTOR_WEIGHT, cosine: dict[int, float] | None = None,
          best: float | None = None) -> list[tuple[int, float]]:
    """Linear fusion of a vector ranking (item, cosine) and a words ranking
    (item, -bm25, higher is better): weight x cosine + (1 - weight) x bm25 /
    best bm25 (`best`: of the unfiltered search, so a filter changes no
    item's score; default: the best in `words`); an item missing from the
    vector ranking gets its cosine from `cosine` (or 0). Best first."""
    if best is None:
        best = max((s for _, s in words), default=0.0)
    scores = {item: weight * sim for item, sim in vector}
    if best > 0:
        for item, s in words:
            if item not in scores:
                scores[item] = weight * (cosine or {}).get(item, 0.0)
            scores[item] += (1.0 - weight) * max(s, 0.0) / best
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(*rankings: list[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each item scores the sum of 1 / (k + rank)
    over the rankings it appears in (rank from 1); best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


# ---------------------------------------------------------------------------
# results


def _hits(idx: VectorIndex, conn: sqlite3.Connection, ranked: list[tuple[int, float]],
          passages: dict[int, int], context: bool) -> list[Hit]:
    story_cols = columns(conn, "stories")
    prefix = "public_" if "public_body" in story_cols else ""
    out = []
    for item, score in ranked:
        item_type, item_id = TYPES[idx.item_type[item]], idx.item_ids[item]
        title_sql = f"SELECT {prefix}title FROM stories WHERE id = ?" if item_type == "story" else \
            "SELECT statement FROM findings WHERE id = ?"
        row = conn.execute(title_sql, [item_id]).fetchone()
        p = conn.execute("SELECT passage, field, start_char, end_char, text FROM passages "
                         "WHERE item_type = ? AND item_id = ? AND passage = ?",
                         [item_type, item_id, passages.get(item, 0)]).fetchone()
        if row is None or p is None:
            continue  # gone since the index was read
        hit = Hit(id=item_id, type=item_type, title=row[0] or "", score=score, snippet=p[4] or "",
                  passage=p[0], field=p[1] or "",
                  start=p[2] or 0, end=p[3] or 0)
        if context:
            hit.extra = _context(conn, item_type, item_id, hit, prefix)
        out.append(hit)
    return out


def _context(conn, item_type: str, item_id: str, hit: Hit, prefix: str, chars: int = 160) -> dict:
    """Text just before and after the passage in its field, for display."""
    column = {"summary": f"{prefix}summary", "title": f"{prefix}title", "body": f"{prefix}body"}.get(hit.field)
    if item_type != "story" or column is None:
        return {"before": "", "after": ""}
    row = conn.execute(f"SELECT [{column}] FROM stories WHERE id = ?", [item_id]).fetchone()
    text = (row[0] if row else "") or ""
    if text[hit.start:hit.end] != hit.snippet:
        return {"before": "", "after": ""}
    before = text[max(0, hit.start - chars):hit.start]
    after = text[hit.end:hit.end + chars]
    return {"before": ("…" if hit.start > chars else "") + before.split("\n\n")[-1],
            "after": after.split("\n\n")[0] + ("…" if hit.end + chars < len(text) else "")}


def _best_by_words(conn, idx: VectorIndex, item: int, terms: list[str]) -> int:
    """The passage sharing the most query words (fts mode needs no model)."""
    rows = conn.execute("SELECT passage, text FROM passages WHERE item_type = ? AND item_id = ? ORDER BY passage",
                        [TYPES[idx.item_type[item]], idx.item_ids[item]]).fetchall()
    best, best_n = 0, -1
    for passage, text in rows:
        words = set(re.findall(r"\w+", (text or "").lower()))
        n = sum(1 for t in terms if t in words)
        if n > best_n:
            best, best_n = passage, n
    return best


def _check(limit: int, mode: str) -> None:
    if mode not in MODES:
        raise EvidenceError(f"unknown mode '{mode}'; use one of: {', '.join(MODES)}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise EvidenceError(f"limit {limit} is out of range; give a number from 1 to {MAX_LIMIT}")


def search(db_path: str | Path, query: str, *, filters: Filters | None = None, limit: int = 10,
           mode: str = DEFAULT_MODE, context: bool = False) -> list[Hit]:
    """Stories and findings closest in meaning to `query`, best first (an
    empty list when nothing matches the filters)."""
    query = (query or "").strip()
    if not query:
        raise EvidenceError("the query is empty; give some words to search for")
    _check(limit, mode)
    query = clean_query(query)
    filters = filters or Filters()
    idx = get_index(db_path)
    conn = connect(idx.path)
    try:
        query = glossary(idx, conn).expand(query)
        mask = filter_mask(idx, conn, filters)
        passages: dict[int, int] = {}
        if mode == "fts":
            ranked = fts_rank(idx, conn, query, mask, limit)
            terms = fts_terms(query)
            passages = {item: _best_by_words(conn, idx, item, terms) for item, _ in ranked}
        else:
            qv = embed_query(idx.model, query, idx.path)
            if mode == "vector":
                ranked = idx.top_k(qv, limit, mask)
            else:
                vector = idx.top_k(qv, max(limit, CANDIDATES), mask)
                words = fts_rank(idx, conn, query, mask, max(limit, CANDIDATES))
                seen = {item for item, _ in vector}
                cosine = {item: idx.best_passage(item, qv)[1] for item, _ in words if item not in seen}
                best = None
                if mask is not None and words:  # the unfiltered best, so filters change no score
                    best = max([s for _, s in fts_rank(idx, conn, query, None, 1)] + [s for _, s in words])
                ranked = blend(vector, words, cosine=cosine, best=best)[:limit]
            passages = {item: idx.best_passage(item, qv)[0] for item, _ in ranked}
        return _hits(idx, conn, ranked, passages, context)
    finally:
        conn.close()


def find_item(idx: VectorIndex, item_id: str, item_type: str | None = None) -> int:
    """The item number of an id ('story:x' and 'finding:x' also work)."""
    if ":" in item_id and item_id.split(":", 1)[0] in TYPES:
        item_type, item_id = item_id.split(":", 1)
    for t in ([item_type] if item_type else TYPES):
        item = idx.item(t, item_id)
        if item is not None:
            return item
    raise EvidenceError(f"unknown id '{item_id}': no story or finding with that id in {Path(idx.path).name}; "
                        "check the id (the file name of the story, or the finding's id)")


def similar(db_path: str | Path, item_id: str, *, filters: Filters | None = None, limit: int = 10,
            context: bool = False) -> list[Hit]:
    """Items most like a given story or finding (by the mean of its passage
    vectors; no model needed), best first, the item itself left out."""
    _check(limit, "vector")
    idx = get_index(db_path)
    item = find_item(idx, (item_id or "").strip())
    conn = connect(idx.path)
    try:
        mask = filter_mask(idx, conn, filters or Filters())
        mask = np.ones(idx.size, dtype=bool) if mask is None else mask.copy()
        mask[item] = False
        qv = idx.centroid(item)
        ranked = idx.top_k(qv, limit, mask)
        passages = {i: idx.best_passage(i, qv)[0] for i, _ in ranked}
        return _hits(idx, conn, ranked, passages, context)
    finally:
        conn.close()


def similar_json(db_path: str | Path, query: str, k: int = 10, item_type: str | None = None) -> str:
    """JSON list of {id, type, score} for the SQL function evidence_similar."""
    if not (query or "").strip():
        return "[]"
    idx = get_index(db_path)
    mask = None
    if item_type:
        if item_type not in TYPES:
            raise EvidenceError(f"unknown type '{item_type}'; use story or finding")
        mask = idx.item_type == TYPES.index(item_type)
    query = glossary(idx).expand(query.strip())
    ranked = idx.top_k(embed_query(idx.model, query, idx.path), max(1, min(int(k), MAX_LIMIT)), mask)
    return json.dumps([{"id": idx.item_ids[i], "type": TYPES[idx.item_type[i]], "score": round(s, 6)}
                       for i, s in ranked])


def filter_values(db_path: str | Path) -> dict[str, list]:
    """Values offered by the search form: approaches, areas, places, domains."""
    idx = get_index(db_path)
    conn = connect(idx.path)
    try:
        out = {
            "approach": conn.execute("SELECT id, name FROM approaches ORDER BY name").fetchall(),
            "area": conn.execute("SELECT id, label FROM areas_of_work ORDER BY position").fetchall(),
            "place": [(v, v) for v in sorted(idx.facets["place"][1]) if v],
            "domain": [],
        }
        if columns(conn, "tags"):
            try:
                out["domain"] = conn.execute("SELECT id, label FROM domains ORDER BY framework_id, position").fetchall()
            except sqlite3.OperationalError:
                pass
        return out
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# weak matches: saying when search has no good answer

# The best passage cosine below which a search is marked weak ("nothing
# close was found"), per embedding model, measured on the relevance set
# (tests/relevance.yml, tests/corpus/questions_*.yml) and questions the
# evidence base cannot answer (tests/unanswerable.yml) by
# tests/benchmarks/bench_weak_match.py. A model not measured here: no flag.
# "search-": any search model (fine-tuned on an evidence base's own stories,
# evidence/enrich/search_model.py), measured on the one the measuring corpus
# of 280 items trains (a training on one more story gave 0.351)
WEAK_BELOW = {"all-MiniLM-L6-v2": 0.345,  # 2026-11-30, tuned on the even half, on the title-and-summary passages
              SEARCH_PREFIX: 0.364}  # 2026-12-01, tuned the same way


def weak_threshold(model: str) -> float | None:
    """The weak-match threshold of a model: its own, or for a search model
    (`search-...`, fine-tuned per evidence base) the one measured on the
    measuring corpus's search model; None when not measured."""
    if model in WEAK_BELOW:
        return WEAK_BELOW[model]
    return WEAK_BELOW.get(SEARCH_PREFIX) if model.startswith(SEARCH_PREFIX) else None


def weak_match(db_path: str | Path, query: str, *, filters: Filters | None = None,
               threshold: float | None = None) -> tuple[bool | None, float | None]:
    """(weak, best cosine) of a query: weak is True when no passage of the
    items the filters keep is at least the model's WEAK_BELOW threshold
    close in meaning, None when unknown (no threshold measured for the
    model). Ranking modes do not change it: it looks at meaning only."""
    query = (query or "").strip()
    if not query:
        return None, None
    idx = get_index(db_path)
    threshold = weak_threshold(idx.model) if threshold is None else threshold
    if threshold is None:
        return None, None
    conn = connect(idx.path)
    try:
        mask = filter_mask(idx, conn, filters or Filters())
    finally:
        conn.close()
    best = idx.top_k(embed_query(idx.model, glossary(idx).expand(query), idx.path), 1, mask)
    score = float(best[0][1]) if best else 0.0
    return score < threshold, score
