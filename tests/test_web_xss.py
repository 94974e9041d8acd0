"""Content cannot run script, in the real browser: headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright) against a real `evidence serve`.

Every payload of tests/xss_payloads.yml is put into a public database the
way a careless or hostile curator could get it there (story narratives,
titles, summaries, places, people's names, a study's url, an approach's
website, a story's source url; written straight into public.db, so the
render-time defences are tested even if a build-time check would have
refused them). Each page that shows them is loaded, the mouse is swept over
it and the keyboard tabbed through it, and no dialog fires; the page holds
no event-handler attribute, no script without a file, and no link or image
outside http, https, mailto and #fragments. Datasette's own pages still
work under the Content-Security-Policy (no violation reported; the column
menu, the SQL editor and the nav menu work). Screenshots: test-artifacts/xss-*.png.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from conftest import ARTIFACTS, Server, copy_base

pytestmark = [pytest.mark.browser, pytest.mark.server]

PAYLOADS = yaml.safe_load((Path(__file__).parent / "xss_payloads.yml").read_text(encoding="utf-8"))
BODY, URLS = [p["text"] for p in PAYLOADS["body"]], PAYLOADS["url"]

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""

# what in the page could run script: handlers, scripts not from a file,
# links and sources outside the allowed schemes, script-capable elements
AUDIT = """
() => {
  const bad = [];
  const ok = u => /^(https?:|mailto:)/i.test(u) || u.startsWith(location.origin + location.pathname + '#') ||
                  u.startsWith(location.origin + '/');
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.toLowerCase().startsWith('on')) bad.push(el.tagName + '[' + a.name + ']');
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || !s.src.startsWith(location.origin + '/')) bad.push('script ' + (s.src || s.textContent.slice(0, 60)));
  }
  for (const el of document.querySelectorAll('a[href], area[href]')) if (!ok(el.href)) bad.push('a ' + el.href);
  for (const el of document.querySelectorAll('img[src], iframe, frame, embed, object, video, audio, source, form[action]')) {
    const u = el.src || el.data || el.action || '';
    if (el.tagName !== 'IMG' && el.tagName !== 'FORM') bad.push(el.tagName);
    else if (!ok(u)) bad.push(el.tagName + ' ' + u);
  }
  for (const el of document.querySelectorAll('svg a, svg script, math, base, meta[http-equiv]')) bad.push(el.tagName);
  return bad;
}
"""


def _payload_database(root: Path) -> list[str]:
    """Put every payload into root/public.db; return the new story ids."""
    conn = sqlite3.connect(root / "public.db")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(stories)")]
    template = dict(zip(cols, conn.execute("SELECT * FROM stories WHERE id = 'james-and-andy'").fetchone()))
    ids = []
    for i, text in enumerate(BODY):
        sid = f"xss-{i:02d}"
        row = {**template, "id": sid, "title": f"Payload {i}: {text}", "summary": text, "place": text,
               "organisation": text, "source_title": text, "source_author": text, "source_url": URLS[i % len(URLS)],
               "body": f"A story that carries payload {i}.\n\n{text}\n\nThe end of the story.",
               "people": json.dumps([{"name": text, "role": "person supported"}]), "added": "2099-01-01"}
        conn.execute(f"INSERT INTO stories ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [row[c] for c in cols])
        conn.execute("INSERT INTO story_people (story_id, position, name, role) VALUES (?, 0, ?, ?)", [sid, text, text])
        ids.append(sid)
    for i, (sid,) in enumerate(conn.execute("SELECT id FROM stories WHERE id NOT LIKE 'xss-%'").fetchall()):
        conn.execute("UPDATE stories SET title = ? WHERE id = ?", [BODY[i % len(BODY)], sid])
    for i, (sid,) in enumerate(conn.execute("SELECT id FROM studies ORDER BY id").fetchall()):
        conn.execute("UPDATE studies SET url = ?, title = ?, source_url = ? WHERE id = ?",
                     [URLS[i % len(URLS)], BODY[(i + 3) % len(BODY)], URLS[(i + 1) % len(URLS)], sid])
    for i, (aid,) in enumerate(conn.execute("SELECT id FROM approaches ORDER BY id").fetchall()):
        conn.execute("UPDATE approaches SET website = ?, description = ?, organisation = ?, sources = ? WHERE id = ?",
                     [URLS[i % len(URLS)], BODY[(i + 5) % len(BODY)], BODY[(i + 7) % len(BODY)],
                      json.dumps([{"title": BODY[i % len(BODY)], "url": URLS[i % len(URLS)]}]), aid])
    for i, (fid,) in enumerate(conn.execute("SELECT id FROM findings ORDER BY id LIMIT 20").fetchall()):
        conn.execute("UPDATE findings SET statement = ? WHERE id = ?", [BODY[i % len(BODY)], fid])
    conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('rebuild')")
    conn.commit()
    conn.close()
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from evidence.build import build

    root = copy_base(tmp_path_factory.mktemp("xss") / "base")
    build(root)
    ids = _payload_database(root)
    srv = Server(root)
    srv.story_ids = ids
    yield srv
    srv.stop()


@pytest.fixture
def page(browser):
    """A 1200 x 900 page (as conftest's) that records every CSP violation
    (window.__csp) and every dialog a payload opens (page.dialogs)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.add_init_script(WATCH)
    pg = ctx.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append((pg.url, d.type, d.message)), d.dismiss()))
    yield pg
    ctx.close()


