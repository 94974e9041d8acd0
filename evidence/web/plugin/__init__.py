"""The evidence Datasette plugin: hooks only; logic lives in plain modules.

Registered through the `datasette` entry point in pyproject.toml, so any
Datasette in the same environment (as started by `evidence serve`) loads it.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response

from evidence.web.plugin import page_views, search_views
from evidence.web.plugin.render import render_markdown
from evidence.web.plugin.safety import quiet_tracebacks, robots_allowed, wrap

quiet_tracebacks()

MARKDOWN_COLUMNS = {("stories", "body")}


@hookimpl
def render_cell(value, column, table, database, datasette):
    """Render story narratives as Markdown (raw HTML in them is escaped)."""
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
        (r"^/-/search(?P<format>\.json)?$", search_views.search_view),
        (r"^/-/similar/(?P<id>[^/]+?)(?P<format>\.json)?$", search_views.similar_view),
        (r"^/-/evidence$", page_views.home_view),
        (r"^/-/evidence\.css$", page_views.css_view),
        (r"^/-/story/(?P<id>[^/]+?)(?P<format>\.json)?$", page_views.story_view),
        (r"^/-/approach/(?P<id>[^/]+?)(?P<format>\.json)?$", page_views.approach_view),
        (r"^/-/gaps(?P<format>\.json)?$", page_views.gaps_view),
        (r"^/-/gaps/(?P<approach>[^/]+)/(?P<framework>[^/]+)/(?P<domain>[^/]+?)(?P<format>\.json|\.csv|\.ris)?$", page_views.cell_view),
    ]


@hookimpl
def prepare_connection(conn):
    """SQL function evidence_similar(query, k[, type]) -> JSON [{id, type, score}]."""
    search_views.register_sql_functions(conn)


@hookimpl
def startup(datasette):
    """Load the vector index and query model in the background, once per process."""
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
