"""`evidence curate`: the review queue in the browser, for curators who do
not live in a terminal.

A small separate web app (Python's own http.server; never the public
Datasette) over the WORKING database, on 127.0.0.1 only unless a password
is set. It shows the queue in the order of `evidence queue`: each item with
its suggested tags, their supporting sentences highlighted in the text, and
confirm / reject buttons; keys j/k move, y/n decide, u undoes the last
decision. Every decision goes through `tag_review.review_many`, the code of
`evidence review`, so it lands in the content file as a reviewable diff and
the databases are rebuilt incrementally.

Safety: every POST carries the CSRF token of this server run (a form field
or the X-CSRF-Token header) and, when the browser sends one, an Origin of
this server; pages are served with a Content-Security-Policy that allows
only this server's own script and style (no inline script, no CDN), so a
story's text can never run script; all text is HTML-escaped.
"""
from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from evidence.curate.tag_review import Decision, queue, review_many
from evidence.errors import EvidenceError

STATIC = Path(__file__).resolve().parent / "workbench_static"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def check_host(host: str, password: str) -> None:
    """Refuse any address but this machine's unless a password is set."""
    if host not in LOCAL_HOSTS and not password:
        raise EvidenceError(f"evidence curate serves the working database (unpublished stories, consent records) "
                            f"and listens on 127.0.0.1 only; to listen on '{host}' set a password "
                            "(--password-env NAME, the name of an environment variable holding it)")


@dataclass
class Workbench:
    """The state of one `evidence curate` run."""

    root: Path
    db_path: Path | None = None
    public_path: Path | None = None
    by: str = "curator"
    password: str = ""
    limit: int = 30
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    undo_stack: list[tuple[str, str, str]] = field(default_factory=list)  # (item, domain, status)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what the page shows ----------------------------------------------

    def items(self) -> list[dict]:
        """Queue rows grouped by item, items in the order of their first row."""
        import sqlite3

        from evidence.store.paths import default_paths

        rows = queue(self.root, self.db_path)
        order: dict[tuple[str, str], dict] = {}
        for r in rows:
            key = (r["item_type"], r["item_id"])
            if key not in order:
                if len(order) >= self.limit:
                    continue
                order[key] = {"item_type": r["item_type"], "item_id": r["item_id"], "title": r["title"],
                              "approach": r["approach"], "file": r["file"], "tags": []}
            order[key]["tags"].append(r)
        path, _ = default_paths(self.root, self.db_path, None)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for (kind, item_id), it in order.items():
                row = conn.execute("SELECT public_body FROM stories WHERE id = ?" if kind == "story"
                                   else "SELECT statement FROM findings WHERE id = ?", [item_id]).fetchone()
                it["text"] = (row[0] if row else "") or ""
        finally:
            conn.close()
        return list(order.values())

    def decide(self, item_id: str, domain: str, status: str) -> dict:
        if status not in ("confirmed", "rejected"):
            raise EvidenceError("decision must be confirmed or rejected")
        with self.lock:
            path, _ = review_many(self.root, item_id, [Decision(domain, status)], by=self.by,
                                  db_path=self.db_path, public_path=self.public_path)
            self.undo_stack.append((item_id, domain, status))
        return {"ok": True, "item": item_id, "domain": domain, "status": status, "file": _rel(self.root, path)}

    def undo(self) -> dict:
        with self.lock:
            if not self.undo_stack:
                raise EvidenceError("nothing to undo")
            item_id, domain, status = self.undo_stack[-1]
            path, _ = review_many(self.root, item_id, [Decision(domain, "cleared")], by=self.by,
                                  db_path=self.db_path, public_path=self.public_path)
            self.undo_stack.pop()
        return {"ok": True, "item": item_id, "domain": domain, "undone": status, "file": _rel(self.root, path)}


