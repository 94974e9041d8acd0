"""Benchmark (a script, not a test): build times on a synthetic corpus.

Generates N synthetic stories (default 10,000) beside the real content in a
temporary folder and reports, side by side in one run:
  1. a full build from nothing,
  2. a second build with nothing changed,
  3. a build after changing 10 stories (and, for proportionality, 100),
each with and without enrichment steps (tagging, embeddings) where they are
registered: `--no-enrich` measures the record pipeline alone.

    python tests/benchmarks/bench_build.py [--stories 10000] [--keep DIR] [--quick]

--quick: 100 stories, and 5 then 20 changed: the same table in seconds.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from evidence.build import BuildOptions, build  # noqa: E402
from support.synthetic import write_synthetic_stories  # noqa: E402
from conftest import copy_base  # noqa: E402


def change_stories(root: Path, n: int, rng: random.Random) -> None:
    files = sorted((root / "stories").glob("synthetic-*.md"))
    for p in rng.sample(files, n):
        p.write_text(p.read_text().rstrip("\n") + f"\nEdited at {time.time_ns()}.\n")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stories", type=int, default=10_000)
    ap.add_argument("--no-enrich", action="store_true", help="skip tagging/embedding steps")
    ap.add_argument("--keep", type=Path, help="build in this folder and keep it")
    ap.add_argument("--quick", action="store_true", help="100 stories, 5 and 20 changed: a few seconds")
    args = ap.parse_args()
    small, large = 10, 100
    if args.quick:
        args.stories, small, large = 100, 5, 20
    os.environ.setdefault("EVIDENCE_EMBEDDER", "fake")
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-build-"))
    root = copy_base(tmp / "base")
    t_gen, _ = timed(lambda: write_synthetic_stories(root, args.stories, seed=1))
    print(f"corpus: {args.stories} synthetic stories + the seed content (generated in {t_gen:.1f}s); "
          f"embedder: {os.environ['EVIDENCE_EMBEDDER']}; enrich: {not args.no_enrich}")
    rng = random.Random(7)
    opts = lambda: BuildOptions(enrich=not args.no_enrich)  # noqa: E731
    rows = []
    t, s = timed(lambda: build(root, options=opts()))
    rows.append(("full build", t, s))
    t, s = timed(lambda: build(root, options=opts()))
    rows.append(("no-change rebuild", t, s))
    change_stories(root, small, rng)
    t, s = timed(lambda: build(root, options=opts()))
    rows.append((f"{small} stories changed", t, s))
    change_stories(root, large, rng)
    t, s = timed(lambda: build(root, options=opts()))
    rows.append((f"{large} stories changed", t, s))
    print(f"{'run':<22}{'seconds':>9}{'parsed':>9}{'added':>8}{'changed':>9}{'unchanged':>11}  public db")
    for name, t, s in rows:
        print(f"{name:<22}{t:>9.2f}{s.files_parsed:>9}{s.added:>8}{s.changed:>9}{s.unchanged:>11}  "
              f"{'rewritten' if s.public_written else 'kept'}")
    if not args.keep:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
