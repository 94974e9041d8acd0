"""Personal data checks: e-mail addresses, UK phone numbers, UK postcodes and
NHS numbers in a story's text (title, summary, narrative, people).

A story with a hit stays in the working database but is held back from the
public one until a curator has looked at it and either removed the data or
recorded a review (`evidence review-pii ID`, which writes
`privacy: {reviewed: DATE, by: WHO, hash: H}` into the front matter). The
hash is taken over the personal data found, so a review covers exactly what
was reviewed: an edit that adds new personal data needs a new review, while
fixing a typo elsewhere does not.

Messages name the file, the line and the kind of data, never the data.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evidence.errors import EvidenceError, ValidationError

SCANNER_VERSION = "1"  # bump when the patterns change: every story is scanned again

EMAIL, PHONE, POSTCODE, NHS = "e-mail address", "UK phone number", "UK postcode", "NHS number"
KINDS = (EMAIL, PHONE, POSTCODE, NHS)

_NOT_AFTER = r"(?<![\w+£$€.,/-])"  # not glued to a word, a number, a currency sign or a decimal point
_NOT_BEFORE = r"(?![\w/]|[.,]\d|-\d)"

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
    # and the usual disguise: name [at] example [dot] org
    r"|(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._+-]*\s*[\[(]\s*at\s*[\])]\s*[A-Za-z0-9-]+"
    r"(?:\s*(?:[\[(]\s*dot\s*[\])]|\.)\s*[A-Za-z0-9-]+)+", re.IGNORECASE)
_PHONE_RE = re.compile(_NOT_AFTER + r"""
    (?:
        (?:\+|00)\s?44\s?(?:\(0\)\s?)?\(?\d{2,5}\)?   # +44 20 / +44 (0)20 / 0044 7911
      | \(0\d{2,5}\)                                   # (020) / (0161)
      | 0\d{2,5}                                       # 020 / 0161 / 07911 / 01632
    )
    (?:[\s.-]?\d{2,4}){1,3}                             # the rest, in groups
    """ + _NOT_BEFORE, re.VERBOSE)
_NHS_RE = re.compile(_NOT_AFTER + r"(\d{3})([ -]?)(\d{3})\2(\d{4})" + _NOT_BEFORE)
_POSTCODE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})"
    r"(?![A-Za-z0-9])")


@dataclass
class Match:
    """One piece of personal data in a text: kind and span. `value` is the
    normalised data, used only for the review hash; never print it."""

    kind: str
    start: int
    end: int
    value: str = field(repr=False)


def _phone_value(text: str) -> str | None:
    """The number in national form if `text` is a plausible UK phone number."""
    t = text.replace("(0)", "")
    digits = re.sub(r"\D", "", t)
    if t.lstrip().startswith("+"):
        digits = "0" + digits[2:]
    elif t.lstrip().startswith("00"):
        digits = "0" + digits[4:]
    if len(digits) == 11 and digits[0] == "0" and digits[1] in "1235789":
        return digits
    if len(digits) == 10 and (digits.startswith("01") or digits.startswith("0800")):
        return digits
    return None


def nhs_check_digit_ok(digits: str) -> bool:
    """True when the tenth digit is the Modulus 11 check digit of the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


_MAY_EMAIL = re.compile(r"[\[(]\s*at\s*[\])]", re.IGNORECASE)  # the disguised form; '@' is checked as a string
_DIGIT_RUN = re.compile(r"\d+")
_MARGIN = 12  # characters kept around digits: the letters of a postcode, a '+44 (' before a number


def _digit_windows(text: str) -> list[tuple[int, int]]:
    """Stretches of `text` around its digits (phone numbers, NHS numbers and
    postcodes all hold digits), merged when they overlap."""
    windows: list[tuple[int, int]] = []
    for m in _DIGIT_RUN.finditer(text):
        start, end = max(0, m.start() - _MARGIN), min(len(text), m.end() + _MARGIN)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def scan_text(text: str) -> list[Match]:
    """Every piece of personal data in `text`, in order, without overlaps."""
    found: list[Match] = []

    def free(start: int, end: int) -> bool:
        return all(end <= m.start or start >= m.end for m in found)

    if "@" in text or _MAY_EMAIL.search(text):
        for m in _EMAIL_RE.finditer(text):
            found.append(Match(EMAIL, m.start(), m.end(), re.sub(r"\s+", "", m.group(0)).lower()))
    windows = _digit_windows(text)
    # the patterns run on the stretches around digits only (the text between
    # them cannot hold a match); a window's edges are never inside a number
    for a, b in windows:
        part = text[a:b]
        for m in _PHONE_RE.finditer(part):
            value = _phone_value(m.group(0))
            if value and free(a + m.start(), a + m.end()):
                found.append(Match(PHONE, a + m.start(), a + m.end(), value))
    for a, b in windows:
        part = text[a:b]
        for m in _NHS_RE.finditer(part):
            digits = m.group(1) + m.group(3) + m.group(4)
            if not nhs_check_digit_ok(digits) or not free(a + m.start(), a + m.end()):
                continue
            if re.search(r"isbn[\s:-]*(?:1[03])?[\s:-]*$", text[max(0, a + m.start() - 16):a + m.start()], re.IGNORECASE):
                continue  # an ISBN-10 passes the same check
            found.append(Match(NHS, a + m.start(), a + m.end(), digits))
    for a, b in windows:
        part = text[a:b]
        for m in _POSTCODE_RE.finditer(part):
            if free(a + m.start(), a + m.end()):
                found.append(Match(POSTCODE, a + m.start(), a + m.end(), m.group(0).replace(" ", "")))
    if "GIR" in text:  # the one postcode without a digit in its outward code
        for m in re.finditer(r"(?<![A-Za-z0-9])GIR ?0AA(?![A-Za-z0-9])", text):
            if free(m.start(), m.end()):
                found.append(Match(POSTCODE, m.start(), m.end(), "GIR0AA"))
    return sorted(found, key=lambda m: m.start)