def _rel(root: Path, path: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------
# HTML


def marked_text(text: str, tags: list[dict]) -> str:
    """The text, escaped, in paragraphs, with each tag's sentence in a <mark>
    naming the tag ids it supports (overlapping spans: the first wins)."""
    spans: dict[tuple[int, int], list[str]] = {}
    for i, t in enumerate(tags):
        s, e = t.get("sentence_start"), t.get("sentence_end")
        if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text):
            spans.setdefault((s, e), []).append(f"t{i}")
    out, pos, last_end = [], 0, -1
    for (s, e), ids in sorted(spans.items()):
        if s < last_end:
            continue
        out.append(escape(text[pos:s]))
        out.append(f'<mark data-tags="{" ".join(ids)}">{escape(text[s:e])}</mark>')
        pos = last_end = e
    out.append(escape(text[pos:]))
    html = "".join(out)
    paras = [p.strip() for p in html.split("\n\n") if p.strip()]
    return "".join(f"<p>{p}</p>" for p in paras)


def page(bench: Workbench, message: str = "") -> str:
    items = bench.items()
    parts = []
    n = 0
    for it in items:
        tags_html = []
        for i, t in enumerate(it["tags"]):
            n += 1
            cell = ("" if t["cell_confirmed"] else
                    '<span class="badge" title="confirming it fills a gap-map cell that has only suggestions">new cell</span>')
            hidden = (f'<input type="hidden" name="csrf" value="{bench.csrf}">'
                      f'<input type="hidden" name="item" value="{escape(it["item_id"], quote=True)}">'
                      f'<input type="hidden" name="domain" value="{escape(t["domain"], quote=True)}">')
            tags_html.append(
                f'<li class="tag" id="tag-{n}" data-mark="t{i}" data-item="{escape(it["item_id"], quote=True)}" '
                f'data-domain="{escape(t["domain"], quote=True)}">'
                f'<div class="tag-head"><strong>{escape(t["label"] or t["domain"])}</strong> '
                f'<code>{escape(t["domain"])}</code> <span class="score">score {t["score"]:.2f}</span> {cell}'
                f'<span class="state" aria-live="polite"></span></div>'
                f'<blockquote>{escape(t["sentence"] or "")}</blockquote>'
                f'<div class="buttons">'
                f'<form method="post" action="/decide">{hidden}<input type="hidden" name="status" value="confirmed">'
                f'<button class="confirm" type="submit">Confirm <kbd>y</kbd></button></form>'
                f'<form method="post" action="/decide">{hidden}<input type="hidden" name="status" value="rejected">'
                f'<button class="reject" type="submit">Reject <kbd>n</kbd></button></form>'
                f'</div></li>')
        parts.append(
            f'<article class="item" id="item-{escape(it["item_id"], quote=True)}">'
            f'<header><h2>{escape(it["title"] or it["item_id"])}</h2>'
            f'<p class="meta">{escape(it["item_type"])} <code>{escape(it["item_id"])}</code> · '
            f'{escape(it["approach"] or "no approach")} · <code>{escape(it["file"] or "")}</code></p></header>'
            f'<div class="columns"><div class="text">{marked_text(it["text"], it["tags"])}</div>'
            f'<ol class="tags">{"".join(tags_html)}</ol></div></article>')
    body = "".join(parts) or '<p class="empty">The queue is empty: no suggested tag waits for review.</p>'
    flash = f'<p class="flash" role="status">{escape(message)}</p>' if message else '<p class="flash" role="status"></p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{bench.csrf}">
