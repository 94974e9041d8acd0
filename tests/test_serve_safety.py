"""`evidence serve` is safe by default: SQL with a time limit and capped
rows, no database download, no trace or template debugging, robots blocked
unless --allow-robots, and a short cache lifetime that a client cannot
lengthen. Checked over HTTP against real `evidence serve` processes, and
in-process with Datasette(...).client."""
from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import Server

SLOW = "with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000000) select count(*) from c"
MANY = "with recursive c(x) as (select 1 union all select x + 1 from c where x < 5000) select x from c"


def q(sql: str) -> str:
    return urllib.parse.quote(sql)


def _max_age(headers: dict) -> int:
    cc = {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
    return int(cc.split("max-age=")[1].split(",")[0])


@pytest.mark.server
class TestRealServer:
    def test_sql_is_allowed(self, server):
        status, _, body = server.get(f"/public.json?sql={q('select count(*) as n from stories')}&_shape=array")
        assert status == 200 and json.loads(body) == [{"n": 7}]

    def test_sql_has_a_time_limit(self, server):
        status, _, body = server.get(f"/public.json?sql={q(SLOW)}")
        assert status == 400 and "took too long" in json.loads(body)["error"]

    def test_returned_rows_are_capped_even_as_a_csv_stream(self, server):
        status, _, body = server.get(f"/public.json?sql={q(MANY)}")
        data = json.loads(body)
        assert status == 200 and len(data["rows"]) == 1000 and data["truncated"] is True
        status, _, body = server.get(f"/public.csv?sql={q(MANY)}")
        assert status == 200 and len(body.decode().strip().splitlines()) == 1001  # header + 1000
        status, _, body = server.get(f"/public.csv?sql={q(MANY)}&_stream=on")  # would bypass the cap
        assert status == 400 and b"CSV streaming is disabled" in body

    def test_the_database_cannot_be_downloaded(self, server):
        assert server.get("/public.db")[0] == 403

    def test_no_trace_or_template_debugging(self, server):
        status, _, body = server.get("/public/stories.json?_trace=1")
        assert status == 200 and "_trace" not in json.loads(body)
        status, headers, body = server.get("/public/stories?_context=1")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b"select_templates" not in body

    def test_robots_are_blocked_by_default(self, server):
        status, headers, body = server.get("/robots.txt")
        assert status == 200 and body.decode() == "User-agent: *\nDisallow: /\n"
        assert server.get("/public/stories")[1].get("x-robots-tag") == "noindex, nofollow"

    def test_cache_lifetime_is_short_and_capped(self, server):
        for path in ("/public/stories", "/public/stories/james-and-andy", "/public/stories.json?_ttl=86400",
                     "/public/stories/james-and-andy?_ttl=31536000"):
            status, headers, _ = server.get(path)
            assert status == 200 and 0 < _max_age(headers) <= 60, (path, headers)

    def test_settings_say_so(self, server):
        settings = json.loads(server.get("/-/settings.json")[2])
        assert settings["sql_time_limit_ms"] == 1000 and settings["max_returned_rows"] == 1000
        assert settings["allow_download"] is False and settings["allow_csv_stream"] is False
        assert settings["trace_debug"] is False and settings["template_debug"] is False
        assert settings["default_cache_ttl"] == 60 and settings["default_allow_sql"] is True


@pytest.mark.server
def test_several_workers_serve_with_the_same_safe_settings(built_session: Path):
    srv = Server(built_session, ["--workers", "2"])
    try:
        settings = json.loads(srv.get("/-/settings.json")[2])
        assert {k: settings[k] for k in ("allow_download", "trace_debug", "max_returned_rows", "default_cache_ttl")} == \
            {"allow_download": False, "trace_debug": False, "max_returned_rows": 1000, "default_cache_ttl": 60}
        status, headers, body = srv.get("/public/stories/james-and-andy?_ttl=9999")
        assert status == 200 and b"Andy" in body and _max_age(headers) == 60
        assert headers.get("x-robots-tag") == "noindex, nofollow"
        assert srv.get("/public.db")[0] == 403 and srv.get("/robots.txt")[2].endswith(b"Disallow: /\n")
    finally:
        srv.stop()


@pytest.mark.server
def test_allow_robots_lets_search_engines_in(built_session: Path):
    srv = Server(built_session, ["--allow-robots"])
    try:
        status, _, body = srv.get("/robots.txt")
        assert status == 200 and body.decode() == "User-agent: *\nAllow: /\n"
        assert "x-robots-tag" not in {k.lower() for k in srv.get("/public/stories")[1]}
    finally:
        srv.stop()


def _datasette(root: Path, **overrides):
    from datasette.app import Datasette

    from evidence.web.serve import typed_settings

    settings = {**typed_settings(), **overrides}
    metadata = yaml.safe_load((root / "metadata.yml").read_text())
    return Datasette(immutables=[str(root / "public.db")], settings=settings, metadata=metadata)


async def _get(ds, path: str):
    await ds.invoke_startup()
    return await ds.client.get(path)


def test_in_process_the_same_settings_hold_and_the_trace_check_has_teeth(built_session: Path):
    safe = _datasette(built_session)
    r = asyncio.run(_get(safe, "/public/stories.json?_trace=1&_ttl=99999"))
    assert r.status_code == 200 and "_trace" not in r.json()
    assert r.headers["cache-control"] == "max-age=60"
    assert r.headers["x-robots-tag"] == "noindex, nofollow"
    unsafe = _datasette(built_session, trace_debug=True)  # what the check would catch
    r = asyncio.run(_get(unsafe, "/public/stories.json?_trace=1"))
    assert "_trace" in r.json()


def test_cap_cache_control():
    from evidence.web.plugin.safety import cap_cache_control

    assert cap_cache_control(b"max-age=31536000", 60) == b"max-age=60"
    assert cap_cache_control(b"max-age=5", 60) == b"max-age=5"
    assert cap_cache_control(b"max-age=3600, immutable, public", 60) == b"max-age=60, public"
    assert cap_cache_control(b"no-cache", 60) == b"no-cache"


def test_a_404_is_not_pretty_printed_to_the_log(built_session: Path, capsys):
    """Datasette's default handler spent about a second per 404 printing it with rich."""
    import datasette.handle_exception as handler

    import evidence.web.plugin  # noqa: F401 - the plugin turns it off on import

    assert handler.rich is None
    r = asyncio.run(_get(_datasette(built_session), "/public/no_such_table"))
    assert r.status_code == 404
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and "NotFound" not in captured.out + captured.err


@pytest.mark.parametrize("content", [b"this is not a database\n", b"", "sqlite-without-tables"])
def test_a_damaged_public_database_is_refused_before_serving(built: Path, cli, content):
    """Datasette would start and fail with a traceback (or serve an empty
    site): `evidence serve` checks the file first and says which one."""
    import sqlite3

    public = built / "public.db"
    public.unlink()
    if content == "sqlite-without-tables":
        sqlite3.connect(public).execute("CREATE TABLE other (x)").connection.commit()
    else:
        public.write_bytes(content)
    for workers in ("1", "2"):
        r = cli(["serve", "--root", built, "--dry-run", "--workers", workers])
        assert r.exit_code == 1, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and f"{public} is not an evidence public database" in lines[0], lines
        assert "evidence build" in lines[0]
