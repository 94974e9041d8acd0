"""The personal-data scanner: e-mail addresses, UK phone numbers, UK postcodes and
NHS numbers in a story's text (title, summary, narrative, people).

A story with a hit stays in the working database but is held back from the
public one until a curator has looked at it and either removed the data or
recorded a review (`evidence review-pii ID`, which writes
`privacy: {reviewed: DATE, by: WHO, hash: H}` into the front matter). The
hash is taken over the personal data found, so a review covers exactly what
was reviewed: an edit that adds new personal data needs a new review, while
fixing a typo elsewhere does not.

The build step that records verdicts is enrich/checks.py; the curator's
review is curate/pii_review.py. Messages name the file, the line and the
kind of data, never the data.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field



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
class Detection:
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


def scan_story(story, file_text: str | None = None) -> list[Detection]:
    """Personal data in a story's scanned fields, with the line of the file
    (`file_text`, the story file as read) where each was found."""
    lines, close, first_body = _lines(story.path, file_text)
    hits: list[Detection] = []
    for fieldname, text in story_texts(story):
        for m in scan_text(text):
            if fieldname == "body" and first_body >= 0:
                line = first_body + text.count("\n", 0, m.start) + 1
            else:
                line = _front_line(lines, close, fieldname, text[m.start:m.end]) if lines else None
            hits.append(Detection(story.path, line, fieldname, m.kind, m.value))
    return hits


def findings_hash(story_id: str, hits: list[Detection]) -> str:
    """Short hash of the personal data found in a story: what a review covers."""
    blob = story_id + "\0" + "\n".join(sorted(f"{h.kind}:{h.value}" for h in hits))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def hit_message(h: Detection, story_id: str) -> str:
    """One line for one hit: file, line, field and kind; never the data."""
    return (f"{h.where()}: {h.kind} in {h.field}; the story is held back from publication until "
            f"you remove it or run 'evidence review-pii {story_id}'")


@dataclass
class Verdict:
    """The outcome of checking one story."""

    story_id: str
    status: str  # clear | reviewed | held
    hits: list[Detection]
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


# ---------------------------------------------------------------------------
# Review


