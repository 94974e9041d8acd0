"""Speed of semantic search with synthetic 384-dimension vectors.

    python tests/benchmarks/bench_search.py [--sizes 10000,100000,1000000]
        [--queries 200] [--http-size 100000] [--no-http] [--no-cli] [--quick]

--quick: 2,000 vectors, 20 queries, the llm-similar comparison and the
sign-bit pass at that size, HTTP against a 2,000-story public.db with 10
queries, one cold CLI run on that db (no real-model build of the repository's
content): every code path in a few seconds, figures not representative.

Prints, for each size: p50/p95 of the vector top-10 (the same
VectorIndex.top_k the CLI and Datasette use); at 10,000 the way `llm
similar` ranks (a Python cosine function called by SQLite for every row,
ORDER BY score LIMIT 10) and the ratio; at --http-size a whole
/-/search.json request to a real `evidence serve` (query embedding
included), its first-request cost and its resident memory against the raw
matrix plus the model; from 500,000 also the sign-bit first pass with exact
rescoring that search uses at that size, and its recall@10 against exact
search; and the cold wall time of `evidence search`.

Vectors are clustered (2,000 centres, each item about 0.6 cosine from its
centre) and queries are perturbed items, so that the top 10 is meaningful
for the recall figure; exact timings do not depend on the distribution.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import sqlite_utils

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from evidence.search import index as vector_index  # noqa: E402
from evidence.models.numpy_encoder import one_blas_thread  # noqa: E402
from evidence.search.index import VectorIndex, top_k  # noqa: E402

DIM = 384


def corpus_sentences() -> list[str]:
    """Sentences of the repository's stories and findings: synthetic stories
    are made of them, so words occur about as often as in real ones."""
    from evidence.enrich.passages import sentence_bounds

    out = []
    for path in sorted((ROOT / "stories").glob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        out += [body[a:b] for a, b in sentence_bounds(body) if b - a > 20]
    for path in sorted((ROOT / "findings").glob("*.yml")):
        out += [line.split(":", 1)[1].strip().strip('"') for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip().startswith("statement:")]
    return out


def relevance_queries() -> list[str]:
    import yaml

    return [c["query"] for c in yaml.safe_load((ROOT / "tests" / "relevance.yml").read_text())["cases"]]


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def synthetic(n: int, seed: int = 0, centres: int = 2000) -> tuple[np.ndarray, np.random.Generator]:
    """n clustered unit vectors (float32), made in chunks."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, DIM), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        block = c[rng.integers(0, centres, m)] * 0.6 + rng.standard_normal((m, DIM), dtype=np.float32) * (0.8 / np.sqrt(DIM))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[i:i + m] = block
    return out, rng


