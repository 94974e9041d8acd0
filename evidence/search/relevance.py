"""Relevance measures for search: hit@1, hit@3 and mean reciprocal rank of a
set of queries, each with the one item it should find."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evidence.errors import EvidenceError


@dataclass
class Scores:
    """What a relevance run measured; `ranks` holds (query, expected id,
    rank or None when not in the top `depth`)."""

    hit1: float
    hit3: float
    mrr: float
    n: int
    ranks: list[tuple[str, str, int | None]] = field(default_factory=list)


def load_cases(path: str | Path) -> list[dict]:
    """The cases of a relevance file: a list of {query, expect[, type]}."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    cases = data.get("cases") or []
    for i, case in enumerate(cases, start=1):
        if not case.get("query") or not case.get("expect"):
            raise EvidenceError(f"{path}: case {i} needs a query and an expect id")
    return cases


def evaluate(db_path: str | Path, cases: list[dict], mode: str = "vector", depth: int = 10) -> Scores:
    """Run every case against the database and score where the expected item ranked."""
    from evidence.search.query import Filters, search

    ranks: list[tuple[str, str, int | None]] = []
    for case in cases:
        hits = search(db_path, case["query"], limit=depth, mode=mode, filters=Filters(type=case.get("type")))
        ids = [h.id for h in hits]
        ranks.append((case["query"], case["expect"], ids.index(case["expect"]) + 1 if case["expect"] in ids else None))
    n = len(ranks)
    if not n:
        raise EvidenceError("no relevance cases to measure")
    return Scores(
        hit1=sum(1 for *_, r in ranks if r == 1) / n,
        hit3=sum(1 for *_, r in ranks if r and r <= 3) / n,
        mrr=sum(1 / r for *_, r in ranks if r) / n,
        n=n, ranks=ranks)
