"""The sources of the evidence base (studies and reports, and the posts that
stories and studies come from) as RIS and CSL-JSON."""
from __future__ import annotations

import json
import re

_SLUG = re.compile(r"[^a-z0-9]+")
_PERSON = re.compile(r"^[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){1,2}$")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:60] or "source"


def people(author: str) -> list[dict]:
    """CSL names: 'Alex Fox' -> given/family; anything else (a team, an
    organisation, several people) stays a literal name."""
    author = (author or "").strip()
    if not author:
        return []
    if _PERSON.match(author) and " and " not in author:
        given, family = author.rsplit(" ", 1)
        return [{"given": given, "family": family}]
    return [{"literal": author}]


def sources(conn) -> list[dict]:
    """Every distinct source: studies (reports), then the posts stories,
    studies and approaches cite, each once (by title, author and URL)."""
    seen: dict[tuple, dict] = {}

    def add(kind: str, title, author, organisation, publisher, url, date, year=None, origin=""):
        title = (title or "").strip()
        if not title:
            return
        key = (title.lower(), (author or "").strip().lower(), (url or "").strip())
        if key in seen:
            return
        seen[key] = {"id": "", "kind": kind, "title": title, "author": (author or "").strip(),
                     "organisation": (organisation or "").strip(), "publisher": (publisher or "").strip(),
                     "url": (url or "").strip(), "date": (date or "").strip(), "year": year, "origin": origin}

    for s in conn.execute("SELECT * FROM studies ORDER BY id"):
        add("report", s["title"], s["authors"], s["organisation"], s["organisation"], s["url"], "", s["year"], f"study {s['id']}")
        add("post", s["source_title"], s["source_author"], s["source_organisation"], s["source_publisher"],
            s["source_url"], s["source_date"], None, f"study {s['id']}")
    for s in conn.execute("SELECT * FROM stories ORDER BY id"):
        add("post", s["source_title"], s["source_author"], s["source_organisation"], s["source_publisher"],
            s["source_url"], s["source_date"], None, f"story {s['id']}")
    for a in conn.execute("SELECT id, sources FROM approaches ORDER BY id"):
        try:
            items = json.loads(a["sources"] or "[]")
        except ValueError:
            items = []
        for src in items if isinstance(items, list) else []:
            if isinstance(src, dict):
                add("post", src.get("title"), src.get("author"), src.get("organisation"), src.get("publisher"),
                    src.get("url"), src.get("date"), None, f"approach {a['id']}")
    out, ids = [], set()
    for src in seen.values():
        base = _slug(f"{src['author'] or src['organisation']} {src['title']}")
        sid, n = base, 2
        while sid in ids:
            sid, n = f"{base}-{n}", n + 1
        ids.add(sid)
        src["id"] = sid
        m = re.match(r"(\d{4})", src["date"] or str(src["year"] or ""))
        src["year"] = int(m.group(1)) if m else None
        out.append(src)
    return out


def ris_record(ty: str, fields) -> list[str]:
    """The lines of one RIS record: `TY  - ty`, then `TAG  - value` for each
    (tag, value) of `fields` whose value is not empty (None, "", 0 are left
    out), `ER  - ` and a blank line. Runs of whitespace in a value become one
    space, so a value with a line break cannot end its line early and start
    a tag of its own. The caller joins the lines (LF or CRLF)."""
    lines = [f"TY  - {ty}"]
    for tag, value in fields:
        if not value:
            continue
        lines.append(f"{tag}  - {' '.join(str(value).split())}")
    lines += ["ER  - ", ""]
    return lines


def ris(items: list[dict]) -> str:
    """RIS records (TY RPRT for a report, TY BLOG for a post)."""
    lines = []
    for s in items:
        lines += ris_record("RPRT" if s["kind"] == "report" else "BLOG", [
            ("ID", s["id"]),
            ("TI", s["title"]),
            ("AU", s["author"]),
            ("A2", s["organisation"] if s["organisation"] != s["author"] else ""),
            ("PB", s["publisher"]),
            ("PY", s["year"]),
            ("DA", s["date"]),
            ("UR", s["url"]),
            ("N1", f"cited by {s['origin']} in the evidence base"),
        ])
    return "\n".join(lines)


def csl_json(items: list[dict]) -> str:
    """CSL-JSON (report or post-weblog), one item per source."""
    out = []
    for s in items:
        item = {"id": s["id"], "type": "report" if s["kind"] == "report" else "post-weblog", "title": s["title"]}
        if s["author"]:
            item["author"] = people(s["author"])
        elif s["organisation"]:
            item["author"] = [{"literal": s["organisation"]}]
        if s["publisher"]:
            item["publisher" if s["kind"] == "report" else "container-title"] = s["publisher"]
        if s["year"]:
            item["issued"] = {"date-parts": [[s["year"]]]}
        if s["url"]:
            item["URL"] = s["url"]
        item["note"] = f"cited by {s['origin']} in the evidence base"
        out.append(item)
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"
