"""Datasette's pages made to lead somewhere (issue 16), over HTTP through
Datasette(...).client: the index, the stories table and row, facets, canned
queries, story links everywhere, evidence cards, "cite this", the charts,
the Atom feed (and a withdrawn story leaving it), the about page; and the
formatting of values, notes and citations."""
from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_pages import get

ATOM = "{http://www.w3.org/2005/Atom}"


def public(base: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(base / "public.db")
    conn.row_factory = sqlite3.Row
    return conn


# --- the index ---------------------------------------------------------------

def test_index_lists_stories_findings_approaches_studies_first_and_hides_internal_tables(built_session):
    (index,) = get(built_session, "/")
    html = index.text
    positions = [html.index(f'href="/public/{t}"') for t in ("stories", "findings", "approaches", "studies")]
    assert positions == sorted(positions)
    first_list = html[html.index('class="ev-index-first"'):html.index("</ul>", html.index('class="ev-index-first"'))]
    for internal in ("tags", "entities", "passages", "embeddings", "links"):
        assert f'href="/public/{internal}"' not in first_list
        assert f"select+*+from+{internal}" in html  # named as internal, open to SQL
    assert 'href="/-/about"' in html  # the About line is a link


def test_hidden_tables_are_still_queryable(built_session):
    (tables, tags) = get(built_session, "/public.json", "/public/tags.json?_shape=array&_size=2")
    hidden = {t["name"] for t in tables.json()["tables"] if t["hidden"]}
    assert {"tags", "entities", "passages", "embeddings", "links"} <= hidden
    assert tags.status_code == 200 and len(tags.json()) == 2


# --- the stories table and row ---------------------------------------------

def test_stories_table_shows_excerpts_and_names_and_ids_lead_to_story_pages(built_session):
    (page,) = get(built_session, "/public/stories")
    html = page.text
    conn = public(built_session)
    for row in conn.execute("SELECT id, body, people FROM stories"):
        assert f'href="/-/story/{row["id"]}"' in html
        assert row["body"][:400] not in html  # not the whole narrative
        assert row["people"] not in html and '{&#34;name&#34;' not in html  # not JSON
    assert 'class="ev-excerpt"' in html
    andy = conn.execute("SELECT people FROM stories WHERE id = 'james-and-andy'").fetchone()[0]
    names = [p["name"] for p in json.loads(andy) if p["name"]]
    assert ", ".join(names) in html
    # column notes folded into one <details>, not a list above the rows
    assert '<details class="ev-column-notes">' in html
    assert html.index('<details class="ev-column-notes">') < html.index('<table class="rows-and-columns')


def test_story_row_page_leads_to_the_story_page(built_session):
    (row,) = get(built_session, "/public/stories/james-and-andy")
    assert row.status_code == 200
    assert '<a href="/-/story/james-and-andy"><strong>Read this story on its page</strong>' in row.text
    assert '<dl class="ev-row-dl">' in row.text  # one value per line, not an 80 px column


def test_story_id_and_path_columns_lead_to_story_pages(built_session):
    pages = get(built_session, "/public/story_people", "/public/evidence?kind=story", "/public/stories_by_domain",
                "/public/story_findings", "/public/evidence_for_domain?domain=ascot/social-participation-and-involvement")
    for page in pages:
        assert page.status_code == 200, page.url
        assert re.search(r'href="/-/story/[\w-]+"', page.text), page.url
        assert not re.search(r'href="/public/stories/[\w-]+"', page.text), page.url
    rows = get(built_session, "/public/evidence.json?kind=story&_shape=array")[0].json()
    assert rows and all(r["path"] == f"/-/story/{r['id']}" for r in rows)


# --- facets ------------------------------------------------------------------

def test_facets_show_no_blank_or_zero_buckets(built_session):
    conn = public(built_session)
    assert conn.execute("SELECT count(*) FROM findings WHERE place = ''").fetchone()[0] > 0  # blanks exist
    for path in ("/public/findings", "/public/evidence", "/public/stories"):
        (page,) = get(built_session, path)
        facets = page.text[page.text.index('class="facet-results"'):]
        facets = facets[:facets.index("</div>\n</div>") if "</div>\n</div>" in facets else len(facets)]
        assert not re.search(r">\s*-\s*</a>", facets), path  # Datasette's "-" for a blank value
        assert not re.search(r">\s*0\s*</a>\s*[\d,]+", facets), path  # "year 0"
        assert not re.search(r"</a> 0</li>", facets), path  # a zero count


# --- canned queries ----------------------------------------------------------

def test_canned_query_offers_known_values_and_shows_no_zero_results_before_running(built_session):
    conn = public(built_session)
    (empty, run, domain) = get(built_session, "/public/evidence_for_approach",
                               "/public/evidence_for_approach?approach=shared-lives",
                               "/public/evidence_for_domain")
    assert '<select id="qp-approach" name="approach">' in empty.text
    for (aid,) in conn.execute("SELECT id FROM approaches"):
        assert f'<option value="{aid}"' in empty.text
    assert "0 results" not in empty.text and "No rows" not in empty.text and "Choose a value" in empty.text
    assert '<option value="shared-lives" selected>' in run.text
    n = conn.execute("SELECT count(*) FROM evidence WHERE approach = 'shared-lives'").fetchone()[0]
    assert run.text.count("<tr>") - 1 == n  # header row + one per result
    assert 'href="/-/story/james-and-andy"' in run.text
    for (did,) in conn.execute("SELECT id FROM domains"):
        assert f'<option value="{did}"' in domain.text


# --- evidence cards and story pages -------------------------------------------

def test_cards_carry_no_curation_notes_and_cite_their_sources(built_session):
    conn = public(built_session)
    assert conn.execute("SELECT count(*) FROM approaches WHERE scale_note LIKE '%(seed%'").fetchone()[0] > 0
    for (aid,) in conn.execute("SELECT id FROM approaches"):
        (page, js) = get(built_session, f"/-/approach/{aid}", f"/-/approach/{aid}.json")
        assert page.status_code == 200
        assert "(seed" not in page.text and "seed 0" not in page.text and "The seeds" not in page.text, aid
        assert '"seed"' not in js.text and "(seed" not in js.text, aid
        assert 'class="ev-cite-line"' in page.text, aid


def test_card_writes_money_and_percentages_as_sources_do(built):
    import yaml

    from evidence.build import build

    study = built / "findings" / "creative-minds-debs.yml"
    data = yaml.safe_load(study.read_text())
    data["findings"].append({"id": "creative-minds-invented-cost", "statement": "An invented cost for the test.",
                             "value": 26000, "unit": "£ a year per person", "approach": "creative-minds"})
    study.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    build(built)
    (card,) = get(built, "/-/approach/creative-minds")
    assert "£26,000 a year per person" in card.text and "26,000 £" not in card.text


def test_story_page_has_a_cite_this_line(built_session):
    conn = public(built_session)
    s = conn.execute("SELECT * FROM stories WHERE id = 'james-and-andy'").fetchone()
    (page,) = get(built_session, "/-/story/james-and-andy")
    line = page.text[page.text.index('class="ev-cite-line"'):]
    line = line[:line.index("</p>")]
    for field in ("source_title", "source_author", "source_organisation"):
        assert s[field] and s[field].replace("'", "&#39;") in line, field
    assert "/-/story/james-and-andy" in line


# --- charts ------------------------------------------------------------------

def test_charts_page_is_svg_without_script_and_its_numbers_match_the_database(built_session):
    (page, js) = get(built_session, "/-/charts", "/-/charts.json")
    assert page.status_code == 200 and js.status_code == 200
    main = page.text[page.text.index('<main id="main"'):page.text.index("</main>")]
    assert "<script" not in main and "http" not in main.replace('href="http', "")  # nothing loaded
    assert main.count("<svg") >= 3
    data = js.json()
    conn = public(built_session)
    by = {r["id"]: r for r in data["by_approach"]}
    for (aid,) in conn.execute("SELECT id FROM approaches"):
        stories = conn.execute("SELECT count(*) FROM stories WHERE approach = ?", [aid]).fetchone()[0]
        findings = conn.execute("SELECT count(*) FROM findings WHERE approach = ?", [aid]).fetchone()[0]
        assert by[aid]["stories_confirmed"] + by[aid]["stories_suggested"] == stories
        assert by[aid]["findings"] == findings
    dom = {d["id"]: d for d in data["by_domain"]}
    for (did,) in conn.execute("SELECT id FROM domains"):
        n = conn.execute("SELECT count(DISTINCT story_id) FROM tags WHERE domain = ? AND item_type = 'story'", [did]).fetchone()[0]
        assert dom[did]["stories"] == n
    n_values = conn.execute("SELECT count(*) FROM findings WHERE value IS NOT NULL").fetchone()[0]
    assert len(data["values"]) == n_values and main.count("<circle") == n_values


# --- the feed ------------------------------------------------------------------

def feed(base: Path) -> ET.Element:
    (r,) = get(base, "/-/feed.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(r.content)


def test_feed_is_atom_with_every_published_story(built_session):
    root = feed(built_session)
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}updated") is not None
    links = {e.find(f"{ATOM}link").get("href") for e in root.iter(f"{ATOM}entry")}
    conn = public(built_session)
    for (sid,) in conn.execute("SELECT id FROM stories"):
        assert any(h.endswith(f"/-/story/{sid}") for h in links), sid
    assert any("/public/findings/" in h for h in links)
    for e in root.iter(f"{ATOM}entry"):
        assert e.find(f"{ATOM}id").text and e.find(f"{ATOM}updated").text and e.find(f"{ATOM}title").text


def test_withdrawn_story_leaves_the_feed_at_the_next_build(built, cli):
    before = ET.tostring(feed(built), encoding="unicode")
    assert "/-/story/james-and-phil" in before
    r = cli(["withdraw", "james-and-phil", "--reason", "consent-withdrawn", "--root", built])
    assert r.exit_code == 0, r.output
    after = ET.tostring(feed(built), encoding="unicode")
    assert "james-and-phil" not in after and "/-/story/james-and-andy" in after


# --- the about page and the CLI's URLs ------------------------------------------

def test_about_page(built_session):
    (page,) = get(built_session, "/-/about")
    assert page.status_code == 200 and "evidence export" in page.text and 'href="/-/feed.atom"' in page.text


def _about_with(base: Path, metadata: dict) -> str:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from datasette.app import Datasette

    async def go():
        ds = Datasette(immutables=[str(base / "public.db")], metadata=metadata)
        return (await ds.client.get("/-/about")).text

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_about_page_says_how_far_to_trust_the_tags(built_session):
    """The frameworks and the tag counts come from the database; the
    measured strength from metadata.yml, and only for the frameworks it was
    measured on."""
    import html as htmllib

    from test_pages import METADATA

    conn = sqlite3.connect(built_session / "public.db")
    titles = [t for (t,) in conn.execute("SELECT title FROM frameworks ORDER BY id")]
    counts = dict(conn.execute("SELECT status, count(*) FROM tags GROUP BY status").fetchall())
    ids = sorted(i for (i,) in conn.execute("SELECT id FROM frameworks"))
    conn.close()
    strength = METADATA["evidence_strength"]
    assert sorted(strength["frameworks"]) == ids  # the shipped figures are for the shipped codebooks
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", _about_with(built_session, METADATA)))
    assert all(t in text for t in titles)
    assert f"{counts.get('suggested', 0):,} outcome tags here are suggested" in text, text[text.find("trust"):][:400]
    assert f"{counts.get('confirmed', 0):,} confirmed by a curator" in text
    assert strength["tags"] in text and strength["search"] in text and strength["measured"] in text

    other = {**METADATA, "evidence_strength": {**strength, "frameworks": ["carers-wellbeing"]}}
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", _about_with(built_session, other)))
    assert strength["tags"] not in text and strength["search"] not in text
    assert "have not been measured on these outcome frameworks (the figures this evidence base holds are for carers-wellbeing)" in text
    bare = {k: v for k, v in METADATA.items() if k != "evidence_strength"}
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", _about_with(built_session, bare)))
    assert "have not been measured on these outcome frameworks, so no figures are given here" in text


def test_cli_search_prints_absolute_urls_with_a_base_url(cli, built_session, monkeypatch):
    r = cli(["search", "older woman isolated", "--root", built_session, "--json", "-n", "3",
             "--base-url", "https://evidence.example.org/"])
    assert r.exit_code == 0, r.output
    urls = [h["url"] for h in json.loads(r.stdout)]
    assert urls and all(u.startswith("https://evidence.example.org/") for u in urls)
    assert all("/-/story/" in u or "/public/findings/" in u for u in urls)
    monkeypatch.setenv("EVIDENCE_BASE_URL", "https://env.example.org")
    r = cli(["similar", "james-and-andy", "--root", built_session, "--json", "-n", "2"])
    assert all(h["url"].startswith("https://env.example.org/") for h in json.loads(r.stdout))
    r = cli(["search", "older woman", "--root", built_session, "--base-url", "evidence.example.org"])
    assert r.exit_code == 1 and "must start with http" in r.stderr


# --- formatting --------------------------------------------------------------

@pytest.mark.parametrize("value, unit, text", [
    (26000, "£ a year per person", "£26,000 a year per person"),
    (2.5, "GBP per hour", "£2.50 per hour"),
    (-1200, "£", "-£1,200"),
    (20, "% of personal budget holders", "20% of personal budget holders"),
    (-9.3, "% change in workforce", "-9.3% change in workforce"),
    (500000, "people with personal budgets", "500,000 people with personal budgets"),
    (None, "people", ""),
])
def test_format_value(value, unit, text):
    from evidence.web.formatting import format_value

    assert format_value(value, unit) == text


def test_public_note_removes_curation_marks_and_keeps_the_words():
    from evidence.web.formatting import public_note

    assert public_note("Long-established (seed 000); “national” (seed 003, A Post).") == "Long-established; “national”."
    assert public_note("The seeds do not describe its scale.") == ""
    assert public_note("Reaches 40 towns (curator: check the figure).") == "Reaches 40 towns."
    assert public_note("Seedlings of growth in three counties.") == "Seedlings of growth in three counties."


def test_excerpt_and_people_names():
    from evidence.web.formatting import excerpt, people_names

    text = "**Rita** lives with [Tom](https://example.org). " + "word " * 100
    out = excerpt(text, 60)
    assert out.startswith("Rita lives with Tom.") and out.endswith("…") and len(out) <= 61 and "*" not in out
    assert people_names('[{"name": "Rita", "role": "x"}, {"name": "", "role": "her GP"}]') == ["Rita", "her GP"]
    assert people_names("not json") == []


# --- the page cache ---------------------------------------------------------

def test_page_cache_serves_each_url_its_own_page_and_only_table_pages(built_session):
    from evidence.web.plugin.page_cache import cacheable

    dbs = {"public": object()}
    assert cacheable("/public/stories", dbs) == "public" and cacheable("/public/stories/james-and-andy", dbs) == "public"
    assert cacheable("/public/stories.json", dbs) is None and cacheable("/-/search", dbs) is None
    assert cacheable("/-/charts", dbs) == "*" and cacheable("/other/stories", dbs) is None
    a1, b1, a2, b2 = get(built_session, "/public/stories?_sort=id", "/public/stories?_sort_desc=id",
                         "/public/stories?_sort=id", "/public/stories?_sort_desc=id")
    assert a1.text == a2.text and b1.text == b2.text and a1.text != b1.text
    assert a1.text.index("agnes-and-lucia") < a1.text.index("pearl-florist-somerset")
    assert b1.text.index("pearl-florist-somerset") < b1.text.index("agnes-and-lucia")
