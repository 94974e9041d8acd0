"""The weak-match threshold of search: the best passage cosine below which
a question is flagged as having no good answer ("weak": true).

    python tests/benchmarks/bench_weak_match.py [--db public.db] [--quick] [--verbose]

Answerable questions: tests/relevance.yml and tests/corpus/questions_*.yml
(each names the story or finding that answers it). Unanswerable: the
questions in tests/unanswerable.yml, about nothing the evidence base holds.
Without --db it builds the repository's content plus tests/corpus/stories
with the real model (all-MiniLM-L6-v2) in a temporary folder. Each set is
split by position: even items tune the threshold (the one with the best F1
of the weak flag, ties to the lower), odd items report it, so the figures
printed for the report half were not tuned on. --quick: the repository's
content only, 8 answerable and 6 unanswerable questions, a few seconds
after the build.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def build_corpus(quick: bool) -> tuple[Path, Path]:
    from conftest import copy_base
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    tmp = Path(tempfile.mkdtemp(prefix="weak-"))
    base = copy_base(tmp / "base")
    if not quick:
        for p in (ROOT / "tests" / "corpus" / "stories").glob("*.md"):
            shutil.copy(p, base / "stories" / p.name)
    start = time.perf_counter()
    # as `evidence build` does: with the search model when the stories give enough pairs
    build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2"), tune_search=True))
    print(f"built {base} with the real model in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return tmp, base / "public.db"


def load(quick: bool) -> tuple[list[str], list[str]]:
    answerable = [c["query"] for c in yaml.safe_load((ROOT / "tests" / "relevance.yml").read_text())["cases"]]
    if not quick:
        for name in ("a", "b", "c"):
            answerable += [c["query"] for c in yaml.safe_load(
                (ROOT / "tests" / "corpus" / f"questions_{name}.yml").read_text())["cases"]]
    answerable = list(dict.fromkeys(answerable))  # relevance.yml has taken in the corpus questions: count each once
    unanswerable = [c["query"] for c in yaml.safe_load((ROOT / "tests" / "unanswerable.yml").read_text())["cases"]]
    if quick:
        answerable, unanswerable = answerable[:8], unanswerable[:6]
    return answerable, unanswerable


def scores(db: Path, queries: list[str]) -> list[float]:
    from evidence.search.query import weak_match

    return [weak_match(db, q, threshold=2.0)[1] for q in queries]


def figures(ans: list[float], unans: list[float], t: float) -> dict:
    """The weak flag (score < t) as a detector of unanswerable questions."""
    tp = sum(1 for s in unans if s < t)
    fp = sum(1 for s in ans if s < t)
    fn = len(unans) - tp
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "flagged_unanswerable": tp, "unanswerable": len(unans),
            "flagged_answerable": fp, "answerable": len(ans)}


def choose(ans: list[float], unans: list[float]) -> float:
    cands = sorted({round(s + 1e-4, 4) for s in ans + unans})
    return max(cands, key=lambda t: (figures(ans, unans, t)["f1"], -t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a public database built with the real model (seeds + corpus)")
    parser.add_argument("--quick", action="store_true", help="repository content only, a few questions")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every question's best score")
    args = parser.parse_args()
    from evidence.search.index import get_index
    from evidence.search.query import weak_threshold

    tmp, db = (None, args.db) if args.db else build_corpus(args.quick)
    model = get_index(db).model
    in_use = weak_threshold(model)
    answerable, unanswerable = load(args.quick)
    a, u = scores(db, answerable), scores(db, unanswerable)
    tune_a, rep_a, tune_u, rep_u = a[0::2], a[1::2], u[0::2], u[1::2]
    t = choose(tune_a, tune_u)
    print(f"answerable {len(a)} questions (relevance.yml{'' if args.quick else ' + corpus questions_a/b/c'}), "
          f"unanswerable {len(u)} (unanswerable.yml)")
    print(f"best cosine, answerable:   min {min(a):.3f}  median {sorted(a)[len(a) // 2]:.3f}  max {max(a):.3f}")
    print(f"best cosine, unanswerable: min {min(u):.3f}  median {sorted(u)[len(u) // 2]:.3f}  max {max(u):.3f}")
    print(f"threshold tuned on the even half: {t:.3f} (in use for {model}: {in_use})")
    for label, ans, un in (("tune half", tune_a, tune_u), ("report half", rep_a, rep_u)):
        for name, thr in (("tuned", t), ("in use", in_use)) if in_use is not None else (("tuned", t),):
            f = figures(ans, un, thr)
            print(f"  {label:11s} threshold {name:6s} {thr:.3f}: precision {f['precision']:.3f} recall {f['recall']:.3f} "
                  f"F1 {f['f1']:.3f}; unanswerable flagged {f['flagged_unanswerable']}/{f['unanswerable']}, "
                  f"answerable flagged {f['flagged_answerable']}/{f['answerable']}")
    thr = in_use if in_use is not None else t
    f = figures(a, u, thr)
    print(f"  all questions threshold in use {thr:.3f}: precision {f['precision']:.3f} recall {f['recall']:.3f}; "
          f"relevance set: {f['flagged_answerable']}/{f['answerable']} flagged weak (wrongly); "
          f"unanswerable set: {f['flagged_unanswerable']}/{f['unanswerable']} flagged weak")
    if args.verbose:
        for q, s in sorted(zip(answerable + unanswerable, a + u), key=lambda x: x[1]):
            print(f"    {s:.3f} {'U' if q in unanswerable else 'A'} {q}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
