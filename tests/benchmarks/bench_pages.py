"""Benchmark (a script, not a test): bytes and load time of each page of the
plugin, served by a real `evidence serve` on 127.0.0.1, on the seed corpus
and with N synthetic stories added (default 10,000), and the gap map's
render time at that size (goal: under one second).

The seed corpus is built with the real embedding model. The large corpus
adds N synthetic stories (evidence/synthetic.py) built with enrich off
(tagging 10,000 stories takes about 25 minutes here, see the README), then
gives each synthetic story tag rows in the public database: 6 outcome
domains drawn at random across both frameworks, which is more than the seed
stories average, so the gap map's GROUP BY queries see a realistic or
larger tags table. Load time is the median of 5 GETs (after one warm-up
GET), measured by the client, so it includes HTTP and template rendering.

    python tests/benchmarks/bench_pages.py [--stories 10000] [--quick]

--quick: the fake embedder for the seed corpus, 100 synthetic stories, one
GET per page after the warm-up: the same tables in seconds.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from evidence.build import BuildOptions, build  # noqa: E402
from support.synthetic import write_synthetic_stories  # noqa: E402
from conftest import Server, copy_base  # noqa: E402

PAGES = [
    ("home", "/-/evidence"),
    ("story (Debs)", "/-/story/debs-creative-minds"),
    ("evidence card (Shared Lives)", "/-/approach/shared-lives"),
    ("evidence card JSON", "/-/approach/shared-lives.json"),
    ("gap map (ASCOT)", "/-/gaps?framework=ascot"),
    ("gap map (community outcomes)", "/-/gaps?framework=community-outcomes"),
    ("gap-map cell", "/-/gaps/shared-lives/ascot/occupation"),
    ("search", "/-/search?q=someone+to+talk+to+after+my+wife+died"),
    ("stylesheet", "/-/evidence.css"),
]


REPEAT = 5  # GETs per page after the warm-up (1 with --quick)


def fetch(url: str) -> tuple[int, float]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        body = resp.read()
    return len(body), time.perf_counter() - t


def measure(srv: Server, label: str, extra: list[tuple[str, str]] = ()) -> None:
    print(f"\n{label}")
    print(f"| page | bytes | load time, median of {REPEAT} (ms) |\n|---|---:|---:|")
    for name, path in [*PAGES, *extra]:
        fetch(srv.url + path)
        times, size = [], 0
        for _ in range(REPEAT):
            size, t = fetch(srv.url + path)
            times.append(t)
        print(f"| {name} `{path}` | {size:,} | {statistics.median(times) * 1000:.0f} |")


def add_synthetic_tags(public: Path, seed: int = 3) -> int:
    rng = random.Random(seed)
    conn = sqlite3.connect(public)
    domains = [r[0] for r in conn.execute("SELECT id FROM domains")]
    rows = []
    for (sid,) in conn.execute("SELECT id FROM stories WHERE id LIKE 'synthetic-%'").fetchall():
        for dom in rng.sample(domains, 6):
            rows.append(("story", sid, sid, dom.split("/")[0], dom, round(rng.uniform(0.3, 0.9), 4), "suggested"))
    conn.executemany("INSERT OR IGNORE INTO tags (item_type, item_id, story_id, framework, domain, score, status) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stories", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true",
                    help="fake embedder, 100 synthetic stories, one GET per page: a few seconds")
    args = ap.parse_args()
    global REPEAT
    if args.quick:
        args.stories, REPEAT = 100, 1
    from evidence.web.plugin.pages import connect, gap_map
    from evidence.models.embedder import FakeEmbedder, get_embedder

    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    root = copy_base(tmp / "base")
    t = time.perf_counter()
    embedder = FakeEmbedder() if args.quick else get_embedder(name="all-MiniLM-L6-v2")
    build(root, options=BuildOptions(embedder=embedder))
    print(f"seed corpus built with {'the fake embedder' if args.quick else 'the real model'} "
          f"in {time.perf_counter() - t:.1f}s")
    env = {"EVIDENCE_EMBEDDER": "fake" if args.quick else ""}
    srv = Server(root, env=env)
    try:
        measure(srv, "Seed corpus (7 stories, 39 findings)")
    finally:
        srv.stop()

    t = time.perf_counter()
    write_synthetic_stories(root, args.stories, seed=1)
    build(root, options=BuildOptions(enrich=False))
    n_tags = add_synthetic_tags(root / "public.db")
    conn = sqlite3.connect(root / "public.db")
    counts = conn.execute("SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM tags)").fetchone()
    synthetic = conn.execute("SELECT min(id) FROM stories WHERE id LIKE 'synthetic-%'").fetchone()[0]
    conn.close()
    print(f"\nlarge corpus: {counts[0]:,} stories, {counts[1]:,} tag rows ({n_tags:,} synthetic) "
          f"ready in {time.perf_counter() - t:.1f}s")
    conn = connect(str(root / "public.db"))
    for fw in ("ascot", "community-outcomes"):
        times = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            data = gap_map(conn, fw)
            times.append(time.perf_counter() - t)
        print(f"gap map data ({fw}, {len(data['rows'])}x{len(data['domains'])} cells), pages.gap_map(): "
              f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    conn.close()
    srv = Server(root, env=env)
    try:
        measure(srv, f"With {args.stories:,} synthetic stories", [("story (synthetic)", f"/-/story/{synthetic}")])
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
