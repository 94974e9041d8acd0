"""One writer at a time, and no stale temp files.

Every command that writes (build, add, add-finding, withdraw, review-pii)
holds an exclusive lock on ROOT/.evidence.store.lock while it works. Two curators'
commands on the same evidence base therefore queue instead of racing (an id
check followed by a write cannot interleave with another add, and SQLite
never reports "database is locked" to a user). The kernel drops the lock
when its process dies, even by SIGKILL, so a crash never leaves it stuck.

While a writer holds the lock, any temp file of ours (`.<name>.<random>.tmp`,
made by `write_atomic` and by publish) that is older than the process can
only be the leftover of a writer that was killed: it is deleted. Such a file
may hold a story's text, so it must not linger.
"""
from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from evidence.errors import EvidenceError

LOCK_NAME = ".evidence.store.lock"
# .<name>.<random>.tmp, and the journal SQLite keeps beside a temp database
TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp(?:-journal|-wal|-shm)?$")
DEFAULT_TIMEOUT = float(os.environ.get("EVIDENCE_LOCK_TIMEOUT", "600"))
PROCESS_START = time.time()

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_guard = threading.RLock()


def temp_folders(root: Path, extra: list[Path] | None = None) -> list[Path]:
    """Folders where our writers put temp files: the root, each content folder,
    and any extra folder (the databases' folders)."""
    from evidence.content.tree import KINDS

    root = Path(root)
    folders = [root] + [root / folder for _, folder, _ in KINDS] + [Path(p) for p in extra or []]
    seen, out = set(), []
    for f in folders:
        key = str(f.resolve()) if f.exists() else str(f)
        if key not in seen and f.is_dir():
            seen.add(key)
            out.append(f)
    return out


def stale_temp_files(root: Path, extra: list[Path] | None = None, older_than: float | None = None) -> list[Path]:
    """Our temp files in the writers' folders, modified before `older_than`
    (default: this process's start)."""
    cutoff = PROCESS_START if older_than is None else older_than
    out = []
    for folder in temp_folders(root, extra):
        for p in folder.iterdir():
            if TEMP_RE.match(p.name) and p.is_file():
                try:
                    if p.stat().st_mtime < cutoff:
                        out.append(p)
                except FileNotFoundError:  # removed meanwhile
                    continue
    return out


def remove_stale_temp_files(root: Path, extra: list[Path] | None = None) -> list[Path]:
    """Delete the leftovers of killed writers; returns what was deleted."""
    removed = []
    for p in stale_temp_files(root, extra):
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            continue
    return removed


@contextmanager
def writer_lock(root: str | Path, timeout: float | None = None, extra: list[Path] | None = None) -> Iterator[None]:
    """Hold the evidence base's writer lock (re-entrant within a process).
    Waits up to `timeout` seconds for another writer, then raises
    EvidenceError. On first acquisition, stale temp files are removed."""
    root = Path(root)
    if not root.is_dir():
        raise EvidenceError(f"{root} is not a folder; pass --root DIR of an evidence base")
    path = str((root / LOCK_NAME).resolve())
    with _guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            outer = False
        else:
            fd = _acquire(path, DEFAULT_TIMEOUT if timeout is None else timeout)
            _held[path] = (fd, 1)
            outer = True
    try:
        if outer:
            remove_stale_temp_files(root, extra)
        yield
    finally:
        with _guard:
            fd, depth = _held[path]
            if depth > 1:
                _held[path] = (fd, depth - 1)
            else:
                del _held[path]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _acquire(path: str, timeout: float) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise EvidenceError(f"cannot create the lock file {path} ({exc.strerror}); check the folder's permissions") from None
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise EvidenceError(
                    f"another evidence command (build, add or withdraw) has been writing to {Path(path).parent} "
                    f"for over {timeout:.0f}s; wait for it to finish, then run this command again") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
