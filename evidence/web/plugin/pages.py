"""Data for the plugin's pages (story, approach evidence card, gap map,
gap-map cell): plain functions over a read-only connection to the public
database, returning dicts for the templates and the JSON. No Datasette here.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from html import escape

from markupsafe import Markup

from evidence.content.parsers import CERTAINTY_LEVELS
from evidence.errors import EvidenceError
from evidence.web.exports.citations import ris_record
from evidence.web.formatting import format_value, public_note
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
_NO_MARKERS = {ord(OPEN): "\ufffd", ord(CLOSE): "\ufffd"}


# what opens a Markdown block at the start of a line: a list item's bullet or
# number, a heading's hashes, a quote's ">"
_BLOCK_MARK = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)]|#{1,6}|>)[ \t]+")


# the story's own headings sit under the page's "The story" (h2): "# " and
# "## What changed" become h3, "###" h4, so the page's outline stays the
# page's (the sanitizer leaves headings without attributes)
_HEADING_TAG = re.compile(r"<(/?)h([1-6])>")


def _after_block_mark(body: str, start: int, end: int) -> int:
    """Where a mark may open for a sentence at `start`: after the list
    bullet, number, heading hashes or quote sign that begins its line, since
    a marker before them would stop Markdown reading the line as a list item
    or a heading."""
    if start == 0 or body[start - 1] == "\n":
        m = _BLOCK_MARK.match(body, start)
        if m and m.end() < end:
            return m.end()
    return start


def highlight(body: str, tags: list[dict]) -> tuple[Markup, list[dict]]:
    """The narrative as HTML with each tag's supporting sentences in a
    <mark> (class suggested or confirmed), and the marks drawn: [{id,
    start, end, status, domains}]. Overlapping or paragraph-crossing spans
    are not marked (the tag list still shows their sentence)."""
    spans: dict[tuple[int, int], dict] = {}
    for t in tags:
        s, e = t.get("sentence_start"), t.get("sentence_end")
        if s is None or e is None or not (0 <= s < e <= len(body)) or "\n\n" in body[s:e]:
            continue
        s = _after_block_mark(body, s, e)
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
    # the markers are private-use characters: any in the story itself become
    # U+FFFD (same length, offsets kept), or the first mark would be placed
    # there, inside a link's title or URL, breaking out of the attribute
    text = body.translate(_NO_MARKERS)
    for span in reversed(marks):
        text = text[:span["start"]] + OPEN + text[span["start"]:span["end"]] + CLOSE + text[span["end"]:]
    html = _HEADING_TAG.sub(lambda m: f"<{m[1]}h{min(6, max(3, int(m[2]) + 1))}>", str(render_markdown(text)))
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
    # every sentence that supports a tag is highlighted, not only its best one
    label_of = {t["domain"]: t for t in tags}
    spans = list(tags)
    try:
        support = _all(conn, "SELECT domain, start AS sentence_start, end AS sentence_end FROM tag_sentences "
                             "WHERE story_id = ? AND rank > 0 ORDER BY domain, rank", [story_id])
    except sqlite3.OperationalError:  # a public db made before supporting sentences were kept
        support = []
    for r in support:
        t = label_of.get(r["domain"])
        if t is not None:
            spans.append({**r, "label": t["label"], "status": t["status"]})
            t["more"] = t.get("more", 0) + 1
    body, marks = highlight(story["body"] or "", spans)
    by_span = {(m["start"], m["end"]): m["id"] for m in marks}
    for t in tags:
        t["mark"] = by_span.get((t["sentence_start"], t["sentence_end"]))
    cert = "f.certainty, f.certainty_reasons" if _has(conn, "findings", "certainty") else "NULL AS certainty, NULL AS certainty_reasons"
    links = _all(conn, f"""
SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.design, f.year, f.approach, {cert},
       a.name AS approach_name, st.title AS study, st.url AS study_url, l.kind, l.score, l.reason, l.status
  FROM links l JOIN findings f ON f.id = l.finding_id JOIN studies st ON st.id = f.study_id
  LEFT JOIN approaches a ON a.id = f.approach
 WHERE l.story_id = ? ORDER BY l.status = 'confirmed' DESC, l.score DESC, f.id""", [story_id])
    own, other = [], []
    for group, same in ((own, True), (other, False)):
        seen: dict[str, dict] = {}
        for r in links:
            if (bool(r["approach"]) and r["approach"] == story["approach"]) != same:
                continue
            f = seen.get(r["id"])
            if f is None:
                f = seen[r["id"]] = {k: r[k] for k in ("id", "statement", "value", "unit", "sample_size", "design", "year",
                                                       "approach", "approach_name", "certainty", "certainty_reasons",
                                                       "study", "study_url")}
                f.update({"links": [], "confirmed": False, "score": r["score"]})
                group.append(f)
            f["links"].append({"kind": r["kind"], "score": r["score"], "reason": r["reason"], "status": r["status"]})
            f["confirmed"] |= r["status"] == "confirmed"
            f["reasons"] = "; ".join(x["reason"] for x in f["links"] if x["reason"])
    return {"story": story, "people": people, "tags": tags, "body_html": body, "marks": marks,
            "findings": own, "other_findings": other}


def story_json(conn, story_id: str) -> dict:
    """/-/story/<id>.json: the story, its tags with their sentences, and its
    links with kind, score and reason."""
    page = story_page(conn, story_id)
    st = page["story"]
    keys = ("id", "title", "summary", "approach", "approach_name", "organisation", "place", "area_of_work",
            "source_title", "source_author", "source_organisation", "source_publisher", "source_url", "source_date")
    links = [{"finding": f["id"], "statement": f["statement"], "approach": f["approach"],
              "group": group, "certainty": f["certainty"], **link}
             for group, fs in (("own approach", page["findings"]), ("other evidence on the same outcome", page["other_findings"]))
             for f in fs for link in f["links"]]
    return {"story": {k: st.get(k) for k in keys}, "people": page["people"],
            "tags": [{k: t[k] for k in ("domain", "label", "framework", "status", "score", "via_crosswalk", "sentence",
                                        "sentence_start", "sentence_end")} for t in page["tags"]],
            "links": links}


def approach_page(conn, approach_id: str) -> dict:
    """The evidence card of one approach."""
    approach = _one(conn, "SELECT a.*, w.label AS area_label FROM approaches a LEFT JOIN areas_of_work w "
                          "ON w.id = a.area_of_work WHERE a.id = ?", [approach_id])
    if approach is None:
        raise NotFound(f"no approach '{approach_id}'")
    # the sources as the public cites them (the curators' seed file and note stay out)
    approach["sources"] = [{k: v for k, v in src.items() if k not in ("seed", "note")}
                           for src in json.loads(approach.get("sources") or "[]") if isinstance(src, dict)]
    approach["scale_note"] = public_note(approach.get("scale_note"))
    stories = _all(conn, "SELECT id, title, summary, place FROM stories WHERE approach = ? ORDER BY title", [approach_id])
    graded = _has(conn, "findings", "certainty")
    cert = "f.certainty, f.certainty_reasons, f.certainty_assessed" if graded else \
        "NULL AS certainty, NULL AS certainty_reasons, NULL AS certainty_assessed"
    findings = _all(conn, f"SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.design, f.year, f.place, {cert}, "
                          "st.title AS study, st.organisation AS study_organisation, st.url AS study_url, st.id AS study_id "
                          "FROM findings f JOIN studies st ON st.id = f.study_id WHERE f.approach = ? "
                          "ORDER BY f.year DESC, f.id", [approach_id])
    domains = _all(conn, """
