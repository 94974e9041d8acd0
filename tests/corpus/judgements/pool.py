"""Pool (question, item) pairs for relevance judging: the top 5 of hybrid
and vector and the top 3 of fts for every question of a relevance file, less
the items it already accepts (README.md here).

    python tests/corpus/judgements/pool.py PUBLIC_DB OUT.csv [tests/relevance.yml ...]
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

DEPTH = {"hybrid": 5, "vector": 5, "fts": 3}


def pool(db: str, files: list[str]) -> list[dict]:
    from evidence.search.query import Filters, search
    from evidence.search.relevance import load_cases

    rows = []
    for f in files:
        for c in load_cases(f):
            accepted = {c["expect"], *(c.get("also") or [])}
            found: dict[str, list[str]] = {}
            for mode, k in DEPTH.items():
                hits = search(db, c["query"], limit=k, mode=mode, filters=Filters(type=c.get("type")))
                for rank, h in enumerate(hits, start=1):
                    if h.id not in accepted:
                        found.setdefault(h.id, []).append(f"{mode}{rank}")
            rows += [{"query": c["query"], "expect": c["expect"], "candidate": item, "ranks": " ".join(r)}
                     for item, r in found.items()]
    for i, row in enumerate(rows, start=1):
        row["pair"] = f"p{i:04d}"
    return rows


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    files = sys.argv[3:] or [str(ROOT / "tests" / "relevance.yml")]
    rows = pool(sys.argv[1], files)
    with open(sys.argv[2], "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["pair", "query", "expect", "candidate", "ranks"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} pairs from {len({r['query'] for r in rows})} questions")


if __name__ == "__main__":
    main()
