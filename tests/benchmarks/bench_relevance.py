"""Relevance of semantic search with the real model: hit@1, hit@3 and MRR
over tests/relevance.yml, for each ranking mode.

    python tests/benchmarks/bench_relevance.py [--db public.db] [--verbose] [--quick]

Without --db it builds a copy of the repository's content with the real
model (all-MiniLM-L6-v2) in a temporary folder first. --quick scores the
first 8 cases only (the build is the same: the repository's content is small).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a public database built with the real model")
    parser.add_argument("--cases", type=Path, default=ROOT / "tests" / "relevance.yml")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each query's rank")
    parser.add_argument("--quick", action="store_true", help="the first 8 cases only: a few seconds after the build")
    args = parser.parse_args()
    from evidence.search.relevance import evaluate, load_cases

    db, tmp = args.db, None
    if db is None:
        from conftest import copy_base
        from evidence.build import BuildOptions, build
        from evidence.models.embedder import get_embedder

        tmp = Path(tempfile.mkdtemp(prefix="relevance-"))
        base = copy_base(tmp / "base")
        start = time.perf_counter()
        build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
        print(f"built {base} with the real model in {time.perf_counter() - start:.1f}s")
        db = base / "public.db"
    cases = load_cases(args.cases)
    if args.quick:
        cases = cases[:8]
    for mode in ("vector", "hybrid", "fts"):
        s = evaluate(db, cases, mode=mode)
        print(f"{mode:7s} n={s.n}  hit@1 {s.hit1:.3f}  hit@3 {s.hit3:.3f}  MRR {s.mrr:.3f}")
        if args.verbose:
            for query, expect, rank in s.ranks:
                print(f"    {rank if rank else '-':>2}  {expect:40s} {query}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
