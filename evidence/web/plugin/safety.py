"""Response headers that keep the public site safe to cache and to crawl.

- Cache-Control: no response may be cached for longer than the server's
  `default_cache_ttl` (60 s under `evidence serve`), even when a client asks
  for more with `?_ttl=`: a withdrawn story must not linger in shared caches.
- X-Robots-Tag: noindex, unless `evidence serve --allow-robots` (the same
  switch as /robots.txt), so pages reached by a link are not indexed either.
- Content-Security-Policy on every response: scripts only from this site
  (`script-src 'self'`, no inline script, no eval), no plugins, no framing
  (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for old browsers),
  forms and fetches only to this site. Datasette's own inline scripts are
  replaced by files the plugin serves (templates/_close_open_menus.html,
  _codemirror_foot.html, table.html), so its pages work under the policy.
  With `X-Content-Type-Options: nosniff` (a JSON or CSV answer is never run
  as a script or page) and `Referrer-Policy: no-referrer` (a story's URL is
  not sent to the sites its links lead to).
- Cache-Control on every response: Datasette's views set their own; any
  response without one (the plugin's pages, errors) gets `max-age` of the
  same lifetime.
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

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_REPLACED = {name for name, _ in SECURITY_HEADERS}


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
                headers, cached = [], False
                for k, v in event.get("headers") or []:
                    k = k.lower()
                    if k in _REPLACED:
                        continue  # ours win: a view cannot loosen them
                    if k == b"cache-control":
                        v, cached = cap_cache_control(v, limit), True
                    headers.append((k, v))
                if not cached:
                    headers.append((b"cache-control", b"max-age=%d" % limit if limit else b"no-cache"))
                headers += SECURITY_HEADERS
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
