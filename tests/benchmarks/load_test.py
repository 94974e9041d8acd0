"""Load test: concurrent clients against a real `evidence serve` on 127.0.0.1.

    python tests/benchmarks/load_test.py [--stories 10000] [--clients 16]
        [--requests 800] [--seconds 60] [--path /public/stories --path '/-/search?q=...']
        [--workdir DIR] [--quick]

--quick: 100 synthetic stories, 4 clients, at most 40 requests or 3 seconds
per path.

Builds a synthetic corpus (the repository's content plus --stories synthetic
stories; kept in --workdir and reused when it already holds one), starts
`evidence serve` on a free port of 127.0.0.1, and for each path runs
--clients threads, each with its own keep-alive connection, until the path
has had --requests requests or --seconds have passed (bounded either way).
Reports per path: requests, errors (by status), p50, p99 and max latency,
and requests per second. Talks to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/support

from support.content import copy_base  # noqa: E402
from support.processes import stop_process  # noqa: E402

DEFAULT_PATHS = ["/public/stories", "/-/search?q=older+woman+isolated+after+her+bus+route+closed"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "EVIDENCE_EMBEDDER": os.environ.get("EVIDENCE_EMBEDDER", "fake")}


def corpus(workdir: Path, stories: int) -> Path:
    """A built evidence base with `stories` synthetic stories (reused if present)."""
    from support.synthetic import write_synthetic_stories

    root = workdir / f"corpus-{stories}"
    if (root / "public.db").exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    copy_base(root)
    start = time.perf_counter()
    write_synthetic_stories(root, stories, seed=10)
    subprocess.run([sys.executable, "-m", "evidence", "build", "--quiet", "--root", str(root)], env=ENV, check=True)
    print(f"corpus: {stories} synthetic stories written and built in {time.perf_counter() - start:.1f}s", flush=True)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, workers: int = 1) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = root / f"load-serve-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "evidence", "serve", "--root", str(root), "--port", str(port),
                             "--workers", str(workers)],
                            env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=2):
                return proc, port, log
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"evidence serve did not start: {log.read_text()[-2000:]}")


def hammer(port: int, path: str, clients: int, requests: int, seconds: float) -> dict:
    """Run `clients` threads against one path; returns latencies and statuses."""
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    statuses: Counter = Counter()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if issued[0] >= requests or time.perf_counter() >= stop_at:
                    break
                issued[0] += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"path": path, "latencies": latencies, "statuses": statuses, "wall": wall}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report_line(r: dict) -> str:
    lat = r["latencies"]
    errors = {k: v for k, v in r["statuses"].items() if not (isinstance(k, int) and 200 <= k < 400)}
    return (f"| `{r['path']}` | {len(lat)} | {sum(errors.values())} {dict(errors) if errors else ''} | "
            f"{pct(lat, 50) * 1000:.0f} | {pct(lat, 99) * 1000:.0f} | {max(lat) * 1000 if lat else float('nan'):.0f} | "
            f"{len(lat) / r['wall']:.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stories", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=800, help="per path (upper bound)")
    ap.add_argument("--seconds", type=float, default=60, help="per path (upper bound)")
    ap.add_argument("--path", action="append", help=f"URL path to load (repeat) [default: {DEFAULT_PATHS}]")
    ap.add_argument("--workdir", type=Path, help="keep the built corpus here and reuse it")
    ap.add_argument("--workers", type=int, default=1, help="evidence serve --workers")
    ap.add_argument("--quick", action="store_true",
                    help="100 stories, 4 clients, 40 requests or 3 s per path: a few seconds")
    args = ap.parse_args()
    if args.quick:
        args.stories, args.clients, args.requests, args.seconds = 100, 4, 40, 3.0
    paths = args.path or DEFAULT_PATHS
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="load-test-"))
    root = corpus(workdir, args.stories)
    load_before = os.getloadavg()[0]
    proc, port, log = start_server(root, args.workers)
    try:
        results = []
        for path in paths:
            hammer(port, path, 2, 4, 30)  # warm up
            r = hammer(port, path, args.clients, args.requests, args.seconds)
            results.append(r)
            print(report_line(r), flush=True)
    finally:
        stop_process(proc)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.stories} synthetic stories (+ the repository's), {args.clients} concurrent clients, "
          f"evidence serve --workers {args.workers}, {os.cpu_count()} cores, load average before "
          f"{load_before:.1f}, after {os.getloadavg()[0]:.1f}")
    print("| path | requests | errors | p50 ms | p99 ms | max ms | requests/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(report_line(r))
    ok = all(sum(v for k, v in r["statuses"].items() if not (isinstance(k, int) and k < 400)) == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