SELECT d.id, d.label, d.framework_id, fw.title AS framework_title,
       count(DISTINCT CASE WHEN t.item_type = 'story' THEN t.story_id END) AS stories,
       count(DISTINCT CASE WHEN t.item_type = 'story' AND t.status = 'confirmed' THEN t.story_id END) AS stories_confirmed,
       count(DISTINCT CASE WHEN t.item_type = 'finding' THEN t.finding_id END) AS findings
  FROM tags t JOIN domains d ON d.id = t.domain JOIN frameworks fw ON fw.id = d.framework_id
  LEFT JOIN stories s ON s.id = t.story_id LEFT JOIN findings f ON f.id = t.finding_id
 WHERE s.approach = ? OR f.approach = ?
 GROUP BY d.id ORDER BY d.framework_id, d.position""", [approach_id, approach_id])
    confidence = {}
    if _one(conn, "SELECT name FROM sqlite_master WHERE name = 'confidence'"):
        confidence = {r["domain"]: r for r in _all(conn, "SELECT domain, confidence, confidence_reasons, assessed, components "
                                                         "FROM confidence WHERE approach = ?", [approach_id])}
    by_id = {f["id"]: f for f in findings}
    tagged: dict[str, list[str]] = {}
    for r in _all(conn, "SELECT t.domain, t.finding_id FROM tags t JOIN findings f ON f.id = t.finding_id "
                        "WHERE f.approach = ?", [approach_id]):
        tagged.setdefault(r["domain"], []).append(r["finding_id"])
    quotes = _all(conn, "SELECT t.domain, d.label, s.id AS story_id, s.title AS story_title, t.sentence FROM tags t "
                        "JOIN stories s ON s.id = t.story_id JOIN domains d ON d.id = t.domain "
                        "WHERE s.approach = ? AND t.status = 'confirmed' AND t.sentence IS NOT NULL AND t.sentence != '' "
                        "ORDER BY d.framework_id, d.position, s.title", [approach_id])
    for d in domains:
        fs = [by_id[i] for i in tagged.get(d["id"], []) if i in by_id]
        best = max(fs, key=lambda f: LEVELS.index(f["certainty"]) if f["certainty"] in LEVELS else -1, default=None)
        conf = confidence.get(d["id"]) if d["stories"] else None
        d["finding_certainty"] = best["certainty"] if best else None
        d["finding_reasons"] = best["certainty_reasons"] if best else None
        d["story_confidence"] = conf["confidence"] if conf else None
        d["story_reasons"] = conf["confidence_reasons"] if conf else None
        d["certainty"] = _stronger(d["finding_certainty"], d["story_confidence"])
        parts = []
        if best:
            parts.append(f"{len(fs)} finding{'s' if len(fs) != 1 else ''}, the strongest of {best['certainty']} certainty "
                         f"({best['certainty_reasons'] or 'not assessed'})")
        else:
            parts.append("no findings")
        if conf:
            parts.append(f"{d['stories']} stor{'ies' if d['stories'] != 1 else 'y'} ({d['stories_confirmed']} confirmed), "
                         f"{conf['confidence']} confidence ({conf['confidence_reasons']})")
        else:
            parts.append("no stories" if not d["stories"] else f"{d['stories']} stories, confidence not assessed")
        d["strength"] = (f"{d['certainty'] or 'not assessed'}: " + "; ".join(parts)) if d["certainty"] else "; ".join(parts)
        d["finding_brief"] = _finding_brief(best["certainty_reasons"]) if best and best["certainty_reasons"] else ""
        d["story_brief"] = _story_brief(conf) if conf else ""
        d["quotes"] = [q for q in quotes if q["domain"] == d["id"]]
    return {"approach": approach, "stories": stories, "findings": findings, "domains": domains, "quotes": quotes}


def _finding_brief(reasons: str) -> str:
    """'starts low (survey), down one for imprecision' from the full reasons."""
    out = []
    for part in reasons.rstrip(".").split("; "):
        if part.startswith("starts "):
            level, _, design = part[len("starts "):].partition(": ")
            out.append(f"starts {level} ({design.split(' (')[0]})")
        elif part.startswith(("down ", "up ")):
            out.append(part.split(" (")[0])
    return ", ".join(out)


def _story_brief(conf: dict) -> str:
    """'serious concerns: adequacy, methodological limitations; minor: coherence'."""
    try:
        comps = json.loads(conf.get("components") or "{}")
    except ValueError:
        comps = {}
    by: dict[str, list[str]] = {}
    for name, c in comps.items():
        if c.get("concern") not in (None, "none"):
            by.setdefault(c["concern"], []).append(name)
    parts = [f"{lv} concerns about {', '.join(by[lv])}" for lv in ("serious", "moderate", "minor") if lv in by]
    brief = "; ".join(parts) or "no or very minor concerns"
    return ("set by a curator; " + brief) if conf.get("assessed") == "curator" else brief


def frameworks(conn) -> list[dict]:
    return _all(conn, "SELECT id, title FROM frameworks ORDER BY id")


STRENGTH_FIELDS = ("measured", "tags", "search")


def about(conn, strength: dict | None) -> dict:
    """The about page's figures: the codebooks tagged with here (whatever
    pipelines/frameworks/ holds, each with its number of domains), how many tags
    are suggested and confirmed, and the measured strength of the tagger and
    the search when it was measured on exactly these frameworks (else the
    page says it was not: figures for one codebook say nothing of another)."""
    fws = _all(conn, "SELECT f.id, f.title, (SELECT count(*) FROM domains d WHERE d.framework_id = f.id) AS domains "
                     "FROM frameworks f ORDER BY f.id")
    counts = {r["status"]: r["n"] for r in _all(conn, "SELECT status, count(*) AS n FROM tags GROUP BY status")}
    measured_on = sorted(str(f) for f in (strength or {}).get("frameworks") or [])
    applies = bool(strength) and measured_on == sorted(f["id"] for f in fws)
    return {"frameworks": fws, "suggested": counts.get("suggested", 0), "confirmed": counts.get("confirmed", 0),
            "strength": {k: str(strength.get(k) or "") for k in STRENGTH_FIELDS} if applies else None,
            "strength_frameworks": measured_on}


LEVELS = list(CERTAINTY_LEVELS)  # weakest first


def _has(conn, table: str, column: str) -> bool:
    return any(r["name"] == column for r in _all(conn, f"PRAGMA table_info([{table}])"))


def _stronger(*levels: str | None) -> str | None:
    known = [lv for lv in levels if lv in LEVELS]
    return max(known, key=LEVELS.index) if known else None


@dataclass
class GapFilters:
    """The gap map's filters (query-string parameters of /-/gaps)."""

    framework: str | None = None
    area: str | None = None          # area of work of the approach (main or also)
    design: str | None = None        # a finding design group (pipelines/certainty.yml)
    certainty: str | None = None     # the least certainty a cell must have
    confirmed: bool = False          # count only tags a curator confirmed

    @classmethod
    def from_args(cls, args) -> "GapFilters":
        get = (lambda k: (args.get(k) or "").strip() or None)
        return cls(framework=get("framework"), area=get("area"), design=get("design"),
                   certainty=get("certainty"), confirmed=(get("confirmed") or "") in ("1", "on", "true", "yes"))

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in [("framework", self.framework), ("area", self.area), ("design", self.design),
                                            ("certainty", self.certainty), ("confirmed", "1" if self.confirmed else None)]
                          if v})


