"""Build checks: run on every build inside its transaction, after the
enrichment steps, whatever the build's options say. They guard what may be
published: a story whose id is tombstoned is refused (the build rolls back),
a story with personal data is held back from the public database until a
curator has reviewed it (curate/pii_review.py), and an anonymised story is
held back while a finding shown with it, or its approach, names one of its people.
"""
from __future__ import annotations

import json
from pathlib import Path

from evidence.content.pii import field_text as pii_field_text
from evidence.content.pii import SCANNER_VERSION, Detection, Verdict, hit_message, scan_text, verdict
from evidence.content.tombstones import Matcher, read, refusal
from evidence.errors import EvidenceError, ValidationError, ValidationErrors
from sqlite_utils.utils import chunks

from evidence.store.writes import CHUNK, delete_in, select_in, upsert


def tombstone_check(db, summary, options) -> None:
    """Build step: mirror withdrawn.yml into the tombstones table and refuse
    (rolling the build back) any stored story whose id is tombstoned."""
    root = Path(getattr(options, "root", "."))
    stones = read(root)
    have = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id_sha256, date, reason FROM tombstones").fetchall()}
    want = {k: (t.date, t.reason) for k, t in stones.items()}
    if have != want:
        gone = [k for k in have if k not in want]
        delete_in(db, "tombstones", "id_sha256", gone)
        upsert(db, "tombstones", [{"id_sha256": k, "date": d, "reason": r}
                                  for k, (d, r) in want.items() if have.get(k) != (d, r)], pk="id_sha256")
    if not stones:
        return
    matcher = Matcher(root, stones)  # refuses (one line) when tombstones exist and the key is missing
    errors = []
    for story_id, path, body in db.execute("SELECT id, file, body FROM stories").fetchall():
        stone = matcher.find_story(story_id, body)  # by id, or the same narrative under another id
        if stone is not None:
            errors.append(ValidationError(path or f"stories/{story_id}.md", None, refusal(path, stone)))
    if errors:
        raise ValidationErrors(errors)


_PRESCAN = ("id", "organisation", "place", "source_title", "source_author", "source_organisation",
            "source_publisher", "source_url", "source_date")


def personal_data_check(db, summary, options) -> None:
    """Build step: scan every added or changed story (and any story not yet
    scanned by this scanner version), record the verdict in pii_checks, and
    add one warning line per hit of every held story to summary.warnings."""
    from evidence.content.parsers import parse_story

    root = Path(getattr(options, "root", "."))
    delete_in(db, "pii_checks", "story_id", summary.removed_ids.get("stories", []))
    todo = set(summary.changed_ids.get("stories", []))
    todo |= {r[0] for r in db.execute(
        "SELECT s.id FROM stories s LEFT JOIN pii_checks p ON p.story_id = s.id "
        "WHERE p.story_id IS NULL OR p.scanner IS NOT ? ", [SCANNER_VERSION]).fetchall()}
    rows = []
    for part in map(list, chunks(sorted(todo), CHUNK)):
        people: dict[str, list[str]] = {}
        for sid, name, role, aliases in select_in(
                db, "SELECT story_id, name, role, aliases FROM story_people WHERE story_id IN ({marks})", part):
            people.setdefault(sid, []).extend([name or "", role or "", *json.loads(aliases or "[]")])
        for sid, rel, identity, title, summ, body, public, *published in select_in(
                db, "SELECT id, file, consent_identity, title, summary, body, public_people, id, organisation, place, "
                    "source_title, source_author, source_organisation, source_publisher, source_url, source_date "
                    "FROM stories WHERE id IN ({marks})", part):
            texts = [title or "", summ or "", body or "", *people.get(sid, []), *(pii_field_text(k, v or "") for k, v in zip(_PRESCAN, published)),
                     *(p.get("name") or "" for p in json.loads(public or "[]"))]
            # the common case: nothing to report, no file to read (an anonymised story is checked
            # against its people list too, which needs the story)
            if identity != "anonymised" and not any(scan_text(t) for t in texts if t):
                rows.append(_check_row(sid, Verdict(sid, "clear", []), None))
                continue
            story, text = _load(root, rel, sid, db, parse_story)
            rows.append(_check_row(sid, verdict(story, text), story))
    upsert(db, "pii_checks", rows, pk="story_id")
    summary.enriched["pii"] = len(rows)
    summary_warnings(db, summary)


