"""Crash test: SIGKILL `evidence build` and `evidence add` at random moments.

    python tests/benchmarks/crash_test.py [--trials 60] [--stories 3000] [--seed 1] [--keep DIR] [--quick]

--quick: 2 trials (one build, one add) on 60 synthetic stories.

A template evidence base (the repository's content plus N synthetic
stories) is built once. Two operations are then run uninterrupted in copies
to record the state before and after each:

- build: 10% new stories, 5% edited, 2% deleted, then `evidence build`;
- add:   `evidence add --file new-story.md`.

Each trial copies the template, starts the operation in a subprocess, kills
it with SIGKILL after a random delay in [0, the operation's duration], and
checks:

1. both databases (if present) pass `PRAGMA integrity_check` and every FTS5
   index's integrity-check;
2. the working and public databases each hold exactly the state before or
   after the operation (canonical digest of every record table);
3. every story file parses, and the new story file of an add is either
   absent or complete;
4. the next `evidence build` (uninterrupted) removes any temp file the
   killed writer left and reaches the state that the content files
   describe (nothing lost).

Prints one line per trial and a summary table; exits 1 if any check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/support

from support import integrity  # noqa: E402
from evidence.content.tree import scan  # noqa: E402
from evidence.store.lock import TEMP_RE  # noqa: E402
from evidence.content.parsers import parse_story  # noqa: E402
from support.content import copy_base  # noqa: E402
from support.synthetic import synthetic_story, write_synthetic_stories  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "EVIDENCE_EMBEDDER": os.environ.get("EVIDENCE_EMBEDDER", "fake")}


def evidence(*args: str, root: Path) -> list[str]:
    return [sys.executable, "-m", "evidence", *args, "--root", str(root)]


def run(cmd: list[str]) -> tuple[int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    return proc.returncode, time.perf_counter() - start, proc.stderr


def copy_tree(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True)
    return dest


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and TEMP_RE.match(p.name)]


def state(root: Path) -> tuple[str, str]:
    return integrity.digest(root / "evidence.db"), integrity.digest(root / "public.db")


def modify_for_build(root: Path, seed: int, stories: int) -> None:
    """The content change the 'build' operation applies: new, edited and deleted stories."""
    rng = random.Random(seed)
    synthetic = sorted((root / "stories").glob("synthetic-*.md"))
    write_synthetic_stories(root, max(1, stories // 10), seed + 1000, prefix="crashnew")
    for p in rng.sample(synthetic, max(1, stories // 20)):
        p.write_text(p.read_text(encoding="utf-8") + "\nAn edit made for the crash test.\n", encoding="utf-8")
    for p in rng.sample([p for p in synthetic if "edit made" not in p.read_text(encoding="utf-8")], max(1, stories // 50)):
        p.unlink()


def new_story_file(folder: Path, seed: int) -> Path:
    """A complete story file outside the tree, for 'add --file'."""
    from support.synthetic import _approaches

    story_id, text = synthetic_story(99999, random.Random(seed), _approaches(ROOT), prefix="crashadd")
    path = folder / f"{story_id}.md"
    path.write_text(text, encoding="utf-8")
    return path


def check_content(root: Path) -> list[str]:
    """Every story parses; returns problems."""
    problems = []
    for f in scan(root):
        if f.kind == "story":
            try:
                parse_story(f.path, f.text())
            except Exception as exc:  # noqa: BLE001 - any failure is a finding
                problems.append(f"{f.path}: {exc}")
    return problems


def prepare(work: Path, stories: int, seed: int, log=print) -> dict:
    """Template tree, the operations' inputs, and their before/after states."""
    template = work / "template"
    template.mkdir(parents=True)
    copy_base(template)
    write_synthetic_stories(template, stories, seed)
    code, secs, err = run(evidence("build", "--quiet", root=template))
    if code:
        raise SystemExit(f"template build failed: {err}")
    log(f"template: {stories} synthetic stories + the repository's content, built in {secs:.2f}s")
    before = state(template)
    ops: dict = {}

    build_tree = copy_tree(template, work / "build-template")
    modify_for_build(build_tree, seed, stories)
    after_tree = copy_tree(build_tree, work / "build-after")
    code, secs, err = run(evidence("build", "--quiet", root=after_tree))
    if code:
        raise SystemExit(f"build (uninterrupted) failed: {err}")
    ops["build"] = {"tree": build_tree, "args": ["build", "--quiet"], "before": before, "after": state(after_tree),
                    "seconds": secs}

    incoming = work / "incoming"
    incoming.mkdir()
    new_file = new_story_file(incoming, seed)
    after_tree = copy_tree(template, work / "add-after")
    code, secs, err = run(evidence("add", "--file", str(new_file), "--quiet", root=after_tree))
    if code:
        raise SystemExit(f"add (uninterrupted) failed: {err}")
    ops["add"] = {"tree": template, "args": ["add", "--file", str(new_file), "--quiet"], "before": before,
                  "after": state(after_tree), "seconds": secs, "file": f"stories/{new_file.name}",
                  "text": new_file.read_text(encoding="utf-8")}
    for name, op in ops.items():
        assert op["before"] != op["after"], f"{name} changes nothing: the test would prove nothing"
        log(f"{name}: uninterrupted in {op['seconds']:.2f}s")
    return ops


