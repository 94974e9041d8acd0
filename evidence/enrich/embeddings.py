"""Embeddings: the build's enrichment step that cuts stories and findings
into passages and stores one vector per passage.

Vectors are little-endian float32 blobs (the format the `llm` tool uses) in
the `embeddings` table, keyed by (model, item type, item id, passage) with
the SHA-256 of the embedded text beside them: a passage whose text has been
embedded before by the same model reuses that vector, so unchanged text is
never embedded twice. Stories are embedded from their public texts
(public_title, public_summary, public_body), so an anonymised story's
vectors and passages carry the pseudonym, never the real name. Everything
happens inside the build's transaction.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from sqlite_utils.utils import chunks

from evidence.content.abbreviations import Glossary, load_glossary
from evidence.store import schema as store
from evidence.store.writes import CHUNK, delete_in, select_in
from evidence.enrich.passages import CHUNKER_VERSION, CONTEXTS, FINDING_CONTEXTS, Passage, finding_passages, roles_text, story_passages

STEP = "embeddings"  # its key in BuildSummary.enriched
ITEM_TABLES = {"story": "stories", "finding": "findings"}
BATCH = 64


def to_blob(vector: np.ndarray) -> bytes:
    """A vector as a little-endian float32 blob."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """A little-endian float32 blob as a numpy vector."""
    return np.frombuffer(blob, dtype="<f4")


def item_passages(item_type: str, row: dict, size: int, stride: int,
                  context: tuple[str, ...] = ("title",), glossary: Glossary | None = None) -> list[Passage]:
    """The passages of one stories or findings row of the working database
    (`context`: what goes before each passage, see passages.CONTEXTS), the
    text the model embeds with the glossary's abbreviations expanded."""
    if item_type == "story":
        try:
            people = json.loads(row.get("public_people") or "[]")
        except ValueError:
            people = []
        out = story_passages(row["public_title"] or "", row["public_summary"] or "", row["public_body"] or "",
                             size, stride, context=context, roles=roles_text(people))
    else:
        out = finding_passages(row["statement"] or "", row.get("study_title") or "", context=context,
                               population=row.get("population") or "")
    if glossary:
        out = [replace(p, embed_text=glossary.expand(p.embed_text)) for p in out]
    return out


def _write_glossary(db, glossary: Glossary) -> int:
    """Make the abbreviations table hold the glossary; rows written."""
    rows = {r[0]: r[1] for r in db.execute("SELECT abbreviation, expansion FROM abbreviations")}
    if rows == glossary.entries:
        return 0
    db.execute("DELETE FROM abbreviations")
    db["abbreviations"].insert_all([{"abbreviation": a, "expansion": e} for a, e in glossary.entries.items()],
                                   pk="abbreviation")
    return max(1, len(glossary.entries))


def passage_context(cfg: dict) -> tuple[str, ...]:
    """The passage_context setting as a tuple; an unknown word is an error
    naming the setting and the words allowed."""
    from evidence.errors import EvidenceError

    value = cfg.get("passage_context", ["title", "summary", "population"])
    words = [value] if isinstance(value, str) else list(value or [])
    allowed = CONTEXTS + FINDING_CONTEXTS
    bad = [w for w in words if w not in allowed]
    if bad:
        raise EvidenceError(f"pipelines/embedding.yml: passage_context has '{bad[0]}'; "
                            f"use a list of: {', '.join(allowed)}")
    return tuple(words)


def _rows(db, item_type: str, ids: list[str]) -> list[dict]:
    if item_type == "story":
        sql = "SELECT id, public_title, public_summary, public_body, public_people FROM stories WHERE id IN ({marks})"
    else:
        sql = ("SELECT f.id, f.statement, f.population, (SELECT s.title FROM studies s WHERE s.id = f.study_id) AS study_title "
               "FROM findings f WHERE f.id IN ({marks})")
    out = []
    for part in map(list, chunks(ids, CHUNK)):
        cur = db.execute(sql.format(marks=",".join("?" * len(part))), part)
        names = [d[0] for d in cur.description]
        out += [dict(zip(names, r)) for r in cur.fetchall()]
    return out


def delete_items(db, item_type: str, ids: Iterable[str]) -> int:
    """Remove every passage and vector of these items (all models)."""
    ids = list(ids)
    n = delete_in(db, "passages", "item_id", ids, where="item_type = ?", params=[item_type])
    delete_in(db, "embeddings", "item_id", ids, where="item_type = ?", params=[item_type])
    return n


# a story withdrawn but kept as a row (a tombstone) is never embedded
LIVE = {"story": "COALESCE(status, '') != 'withdrawn'", "finding": "1"}


def _missing(db, item_type: str) -> list[str]:
    """Items that have no passages at all (new since the step last ran)."""
    table = ITEM_TABLES[item_type]
    return [r[0] for r in db.execute(
        f"SELECT id FROM [{table}] WHERE {LIVE[item_type]} AND id NOT IN "
        "(SELECT item_id FROM passages WHERE item_type = ?)", [item_type])]


def _withdrawn(db, ids: list[str]) -> list[str]:
    return [r[0] for r in select_in(db, f"SELECT id FROM stories WHERE NOT ({LIVE['story']}) AND id IN ({{marks}})", ids)]


