"""A running `evidence serve` follows public.db (evidence/web/plugin/live.py):
after `evidence withdraw` a canary story is gone from every route within 5 s,
after a build a new story appears within 5 s, no request fails meanwhile,
and no process of the server keeps the replaced file open. With one worker
(plain `datasette serve`) and with `--workers 2` (uvicorn)."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import Server
from evidence.build import build
from storyfiles import write_story

pytestmark = [pytest.mark.server, pytest.mark.slow]

CANARY = "qzxlivecanary"
STORY_ID = f"{CANARY}-story"
NEW_ID = "qzxlatecomer-story"
BODY = (f"Nobody else will write {CANARY} in a story. Mabel joined the {CANARY} lunch club run by "
        "Community Catalysts and now cooks for six neighbours every Thursday.\n\n"
        "Her daughter said Mabel talks about the club all week.\n")
DEADLINE = 5.0


def _q(s: str) -> str:
    return urllib.parse.quote(s)


def _gone_checks(story_id: str, word: str) -> dict[str, callable]:
    """route -> check(status, body) that is True once the story is gone from it."""
    absent = lambda status, body: status in (200, 404) and word.encode() not in body.lower()  # noqa: E731
    return {
        f"/public/stories/{story_id}": lambda s, b: s == 404,
        f"/public/stories/{story_id}.json": lambda s, b: s == 404,
        f"/public/stories.json?_search={word}&_shape=array": lambda s, b: s == 200 and json.loads(b) == [],
        "/public/stories.json?_shape=array&_size=max": absent,
        f"/public/story_people.json?story_id={story_id}&_shape=array": lambda s, b: s == 200 and json.loads(b) == [],
        f"/public/passages.json?item_id={story_id}&_shape=array": lambda s, b: s == 200 and json.loads(b) == [],
        f"/public/tags.json?item_id={story_id}&_shape=array": lambda s, b: s == 200 and json.loads(b) == [],
        f"/public.json?sql={_q('select count(*) from stories where body like :w')}&w={_q('%' + word + '%')}&_shape=arrayfirst":
            lambda s, b: s == 200 and json.loads(b) == [0],
        "/public/stories": absent,
        f"/-/story/{story_id}": lambda s, b: s == 404,
        "/-/evidence": absent,
        "/-/approach/shared-lives.json": absent,
        f"/-/search.json?q={word}&mode=fts": lambda s, b: s == 200 and story_id.encode() not in b,
        f"/-/search.json?q={_q('lunch club cooking for neighbours')}": lambda s, b: s == 200 and story_id.encode() not in b,
        f"/-/similar/{story_id}.json": lambda s, b: s == 404,
        f"/-/gaps/shared-lives/ascot/occupation.json": absent,
    }


def _there_checks(story_id: str) -> dict[str, callable]:
    return {
        f"/public/stories/{story_id}.json": lambda s, b: s == 200,
        f"/-/story/{story_id}": lambda s, b: s == 200,
        f"/public/story_people.json?story_id={story_id}&_shape=array": lambda s, b: s == 200 and json.loads(b) != [],
        f"/-/search.json?q={_q('village bakery apprenticeship')}&mode=fts": lambda s, b: s == 200 and story_id.encode() in b,
    }


def _watch_until(server: Server, checks: dict, t0: float, settle: float = 3.0) -> dict[str, float]:
    """Poll every route until DEADLINE + settle seconds after t0; return, per
    route, the time (since t0) of its last failing check (0 if none)."""
    last_bad = {route: 0.0 for route in checks}
    while time.monotonic() - t0 < DEADLINE + settle:
        for route, ok in checks.items():
            status, _, body = server.get(route)
            if not ok(status, body):
                last_bad[route] = time.monotonic() - t0
        time.sleep(0.05)
    return last_bad


class _Traffic(threading.Thread):
    """Requests for other content, without pause, during the swap: every one must succeed."""

    ROUTES = ["/public/stories/james-and-andy.json", "/public/stories.json?_size=5", "/-/story/james-and-andy",
              "/public/findings.json?_size=3", "/-/search.json?q=friendship", "/-/evidence",
              f"/public.json?sql={_q('select count(*) from passages')}"]

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server, self.stop, self.ok, self.failures = server, threading.Event(), 0, []

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            route = self.ROUTES[i % len(self.ROUTES)]
            i += 1
            try:
                status, _, _ = self.server.get(route)
            except Exception as exc:  # a reset connection is a failed request too
                self.failures.append((route, repr(exc)))
                continue
            if status != 200:
                self.failures.append((route, status))
            else:
                self.ok += 1


def _server_pids(pid: int) -> list[int]:
    """The server process and its children (uvicorn's workers)."""
    pids, children = [pid], {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    i = 0
    while i < len(pids):
        pids += children.get(pids[i], [])
        i += 1
    return pids


def _open_public_files(pid: int) -> list[str]:
    out = []
    for p in _server_pids(pid):
        fd_dir = Path(f"/proc/{p}/fd")
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if "public.db" in target:
                out.append(target)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_a_running_server_follows_withdraw_and_build_within_5s(base: Path, cli, workers: int):
    write_story(base, STORY_ID, body=BODY, title=f"Mabel and the {CANARY} lunch club", approach="shared-lives",
                summary=f"Mabel cooks at the {CANARY} club.",
                people=[{"name": f"Mabel {CANARY.capitalize()}", "role": "person supported"}])
    build(base)
    server = Server(base, extra=["--workers", str(workers)] if workers > 1 else None)
    traffic = _Traffic(server)
    try:
        status, _, body = server.get(f"/public/stories/{STORY_ID}.json")
        assert status == 200 and CANARY.encode() in body
        for route in _gone_checks(STORY_ID, CANARY):  # every route shows it before (so "gone" means something)
            if route.startswith(("/public/stories/", "/-/story/", "/-/similar/")):
                assert server.get(route)[0] == 200, route
        time.sleep(2.5)  # every worker has answered and opened the file
        traffic.start()

        result = cli(["withdraw", STORY_ID, "--reason", "consent-withdrawn", "--root", base])
        assert result.exit_code == 0, result.output
        t0 = time.monotonic()
        last_bad = _watch_until(server, _gone_checks(STORY_ID, CANARY), t0)
        late = {route: round(t, 2) for route, t in last_bad.items() if t > DEADLINE}
        assert not late, f"still serving the withdrawn story after {DEADLINE}s: {late}"

        # nothing of the old file is held open by any process of the server
        assert all(not t.endswith("(deleted)") for t in _open_public_files(server.proc.pid)), \
            _open_public_files(server.proc.pid)

        # a build that publishes a new story reaches the running server too
        write_story(base, NEW_ID, title="Omar's village bakery apprenticeship", approach="shared-lives",
                    body="Omar began a village bakery apprenticeship with help from his Shared Lives carer.\n")
        build(base)
        t0 = time.monotonic()
        last_bad = _watch_until(server, _there_checks(NEW_ID), t0, settle=1.0)
        late = {route: round(t, 2) for route, t in last_bad.items() if t > DEADLINE}
        assert not late, f"the new story was not served within {DEADLINE}s: {late}"
    finally:
        traffic.stop.set()
        traffic.join(30)
        server.stop()
    assert traffic.ok > 20, traffic.ok
    assert traffic.failures == [], traffic.failures[:5]
