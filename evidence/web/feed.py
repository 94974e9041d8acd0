"""The Atom feed of newly published stories and findings (served at
/-/feed.atom). Built from the public database alone, so a story withdrawn
(or no longer consented for public use) leaves the feed at the next build:
it is no longer in public.db. No Datasette here.

Stories are dated by the day they were added to the evidence base; findings,
which carry no such date, by their study's source date or year, else by the
public database's build time."""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from xml.sax.saxutils import escape

from evidence.web.formatting import excerpt, format_value
from evidence.web.urls import row_path, story_path

FEED_ID = "tag:evidence.community-care,2026:feed"


def _iso(value, fallback: str) -> str:
    """An RFC 3339 timestamp from a date, a year or nothing."""
    s = str(value or "").strip()
    try:
        if len(s) == 4 and s.isdigit():
            return f"{s}-01-01T00:00:00Z"
        if len(s) >= 10:
            return dt.date.fromisoformat(s[:10]).isoformat() + "T00:00:00Z"
    except ValueError:
        pass
    return fallback


def entries(path: str | Path, limit: int = 50) -> list[dict]:
    """The newest published stories and findings, newest first."""
    built = dt.datetime.fromtimestamp(Path(path).stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        out = []
        for s in conn.execute("SELECT id, title, summary, body, approach, source_author, source_organisation, added "
                              "FROM stories ORDER BY added DESC, id LIMIT ?", [limit]):
            out.append({"id": f"tag:evidence.community-care,2026:story/{s['id']}", "kind": "story",
                        "title": s["title"] or s["id"], "path": story_path(s["id"]),
                        "updated": _iso(s["added"], built),
                        "summary": s["summary"] or excerpt(s["body"] or ""),
                        "author": s["source_author"] or s["source_organisation"] or ""})
        for f in conn.execute("SELECT f.id, f.statement, f.value, f.unit, st.title AS study, st.year, st.source_date, "
                              "st.authors, st.organisation FROM findings f JOIN studies st ON st.id = f.study_id "
                              "ORDER BY coalesce(nullif(st.source_date, ''), st.year) DESC, f.id LIMIT ?", [limit]):
            value = format_value(f["value"], f["unit"])
            out.append({"id": f"tag:evidence.community-care,2026:finding/{f['id']}", "kind": "finding",
                        "title": f["statement"], "path": row_path("public", "finding", f["id"]),
                        "updated": _iso(f["source_date"] or f["year"], built),
                        "summary": f"{value + ' · ' if value else ''}{f['study']}",
                        "author": f["authors"] or f["organisation"] or ""})
    finally:
        conn.close()
    out.sort(key=lambda e: (e["updated"], e["id"]), reverse=True)
    return out[:limit]


def atom(items: list[dict], base: str, title: str = "evidence: new stories and findings") -> str:
    """The feed as Atom XML; `base` is the site's absolute URL (no trailing slash)."""
    updated = max((e["updated"] for e in items), default="1970-01-01T00:00:00Z")
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title>", f"<id>{FEED_ID}</id>", f"<updated>{updated}</updated>",
             f'<link rel="self" href="{escape(base)}/-/feed.atom"/>', f'<link href="{escape(base)}/-/evidence"/>',
             "<author><name>evidence for community-centred social care</name></author>"]
    for e in items:
        parts += ["<entry>", f"<id>{escape(e['id'])}</id>", f"<title>{escape(e['title'])}</title>",
                  f"<updated>{e['updated']}</updated>", f'<link href="{escape(base + e["path"])}"/>',
                  f'<category term="{e["kind"]}"/>',
                  f"<author><name>{escape(e['author'] or 'unknown')}</name></author>",
                  f"<summary>{escape(e['summary'] or '')}</summary>", "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts) + "\n"
