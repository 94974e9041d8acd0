"""Shared fixtures: a copy of the evidence base in a temp folder, a built
copy, the CLI runner, a real `evidence serve` process on 127.0.0.1 and
headless Chromium for the browser tests."""
from __future__ import annotations

import os
import shutil
import sqlite3
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.content import CONTENT, ROOT, content_digest, copy_base  # noqa: F401  (tests import them from here)
from support.processes import stop_process

# One BLAS thread per test process (and its child processes), set before
# numpy loads OpenBLAS (nothing imported above loads numpy). With two
# OpenBLAS threads, the tagger's liblinear fits (thousands of small level-1
# BLAS calls each) wait on a worker thread that a busy machine does not
# schedule: a fit of 0.02 s then took up to 1.7 s, a one-story `add` 18 s
# instead of 1. Two pytest-xdist workers on two cores want one thread each.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# typer's CliRunner.invoke builds the whole click command tree of the app on
# every call (about 7 s of CPU over the fast suite); the tree of one app
# object never changes, so it is built once per process
import typer.testing as _typer_testing  # noqa: E402

_make_command = _typer_testing._get_command
_commands: dict[int, object] = {}


def _command_once(app):
    if id(app) not in _commands:
        _commands[id(app)] = (app, _make_command(app))  # the app is kept, so its id is never reused
    return _commands[id(app)][1]


_typer_testing._get_command = _command_once

# plumbing tests use the deterministic fake embedder; tests about search or
# tagging quality opt into the real model with @pytest.mark.model
os.environ.setdefault("EVIDENCE_EMBEDDER", "fake")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A fresh copy of the evidence base's content files."""
    return copy_base(tmp_path / "base")


@pytest.fixture(scope="session")
def _built_template(tmp_path_factory):
    """One build of the repository's content per session (and per EVIDENCE_*
    environment), whose databases `built` copies instead of building again."""
    from evidence.build import build

    templates: dict[tuple, Path] = {}

    def get(digest: str) -> Path:
        key = (digest, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("EVIDENCE_"))))
        if key not in templates:
            root = copy_base(tmp_path_factory.mktemp("built-template") / "base")
            build(root)
            templates[key] = root
        return templates[key]

    get.root_digest = content_digest(ROOT)  # the repository's content: what a template holds
    return get


def build_from_template(base: Path, templates) -> Path:
    """Build the copy `base`: the databases of a session template built from
    the same content (`templates`: the `_built_template` fixture) are copied
    in, and a no-op `build` then records the copy's own public.db path (what
    a build here would have left). Content that differs from the
    repository's is built from nothing."""
    from evidence.build import build

    digest = content_digest(base)
    if digest != templates.root_digest:
        build(base)
        return base
    template = templates(digest)
    for name in ("evidence.db", "evidence.db-wal", "public.db"):
        if (template / name).exists():
            shutil.copy2(template / name, base / name)
    # the copied public.db is the one a build of this content writes: record
    # it as this copy's (else the build below publishes it all again, 0.05 s
    # a test), and let the build check that nothing else is left to do
    conn = sqlite3.connect(base / "evidence.db")
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'public_path'", [str((base / "public.db").resolve())])
    conn.close()
    summary = build(base)
    assert summary.added == summary.changed == summary.removed == 0 and not summary.public_written, summary
    return base


@pytest.fixture
def built(base: Path, _built_template) -> Path:
    """The copy, built: base/evidence.db and base/public.db exist (the
    databases copied from the session's template build)."""
    return build_from_template(base, _built_template)


@pytest.fixture(scope="session")
def built_session(tmp_path_factory, _built_template) -> Path:
    """One built copy shared by read-only tests (faster); its databases come
    from the same template build as `built`'s, so a session (or an xdist
    worker) builds the repository's content once."""
    return build_from_template(copy_base(tmp_path_factory.mktemp("shared") / "base"), _built_template)


@pytest.fixture
def cli():
    """Run the evidence CLI in-process: cli(args, input=None) -> Result."""
    from evidence.cli import app

    runner = CliRunner()

    def invoke(args: list[str], input: str | bytes | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


class Server:
    """A real `evidence serve` process on 127.0.0.1."""

    def __init__(self, root: Path, extra: list[str] | None = None, env: dict | None = None):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / f"serve-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evidence", "serve", "--root", str(root), "--port", str(self.port), *(extra or [])],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
        try:
            wait_for(self.url + "/-/versions.json")
        except Exception:
            self.stop()
            raise RuntimeError((root / f"serve-{self.port}.log").read_text())

    def get(self, path: str, headers: dict | None = None):
        """(status, headers, body bytes) of a GET."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


@pytest.fixture(scope="session")
def server(built_session: Path):
    """One real `evidence serve` on the shared built copy."""
    srv = Server(built_session)
    yield srv
    srv.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's /usr/bin/chromium through Playwright;
    nothing is downloaded), one per test module. Not per session: Playwright's
    sync API runs an event loop in the main thread until it stops, which other
    tests' asyncio.run() cannot share. Each test opens its own context with
    its own viewport (see `page`)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A page 1200 x 900 px in a fresh context of its own (closed after the test)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    yield pg
    ctx.close()