def _check_row(story_id: str, v: Verdict, story) -> dict:
    review = (getattr(story, "privacy", None) or {}) if v.status == "reviewed" else {}
    return {
        "story_id": story_id, "scanner": SCANNER_VERSION, "status": v.status,
        "publishable": int(v.publishable), "kinds": ",".join(sorted({h.kind for h in v.hits})),
        "hits": json.dumps([{"line": h.line, "field": h.field, "kind": h.kind, "path": h.path} for h in v.hits]),
        "reviewed": review.get("reviewed", ""), "reviewed_by": review.get("by", ""), "note": v.note,
    }


def _load(root: Path, rel: str, story_id: str, db, parse_story):
    """The story as its file says now (for line numbers and the review); the
    stored row when the file cannot be read."""
    try:
        text = (root / rel).read_text(encoding="utf-8-sig")
        story = parse_story(rel, text)
        if story.id == story_id:
            return story, text
    except (OSError, UnicodeDecodeError, EvidenceError):
        pass
    from types import SimpleNamespace

    from evidence.content.records import Person

    r = db.execute("SELECT title, summary, body, file, organisation, place, consent_identity, consent_pseudonym "
                   "FROM stories WHERE id = ?", [story_id]).fetchone()
    people = [Person(name=p["name"], role=p["role"], aliases=json.loads(p["aliases"] or "[]"), pseudonym=p["public_name"] or "")
              for p in db.query("SELECT name, role, aliases, public_name FROM story_people WHERE story_id = ? ORDER BY position", [story_id])]
    return SimpleNamespace(id=story_id, title=r[0] or "", summary=r[1] or "", body=r[2] or "", people=people,
                           organisation=r[4] or "", place=r[5] or "", path=r[3] or rel, privacy={},
                           consent=SimpleNamespace(identity=r[6] or "", pseudonym=r[7] or "")), None


def held_stories(db) -> list[dict]:
    """Stories held back for personal data: id, hits (file, line, field, kind), note."""
    if not db["pii_checks"].exists():
        return []
    return [{"id": r["story_id"], "hits": json.loads(r["hits"] or "[]"), "note": r["note"] or ""}
            for r in db.query("SELECT story_id, hits, note FROM pii_checks WHERE publishable = 0 ORDER BY story_id")]


def held_messages(db) -> list[str]:
    """One line per hit of every held story; hits that read the same (one
    name found by two cues, 'his friend called Nell') are one line, as the
    messages never show the data that would tell them apart."""
    out: list[str] = []
    for s in held_stories(db):
        for h in s["hits"]:
            out.append(hit_message(Detection(h["path"], h.get("line"), h["field"], h["kind"], ""), s["id"]))
        if s["note"]:
            out.append(f"{s['hits'][0]['path'] if s['hits'] else s['id']}: {s['note']}")
    return list(dict.fromkeys(out))


def summary_warnings(db, summary) -> None:
    warnings = getattr(summary, "warnings", None)
    if warnings is not None:
        warnings.extend(held_messages(db))


# What of a finding, and of its study, is published and shown with a story
# it is linked to (the story page, the approach page, the finding's own page)
_FINDING_TEXT = ("id", "statement", "measure", "comparator", "population", "place", "source_sentence", "note",
                 "assessment")  # a curator's certainty reasons, published in certainty_reasons
_STUDY_TEXT = ("id", "title", "authors", "organisation", "url", "source_title", "source_author",
               "source_organisation", "source_publisher", "source_url", "source_date")
