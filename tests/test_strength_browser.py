"""Headless Chromium against a real `evidence serve` (real model): the gap
map's filters, a cell's CSV and RIS export, the map at 390 px with the
approach names on screen while it scrolls, the evidence card's strength,
and search saying when nothing close was found. Screenshots go to
test-artifacts/ (looked at by hand)."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import urllib.request

import pytest

from conftest import ARTIFACTS
from test_pages_browser import real_site, shot  # noqa: F401  (real_site: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.model]


def gaps_json(site, query: str) -> dict:
    with urllib.request.urlopen(site.url + "/-/gaps.json?" + query, timeout=30) as r:
        return json.loads(r.read())


def test_gap_map_filters_change_what_the_map_shows(real_site, page):  # noqa: F811
    conn = sqlite3.connect(real_site.root / "public.db")
    area = conn.execute("SELECT area_of_work FROM approaches WHERE id = 'shared-lives'").fetchone()[0]
    page.goto(real_site.url + "/-/gaps?framework=ascot")
    all_rows = page.locator("table.ev-gaps tbody tr").count()
    suggested = gaps_json(real_site, "framework=ascot")["cells"]
    assert page.locator(".ev-sug").count() == sum(1 for c in suggested if c["stories_suggested"]) > 0
    page.select_option("#framework", "ascot")
    page.select_option("#area", area)
    page.check("#confirmed")
    with page.expect_navigation():
        page.click("button[type=submit]")
    shot(page, "gap-map-filtered")
    assert f"area={area}" in page.url and "confirmed=1" in page.url
    rows = page.locator("table.ev-gaps tbody tr")
    want = gaps_json(real_site, f"framework=ascot&area={area}&confirmed=1")
    assert rows.count() == len(want["rows"]) < all_rows
    names = {r["approach"]["name"] for r in want["rows"]}
    assert {rows.nth(i).locator("th").inner_text().strip() for i in range(rows.count())} == names
    # confirmed only: no suggestion counts anywhere, and the cells equal the JSON's
    assert page.locator(".ev-sug").count() == 0
    for c in want["cells"]:
        cell = page.locator(f"td[data-approach='{c['approach']}'][data-domain='{c['domain']}']")
        if c["state"] == "empty":
            assert "ev-gap" in cell.get_attribute("class")
        else:
            assert cell.locator(".ev-ns").inner_text() == str(c["stories_confirmed"])
            assert cell.locator(".ev-nf").inner_text() == str(c["findings"])
    # the certainty filter fades the cells below it, and says so
    page.goto(real_site.url + "/-/gaps?framework=ascot")
    page.select_option("#certainty", "low")
    with page.expect_navigation():
        page.click("button[type=submit]")
    shot(page, "gap-map-certainty")
    want = gaps_json(real_site, "framework=ascot&certainty=low")
    faded = {(c["approach"], c["domain"]) for c in want["cells"] if c["state"] != "empty" and not c["shown"]}
    got = {(e["a"], e["d"]) for e in page.locator("td.ev-faded").evaluate_all(
        "els => els.map(e => ({a: e.dataset.approach, d: e.dataset.domain}))")}
    assert got == faded
    assert "faded" in page.locator(".ev-note").inner_text()


def test_a_cell_exports_its_records_as_csv_and_ris(real_site, page, tmp_path):  # noqa: F811
    conn = sqlite3.connect(real_site.root / "public.db")
    a, d = conn.execute("SELECT f.approach, t.domain FROM tags t JOIN findings f ON f.id = t.finding_id "
                        "WHERE f.approach IS NOT NULL AND t.framework = 'ascot' GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 "
                        "LIMIT 1").fetchone()
    page.goto(real_site.url + "/-/gaps?framework=ascot")
    page.locator(f"td[data-approach='{a}'][data-domain='{d}'] a").click()
    page.wait_for_load_state()
    shot(page, "gap-cell-records")
    records = page.locator("ul.ev-records > li")
    cites = page.locator("ul.ev-records .ev-record-cite")
    assert records.count() == cites.count() > 0
    with page.expect_download() as dl:
        page.click("#export-csv")
    path = tmp_path / "cell.csv"
    dl.value.save_as(path)
    assert dl.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == records.count()
    want = {r[0] for r in conn.execute("SELECT t.finding_id FROM tags t JOIN findings f ON f.id = t.finding_id "
                                       "WHERE f.approach = ? AND t.domain = ?", [a, d])}
    assert {r["id"] for r in rows if r["type"] == "finding"} == want
    with page.expect_download() as dl:
        page.click("#export-ris")
    path = tmp_path / "cell.ris"
    dl.value.save_as(path)
    ris = path.read_text(encoding="utf-8")
    assert ris.count("TY  - ") == ris.count("ER  - ") == records.count()


def test_gap_map_at_390px_keeps_the_approach_names_on_screen(real_site, browser):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = ctx.new_page()
    try:
        pg.goto(real_site.url + "/-/gaps?framework=ascot")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 395
        wrap = pg.locator(".ev-mapwrap")
        assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")  # the map itself scrolls
        pg.evaluate("window.scrollTo(0, document.querySelector('.ev-mapwrap').getBoundingClientRect().top + window.scrollY)")
        wrap.evaluate("e => e.scrollLeft = e.scrollWidth")
        pg.wait_for_timeout(200)
        assert wrap.evaluate("e => e.scrollLeft") > 0
        pg.screenshot(path=str(ARTIFACTS / "phone-gaps-scrolled.png"))  # the viewport, as a phone shows it
        name = pg.locator("table.ev-gaps tbody th").first
        box = name.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
        # the name is on top at its spot (not covered by a scrolled cell)
        hit = pg.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('th') !== null",
                          [box["x"] + 5, box["y"] + box["height"] / 2])
        assert hit
    finally:
        ctx.close()


def test_evidence_card_shows_strength_and_graded_findings(real_site, page):  # noqa: F811
    page.goto(real_site.url + "/-/approach/community-catalysts")
    shot(page, "approach-strength")
    assert page.locator("li.ev-outcome").count() > 0
    assert page.locator("li.ev-outcome .ev-strength .ev-badge").count() == page.locator("li.ev-outcome").count()
    cells = page.locator("td[data-label='Certainty'] .ev-badge")
    assert cells.count() > 0 and cells.first.inner_text() in ("high", "moderate", "low", "very low")


def test_search_says_when_nothing_close_was_found(real_site, page):  # noqa: F811
    page.goto(real_site.url + "/-/search?q=" + urllib.request.quote("best fertiliser for tomatoes in a greenhouse"))
    shot(page, "search-weak")
    assert page.locator("p.weak").count() == 1 and "Nothing close was found" in page.locator("p.weak").inner_text()
    # the note comes before the results
    assert page.evaluate("document.querySelector('p.weak').compareDocumentPosition(document.querySelector('ol.results')) & 4")
    page.goto(real_site.url + "/-/search?q=" + urllib.request.quote("a village florist who helps older neighbours find local help"))
    assert page.locator("p.weak").count() == 0 and page.locator("ol.results li").count() > 0
