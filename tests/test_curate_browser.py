"""`evidence curate` end to end: a real server on 127.0.0.1 over the working
database, driven by headless Chromium (Debian's /usr/bin/chromium through
Playwright): confirm and reject by keyboard, j/k, undo, the content file
changing on disk, CSRF refusals, no request leaving the server, and the
refusal of another host without a password. Screenshots go to
test-artifacts/."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ARTIFACTS, free_port, wait_for
from support.processes import stop_process

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workbench(built: Path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVIDENCE_EMBEDDER="fake")
    log = open(built / "curate.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "evidence", "curate", "--root", str(built), "--port", str(port),
                             "--by", "Browser Tester"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/")
        yield url, built
    finally:
        stop_process(proc)
        log.close()


def item_file(root: Path, item_id: str) -> Path:
    conn = sqlite3.connect(root / "evidence.db")
    try:
        row = conn.execute("SELECT file FROM stories WHERE id = ? UNION SELECT s.file FROM findings f JOIN studies s "
                           "ON s.id = f.study_id WHERE f.id = ?", [item_id, item_id]).fetchone()
    finally:
        conn.close()
    return root / row[0]


def decisions(root: Path, item_id: str) -> dict[str, dict]:
    path = item_file(root, item_id)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return {d["domain"]: d for d in yaml.safe_load(text.split("---\n")[1]).get("tags") or []}
    for f in yaml.safe_load(text)["findings"]:
        if f["id"] == item_id:
            return {d["domain"]: d for d in f.get("tags") or []}
    return {}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def wait_until(fn, timeout: float = 60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.2)
    return False


def test_keyboard_confirm_reject_undo_change_the_file_on_disk(workbench, browser):
    url, root = workbench
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url + "/")
        page.wait_for_selector("li.tag.current")
        shot(page, "curate-queue")
        first = page.locator("li.tag").nth(0)
        item, domain = first.get_attribute("data-item"), first.get_attribute("data-domain")
        # the selected tag's sentence is highlighted in the text
        mark = page.locator("mark.current")
        assert mark.count() == 1
        assert " ".join(mark.inner_text().split()) == " ".join(first.locator("blockquote").inner_text().split())
        assert domain not in decisions(root, item)

        page.keyboard.press("y")
        page.wait_for_selector("#tag-1.confirmed", timeout=90_000)
        assert wait_until(lambda: decisions(root, item).get(domain, {}).get("status") == "confirmed")
        d = decisions(root, item)[domain]
        assert d["by"] == "Browser Tester"
        assert page.locator("#tag-2").get_attribute("class").split().count("current") == 1, "moves on"
        # j / k move
        page.keyboard.press("j")
        assert "current" in page.locator("#tag-3").get_attribute("class")
        page.keyboard.press("k")
        assert "current" in page.locator("#tag-2").get_attribute("class")
        second = page.locator("#tag-2")
        item2, domain2 = second.get_attribute("data-item"), second.get_attribute("data-domain")
        page.keyboard.press("n")
        page.wait_for_selector("#tag-2.rejected", timeout=90_000)
        assert wait_until(lambda: decisions(root, item2).get(domain2, {}).get("status") == "rejected")
        shot(page, "curate-decided")
        # u undoes the last decision (the reject): gone from the file, the tag open again
        page.keyboard.press("u")
        page.wait_for_selector("#tag-2.current:not(.rejected)", timeout=90_000)
        assert wait_until(lambda: domain2 not in decisions(root, item2))
        assert decisions(root, item)[domain]["status"] == "confirmed", "the earlier decision stays"
        assert "undone" in page.locator(".flash").inner_text()
        shot(page, "curate-undone")
        assert requests and all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]
    finally:
        ctx.close()
    # and the working database agrees with the file
    conn = sqlite3.connect(root / "evidence.db")
    try:
        assert conn.execute("SELECT status FROM tags WHERE item_id = ? AND domain = ?", [item, domain]).fetchone() == ("confirmed",)
    finally:
        conn.close()


def test_posts_without_the_csrf_token_are_refused(workbench):
    url, root = workbench
    with urllib.request.urlopen(url + "/") as resp:
        html = resp.read().decode()
        csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "http://" not in html.replace(url, "").split("<main>")[0]
    before = {p: p.read_bytes() for p in (root / "stories").glob("*.md")}
    for body, headers in [(b"item=james-and-andy&domain=ascot/occupation&status=confirmed", {}),
                          (b"item=james-and-andy&domain=ascot/occupation&status=confirmed&csrf=wrong", {}),
                          (b"item=james-and-andy&domain=ascot/occupation&status=confirmed&csrf=" +
                           html.split('name="csrf-token" content="')[1].split('"')[0].encode(),
                           {"Origin": "http://evil.example"})]:
        req = urllib.request.Request(url + "/decide", data=body, method="POST", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 403
    assert {p: p.read_bytes() for p in (root / "stories").glob("*.md")} == before


def test_refuses_another_host_without_a_password(built: Path, cli):
    r = cli(["curate", "--root", built, "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "listens on 127.0.0.1 only" in r.output
