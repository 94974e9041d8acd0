"""The evidence Datasette plugin: hooks only; logic lives in plain modules.

Registered through the `datasette` entry point in pyproject.toml, so any
Datasette in the same environment (as started by `evidence serve`) loads it.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response

from evidence.web.plugin import live, page_views, search_views
from evidence.web.plugin.render import render_markdown, safe_url
from evidence.web.plugin.safety import quiet_tracebacks, robots_allowed, wrap
from evidence.web.plugin.sql_guard import guard

quiet_tracebacks()

MARKDOWN_COLUMNS = {("stories", "body")}


@hookimpl
def prepare_jinja2_environment(env):
    """`|evidence_safe_url`: a URL field's value only when it is http, https or mailto (render.py)."""
    env.filters["evidence_safe_url"] = safe_url


@hookimpl
def render_cell(value, column, table, database, datasette):
    """Render story narratives as Markdown (no raw HTML, no attribute lists, only safe URLs: render.py)."""
    if (table, column) in MARKDOWN_COLUMNS and isinstance(value, str):
        return render_markdown(value)
    return None


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
        (r"^/-/story/(?P<id>[^/]+?)$", page_views.story_view),
        (r"^/-/approach/(?P<id>[^/]+?)(?P<format>\.json)?$", page_views.approach_view),
        (r"^/-/gaps(?P<format>\.json)?$", page_views.gaps_view),
        (r"^/-/gaps/(?P<approach>[^/]+)/(?P<framework>[^/]+)/(?P<domain>[^/]+?)(?P<format>\.json)?$", page_views.cell_view),
    ]


@hookimpl
def prepare_connection(conn):
    """Limits so that one SQL call cannot hold the server (sql_guard.py), and
    the SQL function evidence_similar(query, k[, type]) -> JSON [{id, type, score}]."""
    guard(conn)
    search_views.register_sql_functions(conn)


def _public_db_changed(db) -> None:
    """After a swap to a new public.db (live.py): forget rendered narratives
    and load the new search index now, so nothing of the old file stays."""
    render_markdown.cache_clear()
    search_views.reload_index(db.path)


@hookimpl
def startup(datasette):
    """Follow public.db as builds replace it (live.py), and load the vector
    index and query model in the background, once per process."""
    live.watch(datasette, on_change=_public_db_changed)
    search_views.warm_up(datasette)


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """"More like this" for a story's row page."""
    if view_name == "row" and table == "stories" and request is not None and "pks" in request.url_vars:
        async def inner():
            return await search_views.more_like_this(datasette, database, request.url_vars["pks"])
        return inner
    return None


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/evidence"), "label": "Evidence home"},
            {"href": datasette.urls.path("/-/gaps"), "label": "Gap map"},
            {"href": datasette.urls.path("/-/search"), "label": "Search by meaning"}]


@hookimpl
def asgi_wrapper(datasette):
    """Cap Cache-Control at default_cache_ttl and send X-Robots-Tag (safety.py)."""
    return lambda app: wrap(app, datasette)