def gap_options(conn) -> dict:
    areas = _all(conn, "SELECT id, label FROM areas_of_work ORDER BY position")
    designs = [r["g"] for r in _all(conn, "SELECT DISTINCT design_group AS g FROM findings WHERE design_group IS NOT NULL "
                                          "ORDER BY g")] if _has(conn, "findings", "design_group") else []
    return {"areas": areas, "designs": designs, "levels": list(reversed(LEVELS))}


def gap_map(conn, filters: "GapFilters | str | None" = None) -> dict:
    """Domains of one framework by approaches. Each cell: stories whose tag
    there a curator confirmed, stories with the tagger's suggestion only,
    findings, the best certainty of those findings, the confidence in what
    the stories say, and the stronger of the two (`certainty`)."""
    if not isinstance(filters, GapFilters):
        filters = GapFilters(framework=filters)
    fws = frameworks(conn)
    if not fws:
        raise NotFound("no outcome frameworks in this database")
    framework = filters.framework or fws[0]["id"]
    if framework not in {f["id"] for f in fws}:
        raise NotFound(f"no framework '{framework}'; choose one of {', '.join(f['id'] for f in fws)}")
    if filters.certainty and filters.certainty not in LEVELS:
        raise NotFound(f"no certainty level '{filters.certainty}'; choose one of {', '.join(LEVELS)}")
    options = gap_options(conn)
    if filters.area and filters.area not in {a["id"] for a in options["areas"]}:
        raise NotFound(f"no area of work '{filters.area}'; choose one of {', '.join(a['id'] for a in options['areas'])}")
    filters.framework = framework
    domains = _all(conn, "SELECT id, label FROM domains WHERE framework_id = ? ORDER BY position", [framework])
    approaches = _all(conn, "SELECT id, name, area_of_work, also_areas FROM approaches ORDER BY name")
    if filters.area:
        approaches = [a for a in approaches if a["area_of_work"] == filters.area
                      or filters.area in json.loads(a["also_areas"] or "[]")]
    graded = _has(conn, "findings", "certainty")
    cells: dict[tuple[str, str], dict] = {}

    def cell(a: str, d: str) -> dict:
        return cells.setdefault((a, d), {"stories_confirmed": 0, "stories_suggested": 0, "findings": 0,
                                         "finding_certainty": None, "story_confidence": None})

    status = "AND t.status = 'confirmed'" if filters.confirmed else ""
    for r in _all(conn, "SELECT s.approach AS approach, t.domain AS domain, "
                        "count(DISTINCT CASE WHEN t.status = 'confirmed' THEN t.story_id END) AS confirmed, "
                        "count(DISTINCT CASE WHEN t.status != 'confirmed' THEN t.story_id END) AS suggested "
                        f"FROM tags t JOIN stories s ON s.id = t.story_id WHERE t.framework = ? {status} "
                        "GROUP BY s.approach, t.domain", [framework]):
        c = cell(r["approach"], r["domain"])
        c["stories_confirmed"], c["stories_suggested"] = r["confirmed"], r["suggested"]
    design = "AND f.design_group = ?" if filters.design and graded else ""
    best = ("max(CASE f.certainty WHEN 'high' THEN 3 WHEN 'moderate' THEN 2 WHEN 'low' THEN 1 WHEN 'very low' THEN 0 END)"
            if graded else "NULL")
    for r in _all(conn, f"SELECT f.approach AS approach, t.domain AS domain, count(DISTINCT t.finding_id) AS n, {best} AS best "
                        f"FROM tags t JOIN findings f ON f.id = t.finding_id WHERE t.framework = ? {status} {design} "
                        "GROUP BY f.approach, t.domain", [framework] + ([filters.design] if design else [])):
        c = cell(r["approach"], r["domain"])
        c["findings"] = r["n"]
        c["finding_certainty"] = LEVELS[r["best"]] if r["best"] is not None else None
    confidence = {}
    if _one(conn, "SELECT name FROM sqlite_master WHERE name = 'confidence'"):
        confidence = {(r["approach"], r["domain"]): r for r in _all(
            conn, "SELECT approach, domain, confidence, confidence_reasons FROM confidence WHERE framework = ?", [framework])}
    rows, flat = [], []
    for a in approaches:
        row = {"approach": a, "cells": []}
        for d in domains:
            c = dict(cells.get((a["id"], d["id"])) or cell(a["id"], d["id"]))
            conf = confidence.get((a["id"], d["id"]))
            stories = c["stories_confirmed"] + c["stories_suggested"]
            if conf and stories:
                c["story_confidence"] = conf["confidence"]
            c["certainty"] = _stronger(c["finding_certainty"], c["story_confidence"])
            c["state"] = ("empty" if not stories and not c["findings"] else "no-numbers" if not c["findings"]
                          else "no-stories" if not stories else "both")
            c["shown"] = not filters.certainty or (c["certainty"] in LEVELS
                                                   and LEVELS.index(c["certainty"]) >= LEVELS.index(filters.certainty))
            c["domain"] = d
            row["cells"].append(c)
            flat.append({"approach": a["id"], "domain": d["id"], **{k: c[k] for k in (
                "stories_confirmed", "stories_suggested", "findings", "certainty", "finding_certainty",
                "story_confidence", "state", "shown")}})
        rows.append(row)
    for r in rows:
        r["approach"] = {k: r["approach"][k] for k in ("id", "name", "area_of_work")}
    counts = {s: sum(1 for c in flat if c["state"] == s) for s in ("empty", "no-numbers", "no-stories", "both")}
    return {"framework": framework, "frameworks": fws, "filters": asdict(filters), "query": filters.query(),
            "options": options, "domains": domains, "rows": rows, "cells": flat, "states": counts,
            "gaps": counts["empty"], "cells_total": len(flat)}


