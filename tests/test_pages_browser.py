"""End-to-end: headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; nothing downloaded) against a real `evidence serve` on
127.0.0.1, on a copy built with the real embedding model. Screenshots go to
test-artifacts/."""
from __future__ import annotations

import sqlite3

import pytest

from conftest import ARTIFACTS, Server, copy_base

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.model]

@pytest.fixture(scope="module")
def real_site(tmp_path_factory):
    """A copy built with the real model, served by a real `evidence serve`."""
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    root = copy_base(tmp_path_factory.mktemp("browser") / "base")
    build(root, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
    srv = Server(root, env={"EVIDENCE_EMBEDDER": ""})
    yield srv
    srv.stop()


def shot(page, name: str) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, timeout=90_000)


def test_debs_page_highlights_her_occupation_sentence(real_site, page):
    conn = sqlite3.connect(real_site.root / "public.db")
    row = conn.execute("SELECT sentence, status FROM tags WHERE story_id = 'debs-creative-minds' "
                       "AND domain = 'ascot/occupation'").fetchone()
    assert row, "the real model tags Debs' story with ASCOT Occupation"
    page.goto(real_site.url + "/-/story/debs-creative-minds")
    shot(page, "story-debs")
    assert page.locator("h1").inner_text().startswith("Debs")
    marks = page.locator(f"mark.tag-{row[1]}[title*='Occupation']")
    assert marks.count() >= 1
    # every sentence that supports a tag is highlighted, not only the best one
    n = conn.execute("SELECT count(DISTINCT start) FROM tag_sentences WHERE story_id = 'debs-creative-minds'").fetchone()[0]
    assert page.locator("mark").count() >= n - 1  # (one may cross a paragraph and is listed, not marked)
    assert " ".join(row[0].split()) in " ".join(marks.first.inner_text().split())
    assert marks.first.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    # the tag list links to the highlighted sentence
    page.locator("ul.ev-tags li", has_text="Occupation").locator("a", has_text="see the sentence").first.click()
    assert page.url.endswith("#" + marks.first.get_attribute("id"))
    # linked findings: the Creative Minds cost finding, followed to its row
    link = page.locator("ul.ev-findings a[href='/public/findings/creative-minds-debs-cost']")
    assert link.count() == 1
    link.click()
    page.wait_for_load_state()
    assert "/public/findings/creative-minds-debs-cost" in page.url and "far outweighed" in page.content()


def test_shared_lives_card_lists_both_james_stories(real_site, page):
    page.goto(real_site.url + "/-/approach/shared-lives")
    shot(page, "approach-shared-lives")
    stories = page.locator("section:has(h2#h-stories) li a")
    hrefs = [stories.nth(i).get_attribute("href") for i in range(stories.count())]
    assert "/-/story/james-and-andy" in hrefs and "/-/story/james-and-phil" in hrefs
    page.locator("a[href='/-/story/james-and-phil']").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("James")
    page.go_back()
    page.locator("a", has_text="this card as JSON").click()
    assert '"james-and-andy"' in page.content()


def test_gap_map_cell_counts_match_sql_and_open_the_evidence(real_site, page):
    conn = sqlite3.connect(real_site.root / "public.db")
    a, d, n, nc = conn.execute(
        "SELECT s.approach, t.domain, count(DISTINCT t.story_id) AS n, "
        "count(DISTINCT CASE WHEN t.status = 'confirmed' THEN t.story_id END) FROM tags t JOIN stories s ON s.id = t.story_id "
        "WHERE t.framework = 'ascot' GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT 1").fetchone()
    nf = conn.execute("SELECT count(DISTINCT t.finding_id) FROM tags t JOIN findings f ON f.id = t.finding_id "
                      "WHERE f.approach = ? AND t.domain = ?", [a, d]).fetchone()[0]
    page.goto(real_site.url + "/-/gaps")
    page.select_option("#framework", "ascot")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    shot(page, "gap-map")
    cell = page.locator(f"td[data-approach='{a}'][data-domain='{d}']")
    assert cell.locator(".ev-ns").inner_text() == str(nc)  # stories whose tag a curator confirmed
    if n > nc:
        assert cell.locator(".ev-sug").inner_text() == f"+{n - nc}"  # suggestions only
    assert cell.locator(".ev-nf").inner_text() == str(nf)
    assert page.locator("td.ev-gap").count() > 0  # the gaps show
    cell.locator("a").click()
    page.wait_for_load_state()
    shot(page, "gap-cell")
    assert page.url.endswith(f"/-/gaps/{a}/{d}")
    want = {r[0] for r in conn.execute("SELECT t.story_id FROM tags t JOIN stories s ON s.id = t.story_id "
                                       "WHERE s.approach = ? AND t.domain = ?", [a, d])}
    got = {h.split("/")[-1] for h in page.locator("section:has(h2#h-s) li > a").evaluate_all("els => els.map(e => e.getAttribute('href'))")}
    assert got == want and len(want) == n


def test_home_leads_everywhere_and_search_runs(real_site, page):
    page.goto(real_site.url + "/")
    page.locator("a", has_text="Explore the evidence").click()
    page.wait_for_load_state()
    shot(page, "home")
    for name in ("Gap map", "Search by meaning"):
        assert page.locator(".ev-ways a", has_text=name).count() == 1
    page.locator(".ev-ways a", has_text="Search by meaning").click()
    page.wait_for_load_state()
    page.fill("input[name=q]", "a village florist who helps older neighbours find local help")
    with page.expect_navigation(timeout=90_000):  # the search answers with a new page
        page.keyboard.press("Enter")
    shot(page, "search")
    assert "pearl-florist-somerset" in page.content()


def test_phone_width_and_keyboard(real_site, browser):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    pg = ctx.new_page()
    try:
        for path, name in (("/-/story/pearl-florist-somerset", "phone-story"), ("/-/approach/community-catalysts", "phone-card"),
                           ("/-/gaps", "phone-gaps")):
            pg.goto(real_site.url + path)
            shot(pg, name)
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 380, (path, width)  # wide tables scroll inside their own region
        pg.goto(real_site.url + "/-/evidence")
        pg.keyboard.press("Tab")
        focused = pg.evaluate("document.activeElement.textContent")
        assert "Skip to content" in focused
        seen = set()
        for _ in range(40):
            pg.keyboard.press("Tab")
            seen.add(pg.evaluate("document.activeElement.getAttribute('href')"))
        assert "/-/gaps" in seen
    finally:
        ctx.close()
