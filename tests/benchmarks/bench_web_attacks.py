"""Attacks on a real `evidence serve`, with figures: heavy SQL calls from
several clients while `select 1` is timed, and a withdrawal followed on
every route of a running server.

    python tests/benchmarks/bench_web_attacks.py [--seconds 10] [--clients 3] [--workers 1 --workers 2] [--quick]

--quick: 2 seconds of SQL attacks, one worker.

Copies the repository's content into a temp folder, builds it (fake
embedder), adds a canary story, starts `evidence serve` on 127.0.0.1 and
prints, per attack query: requests, statuses, max latency; the p50/max
latency of `select 1` meanwhile; then, per worker count, the seconds from
the end of `evidence withdraw` until the canary was gone from every route,
and the requests (and failures) of other traffic during the swap.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("EVIDENCE_EMBEDDER", "fake")

from conftest import Server, copy_base  # noqa: E402
from storyfiles import write_story  # noqa: E402
from test_live_reload import BODY, CANARY, STORY_ID, _gone_checks, _Traffic  # noqa: E402
from test_web_hardening import HEAVY  # noqa: E402


def sql_attacks(server: Server, seconds: float, clients: int) -> None:
    stop, results = threading.Event(), []

    def attacker(n: int) -> None:
        i = n
        while not stop.is_set():
            sql = HEAVY[i % len(HEAVY)][0]
            i += 1
            t = time.monotonic()
            status = server.get(f"/public.json?sql={urllib.parse.quote(sql)}")[0]
            results.append((sql, status, time.monotonic() - t))

    threads = [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    lat, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        server.get("/public.json?sql=select+1")
        lat.append(time.monotonic() - t)
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(120)
    for sql, *_ in HEAVY:
        mine = [r for r in results if r[0] == sql]
        print(f"  {sql[:70]:70s} n={len(mine)} status={dict(Counter(r[1] for r in mine))} "
              f"max={max((r[2] for r in mine), default=0):.3f}s")
    lat.sort()
    print(f"  select 1 meanwhile: n={len(lat)} p50={lat[len(lat) // 2]:.3f}s max={lat[-1]:.3f}s")


def withdrawal(root: Path, workers: int) -> None:
    from evidence.build import build

    story_id = f"{STORY_ID}-{workers}"  # a withdrawn id cannot come back (its tombstone)
    write_story(root, story_id, body=BODY, title=f"Mabel and the {CANARY} lunch club",
                people=[{"name": f"Mabel {CANARY.capitalize()}", "role": "person supported"}])
    build(root)
    server = Server(root, extra=["--workers", str(workers)] if workers > 1 else None)
    traffic = _Traffic(server)
    try:
        time.sleep(2.5)
        traffic.start()
        subprocess.run([sys.executable, "-m", "evidence", "withdraw", story_id, "--reason", "consent-withdrawn",
                        "--root", str(root)], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        t0 = time.monotonic()
        checks, pending = _gone_checks(story_id, CANARY), None
        while time.monotonic() - t0 < 15:
            pending = [r for r, ok in checks.items() if not ok(*server.get(r)[::2])]
            if not pending:
                break
            time.sleep(0.05)
        took = time.monotonic() - t0
    finally:
        traffic.stop.set()
        traffic.join(30)
        server.stop()
    print(f"  workers={workers}: gone from all {len(checks)} routes after {took:.2f}s"
          f"{' (still on: ' + ', '.join(pending) + ')' if pending else ''}; other traffic: {traffic.ok} requests, "
          f"{len(traffic.failures)} failed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--workers", type=int, action="append")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds, workers = (2.0, [1]) if args.quick else (args.seconds, args.workers or [1, 2])
    with tempfile.TemporaryDirectory() as tmp:
        from evidence.build import build

        root = copy_base(Path(tmp) / "base")
        build(root)
        server = Server(root)
        try:
            print(f"SQL attacks: {args.clients} clients for {seconds:.0f}s")
            sql_attacks(server, seconds, args.clients)
        finally:
            server.stop()
        print("withdrawal followed by a running server:")
        for n in workers:
            withdrawal(root, n)


if __name__ == "__main__":
    main()