# which findings are shown with a story: those of its approach, and those
# linked to it and not rejected (SQL over findings f, with the story's
# approach and id filled in)
_SHOWN = ("(f.approach = {approach} OR f.id IN (SELECT l.finding_id FROM links l "
          "WHERE l.story_id = {story} AND l.status != 'rejected'))")


def linked_names_check(db, summary, options) -> None:
    """Build step: hold back (privacy_holds) every anonymised story while a
    finding shown with it (one of its approach, or linked to it and not
    rejected) names one of its people in any published field of the
    finding or its study, or its approach does (the evidence card shows
    the approach's texts beside the story): the pseudonym next to the name
    would undo it. A story is checked again only when it, its approach, or a
    finding or study shown with it, changed (privacy_checked keeps a hash of what was checked). One
    warning line per held finding on every build, naming the file, line and
    fields, never the name."""
    import hashlib

    stories = {r[0]: [r[1] or "", r[2] or ""] for r in db.execute(
        "SELECT id, approach, content_hash FROM stories WHERE consent_identity = 'anonymised' "
        "AND status = 'published' AND consent_scope = 'public'").fetchall()}
    shown: dict[str, list[str]] = {}
    for sid, fid, fhash, shash in db.execute(f"""
SELECT s.id, f.id, f.content_hash, st.content_hash FROM stories s JOIN findings f
    ON {_SHOWN.format(approach="s.approach", story="s.id")}
  JOIN studies st ON st.id = f.study_id
 WHERE s.consent_identity = 'anonymised' AND s.status = 'published' AND s.consent_scope = 'public'""").fetchall():
        shown.setdefault(sid, []).append(f"{fid}:{fhash}:{shash}")
    approaches = {r[0]: r[1] or "" for r in db.execute("SELECT id, content_hash FROM approaches").fetchall()}
    keys = {sid: hashlib.sha256("\n".join([h, f"approach:{approaches.get(a, '')}", *sorted(shown.get(sid, []))]).encode()).hexdigest()
            for sid, (a, h) in stories.items()}
    checked = {r[0]: r[1] for r in db.execute("SELECT story_id, key FROM privacy_checked").fetchall()}
    gone = [sid for sid in checked if sid not in stories]
    todo = sorted(sid for sid in stories if checked.get(sid) != keys[sid])
    if gone or todo:
        delete_in(db, "privacy_holds", "story_id", [*gone, *todo])
        delete_in(db, "privacy_checked", "story_id", gone)
        holds = [h for sid in todo for h in [*_names_in_shown_findings(db, sid, stories[sid][0]),
                                             *_names_in_approach(db, sid, stories[sid][0])]]
        upsert(db, "privacy_holds", holds, pk=("story_id", "finding_id"))
        upsert(db, "privacy_checked", [{"story_id": sid, "key": keys[sid]} for sid in todo], pk="story_id")
        summary.enriched["privacy_holds"] = len(todo)
    warnings = getattr(summary, "warnings", None)
    if warnings is not None:
        root = Path(getattr(options, "root", "."))
        for sid, fid, fields, rel in db.execute(
                "SELECT h.story_id, h.finding_id, h.fields, st.file FROM privacy_holds h JOIN findings f ON f.id = h.finding_id "
                "JOIN studies st ON st.id = f.study_id ORDER BY h.story_id, h.finding_id").fetchall():
            warnings.append(f"{_finding_where(root, rel, fid)}: finding '{fid}' names a person of the anonymised "
                            f"story '{sid}' (in {fields.replace(',', ', ')}); the story is held back from publication "
                            f"until the finding no longer names them (write the story's pseudonym or leave the name out)")
        for sid, approach, fields, rel in db.execute(
                "SELECT h.story_id, a.id, h.fields, a.file FROM privacy_holds h JOIN approaches a "
                "ON h.finding_id = ? || a.id ORDER BY h.story_id", [_APPROACH_HOLD]).fetchall():
            warnings.append(f"{rel or 'approaches'}: approach '{approach}' names a person of the anonymised story "
                            f"'{sid}' (in {fields.replace(',', ', ')}); the story is held back from publication "
                            f"until the approach no longer names them (write the story's pseudonym or leave the name out)")


