"""Benchmark of the personal-data scanner (evidence/content/pii.py): recall
per kind on the positives of tests/pii_corpus.yml, false alarms on its near
misses, and false alarms on every content file of the repository (stories,
findings, approaches, pipelines), with the scanning time.

    python tests/benchmarks/bench_pii.py [--quick] [--json]

--quick: the same figures without the timing loop (under a second).
The corpus was written for this repository (invented people, UK formats);
the scanner's patterns were not tuned on it after the figures in
docs/benchmarks.md were taken.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from evidence.content import pii  # noqa: E402


def kind_of(group: str) -> str:
    """'UK postcode (lower case)' -> 'UK postcode': the scanner kind a group expects."""
    return group.split(" (", 1)[0]


def measure(corpus: dict) -> dict:
    groups = {}
    for group, texts in corpus["found"].items():
        want = kind_of(group)
        hit = sum(1 for t in texts if want in {m.kind for m in pii.scan_text(t)})
        wrong = sum(1 for t in texts if {m.kind for m in pii.scan_text(t)} - {want})
        groups[group] = {"n": len(texts), "found": hit, "recall": hit / len(texts), "other_kinds": wrong}
    alarms = [t for t in corpus["near_misses"] if pii.scan_text(t)]
    files = [p for d in ("stories", "findings", "approaches", "pipelines") for p in sorted((REPO / d).rglob("*"))
             if p.is_file() and p.suffix in (".md", ".yml", ".yaml", ".jsonl", ".cfg")]
    repo_alarms = [f"{p.relative_to(REPO)}: {m.kind}" for p in files
                   for m in pii.scan_text(p.read_text(encoding="utf-8"))]
    held_out = sorted((REPO / "tests" / "corpus" / "stories").glob("*.md"))
    held_out_alarms = [f"{p.relative_to(REPO)}: {m.kind}" for p in held_out
                       for m in pii.scan_text(p.read_text(encoding="utf-8"))]
    positives = sum(g["n"] for g in groups.values())
    return {"groups": groups, "positives": positives, "recall": sum(g["found"] for g in groups.values()) / positives,
            "near_misses": len(corpus["near_misses"]), "false_alarms": len(alarms), "false_alarm_texts": alarms,
            "repo_files": len(files), "repo_false_alarms": repo_alarms,
            "corpus_stories": len(held_out), "corpus_story_false_alarms": held_out_alarms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the timing loop")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--corpus", type=Path, default=HERE.parent / "pii_corpus.yml")
    args = ap.parse_args()
    corpus = yaml.safe_load(args.corpus.read_text(encoding="utf-8"))
    r = measure(corpus)
    if not args.quick:
        stories = [p.read_text(encoding="utf-8") for p in sorted((REPO / "tests" / "corpus" / "stories").glob("*.md"))]
        start = time.perf_counter()
        for _ in range(5):
            for text in stories:
                pii.scan_text(text)
        r["ms_per_story"] = (time.perf_counter() - start) * 1000 / max(1, 5 * len(stories))
    if args.json:
        print(json.dumps(r, indent=1))
        return
    print(f"{'kind':36s} {'n':>4s} {'found':>6s} {'recall':>7s} {'other kind':>10s}")
    for group, g in r["groups"].items():
        print(f"{group:36s} {g['n']:4d} {g['found']:6d} {g['recall']:7.1%} {g['other_kinds']:10d}")
    print(f"{'all':36s} {r['positives']:4d} {round(r['recall'] * r['positives']):6d} {r['recall']:7.1%}")
    print(f"false alarms on near misses: {r['false_alarms']} of {r['near_misses']}")
    for t in r["false_alarm_texts"]:
        print(f"  {t}")
    print(f"false alarms on the repository's content: {len(r['repo_false_alarms'])} in {r['repo_files']} files")
    for t in r["repo_false_alarms"]:
        print(f"  {t}")
    print(f"false alarms on the 80 invented corpus stories (never used to tune): "
          f"{len(r['corpus_story_false_alarms'])} in {r['corpus_stories']} stories")
    for t in r["corpus_story_false_alarms"]:
        print(f"  {t}")
    if "ms_per_story" in r:
        print(f"scan time: {r['ms_per_story']:.2f} ms per story (80 corpus stories, 5 rounds)")


if __name__ == "__main__":
    main()
