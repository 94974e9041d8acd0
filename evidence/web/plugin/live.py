"""A running server follows the public database file: after `evidence build`,
`add` or `withdraw` the new public.db is served within seconds, without a
restart and without a failed request.

The build replaces public.db by rename, so the old file lives on as long as
something holds it open. Datasette opens a served file once per SQL thread
and keeps it (immutable: it never looks again), so before this a withdrawn
story stayed on every Datasette route until a restart.

- At start-up every immutable file database is swapped, through Datasette's
  remove_database/add_database, for a `LiveDatabase` over the same path.
- A watcher thread (one per process, so each `--workers N` process has its
  own) compares the file's identity (device, inode, size, mtime) every
  `EVIDENCE_RELOAD_SECONDS` (default 1 s). When it changed, the database
  moves to a new generation: each SQL thread opens the new file on its next
  query; every connection to the old file is closed as soon as no query is
  running on it (at once when idle, or when its running query ends), so the
  old file is not held open and its text cannot be read from this process.
  Datasette's cached hash, size and table counts are dropped, and so is the
  plugin's cache of rendered narratives.
- A query that started on the old file finishes on it; a request that
  started before the swap may see the old file for its first queries and
  the new one for the rest. No request fails.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from datasette.database import Database

log = logging.getLogger(__name__)

RELOAD_ENV = "EVIDENCE_RELOAD_SECONDS"


def file_identity(path: str | Path) -> tuple | None:
    """(device, inode, size, mtime) of the file, or None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def reload_interval() -> float:
    try:
        return max(0.05, float(os.environ.get(RELOAD_ENV, "1")))
    except ValueError:
        return 1.0


class LiveDatabase(Database):
    """An immutable Datasette database whose file may be replaced by rename."""

    def __init__(self, ds, path: str):
        super().__init__(ds, path=path, is_mutable=False)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.generation = 0
        self.identity = file_identity(path)
        # connection -> [generation, queries running on it]
        self._conns: dict[sqlite3.Connection, list[int]] = {}

    # Datasette calls connect() for its own connections (and close() in tests)
    def connect(self, write: bool = False) -> sqlite3.Connection:
        assert not write, "the public database is served read-only"
        return sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, check_same_thread=False)

    def _checkout(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        with self._lock:
            info = self._conns.get(conn) if conn is not None else None
            if info is not None and info[0] == self.generation:
                info[1] += 1
                return conn
            generation = self.generation
        conn = self.connect()
        self.ds._prepare_connection(conn, self.name)
        with self._lock:
            self._conns[conn] = [generation, 1]
        self._local.conn = conn
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            info = self._conns.get(conn)
            if info is None:
                return
            info[1] -= 1
            if info[1] == 0 and info[0] != self.generation:
                del self._conns[conn]
                conn.close()

    async def execute_fn(self, fn):
        def in_thread():
            conn = self._checkout()
            try:
                return fn(conn)
            finally:
                self._checkin(conn)

        if self.ds.executor is None:
            return in_thread()
        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)

    def open_connections(self) -> list[tuple[int, int]]:
        """(generation, running queries) of each open connection (for tests and logs)."""
        with self._lock:
            return [tuple(v) for v in self._conns.values()]

    def refresh(self) -> bool:
        """Move to the file now at the path if its identity changed; True if it did."""
        identity = file_identity(self.path)
        if identity is None or identity == self.identity:
            return False  # a missing file keeps the old one served (a build renames; never deletes)
        with self._lock:
            self.identity = identity
            self.generation += 1
            self.cached_hash = self.cached_size = self._cached_table_counts = None
            for conn, (generation, running) in list(self._conns.items()):
                if generation != self.generation and running == 0:
                    del self._conns[conn]
                    conn.close()
        return True

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def make_live(datasette) -> list[LiveDatabase]:
    """Swap every immutable file database of `datasette` for a LiveDatabase
    over the same file (same name and route); the old one is closed."""
    live = []
    for name, db in list(datasette.databases.items()):
        if isinstance(db, LiveDatabase):
            live.append(db)
            continue
        if name == "_internal" or db.is_memory or db.is_mutable or not db.path:
            continue
        new = LiveDatabase(datasette, str(db.path))
        datasette.remove_database(name)
        datasette.add_database(new, name=name, route=db.route)
        db.close()
        live.append(new)
    return live


def watch(datasette, on_change: Callable[[LiveDatabase], None] | None = None,
          interval: float | None = None) -> threading.Thread | None:
    """Start the watcher thread of this Datasette (once)."""
    if getattr(datasette, "_evidence_watcher", None) is not None:
        return datasette._evidence_watcher
    make_live(datasette)
    interval = interval or reload_interval()
    stop = threading.Event()
    ref = weakref.ref(datasette)  # the thread ends with its Datasette (tests make many)

    def run() -> None:
        while not stop.wait(interval):
            ds = ref()
            if ds is None:
                return
            databases = list(ds.databases.values())
            del ds
            for db in databases:
                if not isinstance(db, LiveDatabase):
                    continue
                try:
                    if db.refresh():
                        log.info("serving the new %s (generation %d)", db.path, db.generation)
                        if on_change is not None:
                            on_change(db)
                except Exception as exc:  # keep watching; the next round retries
                    log.warning("could not switch to the new %s: %s", db.path, exc)
            databases = db = None  # hold nothing of the Datasette while waiting

    thread = threading.Thread(target=run, name="evidence-public-db-watcher", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    datasette._evidence_watcher = thread
    thread.start()
    return thread
