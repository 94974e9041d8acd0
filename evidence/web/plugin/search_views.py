"""The plugin's semantic search: the /-/search page and its JSON, the
/-/similar/<id> page, "more like this" for a story's row page, and the
evidence_similar() SQL function. Logic only; hooks are in __init__.py.

The search itself is evidence/search/query.py, shared with the command line. The
vector index and the query model are loaded once per process (at startup, in
a background thread) and reused by every request and every SQL thread.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import threading
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from evidence.errors import EvidenceError
from evidence.web.urls import item_path, with_url

log = logging.getLogger(__name__)

FILTERS = ("type", "approach", "domain", "area", "place")


def search_database(datasette) -> tuple[str, str] | None:
    """(name, file path) of the first served database that holds embeddings
    (looked up once per Datasette instance)."""
    found = getattr(datasette, "_evidence_search_db", None)
    if found is None:
        found = _find_search_database(datasette)
        if found:
            datasette._evidence_search_db = found
    return found


def _find_search_database(datasette) -> tuple[str, str] | None:
    import sqlite3

    for name, db in datasette.databases.items():
        path = getattr(db, "path", None)
        if not path or name == "_internal":
            continue
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'embeddings'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        if found:
            return name, str(path)
    return None


def warm_up(datasette) -> threading.Thread:
    """Load the vector index and the query model in a background thread, so
    the first search does not pay for them (a search arriving earlier waits
    for the same load; nothing is loaded twice)."""

    def run() -> None:
        from evidence.search.query import embed_query
        from evidence.search.index import get_index

        found = search_database(datasette)
        if not found:
            return
        try:
            idx = get_index(found[1])
            embed_query(idx.model, "warm up", idx.path)
        except Exception as exc:  # the page reports the same error on use
            log.warning("evidence search warm-up failed: %s", exc)

    thread = threading.Thread(target=run, name="evidence-search-warm-up", daemon=True)
    thread.start()
    return thread


def reload_index(path) -> None:
    """Load the index of a new database file now (the old one is let go)."""
    from evidence.search.index import get_index

    try:
        get_index(path)
    except Exception as exc:  # a search reports the same error on use
        log.warning("evidence search index reload failed: %s", exc)


async def _in_thread(fn, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _params(request) -> dict:
    from evidence.search.query import DEFAULT_MODE

    args = request.args
    return {
        "q": (args.get("q") or "").strip(),
        "mode": args.get("mode") or DEFAULT_MODE,
        "limit": args.get("limit") or "10",
        **{name: (args.get(name) or "").strip() for name in FILTERS},
    }


def _limit(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise EvidenceError(f"limit '{value}' is not a number; give a number from 1 to 1000") from None


async def search_view(request, datasette):
    """/-/search (HTML) and /-/search.json: semantic search with filters."""
    from evidence.search.query import MODES, Filters, filter_values, search, weak_match

    as_json = request.url_vars.get("format") == ".json"
    params = _params(request)
    found = search_database(datasette)
    error, hits, weak, best = None, [], None, None
    if found is None:
        error = "no database here holds embeddings; run 'evidence build' and serve its public.db"
    elif params["q"] or as_json:
        try:
            filters = Filters(**{name: params[name] or None for name in FILTERS})
            hits = await _in_thread(search, found[1], params["q"], filters=filters, limit=_limit(params["limit"]),
                                    mode=params["mode"], context=not as_json)
            if hits:
                weak, best = await _in_thread(weak_match, found[1], params["q"], filters=filters)
        except EvidenceError as exc:
            error = str(exc)
    if as_json:
        if error:
            return Response.json({"ok": False, "error": error}, status=400)
        return Response.json({"ok": True, "query": params["q"], "mode": params["mode"],
                              "weak": weak, "best_score": None if best is None else round(best, 6),
                              "filters": {k: params[k] for k in FILTERS if params[k]},
                              "results": [with_url(h, _url(datasette, found, h)) for h in hits]})
    options = {}
    if found:
        try:
            options = await _in_thread(filter_values, found[1])
        except EvidenceError as exc:
            error = error or str(exc)
    hits = _views(datasette, found, hits)
    html = await datasette.render_template("evidence_search.html", {
        "params": params, "hits": hits, "error": error, "options": options, "modes": MODES,
        "searched": bool(params["q"]), "similar_to": None, "weak": weak, "best_score": best,
    }, request=request)
    return Response.html(html, status=400 if error and params["q"] else 200)


def _url(datasette, found, hit) -> str:
    """Where a result leads: a story's page, or a finding's row page in the
    served database (by its name there)."""
    return datasette.urls.path(item_path(found[0], hit.type, hit.id)) if found else ""


def _views(datasette, found, hits) -> list:
    """Results for the templates: every field of the hit, and its URL."""
    return [SimpleNamespace(**asdict(h), url=_url(datasette, found, h)) for h in hits]


async def similar_view(request, datasette):
    """/-/similar/<id> (HTML) and .json: the items most like one."""
    from evidence.search.query import similar

    as_json = request.url_vars.get("format") == ".json"
    item_id = tilde_decode(request.url_vars["id"])
    found = search_database(datasette)
    error, hits = None, []
    try:
        if found is None:
            raise EvidenceError("no database here holds embeddings; run 'evidence build' and serve its public.db")
        hits = await _in_thread(similar, found[1], item_id, limit=_limit(request.args.get("limit") or "10"),
                                context=not as_json)
    except EvidenceError as exc:
        error = str(exc)
    status = 404 if error and error.startswith("unknown id") else 400
    if as_json:
        if error:
            return Response.json({"ok": False, "error": error}, status=status)
        return Response.json({"ok": True, "id": item_id, "results": [with_url(h, _url(datasette, found, h)) for h in hits]})
    hits = _views(datasette, found, hits)
    html = await datasette.render_template("evidence_search.html", {
        "params": {"q": "", "mode": "hybrid", "limit": "10", **{k: "" for k in FILTERS}}, "hits": hits,
        "error": error, "options": {}, "modes": (), "searched": True, "similar_to": item_id,
    }, request=request)
    return Response.html(html, status=status if error else 200)


async def more_like_this(datasette, database: str, pks: str, limit: int = 5) -> dict:
    """Template variables for a story's row page: the stories and findings
    most like it (empty when the database has no embeddings)."""
    from evidence.search.query import similar

    db = datasette.databases.get(database)
    path = getattr(db, "path", None)
    if not path:
        return {}
    try:
        hits = await _in_thread(similar, path, "story:" + tilde_decode(pks), limit=limit)
    except EvidenceError:
        return {}
    return {"evidence_more_like_this": _views(datasette, (database, path), hits),
            "evidence_similar_url": datasette.urls.path(f"/-/similar/{pks}")}


def register_sql_functions(conn) -> None:
    """evidence_similar(query, k[, type]) on this connection: JSON list of
    {id, type, score}, best first, over the database the connection opened."""
    from evidence.search.query import similar_json

    row = conn.execute("PRAGMA database_list").fetchone()
    path = row[2] if row else ""

    def evidence_similar(query, k=10, item_type=None):
        if not path or not Path(path).exists():
            raise ValueError("evidence_similar needs a database file with embeddings")
        return similar_json(path, query or "", int(k or 10), item_type or None)

    conn.create_function("evidence_similar", 2, evidence_similar)
    conn.create_function("evidence_similar", 3, evidence_similar)
