"""Training pairs for fine-tuning the sentence model for search, generated
from a built working database: (a query, the text the model embeds for the
passage that should answer it).

Four kinds, all from the evidence base's own content:
- `sentence`: a sentence of a story's narrative -> its window with that
  sentence taken out (the inverse cloze task): the model learns to place a
  sentence in its story from the sentences around it, which is what tells
  alike stories apart;
- `keywords`: the same, with the sentence cut down to its content words
  (evidence.content.words.keywords), the way many people type a search; a
  share KEYWORD_SHARE of the sentence pairs is asked this way;
- `title`: a story's title -> its summary passage;
- `question`: a written question with the item it should find -> that
  item's passage closest to the question under the current model.
Stories and findings listed in `exclude` give no pairs (the items a
held-out set of questions expects), so what is measured on them is never
trained on.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sqlite_utils

from evidence.content.abbreviations import load_glossary
from evidence.content.words import keywords
from evidence.enrich.embeddings import _rows, item_passages, passage_context
from evidence.enrich.passages import sentence_bounds
from evidence.models.embedder import settings

MIN_WORDS = 6
# the share of sentence pairs asked in keywords, and the fewest keywords such
# a query may have (a shorter one stays a sentence). Chosen on the
# development questions (docs/search.md, "Keyword queries"): 0.33, 0.5 and
# 0.75 were tried, and 0.75 gained most, mostly for vector search
KEYWORD_SHARE = 0.75
MIN_KEYWORDS = 4


@dataclass(frozen=True)
class Pair:
    kind: str
    item: str
    query: str
    passage: str


def _story_pairs(row: dict, size: int, stride: int, context: tuple[str, ...], per_story: int,
                 rng: random.Random) -> list[Pair]:
    passages = item_passages("story", row, size, stride, context)
    out: list[Pair] = []
    title = (row.get("public_title") or "").strip()
    if title and passages and passages[0].field == "summary":
        out.append(Pair("title", row["id"], title, passages[0].embed_text))
    body = row.get("public_body") or ""
    spans = sentence_bounds(body)
    candidates: list[Pair] = []
    for p in passages:
        if p.field != "body":
            continue
        prefix = p.embed_text[: len(p.embed_text) - len(p.text)]
        inside = [(s, e) for s, e in spans if s >= p.start and e <= p.end]
        if len(inside) < 2:
            continue
        for s, e in inside:
            sentence = body[s:e].strip()
            if len(re.findall(r"\w+", sentence)) < MIN_WORDS:
                continue
            rest = " ".join(body[a:b].strip() for a, b in inside if (a, b) != (s, e))
            candidates.append(Pair("sentence", row["id"], sentence, prefix + rest))
    rng.shuffle(candidates)
    seen: set[str] = set()
    for pair in candidates:  # one pair a sentence (windows overlap), at most per_story
        if pair.query in seen:
            continue
        seen.add(pair.query)
        if rng.random() < KEYWORD_SHARE:
            short = keywords(pair.query)
            if len(short.split()) >= MIN_KEYWORDS:
                pair = replace(pair, kind="keywords", query=short)
        out.append(pair)
        if len(seen) >= per_story:
            break
    return out


def training_pairs(db_path: str | Path | None, embedder, *, questions: list[dict] = (), exclude: set[str] = frozenset(),
                   per_story: int = 12, seed: int = 7, root: Path | None = None, db=None,
                   story_ids: list[str] | None = None) -> list[Pair]:
    """Pairs from every story of the working database (at db_path, or the
    open `db`) not in `exclude`, or from `story_ids` only, plus one pair per
    question ({query, expect}) whose item is not excluded."""
    cfg = settings(root)
    size, stride, context = cfg["passage_sentences"], cfg["passage_stride"], passage_context(cfg)
    rng = random.Random(seed)
    own = db is None
    db = sqlite_utils.Database(str(db_path)) if own else db
    try:
        ids = story_ids if story_ids is not None else [r[0] for r in db.execute("SELECT id FROM stories ORDER BY id")]
        ids = [i for i in ids if i not in exclude]
        pairs: list[Pair] = []
        for row in _rows(db, "story", ids):
            pairs += _story_pairs(row, size, stride, context, per_story, rng)
        wanted = [q for q in questions if q["expect"] not in exclude]
        if wanted:
            story_ids = {r[0] for r in db.execute("SELECT id FROM stories")}
            texts = []
            for q in wanted:
                kind = "story" if q["expect"] in story_ids else "finding"
                rows = _rows(db, kind, [q["expect"]])
                texts.append([p.embed_text for p in item_passages(kind, rows[0], size, stride, context)] if rows else [])
            qv = embedder.encode([q["query"] for q in wanted])
            for q, v, options in zip(wanted, qv, texts):
                if not options:
                    continue
                pv = embedder.encode(options)
                pairs.append(Pair("question", q["expect"], q["query"], options[int(np.argmax(pv @ v))]))
    finally:
        if own:
            db.close()
    # the abbreviations expanded, as the build embeds passages and search
    # embeds queries (pipelines/abbreviations.yml)
    glossary = load_glossary(root) if root is not None else None
    if glossary:
        pairs = [replace(p, query=glossary.expand(p.query), passage=glossary.expand(p.passage)) for p in pairs]
    rng.shuffle(pairs)
    return pairs
