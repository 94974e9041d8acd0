"""An in-process cache of rendered HTML table pages (and /-/charts).

`evidence serve` serves public.db immutable and switches to a new file
when a build replaces it (live.py), so a page rendered once is the same page
until the file changes. Rendering the stories table costs Datasette ~100 ms of CPU;
16 clients asking for it at once queued behind each other (p99 1.4 s at
10,000 stories). Here the first request renders, requests for the same URL
arriving meanwhile wait for it, and later ones are answered from memory.

Only GET, only status 200, only responses that set no cookie, at most
MAX_ENTRIES pages of at most MAX_BODY bytes, least recently used dropped
first. The key holds the inode, modification time and size of the file
the server is serving (live.py; of the file on disk for a database that is
not followed), so a page rendered from the old file is never stored under the
new one's key, even in the second before the switch; and the cache is
emptied at each switch (`clear_all`), so no withdrawn text stays in memory."""
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
        db = datasette.databases.get(n)
        path = getattr(db, "path", None)
        served = getattr(db, "identity", None)  # a LiveDatabase: the file it serves now, not the one on disk
        if served:
            _dev, ino, size, mtime = served
            out.append((n, ino, mtime, size))
        elif path:
            try:
                st = os.stat(path)
                out.append((n, st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((n, None))
    return tuple(out)


def clear_all(datasette) -> None:
    """Empty this Datasette's page caches (called when public.db was replaced)."""
    for cache in getattr(datasette, "_evidence_page_caches", []):
        cache.clear()


def page_cache(app, datasette):
    cache: OrderedDict = OrderedDict()
    if not hasattr(datasette, "_evidence_page_caches"):
        datasette._evidence_page_caches = []
    datasette._evidence_page_caches.append(cache)
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
