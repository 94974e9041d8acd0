"""An in-process cache of rendered HTML table pages (and /-/charts).

`evidence serve` serves public.db immutable and must be restarted after a
build (docs/serving.md), so a page rendered once is the same page until the
process ends. Rendering the stories table costs Datasette ~100 ms of CPU;
16 clients asking for it at once queued behind each other (p99 1.4 s at
10,000 stories). Here the first request renders, requests for the same URL
arriving meanwhile wait for it, and later ones are answered from memory.

Only GET, only status 200, only responses that set no cookie, at most
MAX_ENTRIES pages of at most MAX_BODY bytes, least recently used dropped
first. The key holds the database file's inode and modification time, so a
file replaced under a running server is never answered from the old one."""
from __future__ import annotations

import asyncio
import os
from collections import OrderedDict

MAX_ENTRIES = 256
MAX_BODY = 2_000_000
EXTRA_PATHS = ("/-/charts",)


def cacheable(path: str, db_names) -> str | None:
    """The served database a cacheable path reads, or None: HTML table and
    row pages (/<db>/<table>[/<row>], no .json or other extension) and EXTRA_PATHS."""
    if path in EXTRA_PATHS:
        return "*"
    parts = path.strip("/").split("/")
    if 2 <= len(parts) <= 3 and parts[0] in db_names and "." not in parts[-1]:
        return parts[0]
    return None


def _identity(datasette, name: str) -> tuple:
    names = list(datasette.databases) if name == "*" else [name]
    out = []
    for n in names:
        path = getattr(datasette.databases.get(n), "path", None)
        if path:
            try:
                st = os.stat(path)
                out.append((n, st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((n, None))
    return tuple(out)


def page_cache(app, datasette):
    cache: OrderedDict = OrderedDict()
    inflight: dict = {}

    async def cached(scope, receive, send):
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return await app(scope, receive, send)
        name = cacheable(scope.get("path", ""), datasette.databases)
        if name is None:
            return await app(scope, receive, send)
        key = (scope.get("path"), scope.get("query_string", b""), _identity(datasette, name))
        hit = cache.get(key)
        if hit is None and key in inflight:
            try:
                hit = await asyncio.shield(inflight[key])
            except Exception:
                hit = None
        if hit is not None:
            cache.move_to_end(key, last=True) if key in cache else None
            start, body = hit
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return None
        future = asyncio.get_running_loop().create_future()
        inflight[key] = future
        events: list = []
        size = [0]

        async def capture(event):
            if event["type"] == "http.response.start" or size[0] <= MAX_BODY:
                events.append(event)
                if event["type"] == "http.response.body":
                    size[0] += len(event.get("body", b""))
            await send(event)

        try:
            await app(scope, receive, capture)
        finally:
            inflight.pop(key, None)
        start = next((e for e in events if e["type"] == "http.response.start"), None)
        ok = (start is not None and start.get("status") == 200 and size[0] <= MAX_BODY
              and not any(k.lower() == b"set-cookie" for k, _ in start.get("headers") or []))
        if ok:
            body = b"".join(e.get("body", b"") for e in events if e["type"] == "http.response.body")
            cache[key] = (start, body)
            while len(cache) > MAX_ENTRIES:
                cache.popitem(last=False)
            future.set_result((start, body))
        else:
            future.set_result(None)
        return None

    return cached