def _provoke(page) -> None:
    """Move the mouse over every part of the page, tab through it, wait for late handlers."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for top in range(0, min(height, 3 * 900), 900):
        page.evaluate(f"window.scrollTo(0, {top})")
        for y in range(10, 900, 150):
            for x in range(10, 1200, 200):
                page.mouse.move(x, y)
    for _ in range(8):
        page.keyboard.press("Tab")
    page.wait_for_timeout(150)


def _visit(page, url: str) -> list[str]:
    page.goto(url, wait_until="load")
    _provoke(page)
    return page.evaluate(AUDIT)


def test_the_harness_sees_a_dialog(page):
    """Control: a payload on a page without our defences fires, and is seen."""
    page.set_content("<p id=x>payload</p><img src=x onerror=alert(1)>")
    page.wait_for_timeout(300)
    assert page.dialogs and page.dialogs[0][1] == "alert"
    assert page.evaluate(AUDIT) != []


def test_no_payload_fires_in_any_page(site, page):
    approaches = [r[0] for r in sqlite3.connect(site.root / "public.db").execute("SELECT id FROM approaches")]
    studies = [r[0] for r in sqlite3.connect(site.root / "public.db").execute("SELECT id FROM studies LIMIT 5")]
    urls = ["/public/stories?_size=100", "/public/story_people?_size=200", "/public/studies", "/public/approaches",
            "/public/findings", "/-/evidence", "/-/gaps", "/-/search?q=alert&mode=fts", "/-/search?q=support",
            "/public/stories?_search=alert", "/public?sql=select+*+from+stories+where+id+like+'xss%25'",
            "/public/evidence", "/", "/public"]
    urls += [f"/public/stories/{sid}" for sid in site.story_ids] + [f"/-/story/{sid}" for sid in site.story_ids]
    urls += [f"/-/approach/{a}" for a in approaches] + [f"/public/approaches/{a}" for a in approaches[:5]]
    urls += [f"/public/studies/{s}" for s in studies]
    findings, csp = {}, {}
    for url in urls:
        bad = _visit(page, site.url + url)
        if bad:
            findings[url] = bad[:5]
        violations = page.evaluate("window.__csp")
        if violations:
            csp[url] = violations[:5]
        if url in ("/public/stories/xss-00", "/-/story/xss-00", "/public/stories?_size=100", "/-/approach/shared-lives",
                   "/public/studies"):
            page.screenshot(path=str(ARTIFACTS / f"xss-{url.strip('/').replace('/', '-').split('?')[0]}.png"),
                            full_page=True)
    assert page.dialogs == [], page.dialogs[:5]
    assert findings == {}, findings
    assert csp == {}, csp  # nothing was blocked: no injected script, and Datasette's own scripts are all files
    assert len(urls) >= 2 * len(BODY) + 20


def _open_column_menu(page, column):
    """Open a column's menu the way a reader does: bring the column into view, let the page settle, click.

    table.js closes its menu on any scroll of the table's wrapper. Scrolling a column into view and clicking
    in one step can deliver that scroll event just after the click, closing the menu it opened; so the
    scroll comes first, two animation frames pass, and a click the page swallowed is tried again."""
    icon = page.locator(f"th.col-{column} .dropdown-menu-icon")
    icon.scroll_into_view_if_needed()
    menu = page.locator(".dropdown-menu >> visible=true").first
    for _ in range(3):
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        icon.click()
        try:
            menu.wait_for(state="visible", timeout=3_000)
            return menu
        except Exception:
            continue
    menu.wait_for(state="visible", timeout=3_000)
    return menu


def test_datasette_pages_work_under_the_policy(site, page):
    # the table page's column menu (table.js), with facets allowed (allow-facet-on.js)
    page.goto(site.url + "/public/stories", wait_until="load")
    menu = _open_column_menu(page, "source_title")
    assert menu.locator("a.dropdown-facet").is_visible()
    page.screenshot(path=str(ARTIFACTS / "xss-table-menu.png"))
    # the nav menu closes on a click outside it (close-menus.js)
    page.locator("details.nav-menu summary").click()
    assert page.locator("details.nav-menu").get_attribute("open") is not None
    page.locator("h1").first.click()
    assert page.locator("details.nav-menu").get_attribute("open") is None
    # the SQL editor (CodeMirror, started by sql-editor.js), and Shift-Enter runs the query
    page.goto(site.url + "/public?sql=select+1+as+one", wait_until="load")
    editor = page.locator(".CodeMirror")
    editor.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "xss-sql-editor.png"))
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(", 2 as two")
    with page.expect_navigation():
        page.keyboard.press("Shift+Enter")
    assert "two" in page.url and page.locator("table.rows-and-columns th.col-two").count() == 1
    assert page.evaluate("window.__csp") == []
    assert page.dialogs == []