def queries(matrix: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    q = matrix[rng.integers(0, len(matrix), k)] + rng.standard_normal((k, DIM), dtype=np.float32) * (0.6 / np.sqrt(DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def as_index(matrix: np.ndarray) -> VectorIndex:
    """A VectorIndex over a matrix, one passage per item."""
    n = len(matrix)
    ids = [f"s{i:07d}" for i in range(n)]
    return VectorIndex(path="synthetic.db", stamp=(), model="synthetic", matrix=matrix,
                       row_item=np.arange(n, dtype=np.int32), row_passage=np.zeros(n, dtype=np.int32),
                       item_start=np.arange(n, dtype=np.int64), item_type=np.zeros(n, dtype=np.int8), item_ids=ids)


def pct(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


# ---------------------------------------------------------------------------
# the llm similar way: a Python function per row inside SQLite


def _decode(blob: bytes) -> tuple:
    return struct.unpack("<" + "f" * (len(blob) // 4), blob)


def _cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / ((sum(x * x for x in a) ** 0.5) * (sum(y * y for y in b) ** 0.5))


def llm_way(matrix: np.ndarray, qs: np.ndarray) -> list[float]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE embeddings (id TEXT PRIMARY KEY, embedding BLOB)")
    conn.executemany("INSERT INTO embeddings VALUES (?, ?)",
                     ((f"s{i:07d}", matrix[i].astype("<f4").tobytes()) for i in range(len(matrix))))
    times = []
    for q in qs:
        vector = [float(x) for x in q]
        conn.create_function("distance_score", 1, lambda other: _cosine(_decode(other), vector))
        t = time.perf_counter()
        rows = conn.execute("SELECT id, distance_score(embedding) AS score FROM embeddings ORDER BY score DESC LIMIT 10").fetchall()
        times.append(time.perf_counter() - t)
        assert len(rows) == 10
    conn.close()
    return times


# ---------------------------------------------------------------------------
# a public database with N synthetic stories, served by `evidence serve`


def public_rows(table: str, values: dict) -> dict:
    """A row of a public table by column name: the columns publish writes
    (evidence.store.publish.PUBLIC_TABLES), taken from `values`; a public
    column this benchmark does not know is an error, not a silent NULL."""
    from evidence.store.publish import PUBLIC_TABLES

    cols = [c for c, _ in PUBLIC_TABLES[table][1]]
    missing = [c for c in cols if c not in values]
    if missing:
        raise SystemExit(f"bench_search: the public {table} table has columns {missing} that this "
                         f"benchmark does not fill; update synthetic_public_db()")
    return {c: values[c] for c in cols}


def synthetic_public_db(n: int, matrix: np.ndarray, dest: Path) -> Path:
    """The repository's content built (fake embedder), then n synthetic
    stories with one passage each (the summary, cut by the real passage
    code) and these vectors, as the real model's. Rows are written by column
    name in the public schema, vectors with the build's own blob format."""
    from conftest import copy_base
    from evidence.build import BuildOptions, build
    from evidence.enrich.embeddings import to_blob
    from evidence.enrich.passages import story_passages
    from evidence.models.embedder import FakeEmbedder

    base = copy_base(dest)
    build(base, options=BuildOptions(embedder=FakeEmbedder()))
    db = sqlite_utils.Database(base / "public.db")
    approaches = [r[0] for r in db.execute("SELECT id FROM approaches")]
    db.execute("DELETE FROM embeddings")
    db.execute("DELETE FROM passages")
    rnd = random.Random(1)
    pool = corpus_sentences()
    stories, passages, vectors = [], [], []
    for i in range(n):
        sid = f"s{i:07d}"
        title = " ".join(rnd.choice(pool).split()[:6])
        summary = " ".join(rnd.sample(pool, 3))
        stories.append({"id": sid, "title": title, "summary": summary, "body": summary,
                        "approach": rnd.choice(approaches)})
        [p] = story_passages(title, summary, "")[:1]
        passages.append(public_rows("passages", {
            "item_type": "story", "item_id": sid, "passage": 0, "field": p.field,
            "start_char": p.start, "end_char": p.end, "text": p.text}))
        vectors.append(public_rows("embeddings", {
            "model": "all-MiniLM-L6-v2", "item_type": "story", "item_id": sid, "passage": 0,
            "vector": to_blob(matrix[i])}))
    db["stories"].insert_all(stories, batch_size=1000)
    db["passages"].insert_all(passages, batch_size=1000)
    db["embeddings"].insert_all(vectors, batch_size=1000)
    db.execute("INSERT INTO stories_fts (stories_fts) VALUES ('rebuild')")
    db.conn.commit()
    db.execute("VACUUM")
    db.close()
    return base


def serve(base: Path) -> tuple[subprocess.Popen, str]:
    from conftest import free_port, wait_for

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "EVIDENCE_EMBEDDER"}
    proc = subprocess.Popen([sys.executable, "-m", "evidence", "serve", "--root", str(base), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/-/versions.json", timeout=120)
    return proc, url


def child_pid(proc: subprocess.Popen) -> int:
    """`evidence serve` execs datasette in the same process."""
    return proc.pid


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def http_bench(n: int, matrix: np.ndarray, count: int, modes: list[str], runs: int = 3) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        t = time.perf_counter()
        base = synthetic_public_db(n, matrix, tmp / "base")
        print(f"  synthetic public.db with {n:,} stories written in {time.perf_counter() - t:.1f}s "
              f"({(base / 'public.db').stat().st_size / 1e6:.0f} MB)")
        from evidence.search.index import load

        t = time.perf_counter()
        load(base / "public.db")
        print(f"  loading its index in one process: {time.perf_counter() - t:.2f}s")
        gc.collect()
        start = time.perf_counter()
        proc, url = serve(base)
        try:
            up = time.perf_counter() - start
            t = time.perf_counter()
            first = fetch(f"{url}/-/search.json?q=" + urllib.parse.quote("lonely after the bus stopped") + "&limit=10")
            assert len(first["results"]) == 10, first
            print(f"  evidence serve answered /-/versions.json after {up:.2f}s; first search "
                  f"{(time.perf_counter() - t) * 1000:.0f} ms (waits for the start-up load of index and model); "
                  f"RSS then {rss_mb(child_pid(proc)):.0f} MB")
            texts = relevance_queries()
            for mode in modes:
                times = []
                for i in range(count):
                    q = f"{texts[i % len(texts)]} {i}"  # every query new: no cache hits
                    t = time.perf_counter()
                    data = fetch(f"{url}/-/search.json?q={urllib.parse.quote(q)}&limit=10&mode={mode}")
                    times.append(time.perf_counter() - t)
                    assert len(data["results"]) == 10
                p50, p95 = pct(times)
                print(f"  HTTP /-/search.json at {n:,} ({mode}, {count} new queries): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            model_mb = 90.868376
            matrix_mb = n * DIM * 4 / 1e6
            rss = rss_mb(child_pid(proc))
            print(f"  serve process RSS {rss:.0f} MB; matrix {matrix_mb:.0f} MB + model {model_mb:.0f} MB = "
                  f"{matrix_mb + model_mb:.0f} MB; ratio {rss / (matrix_mb + model_mb):.2f}")
            cli_cold(base / "public.db", f"{n:,} synthetic stories", runs=runs)
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cli_cold(db: Path, label: str, runs: int = 3) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EVIDENCE_EMBEDDER"}
    env["PYTHONPATH"] = str(ROOT)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evidence", "search", "lonely after the bus stopped", "--db", str(db),
                        "--json", "-n", "3"], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    print(f"  cold `evidence search` (new process, {label}): median {sorted(times)[len(times) // 2]:.2f}s "
          f"of {', '.join(f'{x:.2f}' for x in times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--http-size", type=int, default=100_000)
    parser.add_argument("--http-queries", type=int, default=200)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (2,000 vectors, 20 queries, HTTP at 2,000, one cold CLI run): "
                             "exercises every path in seconds")
    args = parser.parse_args()
    llm_size, quantise_rows, cli_runs = 10_000, vector_index.QUANTISE_ROWS, 3
    if args.quick:
        args.sizes, args.queries, args.http_size, args.http_queries = "2000", 20, 2000, 10
        llm_size, quantise_rows, cli_runs = 2000, 2000, 1
        args.no_cli = True  # the cold CLI run is timed on the synthetic db instead (no real-model build)
        print("--quick: tiny sizes, figures not representative")
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} (other processes share these cores)")
    one_blas_thread()  # as the search does

    if not args.no_cli:
        from conftest import copy_base
        from evidence.build import BuildOptions, build
        from evidence.models.embedder import get_embedder

        tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
        base = copy_base(tmp / "base")
        build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
        model = sqlite3.connect(base / "public.db").execute("SELECT DISTINCT model FROM embeddings").fetchall()
        assert model == [("all-MiniLM-L6-v2",)], model
        cli_cold(base / "public.db", "the repository's stories and findings, real model", runs=cli_runs)
        shutil.rmtree(tmp, ignore_errors=True)

    for n in [int(s) for s in args.sizes.split(",")]:
        base_rss = rss_mb()
        matrix, rng = synthetic(n)
        idx = as_index(matrix)
        count = args.queries if n <= 100_000 else max(50, args.queries // 4)
        qs = queries(matrix, rng, count)
        default = vector_index.THREADS
        for threads in sorted({1, default}):
            vector_index.THREADS = threads
            idx.top_k(qs[0], 10)
            times = []
            for q in qs:
                t = time.perf_counter()
                idx.top_k(q, 10)
                times.append(time.perf_counter() - t)
            p50, p95 = pct(times)
            print(f"{n:>9,} vectors ({matrix.nbytes / 1e6:.0f} MB): top-10 p50 {p50:.2f} ms, p95 {p95:.2f} ms "
                  f"({count} queries, {threads} thread{'s' if threads > 1 else ''}{', the default' if threads == default else ''}); "
                  f"load average {os.getloadavg()[0]:.2f}")
        vector_index.THREADS = default
        print(f"   process RSS grew {rss_mb() - base_rss:.0f} MB for the matrix")
        if n == llm_size:
            slow = llm_way(matrix, qs[:5])
            s50 = float(np.median(slow) * 1000)
            print(f"   llm-similar way (Python cosine per row in SQLite) at {n:,}: p50 {s50:.0f} ms "
                  f"-> numpy top-10 is {s50 / p50:.0f}x faster")
        if n >= quantise_rows:
            t = time.perf_counter()
            idx.quantise()
            built = time.perf_counter() - t
            times, recall = [], []
            for q in qs:
                t = time.perf_counter()
                got = idx.top_k(q, 10)
                times.append(time.perf_counter() - t)
                exact = {i for i, _ in top_k(matrix @ q, 10)}
                recall.append(len(exact & {i for i, _ in got}) / 10)
            p50, p95 = pct(times)
            print(f"   sign-bit first pass ({idx.codes.nbytes / 1e6:.0f} MB, built in {built:.1f}s) + exact rescoring of "
                  f"{vector_index.RESCORE}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, recall@10 {np.mean(recall):.3f} "
                  f"(the default from {vector_index.QUANTISE_ROWS:,} passages); load average {os.getloadavg()[0]:.2f}")
            idx.codes = None
        if n == args.http_size and not args.no_http:
            http_bench(n, matrix, args.http_queries, ["vector", "hybrid"], runs=cli_runs)
        del idx, matrix
        gc.collect()


if __name__ == "__main__":
    main()
