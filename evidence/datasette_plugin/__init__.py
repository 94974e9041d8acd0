"""The evidence Datasette plugin: hooks only; logic lives in plain modules.

Registered through the `datasette` entry point in pyproject.toml, so any
Datasette in the same environment (as started by `evidence serve`) loads it.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response

from .render import render_markdown
from .safety import quiet_tracebacks, robots_allowed, wrap

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
    return [(r"^/robots\.txt$", robots_txt)]


@hookimpl
def asgi_wrapper(datasette):
    """Cap Cache-Control at default_cache_ttl and send X-Robots-Tag (safety.py)."""
    return lambda app: wrap(app, datasette)
