"""Relevance measures for search: hit@1, hit@3 and mean reciprocal rank of a
set of queries, each with the one item it should find (and, optionally,
`also`: other items that answer it as well). A case may name the `set` it
belongs to (`dev` or `held-out`), so ranking is tuned on one part and
reported on the other."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evidence.content.yamldoc import plain_yaml
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


SETS = ("dev", "held-out")


def load_cases(path: str | Path, part: str | None = None) -> list[dict]:
    """The cases of a relevance file: a list of {query, expect[, also, type,
    set]}; with `part`, only the cases of that set."""
    data = plain_yaml(Path(path).read_text(encoding="utf-8")) or {}
    cases = data.get("cases") or []
    for i, case in enumerate(cases, start=1):
        if not case.get("query") or not case.get("expect"):
            raise EvidenceError(f"{path}: case {i} needs a query and an expect id")
        if case.get("set") is not None and case["set"] not in SETS:
            raise EvidenceError(f"{path}: case {i} has set '{case['set']}'; use one of: {', '.join(SETS)}")
    if part is not None:
        if part not in SETS:
            raise EvidenceError(f"unknown set '{part}'; use one of: {', '.join(SETS)}")
        cases = [c for c in cases if c.get("set") == part]
    return cases


def evaluate(db_path: str | Path, cases: list[dict], mode: str = "hybrid", depth: int = 10) -> Scores:
    """Run every case against the database and score where the expected item ranked."""
    from evidence.search.query import Filters, search

    ranks: list[tuple[str, str, int | None]] = []
    for case in cases:
        hits = search(db_path, case["query"], limit=depth, mode=mode, filters=Filters(type=case.get("type")))
        accepted = {case["expect"], *(case.get("also") or [])}
        rank = next((i for i, h in enumerate(hits, start=1) if h.id in accepted), None)
        ranks.append((case["query"], case["expect"], rank))
    n = len(ranks)
    if not n:
        raise EvidenceError("no relevance cases to measure")
    return Scores(
        hit1=sum(1 for *_, r in ranks if r == 1) / n,
        hit3=sum(1 for *_, r in ranks if r and r <= 3) / n,
        mrr=sum(1 / r for *_, r in ranks if r) / n,
        n=n, ranks=ranks)
