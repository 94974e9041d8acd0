"""Tags, entities and the outcome-domain views in Datasette: in-process with
Datasette(...).client, and over HTTP from a real `evidence serve`."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def get(built_session: Path):
    ds = Datasette(files=[], immutables=[str(built_session / "public.db")],
                   metadata=yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8")))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ds.invoke_startup())
    yield lambda path: loop.run_until_complete(ds.client.get(path))
    loop.close()


def rows(get, path: str) -> list[dict]:
    r = get(path)
    assert r.status_code == 200, (path, r.text[:300])
    return r.json()["rows"]


def test_story_page_links_to_its_tags_with_sentences(get, built_session: Path):
    conn = sqlite3.connect(built_session / "public.db")
    n = conn.execute("SELECT count(*) FROM tags WHERE story_id = 'james-and-andy'").fetchone()[0]
    conn.close()
    assert n > 0
    page = get("/public/stories/james-and-andy")
    assert page.status_code == 200
    assert "/public/tags?story_id=james-and-andy" in page.text  # 'Links from other tables'
    tags = rows(get, "/public/tags.json?story_id=james-and-andy&_shape=objects")
    assert len(tags) == n
    body = rows(get, "/public/stories/james-and-andy.json?_shape=objects")[0]["body"]
    for t in tags:
        assert body[t["sentence_start"]:t["sentence_end"]] == t["sentence"]
        assert t["status"] != "rejected"


def test_evidence_by_domain_counts_stories_and_findings(get, built_session: Path):
    by_domain = {r["domain"]: r for r in rows(get, "/public/evidence_by_domain.json?_shape=objects&_size=max")}
    conn = sqlite3.connect(built_session / "public.db")
    expected = dict(conn.execute("SELECT domain, count(*) FROM tags WHERE item_type = 'story' GROUP BY domain").fetchall())
    conn.close()
    assert len(by_domain) == 11
    for domain, n in expected.items():
        assert by_domain[domain]["stories"] == n
    assert any(r["findings"] for r in by_domain.values())
    assert any(r["approaches"] for r in by_domain.values())


def test_stories_by_domain_facets_and_canned_query(get):
    data = get("/public/stories_by_domain.json?_facet=domain").json()
    facet = data["facet_results"]["domain"]["results"]
    assert facet and all(f["count"] >= 1 for f in facet)
    domain = facet[0]["value"]
    both = rows(get, f"/public/evidence_for_domain.json?domain={domain}&_shape=objects")
    assert both and all(r["sentence"] for r in both)
    assert {r["kind"] for r in both} <= {"story", "finding"}


def test_stories_that_mention_somerset(get):
    found = rows(get, "/public/stories_mentioning.json?mention=Somerset&_shape=objects")
    assert {r["id"] for r in found if r["kind"] == "story"} == {"pearl-florist-somerset"}
    ents = rows(get, "/public/entities.json?label=QUANTITY&item_id=pearl-florist-somerset&_shape=objects")
    assert any(e["value"] == 27 and e["unit"] == "local people" for e in ents)


def test_metadata_documents_every_public_column(built_session: Path):
    meta = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["databases"]["public"]
    conn = sqlite3.connect(built_session / "public.db")
    for table in ("tags", "entities", "evidence_by_domain", "stories_by_domain"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
        assert cols and set(cols) == set(meta["tables"][table]["columns"]), table
    conn.close()
    assert "evidence_for_domain" in meta["queries"]


@pytest.mark.server
def test_real_server_serves_tags_and_domain_views(server):
    status, _, body = server.get("/public/evidence_by_domain.json?_shape=objects")
    assert status == 200
    assert len(json.loads(body)["rows"]) == 11
    status, _, body = server.get("/public/stories/debs-creative-minds")
    assert status == 200 and b"/public/tags?story_id=debs-creative-minds" in body
