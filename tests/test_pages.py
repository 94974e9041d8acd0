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


def test_story_page_highlights_every_supporting_sentence(built_session):
    conn = sqlite3.connect(built_session / "public.db")
    story, = conn.execute("SELECT story_id FROM tag_sentences WHERE rank > 0 GROUP BY story_id "
                          "ORDER BY count(*) DESC, story_id LIMIT 1").fetchone()
    body = conn.execute("SELECT body FROM stories WHERE id = ?", [story]).fetchone()[0]
    spans = set(conn.execute("SELECT start, end FROM tag_sentences WHERE story_id = ?", [story]).fetchall())
    conn.close()
    (page,) = get(built_session, f"/-/story/{story}")
    assert page.status_code == 200
    marked = {" ".join(m.split()) for m in re.findall(r'<mark id="mark-\d+"[^>]*>(.*?)</mark>', page.text, re.S)}
    want = {" ".join(body[s:e].split()) for s, e in spans if "\n\n" not in body[s:e]}
    assert len(want) > 1
    missing = [w for w in want if w not in marked and w.replace("'", "&#39;") not in marked]
    assert not missing, missing
    assert "more highlighted sentence" in page.text


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


def test_a_marked_list_item_or_heading_stays_a_list_item_or_heading():
    """A mark opens after the bullet, number or hashes that begin its line:
    before them, Markdown would no longer read the line as a list item or a
    heading (the mark would show "- Moira ..." in a paragraph)."""
    from evidence.web.plugin.pages import highlight

    body = "Intro.\n\n- Moira opens her own post\n- She walks weekly\n\n## What changed\n\n1. She cooks again"

    def tag(sentence: str, label: str) -> dict:
        start = body.index(sentence)
        return {"sentence_start": start, "sentence_end": start + len(sentence), "status": "suggested", "label": label}

    html, marks = highlight(body, [tag("- Moira opens her own post", "A"), tag("## What changed", "B"),
                                   tag("1. She cooks again", "C")])
    assert len(marks) == 3
    assert '<li><mark id="mark-1" class="tag-suggested" title="suggested: A">Moira opens her own post</mark></li>' in html
    # and the story's own "##" heading sits under the page's h2 "The story"
    assert '<h3><mark id="mark-2" class="tag-suggested" title="suggested: B">What changed</mark></h3>' in html
    assert '<ol>\n<li><mark id="mark-3"' in html and "She cooks again</mark></li>" in html
    assert "- Moira" not in html and "##" not in html


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