def _citation_finding(f: dict) -> str:
    who = f.get("study_authors") or f.get("study_organisation") or ""
    year = f.get("study_year") or f.get("year")
    parts = [f"{who} ({year})." if who and year else f"{who}." if who else "", f"{f['study']}." if f.get("study") else "",
             f"{f['study_organisation']}." if f.get("study_organisation") and f.get("study_organisation") != who else "",
             f.get("study_url") or ""]
    return " ".join(p for p in parts if p).strip()


def _citation_story(s: dict) -> str:
    who = s.get("source_author") or s.get("source_organisation") or ""
    parts = [f"{who}." if who else "", f"{s['source_title']}." if s.get("source_title") else "",
             f"{s['source_publisher'] or s['source_organisation']}." if (s.get("source_publisher") or
                                                                        (s.get("source_organisation") and s.get("source_author"))) else "",
             s.get("source_date") or "", s.get("source_url") or ""]
    return " ".join(p for p in parts if p).strip()


def cell_page(conn, approach_id: str, domain_id: str) -> dict:
    """The stories and findings behind one gap-map cell, each with its
    citation, the cell's counts and its strength."""
    approach = _one(conn, "SELECT id, name FROM approaches WHERE id = ?", [approach_id])
    domain = _one(conn, "SELECT d.id, d.label, d.framework_id, f.title AS framework_title FROM domains d "
                        "JOIN frameworks f ON f.id = d.framework_id WHERE d.id = ?", [domain_id])
    if approach is None or domain is None:
        raise NotFound(f"no approach '{approach_id}'" if approach is None else f"no outcome domain '{domain_id}'")
    stories = _all(conn, "SELECT s.id, s.title, s.place, s.source_title, s.source_author, s.source_organisation, "
                         "s.source_publisher, s.source_date, s.source_url, t.sentence, t.status, t.score "
                         "FROM tags t JOIN stories s ON s.id = t.story_id WHERE s.approach = ? AND t.domain = ? "
                         "ORDER BY t.status = 'confirmed' DESC, t.score DESC, s.id", [approach_id, domain_id])
    graded = _has(conn, "findings", "certainty")
    cert = "f.certainty, f.certainty_reasons, f.design_group" if graded else "NULL AS certainty, NULL AS certainty_reasons, NULL AS design_group"
    findings = _all(conn, f"SELECT f.id, f.statement, f.value, f.unit, f.sample_size, f.design, f.year, {cert}, t.status, "
                          "st.title AS study, st.authors AS study_authors, st.organisation AS study_organisation, "
                          "st.year AS study_year, st.url AS study_url, st.kind AS study_kind "
                          "FROM tags t JOIN findings f ON f.id = t.finding_id JOIN studies st ON st.id = f.study_id "
                          "WHERE f.approach = ? AND t.domain = ? ORDER BY t.status = 'confirmed' DESC, t.score DESC, f.id",
                    [approach_id, domain_id])
    for s in stories:
        s["citation"] = _citation_story(s)
    for f in findings:
        f["citation"] = _citation_finding(f)
    conf = None
    if _one(conn, "SELECT name FROM sqlite_master WHERE name = 'confidence'"):
        conf = _one(conn, "SELECT confidence, confidence_reasons, assessed FROM confidence WHERE approach = ? AND domain = ?",
                    [approach_id, domain_id])
    counts = {"stories_confirmed": sum(1 for s in stories if s["status"] == "confirmed"),
              "stories_suggested": sum(1 for s in stories if s["status"] != "confirmed"), "findings_count": len(findings)}
    best = _stronger(*[f["certainty"] for f in findings])
    return {"approach": approach, "domain": domain, "stories": stories, "findings": findings, **counts,
            "finding_certainty": best, "story_confidence": conf if stories else None,
            "certainty": _stronger(best, conf["confidence"] if conf and stories else None)}


