"""Datasette's own pages and the charts in headless Chromium (Debian's
/usr/bin/chromium via Playwright) at 1280 and 390 px, against a real
`evidence serve` (fake embedder: these are layout tests). Screenshots go to
test-artifacts/site-<page>-<width>.png."""
from __future__ import annotations


import pytest

from conftest import ARTIFACTS, Server

pytestmark = [pytest.mark.browser, pytest.mark.server]

PAGES = {
    "index": "/",
    "stories": "/public/stories",
    "story-row": "/public/stories/james-and-andy",
    "findings": "/public/findings",
    "query-empty": "/public/evidence_for_approach",
    "query-run": "/public/evidence_for_approach?approach=shared-lives",
    "charts": "/-/charts",
    "card": "/-/approach/shared-lives",
    "story": "/-/story/james-and-andy",
    "search": "/-/search?q=older+woman+isolated",
    "about": "/-/about",
}


@pytest.fixture(scope="module")
def site(built_session):
    srv = Server(built_session)
    yield srv
    srv.stop()


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_the_screen_and_leads_somewhere(site, browser, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    try:
        for name, path in PAGES.items():
            page.goto(site.url + path, timeout=90_000)
            page.wait_for_load_state("load")
            page.screenshot(path=str(ARTIFACTS / f"site-{name}-{width}.png"), full_page=True, timeout=90_000)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            assert overflow <= 1, f"{name} at {width}px is {overflow}px wider than the screen"
            assert page.locator("h1").first.is_visible(), name
        # the stories table: ids lead to story pages
        page.goto(site.url + PAGES["stories"])
        first = page.locator("table.rows-and-columns tbody tr td.col-id a").first
        assert first.get_attribute("href").startswith("/-/story/")
        first.click()
        page.wait_for_load_state("load")
        assert "/-/story/" in page.url and page.locator("h2#h-cite").is_visible()
        # the canned query: choose an approach from the list and run it
        page.goto(site.url + PAGES["query-empty"])
        assert page.locator("select#qp-approach option").count() > 5
        assert page.get_by_text("0 results").count() == 0
        page.select_option("select#qp-approach", "shared-lives")
        page.locator("form.ev-query-form input[type=submit]").click()
        page.wait_for_load_state("load")
        assert page.locator("table.rows-and-columns tbody tr").count() > 0
        # the search filters do not overlap one another
        page.goto(site.url + PAGES["search"])
        boxes = [page.locator(".filters label").nth(i).bounding_box() for i in range(page.locator(".filters label").count())]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1 or
                         a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1)
                assert apart, (a, b)
        assert page.locator("ol.results li a").first.get_attribute("href").startswith(("/-/story/", "/public/findings/"))
        # the charts are drawn and readable: bars wider than a sliver, labels on screen
        page.goto(site.url + PAGES["charts"])
        assert page.locator("svg.ev-barsvg").first.bounding_box()["width"] > 150
        assert page.locator("svg.ev-strip").count() >= 2
        label = page.locator(".ev-chart-label").first.bounding_box()
        assert label["x"] >= 0 and label["x"] + label["width"] <= width
    finally:
        ctx.close()