# ---------------------------------------------------------------------------
# Stories


@dataclass
class Hit:
    """Personal data found in a story file: where and what kind, never what."""

    path: str
    line: int | None
    field: str
    kind: str
    value: str = field(repr=False, compare=False)

    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def story_texts(story) -> list[tuple[str, str]]:
    """(field, text) pairs of a story that are scanned."""
    out = [("title", story.title), ("summary", story.summary), ("body", story.body)]
    for i, p in enumerate(story.people):
        for name, value in (("name", p.name), ("role", p.role), ("pseudonym", p.pseudonym)):
            out.append((f"people[{i}].{name}", value))
        out += [(f"people[{i}].aliases", a) for a in p.aliases]
    return [(f, t) for f, t in out if t]


def _lines(path: str, file_text: str | None) -> tuple[list[str], int, int]:
    """(lines, index of the closing '---', index of the first narrative line)."""
    if not file_text:
        return [], -1, -1
    lines = file_text.split("\n")
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), -1)
    first = close + 1
    while 0 <= first < len(lines) and not lines[first].strip():
        first += 1
    return lines, close, first


def _front_line(lines: list[str], close: int, fieldname: str, snippet: str) -> int | None:
    for i in range(1, max(close, 1)):
        if snippet and snippet in lines[i]:
            return i + 1
    key = fieldname.split("[", 1)[0].split(".", 1)[0]
    for i in range(1, max(close, 1)):
        if re.match(rf"{re.escape(key)}\s*:", lines[i]):
            return i + 1
    return None


def scan_story(story, file_text: str | None = None) -> list[Hit]:
    """Personal data in a story's scanned fields, with the line of the file
    (`file_text`, the story file as read) where each was found."""
    lines, close, first_body = _lines(story.path, file_text)
    hits: list[Hit] = []
    for fieldname, text in story_texts(story):
        for m in scan_text(text):
            if fieldname == "body" and first_body >= 0:
                line = first_body + text.count("\n", 0, m.start) + 1
            else:
                line = _front_line(lines, close, fieldname, text[m.start:m.end]) if lines else None
            hits.append(Hit(story.path, line, fieldname, m.kind, m.value))
    return hits


def findings_hash(story_id: str, hits: list[Hit]) -> str:
    """Short hash of the personal data found in a story: what a review covers."""
    blob = story_id + "\0" + "\n".join(sorted(f"{h.kind}:{h.value}" for h in hits))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def hit_message(h: Hit, story_id: str) -> str:
    """One line for one hit: file, line, field and kind; never the data."""
    return (f"{h.where()}: {h.kind} in {h.field}; the story is held back from publication until "
            f"you remove it or run 'evidence review-pii {story_id}'")


@dataclass
class Verdict:
    """The outcome of checking one story."""

    story_id: str
    status: str  # clear | reviewed | held
    hits: list[Hit]
    note: str = ""

    @property
    def publishable(self) -> bool:
        return self.status != "held"


def verdict(story, file_text: str | None) -> Verdict:
    """Check a story and its recorded review (front matter `privacy:`)."""
    hits = scan_story(story, file_text)
    if not hits:
        return Verdict(story.id, "clear", [])
    review = getattr(story, "privacy", None) or {}
    if review.get("hash") and review.get("hash") == findings_hash(story.id, hits):
        return Verdict(story.id, "reviewed", hits)
    note = ("the review of {} no longer matches: the personal data changed".format(review.get("reviewed", "?"))
            if review.get("hash") else "")
    return Verdict(story.id, "held", hits, note)


# ---------------------------------------------------------------------------
# The build step


