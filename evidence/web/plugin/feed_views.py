"""/-/feed.atom: the Atom feed of newly published stories and findings
(logic in evidence/web/feed.py)."""
from __future__ import annotations

from datasette.utils.asgi import Response

from evidence.web.feed import atom, entries
from evidence.web.plugin.search_views import _in_thread, search_database
from evidence.web.urls import base_url


async def feed_view(request, datasette):
    found = search_database(datasette)
    if not found:
        return Response.text("no evidence database is served here; run 'evidence build'", status=404)
    base = base_url() or datasette.absolute_url(request, "/").rstrip("/")
    items = await _in_thread(entries, found[1])
    return Response(atom(items, base), content_type="application/atom+xml; charset=utf-8")