CSV_COLUMNS = ("type", "id", "title", "status", "approach", "domain", "value", "unit", "sample_size", "design",
               "certainty", "year", "citation", "sentence")


def cell_records(data: dict) -> list[dict]:
    """One flat record per story and finding of a cell (for CSV and RIS)."""
    out = []
    for s in data["stories"]:
        out.append({"type": "story", "id": s["id"], "title": s["title"], "status": s["status"],
                    "approach": data["approach"]["id"], "domain": data["domain"]["id"], "value": "", "unit": "",
                    "sample_size": "", "design": "", "certainty": (data["story_confidence"] or {}).get("confidence", ""),
                    "year": (s.get("source_date") or "")[:4], "citation": s["citation"], "sentence": s["sentence"] or "",
                    "_author": s.get("source_author") or s.get("source_organisation") or "",
                    "_publisher": s.get("source_publisher") or s.get("source_organisation") or "",
                    "_url": s.get("source_url") or "", "_source": s.get("source_title") or ""})
    for f in data["findings"]:
        out.append({"type": "finding", "id": f["id"], "title": f["statement"], "status": f["status"],
                    "approach": data["approach"]["id"], "domain": data["domain"]["id"],
                    "value": "" if f["value"] is None else f"{f['value']:g}", "unit": f["unit"] or "",
                    "sample_size": "" if f["sample_size"] is None else f["sample_size"], "design": f["design"] or "",
                    "certainty": f["certainty"] or "", "year": f["study_year"] or f["year"] or "",
                    "citation": f["citation"], "sentence": "",
                    "_author": f.get("study_authors") or f.get("study_organisation") or "",
                    "_publisher": f.get("study_organisation") or "", "_url": f.get("study_url") or "",
                    "_source": f.get("study") or "", "_kind": f.get("study_kind") or ""})
    return out


