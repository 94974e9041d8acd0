"""Nothing lost, nothing corrupted: WAL and a busy timeout, one transaction
per build or add, the writer lock, leftovers of killed writers, a crash test
(fast version of tests/benchmarks/crash_test.py), concurrent adds and a
full disk."""
from __future__ import annotations

import importlib.util
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import integrity

from evidence.store import schema as store
from evidence.build import build
from evidence.errors import EvidenceError
from evidence.store.lock import writer_lock
from storyfiles import write_story

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def failing_step(db, summary, options) -> None:
    """An enrichment step that fails after the records were written."""
    raise EvidenceError("injected failure in an enrichment step")


def _change_content(root: Path) -> None:
    write_story(root, "a-new-story", body="A new narrative about a lunch club and its cooks.")
    p = root / "stories" / "james-and-phil.md"
    p.write_text(p.read_text() + "\nAn added closing line.\n")
    (root / "stories" / "pearl-florist-somerset.md").unlink()


def test_working_db_has_wal_a_busy_timeout_and_secure_delete(tmp_path: Path):
    db = store.open_db(tmp_path / "w.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    finally:
        db.close()


def test_a_build_waits_for_another_connection_instead_of_failing(built: Path):
    other = sqlite3.connect(built / "evidence.db", check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    release = threading.Timer(1.0, other.rollback)
    release.start()
    _change_content(built)
    start = time.perf_counter()
    summary = build(built)
    assert time.perf_counter() - start >= 0.9
    assert summary.added == 1 and summary.changed == 1 and summary.removed == 1
    release.join()
    other.close()


def test_a_failed_step_rolls_back_the_whole_build(built: Path, cli):
    from evidence.build import BuildOptions

    before = integrity.digest(built / "evidence.db")
    public = (built / "public.db").read_bytes()
    public_mtime = (built / "public.db").stat().st_mtime_ns
    _change_content(built)
    with pytest.raises(EvidenceError, match="injected failure in an enrichment step"):
        build(built, options=BuildOptions(enrich_steps=(failing_step,)))
    assert integrity.digest(built / "evidence.db") == before
    assert (built / "public.db").read_bytes() == public
    assert (built / "public.db").stat().st_mtime_ns == public_mtime
    assert build(built, options=BuildOptions(enrich_steps=())).added == 1  # the same change goes through once the step works


def test_a_failed_publish_keeps_the_old_public_db_and_the_next_build_retries(built: Path, cli, monkeypatch):
    from evidence.store import publish

    public = (built / "public.db").read_bytes()
    _change_content(built)
    monkeypatch.setitem(publish.VIEWS, "broken", "SELEC nonsense")
    result = cli(["build", "--root", built])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert (built / "public.db").read_bytes() == public
    assert not [p for p in built.iterdir() if p.name.startswith(".public.db.")]
    monkeypatch.delitem(publish.VIEWS, "broken")
    summary = build(built)
    assert summary.public_written and summary.published["stories"] == 7  # 7 - 1 removed + 1 new


def test_leftover_temp_files_of_killed_writers_are_removed(built: Path):
    old = time.time() - 3600
    leftovers = [built / "stories" / ".james-and-andy.md.k2j4h5g6.tmp", built / ".public.db.a1b2c3d4.tmp",
                 built / ".public.db.a1b2c3d4.tmp-journal", built / ".withdrawn.yml.zz99yy88.tmp"]
    for p in leftovers:
        p.write_text("half a file")
        os.utime(p, (old, old))
    fresh = built / "stories" / ".in-progress.md.q1w2e3r4.tmp"  # newer than this process: not ours to judge
    fresh.write_text("being written")
    future = time.time() + 3600
    os.utime(fresh, (future, future))
    keep = built / "stories" / ".gitkeep"
    keep.write_text("")
    build(built)
    assert not any(p.exists() for p in leftovers)
    assert fresh.exists() and keep.exists()


@pytest.mark.slow
def test_the_writer_lock_makes_a_second_writer_wait_or_give_up(built: Path):
    code = ("import sys, time; from evidence.store.lock import writer_lock\n"
            "with writer_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(1.5)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(built)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(EvidenceError, match="another evidence command"):
        with writer_lock(built, timeout=0.2):
            pass
    start = time.perf_counter()
    build(built)  # waits for the holder, then builds
    assert time.perf_counter() - start >= 0.5
    assert holder.wait(10) == 0


ADDER = r"""
import sys
from typer.testing import CliRunner
from evidence.cli import app
root, prefix = sys.argv[1], sys.argv[2]
runner, failed = CliRunner(), 0
for i in range(50):
    r = runner.invoke(app, ["add", "--root", root, "--no-input", "--quiet", "--title", f"{prefix} story {i}",
                            "--approach", "homeshare", "--consent", "given-by-person", "--consent-scope", "public",
                            "--consent-wording", "form v1", "--source-title", "Told to us",
                            "--source-organisation", "Homeshare UK", "--body-file", "-"],
                      input=f"{prefix} narrative number {i}: a homeshare that worked out for both.\n")
    if r.exit_code != 0:
        failed += 1
        print(r.output, flush=True)
print("failed", failed)
"""


@pytest.mark.slow
def test_two_processes_adding_50_stories_each_at_the_same_time(built: Path):
    procs = [subprocess.Popen([sys.executable, "-c", ADDER, str(built), prefix], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for prefix in ("alpha", "beta")]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
        assert out.strip().endswith("failed 0"), out
        assert "locked" not in out.lower() and "Traceback" not in out
    files = {p.stem for p in (built / "stories").glob("*.md")}
    assert {f"{prefix}-story-{i}" for prefix in ("alpha", "beta") for i in range(50)} <= files
    for name in ("evidence.db", "public.db"):
        conn = sqlite3.connect(built / name)
        try:
            assert conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 107, name
        finally:
            conn.close()
        assert integrity.check(built / name) == []


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _big_story(tmp_path: Path, kb: int) -> Path:
    words = " ".join(f"word{i}" for i in range(kb * 1024 // 8))
    front = (ROOT / "stories" / "james-and-andy.md").read_text().split("\n---\n")[0]
    path = tmp_path / "big-story.md"
    path.write_text(front.replace("james-and-andy", "big-story") + "\n---\n" + words + "\n")
    return path


def _add_limited(built: Path, story: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evidence", "add", "--file", str(story), "--root", str(built)],
                          env=ENV, capture_output=True, text=True, preexec_fn=_limit_file_size(limit))


@pytest.mark.slow
@pytest.mark.parametrize("where,body_kb,limit_kb", [("story file", 600, 64), ("working db", 40, 64)])
def test_a_full_disk_before_the_commit_changes_nothing(built: Path, tmp_path: Path, where, body_kb, limit_kb):
    """RLIMIT_FSIZE stands in for a full disk: a write past the limit fails."""
    before = integrity.digest(built / "evidence.db")
    public = (built / "public.db").read_bytes()
    stories = sorted(p.name for p in (built / "stories").iterdir())
    proc = _add_limited(built, _big_story(tmp_path, body_kb), limit_kb * 1024)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in (built / "stories").iterdir()) == stories
    assert integrity.check(built / "evidence.db") == []
    assert integrity.digest(built / "evidence.db") == before
    assert (built / "public.db").read_bytes() == public


@pytest.mark.slow
def test_a_full_disk_near_the_public_db_size_keeps_everything_consistent(built: Path, tmp_path: Path):
    """RLIMIT_FSIZE a little above public.db's size. Since the working
    database gained the vector cache and supporting sentences, its own pages
    can reach the limit before the new public.db does; whichever write fails
    first, the add fails with one line and nothing is half-written. (A failed
    publish alone is test_a_failed_publish_keeps_the_old_public_db_and_the_next_build_retries.)"""
    public = (built / "public.db").read_bytes()
    before = integrity.digest(built / "evidence.db")
    limit = (built / "public.db").stat().st_size + 16 * 1024
    proc = _add_limited(built, _big_story(tmp_path, 40), limit)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert (built / "public.db").read_bytes() == public
    assert not [p for p in built.iterdir() if p.name.startswith(".public.db.")]
    assert integrity.check(built / "evidence.db") == []
    if (built / "stories" / "big-story.md").exists():  # failed while publishing: in the working db, so kept
        assert "public.db could not be written" in lines[0], proc.stderr
        assert build(built).published["stories"] == 8  # with room again, the next build publishes it
    else:  # failed writing the working db: rolled back, the file removed
        assert integrity.digest(built / "evidence.db") == before
        build(built)
    assert integrity.check(built / "evidence.db") == [] and integrity.check(built / "public.db") == []


def test_a_corrupt_working_database_is_a_one_line_error(built: Path, cli):
    (built / "evidence.db").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{built / 'evidence.db'}{suffix}").unlink(missing_ok=True)
    result = cli(["build", "--root", built])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "delete it" in lines[0], lines
    assert f"{built / 'evidence.db'} is not a readable SQLite database" in lines[0], lines  # which file


@pytest.mark.parametrize("command", [["search", "a lonely older woman"], ["similar", "james-and-andy"]])
def test_a_corrupt_public_database_is_named_by_search(built: Path, cli, command):
    (built / "public.db").write_bytes(b"this is not a database" * 100)
    result = cli([*command, "--root", built])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{built / 'public.db'} is not a readable SQLite database" in lines[0], lines


def _crash_module():
    spec = importlib.util.spec_from_file_location("crash_test", ROOT / "tests" / "benchmarks" / "crash_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_crash_fast(tmp_path: Path):
    """Four SIGKILLs at random moments of build and add (the script runs 60)."""
    report = _crash_module().run_crash_trials(tmp_path / "crash", trials=4, stories=120, seed=5, log=lambda *_: None)
    assert len(report["trials"]) == 4
    assert report["failures"] == [], report["failures"]