def check_build(db, summary, options) -> None:
    """Build step: scan every added or changed story (and any story not yet
    scanned by this scanner version), record the verdict in pii_checks, and
    add one warning line per hit of every held story to summary.warnings."""
    from evidence.content.parsers import parse_story

    root = Path(getattr(options, "root", "."))
    removed = sorted(set(summary.removed_ids.get("stories", [])))
    for i in range(0, len(removed), 500):
        part = removed[i:i + 500]
        db.execute(f"DELETE FROM pii_checks WHERE story_id IN ({','.join('?' * len(part))})", part)
    todo = set(summary.changed_ids.get("stories", []))
    todo |= {r[0] for r in db.execute(
        "SELECT s.id FROM stories s LEFT JOIN pii_checks p ON p.story_id = s.id "
        "WHERE p.story_id IS NULL OR p.scanner IS NOT ? ", [SCANNER_VERSION]).fetchall()}
    rows = []
    ids = sorted(todo)
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        marks = ",".join("?" * len(part))
        people: dict[str, list[str]] = {}
        for sid, name, role, aliases in db.execute(
                f"SELECT story_id, name, role, aliases FROM story_people WHERE story_id IN ({marks})", part).fetchall():
            people.setdefault(sid, []).extend([name or "", role or "", *json.loads(aliases or "[]")])
        for sid, rel, title, summ, body, public in db.execute(
                f"SELECT id, file, title, summary, body, public_people FROM stories WHERE id IN ({marks})", part).fetchall():
            texts = [title or "", summ or "", body or "", *people.get(sid, []),
                     *(p.get("name") or "" for p in json.loads(public or "[]"))]
            if not any(scan_text(t) for t in texts if t):  # the common case: nothing to report, no file to read
                rows.append(_check_row(sid, Verdict(sid, "clear", []), None))
                continue
            story, text = _load(root, rel, sid, db, parse_story)
            rows.append(_check_row(sid, verdict(story, text), story))
    if rows:
        db["pii_checks"].upsert_all(rows, pk="story_id", batch_size=500)
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

    r = db.execute("SELECT title, summary, body, file FROM stories WHERE id = ?", [story_id]).fetchone()
    people = [Person(name=p["name"], role=p["role"], aliases=json.loads(p["aliases"] or "[]"))
              for p in db.query("SELECT name, role, aliases FROM story_people WHERE story_id = ? ORDER BY position", [story_id])]
    return SimpleNamespace(id=story_id, title=r[0] or "", summary=r[1] or "", body=r[2] or "", people=people,
                           path=r[3] or rel, privacy={}), None


def held_stories(db) -> list[dict]:
    """Stories held back for personal data: id, hits (file, line, field, kind), note."""
    if not db["pii_checks"].exists():
        return []
    return [{"id": r["story_id"], "hits": json.loads(r["hits"] or "[]"), "note": r["note"] or ""}
            for r in db.query("SELECT story_id, hits, note FROM pii_checks WHERE publishable = 0 ORDER BY story_id")]


def held_messages(db) -> list[str]:
    """One line per hit of every held story."""
    out = []
    for s in held_stories(db):
        for h in s["hits"]:
            out.append(hit_message(Hit(h["path"], h.get("line"), h["field"], h["kind"], ""), s["id"]))
        if s["note"]:
            out.append(f"{s['hits'][0]['path'] if s['hits'] else s['id']}: {s['note']}")
    return out


def summary_warnings(db, summary) -> None:
    warnings = getattr(summary, "warnings", None)
    if warnings is not None:
        warnings.extend(held_messages(db))


# ---------------------------------------------------------------------------
# Review


def set_privacy_block(text: str, review: dict) -> str:
    """The story file text with its front matter's `privacy:` entry replaced
    by `review` (added before the closing '---' when absent)."""
    lines = text.split("\n")
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), -1)
    if not lines or lines[0].rstrip() != "---" or close < 0:
        raise EvidenceError("the story file has no front matter between '---' lines")
    front = lines[1:close]
    kept, skipping = [], False
    for line in front:
        if re.match(r"privacy\s*:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t", "-")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    entry = "privacy: " + yaml.safe_dump(review, default_flow_style=True, sort_keys=False, width=1000).strip()
    return "\n".join([lines[0], *kept, entry, *lines[close:]])


def review(root: str | Path, story_id: str, by: str, db_path=None, public_path=None,
           today: str | None = None):
    """Record that a curator reviewed the personal data in a story (so it may
    be published), then build. Returns (hits, BuildSummary or None when there
    was nothing to review)."""
    from evidence.curate.add import _write_and_build
    from evidence.store.lock import writer_lock
    from evidence.content.yamldoc import SLUG_RE
    from evidence.content.parsers import parse_story

    root = Path(root)
    if not SLUG_RE.match(story_id or ""):
        raise EvidenceError(f"'{story_id}' is not a story id; give the id (the file name without .md)")
    if not by.strip():
        raise EvidenceError("say who reviewed it; pass --by NAME")
    path = root / "stories" / f"{story_id}.md"
    with writer_lock(root):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise EvidenceError(f"there is no story file stories/{story_id}.md; check the id") from None
        rel = f"stories/{story_id}.md"
        try:
            story = parse_story(rel, text)
        except ValidationError as exc:
            raise EvidenceError(f"{exc}; fix the file first") from None
        hits = scan_story(story, text)
        if not hits:
            return hits, None
        entry = {"reviewed": today or _dt.date.today().isoformat(), "by": by.strip(),
                 "hash": findings_hash(story.id, hits)}
        new_text = set_privacy_block(text, entry)
        parse_story(rel, new_text)  # still valid
        return hits, _write_and_build(root, path, new_text, text, db_path, public_path)
