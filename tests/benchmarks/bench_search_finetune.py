"""Fine-tuning the bundled sentence model for search, measured: hit@1, hit@3
and MRR of hybrid and vector search on the development and held-out sets of
tests/relevance.yml, with the bundled all-MiniLM-L6-v2 and with a copy
fine-tuned on question-passage pairs generated from this project's own
stories (sentence-transformers' training API, CPU).

    python tests/benchmarks/bench_search_finetune.py [--epochs 1] [--quick] [--keep DIR]

The pairs (evidence/enrich/search_pairs.py) come only from the development
side: items that no held-out question expects, and the development
questions. Each pair is (a query, the passage text the model embeds):
- a sentence of a story's narrative -> its window with that sentence taken
  out (the inverse cloze task: the model learns which story a sentence
  belongs in, from the sentences around it); a share of these asked in
  keywords instead of the whole sentence;
- a story's title -> its summary passage;
- a development question -> the expected item's best passage under the
  bundled model.
Held-out questions, and the stories and findings they expect, are never
seen in training. The fine-tuned weights are written to a temporary folder
(or --keep DIR), never committed.
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

MODES = ("hybrid", "vector")


def _build(dest: Path, model: str, quick_ids: set[str] | None) -> Path:
    from evidence.build import BuildOptions, build
    from evidence.enrich import embeddings
    from evidence.models.embedder import get_embedder
    from support.content import corpus_story_ids
    from support.measuring import copy_measuring_base

    base = copy_measuring_base(dest)
    if quick_ids is not None:
        for path in (base / "stories").glob("*.md"):
            if path.stem in corpus_story_ids() and path.stem not in quick_ids:
                path.unlink()
    build(base, options=BuildOptions(embedder=get_embedder(name=model), enrich_steps=(embeddings.enrich,), root=base))
    return base


def _report(name: str, db: Path, sets: dict) -> dict:
    from evidence.search.relevance import evaluate

    out = {}
    for mode in MODES:
        for part, cases in sets.items():
            s = evaluate(db, cases, mode=mode)
            out[(mode, part)] = s
            print(f"{name:11s} {mode:7s} {part:9s} {s.n:4d}  {s.hit1:.3f}  {s.hit3:.3f}  {s.mrr:.3f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=ROOT / "tests" / "relevance.yml")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--per-story", type=int, default=12, help="at most this many sentence pairs from one story")
    parser.add_argument("--no-questions", action="store_true", help="train on generated pairs only (no dev questions)")
    parser.add_argument("--keep", type=Path, help="write the fine-tuned model here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="two questions a set, their stories, 8 pairs: exercises every path")
    args = parser.parse_args()

    from evidence.models.finetune import finetune
    from evidence.models.embedder import get_embedder
    from evidence.models.weights import BUNDLED_NAME
    from evidence.enrich.search_pairs import training_pairs
    from evidence.search.relevance import SETS, load_cases

    sets = {part: load_cases(args.cases, part) for part in SETS}
    quick_ids = None
    if args.quick:
        sets = {part: cases[:2] for part, cases in sets.items()}
        args.batch = 4
        quick_ids = {c["expect"] for cases in sets.values() for c in cases}
    held_items = {i for c in sets["held-out"] for i in [c["expect"], *(c.get("also") or [])]}
    if not args.quick:  # every held-out item, not only those of the questions kept
        held_items = {i for c in load_cases(args.cases, "held-out") for i in [c["expect"], *(c.get("also") or [])]}

    tmp = Path(tempfile.mkdtemp(prefix="search-ft-"))
    try:
        t = time.perf_counter()
        base = _build(tmp / "base", BUNDLED_NAME, quick_ids)
        print(f"built the measuring corpus with the bundled model in {time.perf_counter() - t:.0f}s")
        print(f"{'model':11s} {'mode':7s} {'set':9s} {'n':>4s}  hit@1  hit@3  MRR")
        before = _report("bundled", base / "public.db", sets)

        pairs = training_pairs(base / "evidence.db", get_embedder(name=BUNDLED_NAME),
                               questions=[] if args.no_questions else sets["dev"], exclude=held_items,
                               per_story=args.per_story, seed=7)
        if args.quick:
            pairs = pairs[:8]
        kinds = {}
        for p in pairs:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        print(f"training pairs: {len(pairs)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); "
              f"held-out items excluded: {len(held_items)}", flush=True)
        out = args.keep or tmp / "model"
        t = time.perf_counter()
        finetune([(p.query, p.passage) for p in pairs], out, epochs=args.epochs, lr=args.lr, batch=args.batch, seed=7)
        print(f"fine-tuned in {time.perf_counter() - t:.0f}s ({args.epochs} epoch(s), batch {args.batch}, lr {args.lr})",
              flush=True)

        t = time.perf_counter()
        tuned_base = _build(tmp / "tuned", str(out), quick_ids)
        print(f"built the measuring corpus with the fine-tuned model in {time.perf_counter() - t:.0f}s")
        after = _report("fine-tuned", tuned_base / "public.db", sets)
        for key, s in after.items():
            b = before[key]
            print(f"change {key[0]:7s} {key[1]:9s} hit@1 {s.hit1 - b.hit1:+.3f} hit@3 {s.hit3 - b.hit3:+.3f} "
                  f"MRR {s.mrr - b.mrr:+.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