<title>Review queue · evidence curate</title>
<link rel="stylesheet" href="/static/workbench.css">
<script src="/static/workbench.js" defer></script>
</head><body>
<header class="top"><h1>Review queue</h1>
<p>Suggested outcome tags, the ones that would fill an empty gap-map cell first. Decisions are written into the
content files (review them with <code>git diff</code>) by <strong>{escape(bench.by)}</strong>.</p>
<p class="keys"><kbd>j</kbd>/<kbd>k</kbd> next / previous tag · <kbd>y</kbd> confirm · <kbd>n</kbd> reject ·
<kbd>u</kbd> undo the last decision</p>
<div class="bar"><form method="post" action="/undo" class="undo"><input type="hidden" name="csrf" value="{bench.csrf}">
<button type="submit">Undo last decision <kbd>u</kbd></button></form>
{flash}</div></header>
<main>{body}</main>
</body></html>"""


# ---------------------------------------------------------------------------
# HTTP


def make_handler(bench: Workbench):
    class Handler(BaseHTTPRequestHandler):
        server_version = "evidence-curate"
        sys_version = ""

        def log_message(self, fmt, *args):  # quiet: one line per decision is printed by the CLI
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorised(self) -> bool:
            if not bench.password:
                return True
            got = self.headers.get("Authorization", "")
            want = "Basic " + base64.b64encode(f"curator:{bench.password}".encode()).decode()
            if hmac.compare_digest(got.encode(), want.encode()):
                return True
            self._send(401, b"password needed\n", "text/plain; charset=utf-8",
                       {"WWW-Authenticate": 'Basic realm="evidence curate"'})
            return False

        def do_GET(self):
            if not self._authorised():
                return
            url = urlsplit(self.path)
            if url.path == "/":
                msg = parse_qs(url.query).get("m", [""])[0][:300]
                try:
                    html = page(bench, msg)
                except EvidenceError as exc:
                    return self._send(500, escape(str(exc)).encode(), "text/plain; charset=utf-8")
                return self._send(200, html.encode("utf-8"), "text/html; charset=utf-8")
            if url.path.startswith("/static/"):
                name = url.path.rsplit("/", 1)[-1]
                f = STATIC / name
                if name in ("workbench.css", "workbench.js") and f.is_file():
                    ctype = "text/css" if name.endswith(".css") else "text/javascript"
                    return self._send(200, f.read_bytes(), f"{ctype}; charset=utf-8")
            return self._send(404, b"not found\n", "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def do_POST(self):
            if not self._authorised():
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:  # read(-1) would wait for the client to close the connection
                return self._send(400, b"Content-Length must be a number of bytes\n", "text/plain; charset=utf-8")
            if length > 64_000:
                return self._send(413, b"too large\n", "text/plain; charset=utf-8")
            raw = self.rfile.read(length).decode("utf-8", "replace")
            ctype = self.headers.get("Content-Type", "")
            try:
                form = json.loads(raw or "{}") if ctype.startswith("application/json") else \
                    {k: v[0] for k, v in parse_qs(raw).items()}
            except ValueError:
                form = None
            if not isinstance(form, dict):  # a bad body is the client's error, not a traceback on the server
                return self._send(400, b"the body must be a JSON object or a form with item, domain and status\n",
                                  "text/plain; charset=utf-8")
            token = self.headers.get("X-CSRF-Token") or form.get("csrf", "")
            origin = self.headers.get("Origin")
            host = self.headers.get("Host", "")
            if not hmac.compare_digest(str(token).encode(), bench.csrf.encode()) or \
                    (origin and urlsplit(origin).netloc != host):
                return self._send(403, b"missing or wrong CSRF token; reload the page\n", "text/plain; charset=utf-8")
            wants_json = "application/json" in self.headers.get("Accept", "")
            try:
                if self.path == "/decide":
                    result = bench.decide(str(form.get("item", "")), str(form.get("domain", "")),
                                          str(form.get("status", "")))
                    msg = f"{result['status']} {result['domain']} for {result['item']} in {result['file']}"
                elif self.path == "/undo":
                    result = bench.undo()
                    msg = f"undone: {result['undone']} {result['domain']} for {result['item']} in {result['file']}"
                else:
                    return self._send(404, b"not found\n", "text/plain; charset=utf-8")
            except EvidenceError as exc:
                if wants_json:
                    return self._send(400, json.dumps({"ok": False, "error": str(exc)}).encode(), "application/json")
                return self._redirect(f"Error: {exc}")
            if wants_json:
                result["message"] = msg
                return self._send(200, json.dumps(result).encode(), "application/json")
            return self._redirect(msg)

        def _redirect(self, msg: str) -> None:
            from urllib.parse import quote

            self._send(303, b"", "text/plain", {"Location": "/?m=" + quote(msg[:300])})

    return Handler


class _Server6(ThreadingHTTPServer):
    import socket as _socket

    address_family = _socket.AF_INET6


def make_server(bench: Workbench, host: str, port: int) -> ThreadingHTTPServer:
    check_host(host, bench.password)
    cls = _Server6 if ":" in host else ThreadingHTTPServer
    server = cls((host, port), make_handler(bench))
    server.daemon_threads = True
    return server
