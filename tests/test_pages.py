"""The plugin's pages over HTTP through Datasette(...).client: home, story,
evidence card, gap map and its cells, their JSON, and bad ids."""
from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())


def get(base: Path, *paths: str):
    from datasette.app import Datasette

    async def go():
        ds = Datasette(immutables=[str(base / "public.db")], metadata=METADATA)
        return [await ds.client.get(p) for p in paths]

    # in a thread of its own: Playwright's sync API (the browser tests) keeps
    # an event loop running in the main thread for the session
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_home_leads_to_the_pages_and_search(built_session):
    home, index = get(built_session, "/-/evidence", "/")
    assert home.status_code == 200 and index.status_code == 200
    for href in ("/-/gaps", "/-/search", "/-/approach/shared-lives", "/-/story/debs-creative-minds"):
        assert f'href="{href}"' in home.text, href
    assert 'href="/-/evidence"' in index.text
    assert 'name="viewport"' in home.text and 'href="/-/evidence.css"' in home.text


def test_story_page_highlights_each_tag_sentence_at_its_offsets(built_session):
    (page,) = get(built_session, "/-/story/debs-creative-minds")
    assert page.status_code == 200
    conn = sqlite3.connect(built_session / "public.db")
    body = conn.execute("SELECT body FROM stories WHERE id = 'debs-creative-minds'").fetchone()[0]
    tags = conn.execute("SELECT sentence_start, sentence_end, status FROM tags WHERE story_id = 'debs-creative-minds'").fetchall()
    assert tags
    marks = re.findall(r'<mark id="mark-\d+" class="tag-(\w+)"[^>]*>(.*?)</mark>', page.text, re.S)
    assert marks
    texts = {m[1] for m in marks}
    for s, e, status in tags:
        assert body[s:e].replace("'", "&#39;") in texts or body[s:e] in texts
    assert "Creative Minds" in page.text and "People" in page.text and "Evidence matters" in page.text
    assert 'href="/public/findings/creative-minds-debs-cost"' in page.text  # linked finding
    assert "<h1" in page.text and "<h2" in page.text


def test_highlight_escapes_markup_and_skips_overlaps():
    from evidence.web.plugin.pages import highlight

    body = "First <b>bold</b> claim. Second sentence here."
    html, marks = highlight(body, [
        {"sentence_start": 0, "sentence_end": 24, "status": "confirmed", "label": "A"},
        {"sentence_start": 10, "sentence_end": 30, "status": "suggested", "label": "B"},
        {"sentence_start": 25, "sentence_end": 46, "status": "suggested", "label": "C"},
    ])
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert [m["domains"] for m in marks] == [["A"], ["C"]]
    assert 'class="tag-confirmed"' in html and 'class="tag-suggested"' in html


def test_shared_lives_card_lists_both_james_stories_and_findings_with_numbers(built_session):
    page, js = get(built_session, "/-/approach/shared-lives", "/-/approach/shared-lives.json")
    assert page.status_code == 200
    assert 'href="/-/story/james-and-andy"' in page.text and 'href="/-/story/james-and-phil"' in page.text
    data = js.json()
    assert {s["id"] for s in data["stories"]} >= {"james-and-andy", "james-and-phil"}
    conn = sqlite3.connect(built_session / "public.db")
    n = conn.execute("SELECT count(*) FROM findings WHERE approach = 'shared-lives'").fetchone()[0]
    assert len(data["findings"]) == n
    assert f"Findings ({n})" in page.text
    assert 'href="/public/approaches/shared-lives"' in page.text and "shared-lives.json" in page.text


def test_gap_map_cells_count_what_sql_counts_and_link_to_the_evidence(built_session):
    page, js = get(built_session, "/-/gaps?framework=ascot", "/-/gaps.json?framework=ascot")
    assert page.status_code == 200
    conn = sqlite3.connect(built_session / "public.db")
    data = js.json()
    seen = 0
    for row in data["rows"]:
        for c in row["cells"]:
            a, d = row["approach"]["id"], c["domain"]["id"]
            stories = conn.execute("SELECT count(DISTINCT t.story_id) FROM tags t JOIN stories s ON s.id = t.story_id "
                                   "WHERE s.approach = ? AND t.domain = ?", [a, d]).fetchone()[0]
            confirmed = conn.execute("SELECT count(DISTINCT t.story_id) FROM tags t JOIN stories s ON s.id = t.story_id "
                                     "WHERE s.approach = ? AND t.domain = ? AND t.status = 'confirmed'", [a, d]).fetchone()[0]
            findings = conn.execute("SELECT count(DISTINCT t.finding_id) FROM tags t JOIN findings f ON f.id = t.finding_id "
                                    "WHERE f.approach = ? AND t.domain = ?", [a, d]).fetchone()[0]
            assert (c["stories_confirmed"], c["stories_suggested"], c["findings"]) == (
                confirmed, stories - confirmed, findings), (a, d)
            seen += bool(stories or findings)
    assert seen and data["gaps"] > 0
    a, d = conn.execute("SELECT s.approach, t.domain FROM tags t JOIN stories s ON s.id = t.story_id "
                        "WHERE t.framework = 'ascot' ORDER BY s.approach, t.domain LIMIT 1").fetchone()
    href = f"/-/gaps/{a}/{d}"
    assert f'href="{href}"' in page.text
    cell, cell_js = get(built_session, href, href + ".json")
    assert cell.status_code == 200
    want = {r[0] for r in conn.execute("SELECT t.story_id FROM tags t JOIN stories s ON s.id = t.story_id "
                                       "WHERE s.approach = ? AND t.domain = ?", [a, d])}
    assert {s["id"] for s in cell_js.json()["stories"]} == want
    for sid in want:
        assert f'href="/-/story/{sid}"' in cell.text


@pytest.mark.parametrize("path", ["/-/story/no-such-story", "/-/approach/no-such", "/-/gaps?framework=nope",
                                  "/-/gaps/shared-lives/ascot/nope"])
def test_unknown_ids_are_404_pages_saying_what_is_missing(built_session, path):
    (page,) = get(built_session, path)
    assert page.status_code == 404 and "no " in page.text and "Traceback" not in page.text


def test_pages_use_only_the_plugins_own_assets(built_session):
    for page in get(built_session, "/-/evidence", "/-/gaps", "/-/story/pearl-florist-somerset", "/-/approach/community-catalysts"):
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text):
            assert not url.startswith(("http:", "https:", "//")), url