def trial(work: Path, i: int, name: str, op: dict, rng: random.Random) -> dict:
    root = copy_tree(op["tree"], work / f"trial-{i:03d}")
    delay = rng.uniform(0, op["seconds"])
    proc = subprocess.Popen(evidence(*op["args"], root=root), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    problems: list[str] = []
    for db in ("evidence.db", "public.db"):
        if (root / db).exists():
            problems += [f"{db}: {p}" for p in integrity.check(root / db)]
    names = {op["before"][0]: "before", op["after"][0]: "after"}
    work_digest, public_digest = state(root)
    work_state = names.get(work_digest, "NEITHER")
    public_state = {op["before"][1]: "before", op["after"][1]: "after"}.get(public_digest, "NEITHER")
    if work_state == "NEITHER":
        problems.append("working database is neither before nor after")
    if public_state == "NEITHER":
        problems.append("public database is neither before nor after")
    problems += check_content(root)
    left = temp_files(root)
    expected = "after"
    if name == "add":
        path = root / op["file"]
        if path.exists():
            if path.read_text(encoding="utf-8") != op["text"]:
                problems.append("the added story file is incomplete")
        else:
            expected = "before"
    # recovery: the next build finishes the job and removes the leftovers
    code, _, err = run(evidence("build", "--quiet", root=root))
    if code:
        problems.append(f"recovery build failed: {err.strip()}")
    if temp_files(root):
        problems.append(f"temp files survive the next build: {[p.name for p in temp_files(root)]}")
    if state(root) != op[expected]:
        problems.append(f"after the next build the databases are not the '{expected}' state: something was lost")
    for db in ("evidence.db", "public.db"):
        problems += [f"{db} after recovery: {p}" for p in integrity.check(root / db)]
    shutil.rmtree(root)
    return {"op": name, "delay": round(delay, 3), "killed": killed, "working": work_state, "public": public_state,
            "temp_left": len(left), "problems": problems}


def run_crash_trials(work: Path, trials: int, stories: int, seed: int, log=print) -> dict:
    """Prepare, run `trials` kills (alternating build and add) and return a report."""
    ops = prepare(work, stories, seed, log)
    rng = random.Random(seed)
    results = []
    for i in range(trials):
        name = ("build", "add")[i % 2]
        r = trial(work, i, name, ops[name], rng)
        results.append(r)
        log(f"trial {i + 1:3d} {name:5s} kill at {r['delay']:.2f}s{'' if r['killed'] else ' (had finished)'}: "
            f"working={r['working']} public={r['public']} temp files left by the kill={r['temp_left']} "
            f"{'OK' if not r['problems'] else 'FAIL ' + '; '.join(r['problems'])}")
    return {"trials": results, "failures": [r for r in results if r["problems"]],
            "seconds": {k: round(v["seconds"], 2) for k, v in ops.items()}}


def summary_table(report: dict) -> str:
    rows = ["| operation | trials | killed mid-run | working db before/after | public db before/after | "
            "kills that left a temp file | integrity failures | lost or neither-state |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in ("build", "add"):
        rs = [r for r in report["trials"] if r["op"] == name]
        w, p = Counter(r["working"] for r in rs), Counter(r["public"] for r in rs)
        integ = sum(any("integrity" in x or "fts" in x.lower() for x in r["problems"]) for r in rs)
        lost = sum(any("NEITHER" in x or "neither" in x or "lost" in x for x in r["problems"]) for r in rs)
        rows.append(f"| {name} | {len(rs)} | {sum(r['killed'] for r in rs)} | {w['before']}/{w['after']} | "
                    f"{p['before']}/{p['after']} | {sum(r['temp_left'] > 0 for r in rs)} | {integ} | {lost} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--stories", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--quick", action="store_true", help="2 trials on 60 synthetic stories: a few seconds")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.stories = 2, 60
    work = args.keep or Path(tempfile.mkdtemp(prefix="crash-test-"))
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty")
    start = time.time()
    try:
        report = run_crash_trials(work, args.trials, args.stories, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(summary_table(report))
    print(f"\n{len(report['trials'])} trials, {len(report['failures'])} failed, {time.time() - start:.0f}s")
    if report["failures"]:
        print(json.dumps(report["failures"], indent=2))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