def _orphans(db) -> int:
    """Delete passages and vectors of items that no longer exist."""
    n = 0
    for item_type, table in ITEM_TABLES.items():
        n += db.execute(f"DELETE FROM passages WHERE item_type = ? AND item_id NOT IN (SELECT id FROM [{table}])",
                        [item_type]).rowcount
        db.execute(f"DELETE FROM embeddings WHERE item_type = ? AND item_id NOT IN (SELECT id FROM [{table}])",
                   [item_type])
    return n


def enrich(db, summary: Any, options: Any) -> None:
    """Build step: bring passages and embeddings up to date for what changed.

    Items in summary.changed_ids are cut again; summary.removed_ids lose
    their rows; a change of model or passage settings re-cuts everything
    (reusing vectors whose text is unchanged). A build with nothing new
    runs two indexed queries and loads no model."""
    from evidence.models.embedder import get_embedder, settings

    cfg = settings(options.root)
    size, stride = int(cfg["passage_sentences"]), int(cfg["passage_stride"])
    context = passage_context(cfg)
    glossary = load_glossary(options.root)
    embedder = options.embedder if options.embedder is not None else get_embedder(options.root)
    model = embedder.model_id
    config = json.dumps([model, size, stride, CHUNKER_VERSION, list(context)] + ([glossary.digest] if glossary else []))
    full = store.get_meta(db, "embedding_config") != config
    written = _write_glossary(db, glossary)
    removed = {t: list(summary.removed_ids.get(ITEM_TABLES[t], [])) for t in ITEM_TABLES}
    for item_type, ids in removed.items():
        written += delete_items(db, item_type, ids)
    if full:
        written += _orphans(db)
        targets = {t: [r[0] for r in db.execute(f"SELECT id FROM [{ITEM_TABLES[t]}] WHERE {LIVE[t]}")]
                   for t in ITEM_TABLES}
        gone = [r[0] for r in db.execute(f"SELECT id FROM stories WHERE NOT ({LIVE['story']})")]
    else:
        targets = {t: sorted(set(summary.changed_ids.get(ITEM_TABLES[t], [])) | set(_missing(db, t)))
                   for t in ITEM_TABLES}
        gone = _withdrawn(db, targets["story"])
    if gone:
        written += delete_items(db, "story", gone)
        targets["story"] = sorted(set(targets["story"]) - set(gone))
    if any(targets.values()):
        written += _embed_items(db, targets, embedder, model, size, stride, options.progress, context, glossary)
    if full:
        # other models' vectors go, but the search model's (enrich/search_model.py), which
        # that step keeps or drops itself
        db.execute("DELETE FROM embeddings WHERE model != ? AND model != COALESCE("
                   "(SELECT value FROM meta WHERE key = 'search_model'), '')", [model])
        store.set_meta(db, "embedding_config", config)
        store.set_meta(db, "embedding_model", model)
        written = max(written, 1)  # republish: the public vectors' model or passages changed
    if written:
        summary.enriched[STEP] = written


def _embed_items(db, targets: dict[str, list[str]], embedder, model: str, size: int, stride: int,
                 progress, context: tuple[str, ...] = ("title",), glossary: Glossary | None = None) -> int:
    """Cut the target items into passages, reuse stored vectors by content
    hash, embed the rest, and replace the items' rows."""
    plan: list[tuple[str, str, list[Passage]]] = []
    for item_type, ids in targets.items():
        for row in _rows(db, item_type, ids):
            plan.append((item_type, row["id"], item_passages(item_type, row, size, stride, context, glossary)))
    hashes = sorted({p.text_hash for _, _, ps in plan for p in ps})
    known: dict[str, bytes] = {}
    known.update(dict(select_in(db, "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                                hashes, params=[model])))
    todo: dict[str, str] = {}
    for _, _, ps in plan:
        for p in ps:
            if p.text_hash not in known:
                todo.setdefault(p.text_hash, p.embed_text)
    texts = list(todo.items())
    for start in range(0, len(texts), BATCH):
        batch = texts[start:start + BATCH]
        vectors = embedder.encode([t for _, t in batch])
        for (h, _), v in zip(batch, vectors):
            known[h] = to_blob(v)
        if progress:
            progress("embedding passages", min(start + BATCH, len(texts)), len(texts))
    for item_type in targets:
        delete_items(db, item_type, [item_id for t, item_id, _ in plan if t == item_type])
    passages, vectors = [], []
    for item_type, item_id, ps in plan:
        for i, p in enumerate(ps):
            passages.append({"item_type": item_type, "item_id": item_id, "passage": i, "field": p.field,
                             "start_char": p.start, "end_char": p.end, "text": p.text,
                             "text_hash": p.text_hash})
            vectors.append({"model": model, "item_type": item_type, "item_id": item_id, "passage": i,
                            "text_hash": p.text_hash, "vector": known[p.text_hash]})
    db["passages"].insert_all(passages, pk=("item_type", "item_id", "passage"), batch_size=500)
    db["embeddings"].insert_all(vectors, pk=("model", "item_type", "item_id", "passage"), batch_size=500)
    return len(passages)
