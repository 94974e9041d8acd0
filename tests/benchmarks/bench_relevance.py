"""Relevance of search with the real model: hit@1, hit@3 and MRR of each
ranking mode (hybrid, vector, fts) on the development and held-out sets of
tests/relevance.yml.

    python tests/benchmarks/bench_relevance.py [--db public.db] [--no-tune] [--verbose] [--quick]
                                               [--passage-context title,summary] [--keep DIR]

Without --db it builds the measuring corpus (tests/support/measuring.py: the
seed stories, every finding and the 234 invented stories of
tests/corpus/stories/) with the real model (all-MiniLM-L6-v2) in a temporary
folder first, as `evidence build` does: the bundled model's vectors, then
the search model trained on the stories' own pairs and its vectors (about
ten minutes on two idle cores); --no-tune leaves the search model out, to
measure the bundled model alone. --passage-context overrides
pipelines/embedding.yml's passage_context for that build (e.g. `title`, the
setting before issue 17, to measure the old passages). --quick builds only
the seed stories, the findings and the corpus stories that the first 8
questions of each set expect, and scores those 16 questions.
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

MODES = ("hybrid", "vector", "fts")
QUICK = 8


def _build(tmp: Path, cases: list[dict], quick: bool, context: str | None, tune: bool) -> Path:
    import yaml

    from support.content import corpus_story_ids
    from support.measuring import build_measuring, copy_measuring_base

    base = copy_measuring_base(tmp / "base")
    if quick:
        wanted = {c["expect"] for c in cases} | {a for c in cases for a in c.get("also") or []}
        for path in (base / "stories").glob("*.md"):
            if path.stem in corpus_story_ids() and path.stem not in wanted:
                path.unlink()
    if context is not None:
        cfg_path = base / "pipelines" / "embedding.yml"
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        cfg["passage_context"] = [w for w in context.split(",") if w]
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    start = time.perf_counter()
    summary = build_measuring(base, tune=tune)
    stories = len(list((base / "stories").glob("*.md")))
    import sqlite3

    conn = sqlite3.connect(base / "evidence.db")
    model = (conn.execute("SELECT value FROM meta WHERE key = 'search_model'").fetchone() or ["the bundled model"])[0]
    conn.close()
    print(f"built {stories} stories and the findings with the real model in {time.perf_counter() - start:.1f}s; "
          f"search uses {model}" + (" (trained in this build)" if summary.enriched.get("search_model") else ""))
    return base / "public.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a public database built with the real model")
    parser.add_argument("--cases", type=Path, default=ROOT / "tests" / "relevance.yml")
    parser.add_argument("--passage-context", help="comma-separated passage_context for the build (default: the setting)")
    parser.add_argument("--no-tune", action="store_true",
                        help="build without the search model (the bundled model's vectors, as before it)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each query that missed rank 1")
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK} questions of each set, on a small build")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build in DIR (new or empty) and keep it, to measure its public.db again with --db")
    args = parser.parse_args()
    from evidence.search.relevance import SETS, evaluate, load_cases

    sets = {part: load_cases(args.cases, part) for part in SETS}
    if args.quick:
        sets = {part: cases[:QUICK] for part, cases in sets.items()}
    db, tmp = args.db, None
    if db is None:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            if any(args.keep.iterdir()):
                sys.exit(f"bench_relevance: --keep {args.keep} is not empty: name a new or empty folder")
        tmp = args.keep or Path(tempfile.mkdtemp(prefix="relevance-"))
        db = _build(tmp, [c for cases in sets.values() for c in cases], args.quick, args.passage_context,
                    not args.no_tune)
    print(f"{'mode':7s} {'set':9s} {'n':>4s}  hit@1  hit@3  MRR")
    for mode in MODES:
        for part, cases in sets.items():
            s = evaluate(db, cases, mode=mode)
            print(f"{mode:7s} {part:9s} {s.n:4d}  {s.hit1:.3f}  {s.hit3:.3f}  {s.mrr:.3f}")
            if args.verbose:
                for query, expect, rank in s.ranks:
                    if rank != 1:
                        print(f"    {rank if rank else '-':>2}  {expect:40s} {query}")
    if tmp and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
