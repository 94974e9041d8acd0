"""Datasette: the public database with metadata.yml, through Datasette's own
client and through a real `evidence serve` process on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
QUERIES = METADATA["databases"]["public"]["queries"]


def ds_get(base: Path, path: str):
    """GET through Datasette(...).client on the built copy's public.db."""
    from datasette.app import Datasette

    async def go():
        ds = Datasette(immutables=[str(base / "public.db")], metadata=METADATA)
        return await ds.client.get(path)

    return asyncio.run(go())


def test_every_public_table_and_column_is_described(built_session):
    import sqlite3

    described = METADATA["databases"]["public"]["tables"]
    conn = sqlite3.connect(built_session / "public.db")
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '%_fts%'")]
    assert names
    for name in names:
        assert name in described and described[name].get("description"), name
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
        missing = [c for c in cols if c not in described[name].get("columns", {})]
        assert not missing, f"{name}: undescribed columns {missing}"
    conn.close()


def test_stories_table_json_has_the_seed_stories(built_session):
    r = ds_get(built_session, "/public/stories.json?_shape=array&_size=max")
    assert r.status_code == 200
    ids = {row["id"] for row in r.json()}
    assert {"james-and-andy", "james-and-phil", "agnes-and-lucia", "debs-creative-minds",
            "pearl-florist-somerset", "older-woman-local-area-coordinator", "nick-shared-lives-ambassador"} <= ids
    assert not any(k.startswith("consent") for row in r.json() for k in row)


def test_facets_are_offered(built_session):
    r = ds_get(built_session, "/public/stories.json?_facet=approach&_facet=area_of_work&_facet=place")
    facets = r.json()["facet_results"]
    assert {"approach", "area_of_work", "place"} <= set(facets)
    shared = [v for v in facets["approach"]["results"] if v["value"] == "shared-lives"]
    assert shared and shared[0]["count"] == 3
    f = ds_get(built_session, "/public/findings.json?_facet=design&_facet=year&_facet=approach").json()
    assert {"design", "year", "approach"} <= set(f["facet_results"])


def test_canned_query_all_evidence_for_an_approach(built_session):
    r = ds_get(built_session, "/public/evidence_for_approach.json?approach=community-catalysts&_shape=array")
    rows = r.json()
    kinds = {row["kind"] for row in rows}
    assert kinds == {"story", "finding"}
    assert any(row["id"] == "pearl-florist-somerset" for row in rows)
    assert any(row["value"] == 27 and row["kind"] == "finding" for row in rows)


def test_canned_query_findings_with_a_sample_size(built_session):
    rows = ds_get(built_session, "/public/findings_with_sample_size.json?_shape=array").json()
    assert rows and all(row["sample_size"] is not None for row in rows)
    assert any(row["sample_size"] == 143 and "Birmingham" in row["study_organisation"] for row in rows)


def test_canned_query_evidence_count_by_approach_and_area(built_session):
    rows = ds_get(built_session, "/public/evidence_count_by_approach_and_area.json?_shape=array").json()
    by = {row["approach"]: row for row in rows}
    assert by["shared-lives"]["stories"] == 3 and by["shared-lives"]["area_of_work"] == "Support with accommodation"
    assert by["community-catalysts"]["findings"] >= 10


def test_story_body_renders_as_markdown_with_html_escaped(built):
    p = built / "stories" / "nick-shared-lives-ambassador.md"
    p.write_text(p.read_text() + "\n\n**Bold words** and <script>alert(1)</script>\n")
    from evidence.build import build

    build(built)
    html = ds_get(built, "/-/story/nick-shared-lives-ambassador").text  # the story's page: the whole narrative
    assert "<strong>Bold words</strong>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    row = ds_get(built, "/public/stories/nick-shared-lives-ambassador").text  # the row: an excerpt
    assert "<script>alert(1)</script>" not in row and 'href="/-/story/nick-shared-lives-ambassador"' in row


def test_robots_are_blocked_by_default(built_session):
    r = ds_get(built_session, "/robots.txt")
    assert r.status_code == 200 and "Disallow: /" in r.text


@pytest.mark.server
def test_real_datasette_serve_answers_tables_and_every_canned_query(server):
    status, headers, body = server.get("/public/stories.json?_shape=array")
    assert status == 200
    stories = {row["id"]: row for row in json.loads(body)}
    assert "more like family" in stories["agnes-and-lucia"]["body"]
    assert "Feeling important is awesome" in stories["nick-shared-lives-ambassador"]["body"]
    values = {"approach": "shared-lives", "domain": "community-outcomes/more-connected", "place": "Somerset",
              "text": "Somerset", "entity": "Somerset", "mention": "somerset", "q": "isolated older woman", "query": "isolated older woman"}
    import re
    import urllib.parse

    for name, spec in QUERIES.items():
        wanted = sorted(set(re.findall(r"(?<!:):([a-z_]+)", spec["sql"])))
        assert all(w in values for w in wanted), f"{name}: give the test a value for {wanted}"
        qs = urllib.parse.urlencode({w: values[w] for w in wanted})
        status, _, body = server.get(f"/public/{name}.json?{qs}")
        assert status == 200, name
        data = json.loads(body)
        assert data["rows"], f"canned query {name} returned no rows"
    _, _, body = server.get("/public/evidence_for_approach.json?approach=shared-lives&_shape=array")
    assert {r["id"] for r in json.loads(body)} >= {"james-and-andy", "james-and-phil", "nick-shared-lives-ambassador"}
    status, _, _ = server.get("/public/findings/birmingham-micro-interviews.json")
    assert status == 200
    status, _, _ = server.get("/public/stories/no-such-story")
    assert status == 404