def anonymised_names(db, story_ids: list[str]) -> dict[str, dict[str, str]]:
    """story id -> {name or alias: pseudonym} of the people of the anonymised
    stories among `story_ids` (at most CHUNK of them)."""
    marks = ",".join("?" * len(story_ids))
    out: dict[str, dict[str, str]] = {}
    for sid, name, aliases, public in db.execute(
            f"SELECT p.story_id, p.name, p.aliases, p.public_name FROM story_people p JOIN stories s ON s.id = p.story_id "
            f"WHERE s.consent_identity = 'anonymised' AND p.story_id IN ({marks})", story_ids).fetchall():
        for n in [name or "", *json.loads(aliases or "[]")]:
            if n.strip():
                out.setdefault(sid, {})[n.strip()] = public or ""
    return out


def _names_in_shown_findings(db, story_id: str, approach: str) -> list[dict]:
    """privacy_holds rows of one anonymised story: each finding shown with it
    that names one of its people, with the fields that do."""
    from evidence.content.privacy import find_names

    names = anonymised_names(db, [story_id]).get(story_id, {})
    if not names:
        return []
    cols = ", ".join([f"f.[{c}] AS [{c}]" for c in _FINDING_TEXT] + [f"st.[{c}] AS [study {c}]" for c in _STUDY_TEXT])
    cursor = db.execute(
        f"SELECT {cols} FROM findings f JOIN studies st ON st.id = f.study_id "
        f"WHERE {_SHOWN.format(approach='?', story='?')} ORDER BY f.id", [approach, story_id])
    keys = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        fields = [k for k, v in zip(keys, row) if v and find_names(str(v), names)]
        if fields:
            out.append({"story_id": story_id, "finding_id": row[0], "fields": ",".join(fields)})
    return out


# An approach's published texts, shown on its evidence card next to the
# titles and quoted sentences of its stories (the card's story reasons carry
# a curator's confidence override reason); a hold for them is kept in
# privacy_holds with finding_id 'approach:<id>'
_APPROACH_HOLD = "approach:"
_APPROACH_TEXT = ("id", "name", "description", "scale_note", "organisation", "website")


def _names_in_approach(db, story_id: str, approach: str) -> list[dict]:
    """A privacy_holds row when the approach of an anonymised story names one
    of its people in a published text: its own fields, its sources and a
    curator's confidence override reasons."""
    from evidence.content.privacy import find_names

    names = anonymised_names(db, [story_id]).get(story_id, {})
    row = db.execute(f"SELECT {', '.join(_APPROACH_TEXT)}, sources, confidence FROM approaches WHERE id = ?",
                     [approach]).fetchone() if names else None
    if row is None:
        return []
    texts = list(zip(_APPROACH_TEXT, row))
    texts += [("sources", str(v)) for src in json.loads(row[-2] or "[]") for k, v in src.items() if k != "seed" and v]
    texts += [("confidence reason", str(c.get("reason") or "")) for c in json.loads(row[-1] or "[]") if isinstance(c, dict)]
    fields = list(dict.fromkeys(k for k, v in texts if v and find_names(str(v), names)))
    return [{"story_id": story_id, "finding_id": _APPROACH_HOLD + approach, "fields": ",".join(fields)}] if fields else []


def _finding_where(root: Path, rel: str | None, finding_id: str) -> str:
    """'findings/x.yml:LINE' of the finding's id (found by the reader every
    content file goes through), or the file alone."""
    from evidence.content.yamldoc import YamlDoc

    rel = rel or "findings"
    try:
        doc = YamlDoc(rel, (root / rel).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValidationError):
        return rel
    findings = doc.data.get("findings") if isinstance(doc.data, dict) else None
    ids = [f.get("id") if isinstance(f, dict) else None for f in findings] if isinstance(findings, list) else []
    return f"{rel}:{doc.line('findings', ids.index(finding_id), 'id')}" if finding_id in ids else rel
