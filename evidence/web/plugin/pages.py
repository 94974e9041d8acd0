"""Data for the plugin's pages (story, approach evidence card, gap map,
gap-map cell): plain functions over a read-only connection to the public
database, returning dicts for the templates and the JSON. No Datasette here.
"""
from __future__ import annotations

import json
import sqlite3
from html import escape

from markupsafe import Markup

from evidence.errors import EvidenceError
from evidence.web.plugin.render import render_markdown
from evidence.web.plugin.sql_guard import guard


class NotFound(EvidenceError):
    """No such story, approach or framework in the public database."""


def connect(path: str) -> sqlite3.Connection:
    """A read-only connection with rows as dicts."""
    conn = guard(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))
    conn.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row)}
    return conn


def _all(conn, sql: str, params: list | tuple = ()) -> list[dict]:
    return conn.execute(sql, params).fetchall()


def _one(conn, sql: str, params: list | tuple = ()) -> dict | None:
    return conn.execute(sql, params).fetchone()


OPEN, CLOSE = "\ue000", "\ue001"  # private-use markers, placed in the text before Markdown


def highlight(body: str, tags: list[dict]) -> tuple[Markup, list[dict]]:
    """The narrative as HTML with each tag's supporting sentence in a
    <mark> (class suggested or confirmed), and the marks drawn: [{id,
    start, end, status, domains}]. Overlapping or paragraph-crossing spans
    are not marked (the tag list still shows their sentence)."""
    spans: dict[tuple[int, int], dict] = {}
    for t in tags:
        s, e = t.get("sentence_start"), t.get("sentence_end")
        if s is None or e is None or not (0 <= s < e <= len(body)) or "\n\n" in body[s:e]:
            continue
        span = spans.setdefault((s, e), {"start": s, "end": e, "status": "suggested", "domains": []})
        span["domains"].append(t["label"])
        if t["status"] == "confirmed":
            span["status"] = "confirmed"
    marks, last_end = [], -1
    for (s, e), span in sorted(spans.items()):
        if s < last_end:
            continue
        span["id"] = f"mark-{len(marks) + 1}"
        marks.append(span)
        last_end = e
    text = body
    for span in reversed(marks):
        text = text[:span["start"]] + OPEN + text[span["start"]:span["end"]] + CLOSE + text[span["end"]:]
    html = str(render_markdown(text))
    for span in marks:
        title = escape(f"{span['status']}: " + ", ".join(span["domains"]), quote=True)
        html = html.replace(OPEN, f'<mark id="{span["id"]}" class="tag-{span["status"]}" title="{title}">', 1)
        html = html.replace(CLOSE, "</mark>", 1)
    return Markup(html), marks


def story_page(conn, story_id: str) -> dict:
    """A story with its people, approach, tags (sentence highlighted) and linked findings."""
    story = _one(conn, "SELECT s.*, a.name AS approach_name FROM stories s LEFT JOIN approaches a ON a.id = s.approach "
                       "WHERE s.id = ?", [story_id])
    if story is None:
        raise NotFound(f"no published story '{story_id}'")
    people = _all(conn, "SELECT name, role FROM story_people WHERE story_id = ? ORDER BY position", [story_id])
    tags = _all(conn, "SELECT t.domain, t.framework, t.score, t.status, t.sentence, t.sentence_start, t.sentence_end, "
                      "t.via_crosswalk, d.label, f.title AS framework_title FROM tags t JOIN domains d ON d.id = t.domain "
                      "JOIN frameworks f ON f.id = t.framework WHERE t.story_id = ? "
                      "ORDER BY f.id, t.score DESC", [story_id])
    body, marks = highlight(story["body"] or "", tags)
    by_span = {(m["start"], m["end"]): m["id"] for m in marks}
    for t in tags:
        t["mark"] = by_span.get((t["sentence_start"], t["sentence_end"]))
    findings = _all(conn, """
SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.design, f.year, st.title AS study, st.url AS study_url,
       group_concat(l.reason, '; ') AS reasons, max(l.score) AS score,
       max(l.status = 'confirmed') AS confirmed
  FROM links l JOIN findings f ON f.id = l.finding_id JOIN studies st ON st.id = f.study_id
 WHERE l.story_id = ? GROUP BY f.id ORDER BY confirmed DESC, score DESC, f.id""", [story_id])
    return {"story": story, "people": people, "tags": tags, "body_html": body, "marks": marks, "findings": findings}


