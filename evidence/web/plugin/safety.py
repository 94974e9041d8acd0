"""Response headers that keep the public site safe to cache and to crawl.

- Cache-Control: no response may be cached for longer than the server's
  `default_cache_ttl` (60 s under `evidence serve`), even when a client asks
  for more with `?_ttl=`: a withdrawn story must not linger in shared caches.
- X-Robots-Tag: noindex, unless `evidence serve --allow-robots` (the same
  switch as /robots.txt), so pages reached by a link are not indexed either.
- Quiet client errors: Datasette 0.65 pretty-prints every exception, a 404
  included, with `rich` and its local variables (request headers among
  them) to the server's log. That took about a second of the event loop per
  404 here, so anyone could stall the site by asking for pages that do not
  exist. `quiet_tracebacks()` turns the pretty printer off; server errors
  (500) still print a plain traceback.
"""
from __future__ import annotations

import os
import re

_MAX_AGE = re.compile(rb"max-age=(\d+)")


def robots_allowed() -> bool:
    """True when `evidence serve --allow-robots` was given."""
    return os.environ.get("EVIDENCE_ALLOW_ROBOTS") == "1"


def cap_cache_control(value: bytes, limit: int) -> bytes:
    """The Cache-Control header with max-age lowered to `limit` seconds."""
    return _MAX_AGE.sub(lambda m: b"max-age=%d" % min(int(m.group(1)), limit), value).replace(b", immutable", b"")


def wrap(app, datasette):
    """ASGI middleware applying the header rules above."""

    async def wrapped(scope, receive, send):
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        if scope.get("method") == "GET":
            from evidence.web.plugin.tables import with_default_columns

            query = with_default_columns(scope.get("path", ""), scope.get("query_string", b""), datasette.databases)
            if query is not scope.get("query_string"):
                scope = {**scope, "query_string": query}
        limit = int(datasette.setting("default_cache_ttl") or 0)
        allow = robots_allowed()

        async def send_capped(event):
            if event.get("type") == "http.response.start":
                headers = []
                for k, v in event.get("headers") or []:
                    if k.lower() == b"cache-control":
                        v = cap_cache_control(v, limit)
                    headers.append((k, v))
                if not allow:
                    headers.append((b"x-robots-tag", b"noindex, nofollow"))
                event = {**event, "headers": headers}
            await send(event)

        return await app(scope, receive, send_capped)

    return wrapped


def quiet_tracebacks() -> None:
    """Stop Datasette's default exception handler pretty-printing (see above)."""
    try:
        import datasette.handle_exception as handler
    except ImportError:  # pragma: no cover - another Datasette layout
        return
    if hasattr(handler, "rich"):
        handler.rich = None