def cell_csv(data: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    for r in cell_records(data):
        # a leading = + - @ would run as a formula in a spreadsheet
        w.writerow({k: ("'" + v if isinstance(v, str) and v and v[0] in "=+-@" else v) for k, v in r.items()})
    return buf.getvalue()


RIS_TYPES = {"survey": "RPRT", "research report": "RPRT", "organisational report": "RPRT", "statistics": "DATA",
             "case study": "CASE", "programme monitoring": "RPRT"}


def cell_ris(data: dict) -> str:
    """The cell's records as RIS (reference managers: Zotero, EndNote, EPPI-Reviewer)."""
    lines = []
    for r in cell_records(data):
        note = r["sentence"] or " ".join(x for x in [r["value"] and f"{r['value']} {r['unit']}".strip(),
                                                     r["sample_size"] != "" and f"n = {r['sample_size']}",
                                                     r["design"]] if x)
        certainty = r["certainty"] and (f"certainty: {r['certainty']} "
                                        f"({'confidence in the stories' if r['type'] == 'story' else 'GRADE-style'})")
        lines += ris_record("GEN" if r["type"] == "story" else RIS_TYPES.get((r.get("_kind") or "").lower(), "RPRT"), [
            ("TI", r["title"]),
            ("AU", r["_author"]),
            ("PY", r["year"]),
            ("T2", r["_source"]),
            ("PB", r["_publisher"]),
            ("UR", r["_url"]),
            ("ID", f"{r['type']}:{r['id']}"),
            ("KW", r["domain"]),
            ("KW", r["approach"]),
            ("N1", note),
            ("N1", certainty),
        ])
    return "\r\n".join(lines)


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


def charts(conn) -> dict:
    """The charts' data: evidence by approach (stories with a curator-confirmed
    outcome tag, stories with suggested tags only or none, findings), by
    outcome domain (stories and findings, confirmed and suggested), and the
    findings' values by approach and design."""
    # tags are aggregated once (the public db has no index on tags.story_id,
    # and a lookup per story took minutes at 10,000 stories)
    by_approach = _all(conn, """
WITH confirmed AS (SELECT DISTINCT story_id FROM tags WHERE item_type = 'story' AND status = 'confirmed'),
     st AS (SELECT s.approach, count(*) AS n, count(c.story_id) AS confirmed
              FROM stories s LEFT JOIN confirmed c ON c.story_id = s.id GROUP BY s.approach),
     fi AS (SELECT approach, count(*) AS n FROM findings GROUP BY approach)
SELECT a.id, a.name, coalesce(st.confirmed, 0) AS stories_confirmed,
       coalesce(st.n, 0) - coalesce(st.confirmed, 0) AS stories_suggested, coalesce(fi.n, 0) AS findings
  FROM approaches a LEFT JOIN st ON st.approach = a.id LEFT JOIN fi ON fi.approach = a.id
 ORDER BY stories_confirmed + stories_suggested + findings DESC, a.name""")
    by_domain = _all(conn, """
WITH agg AS (SELECT domain,
       count(DISTINCT CASE WHEN item_type = 'story' AND status = 'confirmed' THEN story_id END) AS stories_confirmed,
       count(DISTINCT CASE WHEN item_type = 'story' THEN story_id END) AS stories,
       count(DISTINCT CASE WHEN item_type = 'finding' THEN finding_id END) AS findings
  FROM tags GROUP BY domain)
SELECT d.id, d.label, d.framework_id AS framework, fw.title AS framework_title,
       coalesce(agg.stories_confirmed, 0) AS stories_confirmed, coalesce(agg.stories, 0) AS stories,
       coalesce(agg.findings, 0) AS findings
  FROM domains d JOIN frameworks fw ON fw.id = d.framework_id LEFT JOIN agg ON agg.domain = d.id
 ORDER BY fw.id, d.position""")
    for d in by_domain:
        d["stories_suggested"] = d["stories"] - d["stories_confirmed"]
    values = _all(conn, """
SELECT f.id, f.statement, f.value, f.unit, coalesce(nullif(f.design, ''), 'not stated') AS design,
       coalesce(a.name, 'no approach (general)') AS approach_name, f.approach
  FROM findings f LEFT JOIN approaches a ON a.id = f.approach
 WHERE f.value IS NOT NULL ORDER BY approach_name, f.design, f.value""")
    for v in values:
        v["label"] = format_value(v["value"], v["unit"])
    return {"by_approach": by_approach, "by_domain": by_domain, "values": values}