def approach_page(conn, approach_id: str) -> dict:
    """The evidence card of one approach."""
    approach = _one(conn, "SELECT a.*, w.label AS area_label FROM approaches a LEFT JOIN areas_of_work w "
                          "ON w.id = a.area_of_work WHERE a.id = ?", [approach_id])
    if approach is None:
        raise NotFound(f"no approach '{approach_id}'")
    approach["sources"] = json.loads(approach.get("sources") or "[]")
    stories = _all(conn, "SELECT id, title, summary, place FROM stories WHERE approach = ? ORDER BY title", [approach_id])
    findings = _all(conn, "SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.design, f.year, f.place, "
                          "st.title AS study, st.organisation AS study_organisation, st.url AS study_url, st.id AS study_id "
                          "FROM findings f JOIN studies st ON st.id = f.study_id WHERE f.approach = ? "
                          "ORDER BY f.year DESC, f.id", [approach_id])
    domains = _all(conn, """
SELECT d.id, d.label, d.framework_id, fw.title AS framework_title,
       count(DISTINCT CASE WHEN t.item_type = 'story' THEN t.story_id END) AS stories,
       count(DISTINCT CASE WHEN t.item_type = 'finding' THEN t.finding_id END) AS findings
  FROM tags t JOIN domains d ON d.id = t.domain JOIN frameworks fw ON fw.id = d.framework_id
  LEFT JOIN stories s ON s.id = t.story_id LEFT JOIN findings f ON f.id = t.finding_id
 WHERE s.approach = ? OR f.approach = ?
 GROUP BY d.id ORDER BY d.framework_id, d.position""", [approach_id, approach_id])
    return {"approach": approach, "stories": stories, "findings": findings, "domains": domains}


def frameworks(conn) -> list[dict]:
    return _all(conn, "SELECT id, title FROM frameworks ORDER BY id")


def gap_map(conn, framework: str | None) -> dict:
    """Domains of one framework by approaches: stories and findings per cell,
    counted with two GROUP BY queries over tags."""
    fws = frameworks(conn)
    if not fws:
        raise NotFound("no outcome frameworks in this database")
    framework = framework or fws[0]["id"]
    if framework not in {f["id"] for f in fws}:
        raise NotFound(f"no framework '{framework}'; choose one of {', '.join(f['id'] for f in fws)}")
    domains = _all(conn, "SELECT id, label FROM domains WHERE framework_id = ? ORDER BY position", [framework])
    approaches = _all(conn, "SELECT id, name FROM approaches ORDER BY name")
    cells: dict[tuple[str, str], dict] = {}
    for r in _all(conn, "SELECT s.approach AS approach, t.domain AS domain, count(DISTINCT t.story_id) AS n "
                        "FROM tags t JOIN stories s ON s.id = t.story_id WHERE t.framework = ? "
                        "GROUP BY s.approach, t.domain", [framework]):
        cells.setdefault((r["approach"], r["domain"]), {"stories": 0, "findings": 0})["stories"] = r["n"]
    for r in _all(conn, "SELECT f.approach AS approach, t.domain AS domain, count(DISTINCT t.finding_id) AS n "
                        "FROM tags t JOIN findings f ON f.id = t.finding_id WHERE t.framework = ? "
                        "GROUP BY f.approach, t.domain", [framework]):
        cells.setdefault((r["approach"], r["domain"]), {"stories": 0, "findings": 0})["findings"] = r["n"]
    top = max([max(c["stories"], c["findings"]) for c in cells.values()] or [1]) or 1
    rows = []
    for a in approaches:
        row = {"approach": a, "cells": []}
        for d in domains:
            c = cells.get((a["id"], d["id"]), {"stories": 0, "findings": 0})
            row["cells"].append({"domain": d, **c, "stories_w": round(100 * c["stories"] / top),
                                 "findings_w": round(100 * c["findings"] / top)})
        rows.append(row)
    gaps = sum(1 for r in rows for c in r["cells"] if not c["stories"] and not c["findings"])
    return {"framework": framework, "frameworks": fws, "domains": domains, "rows": rows, "gaps": gaps,
            "cells_total": len(rows) * len(domains)}


def cell_page(conn, approach_id: str, domain_id: str) -> dict:
    """The stories and findings behind one gap-map cell."""
    approach = _one(conn, "SELECT id, name FROM approaches WHERE id = ?", [approach_id])
    domain = _one(conn, "SELECT d.id, d.label, d.framework_id, f.title AS framework_title FROM domains d "
                        "JOIN frameworks f ON f.id = d.framework_id WHERE d.id = ?", [domain_id])
    if approach is None or domain is None:
        raise NotFound(f"no approach '{approach_id}'" if approach is None else f"no outcome domain '{domain_id}'")
    stories = _all(conn, "SELECT s.id, s.title, t.sentence, t.status, t.score FROM tags t JOIN stories s "
                         "ON s.id = t.story_id WHERE s.approach = ? AND t.domain = ? ORDER BY t.score DESC, s.id",
                   [approach_id, domain_id])
    findings = _all(conn, "SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.year, t.status "
                          "FROM tags t JOIN findings f ON f.id = t.finding_id WHERE f.approach = ? AND t.domain = ? "
                          "ORDER BY t.score DESC, f.id", [approach_id, domain_id])
    return {"approach": approach, "domain": domain, "stories": stories, "findings": findings}


def home_page(conn) -> dict:
    """Counts and lists for the landing page."""
    return {
        "counts": _one(conn, "SELECT (SELECT count(*) FROM stories) AS stories, (SELECT count(*) FROM findings) AS findings, "
                             "(SELECT count(*) FROM approaches) AS approaches"),
        "approaches": _all(conn, "SELECT a.id, a.name, (SELECT count(*) FROM stories s WHERE s.approach = a.id) AS stories, "
                                 "(SELECT count(*) FROM findings f WHERE f.approach = a.id) AS findings "
                                 "FROM approaches a ORDER BY a.name"),
        "stories": _all(conn, "SELECT id, title FROM stories ORDER BY added DESC, title LIMIT 20"),
        "frameworks": frameworks(conn),
    }
