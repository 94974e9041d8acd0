"""The plugin's search page, JSON, SQL function and "more like this",
through Datasette(...).client and through a real `evidence serve`."""
from __future__ import annotations

import asyncio
import json
import urllib.parse

import pytest
import yaml
from datasette.app import Datasette

from conftest import ROOT

BUS = "older patient isolation bus service GP"


@pytest.fixture(scope="module")
def get(built_session):
    """get(path) -> httpx response from an in-process Datasette on public.db."""
    ds = Datasette(files=[], immutables=[str(built_session / "public.db")],
                   metadata=yaml.safe_load((ROOT / "metadata.yml").read_text()))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ds.invoke_startup())

    def fetch(path: str):
        return loop.run_until_complete(ds.client.get(path))

    yield fetch
    loop.close()


def q(text: str) -> str:
    return urllib.parse.quote_plus(text)


def test_search_page_shows_results_linking_to_story_pages_with_the_passage_marked(get):
    r = get(f"/-/search?q={q(BUS)}&limit=3")
    assert r.status_code == 200
    html = r.text
    assert '<input type="search" name="q" value="older patient isolation bus service GP"' in html
    assert '<a href="/-/story/older-woman-local-area-coordinator"><strong>' in html
    first = html.index("<li>", html.index('<ol class="results">'))
    assert "<mark>" in html[first:first + 2000] and "bus service" in html[first:html.index("</li>", first)]
    assert html.count("<li>", html.index('<ol class="results">'), html.index("</ol>")) == 3
    for name in ("type", "approach", "area", "place", "mode"):
        assert f'name="{name}"' in html
    assert '<option value="shared-lives"' in html


def test_search_results_show_the_passage_as_a_reader_sees_it_not_its_markdown(get):
    # the seed stories end with an emphasised source line ("*Source: ...*"); search for it
    r = get(f"/-/search?q={q('Source Small and personal promoting innovative models of support Alex Fox')}&limit=5&mode=fts")
    assert r.status_code == 200
    results = r.text[r.text.index('<ol class="results">'):r.text.index("</ol>")]
    quotes = [results[i:results.index("</blockquote>", i)] for i in range(len(results)) if results.startswith("<blockquote>", i)]
    assert any("Source:" in b for b in quotes), quotes
    for b in quotes:
        assert "*" not in b and "](" not in b, b


def test_display_text_takes_out_markdown_and_keeps_the_joins():
    from evidence.web.formatting import display_text

    assert display_text("*Source: \"Small\", Alex Fox.*") == 'Source: "Small", Alex Fox.'
    assert display_text(" and **bold** words with [a link](https://x.org) ") == " and bold words with a link "
    assert display_text("end of a line\n\n") == "end of a line "
    assert display_text("") == "" and display_text("  ") == " "


def test_search_page_without_a_query_is_just_the_form(get):
    r = get("/-/search")
    assert r.status_code == 200 and '<form action="/-/search"' in r.text and '<ol class="results">' not in r.text
    assert 'href="/-/search">Search by meaning<' in get("/").text  # in the menu of every page


def test_search_json(get):
    r = get(f"/-/search.json?q={q(BUS)}&limit=4&type=story")
    assert r.status_code == 200
    data = r.json()
    assert data["ok"] and data["filters"] == {"type": "story"} and len(data["results"]) == 4
    top = data["results"][0]
    assert top["id"] == "older-woman-local-area-coordinator" and top["url"] == "/-/story/older-woman-local-area-coordinator"
    assert {"id", "type", "title", "score", "snippet", "url"} <= set(top)
    assert all(h["type"] == "story" for h in data["results"])


@pytest.mark.parametrize("query, message", [
    ("q=", "the query is empty"),
    (f"q={q(BUS)}&approach=nope", "unknown approach 'nope'"),
    (f"q={q(BUS)}&limit=lots", "limit 'lots' is not a number"),
    (f"q={q(BUS)}&mode=magic", "unknown mode 'magic'"),
    (f"q={q(BUS)}&domain=ascot/control", "unknown domain 'ascot/control'"),
])
def test_bad_queries_are_400_with_the_reason(get, query, message):
    r = get(f"/-/search.json?{query}")
    assert r.status_code == 400 and r.json()["ok"] is False and message in r.json()["error"]
    page = get(f"/-/search?{query}")
    if query == "q=":  # the HTML page without a query is the empty form
        assert page.status_code == 200 and 'class="error"' not in page.text
    else:
        shown = message.replace("'", "&#39;")
        assert page.status_code == 400 and f'<p class="error">{shown}' in page.text


def test_sql_function_evidence_similar(get):
    sql = f"select json_extract(value, '$.id') as id, json_extract(value, '$.type') as type, json_extract(value, '$.score') as score from json_each(evidence_similar('{BUS}', 3))"
    r = get(f"/public.json?_shape=array&sql={q(sql)}")
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == 3 and rows[0]["id"] == "older-woman-local-area-coordinator"
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    sql = "select evidence_similar('bus', 2, 'finding') as j"
    out = json.loads(get(f"/public.json?_shape=array&sql={q(sql)}").json()[0]["j"])
    assert len(out) == 2 and {o["type"] for o in out} == {"finding"}


def test_canned_query_joins_meaning_with_findings(get):
    r = get(f"/public/stories_like_text_with_findings.json?_shape=array&text={q('village florist helping older neighbours')}")
    assert r.status_code == 200, r.text
    rows = r.json()
    assert rows and rows[0]["story"] == "pearl-florist-somerset"
    assert all(row["sample_size"] is not None for row in rows)
    r = get(f"/public/similar_to_text.json?_shape=array&text={q(BUS)}")
    assert r.status_code == 200 and r.json()[0]["id"] == "older-woman-local-area-coordinator"


def test_story_page_shows_more_like_this(get):
    r = get("/public/stories/james-and-andy")
    assert r.status_code == 200
    html = r.text
    section = html[html.index("<h2>More like this</h2>"):]
    links = section[:section.index("</ul>")].count("<li>")
    assert links == 5 and "/public/stories/james-and-andy\"" not in section[:section.index("</ul>")]
    assert 'href="/-/similar/james-and-andy"' in section


def test_similar_page_and_json(get):
    r = get("/-/similar/james-and-andy.json?limit=3")
    assert r.status_code == 200 and len(r.json()["results"]) == 3
    assert "james-and-andy" not in {h["id"] for h in r.json()["results"]}
    assert get("/-/similar/james-and-andy").text.count("<mark>") == 10
    r = get("/-/similar/no-such-story.json")
    assert r.status_code == 404 and "unknown id 'no-such-story'" in r.json()["error"]


@pytest.mark.server
def test_real_server_search_json_page_sql_and_story_page(server):
    status, _, body = server.get(f"/-/search.json?q={q(BUS)}&limit=2")
    assert status == 200
    data = json.loads(body)
    assert data["results"][0]["id"] == "older-woman-local-area-coordinator" and len(data["results"]) == 2
    status, _, body = server.get(f"/-/search?q={q(BUS)}")
    assert status == 200 and b"<mark>" in body
    sql = "select json_extract(value, '$.id') as id from json_each(evidence_similar('florist village shop', 2))"
    status, _, body = server.get(f"/public.json?_shape=array&sql={q(sql)}")
    assert status == 200 and len(json.loads(body)) == 2
    status, _, body = server.get("/public/stories/pearl-florist-somerset")
    assert status == 200 and b"More like this" in body
    status, _, body = server.get("/-/search.json?q=")
    assert status == 400 and b"the query is empty" in body
