"""Benchmark (a script, not a test): curator actions, each run cold in a
fresh interpreter with the real model, beside the time of importing
sentence-transformers alone on the same machine in the same run.

    python tests/benchmarks/bench_curator.py [--reps 3] [--stories N] [--keep DIR] [--quick]

On a copy of this repository's evidence base, built once with the real
model, it times (median of --reps runs, each on new content):
  add            evidence add with flags, one new story (narrative from tests/corpus/stories)
  review         evidence review: confirm the new story's best tag
  add-finding    evidence add-finding with a new study
  from-review    evidence add --from-review: one story and one finding
  edit           edit one story file, then evidence build
  withdraw       evidence withdraw of a story added above
--stories N first adds N more stories to the copy (the test corpus's
stories again and again under new ids, each with a line of its own), so
the actions are timed in a larger evidence base; and `python -c "import
sentence_transformers"` (median of runs taken before,
between and after). For each action it prints the ratio to that import
time (the goal is at most 0.35), whether torch was loaded, and, for add,
whether the story was tagged, embedded, linked and found by the next search.

--quick: one run of each.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from conftest import copy_base  # noqa: E402
from support.probe import real_model_env, run_cold, torch_modules  # noqa: E402

def timed_import() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sentence_transformers"], check=True, env=real_model_env())
    return time.perf_counter() - t


def evidence(args: list[str], root: Path, work: Path) -> tuple[float, bool, str]:
    """(seconds, torch loaded, stderr) of one cold `evidence` command."""
    t = time.perf_counter()
    r, modules = run_cold(args, root, work, timeout=None)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"evidence {' '.join(args[:2])} failed:\n{r.stderr[-3000:]}")
    return seconds, bool(torch_modules(modules)), r.stderr


def corpus_bodies() -> list[tuple[str, str]]:
    """(title, narrative) of the test corpus stories (not in the evidence base)."""
    out = []
    for p in sorted((ROOT / "tests" / "corpus" / "stories").glob("*.md")):
        text = p.read_text(encoding="utf-8")
        front, body = text.split("---\n", 2)[1:]
        out.append((yaml.safe_load(front)["title"], body.strip()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--quick", action="store_true", help="one run of each action")
    ap.add_argument("--stories", type=int, default=0, help="add this many more stories to the base first")
    args = ap.parse_args()
    reps = 1 if args.quick else max(1, args.reps)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-curator-"))
    root = copy_base(tmp / "base")
    rng = random.Random(14)
    bodies = corpus_bodies()
    rng.shuffle(bodies)
    pad(root, args.stories, skip={t for t, _ in bodies[:2 * reps + 2]})

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evidence", "build", "--root", str(root), "-q"], check=True, env=real_model_env())
    first_build = time.perf_counter() - t
    imports = [timed_import()]
    times: dict[str, list[float]] = {k: [] for k in ("add", "review", "add-finding", "from-review", "edit", "withdraw")}
    torch: dict[str, bool] = {k: False for k in times}
    checks = []
    added = []
    for rep in range(reps):
        title, body = bodies[2 * rep]
        title = f"{title} ({rep})"
        bf = tmp / f"body-{rep}.md"
        bf.write_text(body + "\n", encoding="utf-8")
        s, tl, err = evidence(["add", "--title", title, "--approach", "community-navigators", "--consent", "given-by-person",
                               "--consent-scope", "public", "--consent-wording", "bench form v1", "--source-title", "Bench notes",
                               "--source-organisation", "Bench Council", "--person", "Bench Person:person supported",
                               "--body-file", str(bf), "--no-input"], root, tmp)
        sid = re.search(r"added stories/(\S+)\.md", err).group(1)
        added.append(sid)
        times["add"].append(s)
        torch["add"] |= tl
        checks.append(enrichment(root, sid, body))
        import sqlite3

        conn = sqlite3.connect(root / "evidence.db")
        domain = conn.execute("SELECT domain FROM tags WHERE item_id = ? AND status = 'suggested' ORDER BY score DESC",
                              [sid]).fetchone()[0]
        conn.close()
        s, tl, _ = evidence(["review", sid, domain, "--confirm", "--by", "Bench"], root, tmp)
        times["review"].append(s)
        torch["review"] |= tl
        s, tl, _ = evidence(["add-finding", "--study", f"bench-study-{rep}", "--study-title", f"Bench study {rep}",
                             "--study-organisation", "Bench Trust", "--statement",
                             f"In run {rep}, {40 + rep} of 60 members said the lunch club made their week less lonely.",
                             "--sample-size", "60", "--design", "survey"], root, tmp)
        times["add-finding"].append(s)
        torch["add-finding"] |= tl
        t2, b2 = bodies[2 * rep + 1]
        cands = tmp / f"cands-{rep}.yml"
        cands.write_text(yaml.safe_dump({"stories": [{
            "candidate": "story-1", "keep": True, "passage": b2, "add": {
                "title": f"{t2} (import {rep})", "approach": "local-area-coordination", "consent": "published-by-organisation",
                "consent_scope": "public", "source_organisation": "Bench Council", "source_title": "Bench post",
                "people": [{"name": "Bench Person", "role": "person supported"}]}}],
            "findings": [{"candidate": "finding-1", "keep": True,
                          "statement": f"Import run {rep}: 31 of 50 carers reported better sleep.",
                          "add": {"study": f"bench-study-{rep}"}}]}, sort_keys=False, allow_unicode=True),
            encoding="utf-8")
        s, tl, _ = evidence(["add", "--from-review", str(cands)], root, tmp)
        times["from-review"].append(s)
        torch["from-review"] |= tl
        imports.append(timed_import())
        story = root / "stories" / f"{sid}.md"
        story.write_text(story.read_text(encoding="utf-8").rstrip("\n")
                         + f"\n\nIn a later visit ({rep}) he said the Thursday lunches are the best part of his week.\n",
                         encoding="utf-8")
        s, tl, _ = evidence(["build"], root, tmp)
        times["edit"].append(s)
        torch["edit"] |= tl
        s, tl, _ = evidence(["withdraw", sid, "--reason", "other"], root, tmp)
        times["withdraw"].append(s)
        torch["withdraw"] |= tl
    imports.append(timed_import())
    imp = statistics.median(imports)
    load = os.getloadavg()[0]
    stories = len(list((root / "stories").glob("*.md")))
    print(f"bench_curator: {reps} run(s) of each action, cold, real model, {stories} stories; first build {first_build:.1f}s; "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"import sentence_transformers alone: median {imp:.2f}s (runs: {', '.join(f'{x:.2f}' for x in imports)})")
    print(f"{'action':12s} {'median s':>9s} {'x import':>9s} {'<= 0.35':>8s}  torch loaded")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"{k:12s} {m:9.2f} {m / imp:9.2f} {'yes' if m / imp <= 0.35 else 'NO':>8s}  {'yes' if torch[k] else 'no'}")
    for c in checks:
        print(f"enrichment of {c['id']}: {c['tags']} tags, {c['passages']} embedded passages, linked: {c['linked']}, "
              f"rank in the next search for its first sentence: {c['rank']}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def pad(root: Path, n: int, skip: set[str]) -> None:
    """Write n more story files into root: the corpus stories in turn (not
    those the actions add), each under a new id and with a closing line of
    its own, so no two narratives are the same."""
    sources = [p for p in sorted((ROOT / "tests" / "corpus" / "stories").glob("*.md"))
               if yaml.safe_load(p.read_text(encoding="utf-8").split("---\n", 2)[1])["title"] not in skip]
    for k in range(n):
        src = sources[k % len(sources)]
        text = src.read_text(encoding="utf-8")
        front, body = text.split("---\n", 2)[1:]
        meta = yaml.safe_load(front)
        meta["id"] = f"{meta['id'][:50]}-pad{k}"
        (root / "stories" / f"{meta['id']}.md").write_text(
            "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + body.rstrip("\n")
            + f"\n\nThis copy is number {k} of the padding.\n", encoding="utf-8")


def enrichment(root: Path, sid: str, body: str) -> dict:
    import sqlite3

    conn = sqlite3.connect(root / "evidence.db")
    try:
        tags = conn.execute("SELECT count(*) FROM tags WHERE item_id = ?", [sid]).fetchone()[0]
        passages = conn.execute("SELECT count(*) FROM embeddings WHERE item_id = ?", [sid]).fetchone()[0]
        linked = conn.execute("SELECT count(*) FROM linked_stories WHERE story_id = ?", [sid]).fetchone()[0] == 1
    finally:
        conn.close()
    first = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0]
    r = subprocess.run([sys.executable, "-m", "evidence", "search", first, "--json", "--limit", "10", "--root", str(root)],
                       capture_output=True, text=True, env=real_model_env())
    ids = [h["id"] for h in json.loads(r.stdout or "[]")]
    return {"id": sid, "tags": tags, "passages": passages, "linked": linked,
            "rank": ids.index(sid) + 1 if sid in ids else "not in top 10"}


if __name__ == "__main__":
    main()
