"""The evidence Datasette plugin: hooks only; logic lives in plain modules.

Registered through the `datasette` entry point in pyproject.toml, so any
Datasette in the same environment (as started by `evidence serve`) loads it.
"""
from __future__ import annotations

# Datasette's plugin manager first, with its default plugins imported whole:
# importing one of them later from here (safety.quiet_tracebacks imports
# datasette.handle_exception) in the middle of Datasette loading its plugins
# registered it half-imported, without its hooks (see _register_whole below)
import datasette.plugins  # noqa: F401,I001
from datasette import hookimpl
from datasette.utils.asgi import Response

from evidence.web.formatting import cite_source, cite_story, display_text, format_value, public_note
from evidence.web.plugin import feed_views, live, page_views, search_views, tables
from evidence.web.plugin.page_cache import clear_all, page_cache
from evidence.web.plugin.render import render_markdown, safe_url
from evidence.web.plugin.safety import quiet_tracebacks, robots_allowed, wrap
from evidence.web.plugin.sql_guard import guard
from evidence.web.urls import story_path

quiet_tracebacks()


@hookimpl
def render_cell(value, column, table, database, datasette):
    """Story ids, story_id and path columns lead to the story's page; the
    stories table shows an excerpt and people's names (tables.py)."""
    # the base_url setting, not datasette.urls.path(): that builds a string
    # subclass whose attribute lookups cost ~0.1 ms each, on every cell
    return tables.render_cell(value, column, table, (datasette.setting("base_url") or "/").rstrip("/"))


@hookimpl
def prepare_jinja2_environment(env, datasette):
    env.filters["evidence_value"] = lambda value, unit=None: format_value(value, unit)
    # a URL field's value only when it is http, https or mailto (render.py)
    env.filters["evidence_safe_url"] = safe_url
    env.filters["public_note"] = public_note
    env.filters["evidence_plain"] = display_text
    env.filters["cite_story"] = cite_story
    env.filters["cite_source"] = cite_source
    env.filters["story_path"] = lambda story_id: (datasette.setting("base_url") or "/").rstrip("/") + story_path(str(story_id))


@hookimpl
def extra_css_urls(template, database, table, columns, view_name, request, datasette):
    """The site's stylesheet on Datasette's own pages too (facets, column
    notes, query forms, narrow screens)."""
    return [datasette.urls.path("/-/evidence.css")]


async def robots_txt(request):
    allow = robots_allowed()
    body = "User-agent: *\nAllow: /\n" if allow else "User-agent: *\nDisallow: /\n"
    return Response.text(body)


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots_txt),
        (r"^/-/databases(\.(?P<format>json))?$", page_views.databases_view),
        (r"^/-/search(?P<format>\.json)?$", search_views.search_view),
        (r"^/-/similar/(?P<id>[^/]+?)(?P<format>\.json)?$", search_views.similar_view),
        (r"^/-/evidence$", page_views.home_view),
        (r"^/-/evidence\.css$", page_views.css_view),
        (r"^/-/charts(?P<format>\.json)?$", page_views.charts_view),
        (r"^/-/feed\.atom$", feed_views.feed_view),
        (r"^/-/about$", page_views.about_view),
        (r"^/-/story/(?P<id>[^/]+?)(?P<format>\.json)?$", page_views.story_view),
        (r"^/-/approach/(?P<id>[^/]+?)(?P<format>\.json)?$", page_views.approach_view),
        (r"^/-/gaps(?P<format>\.json)?$", page_views.gaps_view),
        (r"^/-/gaps/(?P<approach>[^/]+)/(?P<framework>[^/]+)/(?P<domain>[^/]+?)(?P<format>\.json|\.csv|\.ris)?$", page_views.cell_view),
    ]


@hookimpl
def prepare_connection(conn):
    """Limits so that one SQL call cannot hold the server (sql_guard.py), and
    the SQL function evidence_similar(query, k[, type]) -> JSON [{id, type, score}]."""
    guard(conn)
    search_views.register_sql_functions(conn)


def _public_db_changed(db) -> None:
    """After a swap to a new public.db (live.py): forget rendered pages and
    narratives and load the new search index now, so nothing of the old file stays."""
    clear_all(db.ds)
    render_markdown.cache_clear()
    search_views.reload_index(db.path)


@hookimpl
def startup(datasette):
    """Follow public.db as builds replace it (live.py), and load the vector
    index and query model in the background, once per process."""
    live.watch(datasette, on_change=_public_db_changed)
    search_views.warm_up(datasette)


@hookimpl
def extra_template_vars(template, view_name, table, database, request, datasette):
    """"More like this" and the story page's address for a story's row page;
    known parameter values for canned queries; the tables in order for the index."""
    if view_name == "row" and table == "stories" and request is not None and "pks" in request.url_vars:
        async def inner():
            pks = request.url_vars["pks"]
            data = await search_views.more_like_this(datasette, database, pks)
            data["evidence_story_url"] = datasette.urls.path("/-/story/" + pks)
            return data
        return inner
    if template and template.startswith("query") and database:
        async def choices():
            db = datasette.databases.get(database)
            path = getattr(db, "path", None)
            if not path:
                return {}
            return {"evidence_choices": await search_views._in_thread(tables.query_choices, str(path))}
        return choices
    if view_name == "index":
        async def index_tables():
            return {"evidence_databases": await tables.index_tables(datasette)}
        return index_tables
    return None


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/evidence"), "label": "Evidence home"},
            {"href": datasette.urls.path("/-/gaps"), "label": "Gap map"},
            {"href": datasette.urls.path("/-/charts"), "label": "Charts"},
            {"href": datasette.urls.path("/-/search"), "label": "Search by meaning"}]


@hookimpl
def asgi_wrapper(datasette):
    """Cap Cache-Control at default_cache_ttl and send X-Robots-Tag
    (safety.py); answer repeated table pages from memory (page_cache.py)."""
    return lambda app: wrap(page_cache(app, datasette), datasette)


def _register_whole() -> None:
    """When a submodule of this package is imported before Datasette (a test
    importing page_cache or render first), Datasette loads its plugins in the
    middle of this file and registers the half that exists then, with no
    hooks: no routes, no template filters. Register the whole module instead."""
    import sys

    from datasette.plugins import pm

    me = sys.modules[__name__]
    name = pm.get_name(me)
    if name is not None:  # registered while half-imported (normally it is registered after this file runs)
        pm.unregister(me)
        pm.register(me, name=name)


_register_whole()
