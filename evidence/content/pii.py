"""The personal-data scanner: e-mail addresses, UK phone numbers, UK postcodes and
NHS numbers in a story's text (title, summary, narrative, people), and in an
anonymised story the names of people its people list lacks (which the
anonymiser, replacing listed names only, would publish).

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
from urllib.parse import unquote
from dataclasses import dataclass, field

from evidence.content.privacy import find_names, fold, name_parts, pet_forms



SCANNER_VERSION = "4"  # bump when the patterns or the lines reported change: every story is scanned again

EMAIL, PHONE, POSTCODE, NHS = "e-mail address", "UK phone number", "UK postcode", "NHS number"
NINO, BIRTH, ADDRESS = "National Insurance number", "date of birth", "street address"
KINDS = (EMAIL, PHONE, POSTCODE, NHS, NINO, BIRTH, ADDRESS)
# Found in anonymised stories only, against their people list (not in KINDS:
# scan_text, which reads a text without its story, never reports it)
UNLISTED = "name of someone not in the people list"

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
    r"(?![A-Za-z0-9])", re.IGNORECASE)
_ORDINAL = re.compile(r"(?:1st|2nd|3rd|[04-9]th)$", re.IGNORECASE)

# the disguised e-mail: 'pat at example dot com', 'pat AT example DOT co DOT uk',
# 'pat@example dot org'; at least one part disguised, ending in a known top-level domain
_TLD_SET = {"com", "org", "net", "uk", "gov", "nhs", "ac", "co", "io", "info", "edu", "me", "scot", "wales", "cymru",
            "london", "eu", "ie", "biz", "email", "online"}
_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+|\s*@\s*)"
_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
_SPOKEN_EMAIL_RE = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._+-]*)" + _AT + r"([A-Za-z0-9-]+)((?:" + _DOT + r"[A-Za-z0-9-]+)+)(?![\w-])",
    re.IGNORECASE)
_NOT_DOMAIN = {"the", "a", "an", "this", "that", "my", "our", "your", "their", "his", "her", "its", "one", "each",
               "home", "work", "night", "last", "first", "least", "most", "all", "once", "times"}

# National Insurance numbers: two prefix letters (D, F, I, Q, U and V never
# used, O never second; BG, GB, KN, NK, NT, TN and ZZ never issued), six
# digits, a suffix A-D (optional after the words 'NI' / 'National Insurance')
_NINO_RE = re.compile(
    r"(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ -]?(\d{2})[ -]?(\d{2})[ -]?(\d{2})(?:[ -]?([A-D]))?"
    r"(?![A-Za-z0-9])", re.IGNORECASE)
_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_NINO_CUE = re.compile(r"(?:\bN\.?I\.?\b|national\s+insurance|\bNINO\b)[^\n]{0,25}$", re.IGNORECASE)

# dates of birth: a full date introduced as one
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_BIRTH_CUE = (r"(?:\bborn\b|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bd\.?\s?o\.?\s?b\b\.?|"
              r"\bbirthday\b(?:\s+(?:is|was))?)")
_BIRTH_RE = re.compile(
    _BIRTH_CUE + r"[\s:,-]{0,4}(?:(?:on|in|the|is|was|of)\s+){0,3}"
    r"(?P<date>"
    r"(?P<d1>\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?[\s.-]+(?P<m1>" + _MONTHS + r")\.?,?(?:[\s.-]+(?P<y1>\d{4}|'\d{2}))?"
    r"|(?P<m2>" + _MONTHS + r")\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(?P<y2>\d{4}))?"
    r"|(?P<d3>\d{1,2})[/.-](?P<m3>\d{1,2})[/.-](?P<y3>\d{4}|\d{2})"
    r"|(?P<y4>\d{4})-(?P<m4>\d{1,2})-(?P<d4>\d{1,2})"
    r")(?![\w/])", re.IGNORECASE)

# street addresses: a house number, one to three capitalised words, a street-type word
_STREET_TYPES = ("Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Cres|Place|Pl|Court|Ct|"
                 "Gardens|Gdns|Terrace|Terr|Grove|Hill|Row|Walk|Mews|Square|Sq|Parade|Green|View|Rise|Vale|"
                 "Boulevard|Embankment|Wharf|Yard|Drove|Chase|Croft|Fold|Gate|Wynd|Brow|Rd\\.|St\\.")
_ADDRESS_RE = re.compile(
    r"(?<![\w£$€.,/%+-])(?P<num>[1-9]\d{0,2}[A-Za-z]?)(?:\s*-\s*\d{1,3}[A-Za-z]?)?,?\s+"
    r"(?!(?:The|A|An|Our|Their|His|Her|Its|My|Your|This|That|These|Those|THE)\s)"
    r"(?P<words>(?:(?:[A-Z][a-z'’]+|[A-Z][A-Z'’]+)(?:-(?:[A-Z][a-z]+))?\s+){1,3})"
    r"(?P<type>" + _STREET_TYPES + r"|" + _STREET_TYPES.upper() + r")\b")
_ADDRESS_CUE = re.compile(r"\b(?:" + _STREET_TYPES + r")\b", re.IGNORECASE)
_NOT_HOUSE = re.compile(r"\b(?:chapter|table|figure|fig|page|p|section|part|route|bus|line|level|step|phase|stage|"
                        r"year|years|aged|age|top|over|under|about|around|some|nearly|almost|week|weeks|month|"
                        r"months|day|days|seed|item|question|q|wave|round|cohort|grade|band|tier)\.?\s*$",
                        re.IGNORECASE)
_COURTS = {"county", "crown", "magistrates", "high", "supreme", "family", "coroners", "coroner's", "appeal", "youth"}


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


def _birth_value(m: re.Match) -> str | None:
    """The date of a birth-date match as D-M-Y (year may be empty), or None if impossible."""
    g = m.groupdict()
    months = {name: i + 1 for i, name in enumerate(_MONTHS.split("|")[:12])}
    months.update({name: months[full] for name, full in zip(_MONTHS.split("|")[12:], (
        "january", "february", "march", "april", "june", "july", "august", "september", "september", "october",
        "november", "december"))})
    for i in "1234":
        if g.get(f"d{i}") is None:
            continue
        day, month, year = g[f"d{i}"], g[f"m{i}"], g.get(f"y{i}") or ""
        month_n = int(month) if month.isdigit() else months.get(month.lower())
        if not month_n or not 1 <= month_n <= 12 or not 1 <= int(day) <= 31:
            return None
        return f"{int(day)}-{month_n}-{year.strip(chr(39))}"
    return None


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
            code = m.group(0)
            if not (code.isupper() or code.islower()):
                continue  # 'Sw1a 1aa' is not how anyone writes a postcode; 'ab12 3cd' and 'AB12 3CD' are
            if code.islower() and _ORDINAL.search(code):
                continue  # 'b2 2nd'
            if free(a + m.start(), a + m.end()):
                found.append(Match(POSTCODE, a + m.start(), a + m.end(), code.replace(" ", "").upper()))
    if re.search(r"\b(?:at|@)\b", text, re.IGNORECASE) and re.search(r"dot|\.", text, re.IGNORECASE):
        for m in _SPOKEN_EMAIL_RE.finditer(text):
            whole = m.group(0)
            if "@" in whole and "." in m.group(3) and not re.search(r"\bdot\b|[\[({<]", whole, re.IGNORECASE):
                continue  # an ordinary address: the pattern above has it
            tld = re.split(r"\s*[\[({<]?\s*dot\s*[\])}>]?\s*|\.", m.group(3).strip(), flags=re.IGNORECASE)[-1].lower()
            if tld not in _TLD_SET:
                continue
            if not re.search(r"\bdot\b|[\[({<]|@", whole, re.IGNORECASE):
                continue  # 'us at example.com': a website, not an address
            if m.group(2).lower() in _NOT_DOMAIN or m.group(1).lower() in {"look", "looked", "aimed", "arrived"}:
                continue
            if free(m.start(), m.end()):
                found.append(Match(EMAIL, m.start(), m.end(), re.sub(r"\W+", ".", whole.lower())))
    for a, b in windows:
        part = text[a:b]
        for m in _NINO_RE.finditer(part):
            prefix = m.group(1).upper()
            if prefix in _NINO_BAD_PREFIX or not (m.group(0).isupper() or m.group(0).islower() or m.group(0)[2:].strip().isdigit()):
                continue
            if m.group(5) is None and not _NINO_CUE.search(text[max(0, a + m.start() - 40):a + m.start()]):
                continue
            if free(a + m.start(), a + m.end()):
                found.append(Match(NINO, a + m.start(), a + m.end(), re.sub(r"[ -]", "", m.group(0)).upper()))
    if re.search(r"born|birth|d\.?\s?o\.?\s?b", text, re.IGNORECASE):
        for m in _BIRTH_RE.finditer(text):
            value = _birth_value(m)
            if value and free(m.start("date"), m.end("date")):
                found.append(Match(BIRTH, m.start("date"), m.end("date"), value))
    if _ADDRESS_CUE.search(text):
        for m in _ADDRESS_RE.finditer(text):
            words = m.group("words").split()
            if _NOT_HOUSE.search(text[max(0, m.start() - 12):m.start()]):
                continue
            if m.group("type").lower().startswith(("court", "ct")) and words[-1].lower() in _COURTS:
                continue
            if free(m.start(), m.end()):
                found.append(Match(ADDRESS, m.start(), m.end(), " ".join([m.group("num"), *words, m.group("type")]).lower()))
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


_SLUG_SEPARATORS = re.compile(r"[-_/=?&#]")
def field_text(key: str, value: str) -> str:
    """The text of a field as scanned: ids and URLs are slugs, where a hyphen
    or a slash separates words ('call-07700900123'), and may be percent-encoded."""
    if key in ("id", "source.url", "source_url"):
        return _SLUG_SEPARATORS.sub(" ", unquote(value))
    return value


PUBLISHED_FIELDS = ("id", "title", "summary", "body", "organisation", "place") + tuple(
    f"source.{k}" for k in ("title", "author", "organisation", "publisher", "url", "date"))


def story_texts(story) -> list[tuple[str, str]]:
    """(field, text) pairs of a story that are scanned: every field that is
    published (and the people's names, aliases and roles)."""
    out = []
    for key in PUBLISHED_FIELDS:
        obj = getattr(story, "source", None) if key.startswith("source.") else story
        value = str((getattr(obj, key.split(".", 1)[-1], "") if obj is not None else "") or "")
        out.append((key, field_text(key, value)))
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
    """The line of the front matter where `snippet` of field `fieldname` is:
    searched in that field's own lines first (the same name in the title and
    in the summary is two hits on two lines), then anywhere, then the key."""
    span = _field_span(lines, close, fieldname)
    if span is not None:
        first, end = span
        return next((i + 1 for i in range(first, end) if snippet and snippet in lines[i]), first + 1)
    for i in range(1, max(close, 1)):
        if snippet and snippet in lines[i]:
            return i + 1
    key = fieldname.split("[", 1)[0].split(".", 1)[-1 if fieldname.startswith("source.") else 0]
    for i in range(1, max(close, 1)):
        if re.match(rf"{re.escape(key)}\s*:", lines[i]):
            return i + 1
    return None


_KEY_LINE = re.compile(r"(\s*)((?:-\s+)*)([^\s:#'\"-][^:#]*?)\s*:(?:\s|$)")


def _key_at(line: str) -> tuple[str, int] | None:
    """(key, column of the key) of a block-style 'key: value' line, else None."""
    m = _KEY_LINE.match(line)
    return (m.group(3), len(m.group(1)) + len(m.group(2))) if m else None


def _field_span(lines: list[str], close: int, fieldname: str) -> tuple[int, int] | None:
    """(first, end) indexes of the front-matter lines that hold `fieldname`
    ('summary', 'source.title', 'people[1].role'): from its key's line to the
    next key at its depth or less. None when the front matter is not laid
    out in block style as the field says (a flow mapping, a key missing)."""
    first, start, end = 1, 1, max(close, 1)  # the field's first line; the lines its children are on
    for part in re.findall(r"\[\d+\]|[^.\[\]]+", fieldname):
        if part.startswith("["):  # the n-th '- ' item of the sequence in [start, end)
            dashes = [(i, len(lines[i]) - len(lines[i].lstrip())) for i in range(start, end)
                      if re.match(r"\s*-(?:\s|$)", lines[i])]
            if not dashes:
                return None
            depth = min(d for _, d in dashes)
            items = [i for i, d in dashes if d == depth] + [end]
            n = int(part[1:-1])
            if n + 1 >= len(items):
                return None
            first, start, end = items[n], items[n], items[n + 1]  # its first key is on its '- ' line
            continue
        keys = [(i, k) for i in range(start, end) if (k := _key_at(lines[i]))]
        if not keys:
            return None
        depth = min(col for _, (_, col) in keys)
        at = next((i for i, (key, col) in keys if key == part and col == depth), None)
        if at is None:
            return None
        stop = next((i for i, (_, col) in keys if i > at and col <= depth), end)
        stop = next((i for i in range(at + 1, stop) if lines[i].strip() and not lines[i].lstrip().startswith("#")
                     and len(lines[i]) - len(lines[i].lstrip()) < depth), stop)
        first, start, end = at, at + 1, stop
    return first, end


# ---------------------------------------------------------------------------
# Names of people an anonymised story does not list
#
# The anonymiser replaces only the names listed under `people:`; a story that
# names someone else ('her husband Derek', 'my daughter Priya rang', 'Mrs
# Okafor next door') or calls a listed person by a short form the list lacks
# ('Bob' for Robert) would publish that name beside the pseudonym, and the
# pseudonym would identify no one. Such a name is held back like personal
# data, until the curator lists the person (with a pseudonym), removes the
# name or records a review. Only names a cue marks as a person's are found
# (no trained model tells a name from a word), so a name with no cue ('Derek
# came round') is the curator's to see.

_RELATIONS = (r"husband|wife|partner|spouse|son|daughter|step-?son|step-?daughter|child|mum|mam|mom|mother|"
              r"dad|father|brother|sister|twin|grandson|granddaughter|grandchild|grandmother|grandfather|"
              r"grandma|grandad|granny|nan|nana|nephew|niece|aunt|auntie|aunty|uncle|cousin|friend|"
              r"neighbour|neighbor|boyfriend|girlfriend|fianc[eé]e?|carer|caregiver|nurse|GP|doctor|"
              r"(?:social|support|care|key)\s+worker|keyworker|personal\s+assistant|PA|befriender|buddy|"
              r"volunteer|mentor|coordinator|landlord|landlady|flatmate|housemate|lodger|colleague|boss")
_KIN = (r"husband|wife|partner|son|daughter|mum|mam|mom|mother|dad|father|brother|sister|grandson|granddaughter|"
        r"nephew|niece|aunt|auntie|uncle|cousin|friend|neighbour|neighbor|boyfriend|girlfriend")
_PERSON_NOUNS = r"man|woman|lady|gentleman|boy|girl|person|chap|fellow|bloke|lad|lass"
_TITLES = r"Mr|Mrs|Ms|Miss|Mx|Dr|Auntie|Aunty|Aunt|Uncle|Nan|Nana|Nanna|Gran|Granny|Grandma|Grandad|Grandpa|Nurse"
_NAME = r"(?P<name>[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)*)(?![\w-])"
_OWNER = r"(?:my|his|her|their|our|your|[A-Z][\w'’-]*['’]s?)"
_UNLISTED_RES = (
    # 'her husband Derek', 'my late husband, Derek', 'Pat's son-in-law Derek', 'my friend called Priya'
    re.compile(r"(?<![\w'’])(?i:" + _OWNER + r"\s+(?:[a-z][\w-]*\s+){0,2}?(?:" + _RELATIONS + r")(?:s|ren)?(?:-in-law)?)"
               r",?\s+(?:(?:called|named)\s+)?" + _NAME),
    # 'a neighbour called Derek', 'a man named Derek'
    re.compile(r"(?<![\w'’])(?i:(?:" + _RELATIONS + "|" + _PERSON_NOUNS + r")s?)\s+(?:called|named)\s+" + _NAME),
    # 'Mrs Okafor', 'Dr. Ferreira', 'Auntie Bea'
    re.compile(r"(?<![\w'’])(?:" + _TITLES + r")\.?\s+" + _NAME),
    # 'Derek's wife', 'Priya's mum rang' (family and friends only: 'Mencap's volunteers' is no one's name)
    re.compile(r"(?<![\w'’-])" + _NAME.replace(r"(?![\w-])", "") + r"['’]s\s+(?i:" + _KIN + r")\b"),
    # 'Her daughter is called Priya', 'her husband's name was Derek'
    re.compile(r"(?<![\w'’])(?i:" + _OWNER + r"\s+(?:[a-z][\w-]*\s+){0,2}?(?:" + _RELATIONS + r")(?:s|ren)?(?:-in-law)?"
               r"(?:['’]s\s+name\s+(?:is|was)|\s+(?:is|was)\s+(?:called|named)))\s+" + _NAME),
    # the name first: 'Priya, her daughter, rang', 'Priya (her daughter) rang'
    re.compile(r"(?<![\w'’-])" + _NAME.replace(r"(?![\w-])", "") + r"(?:,\s*|\s*\(\s*)(?i:" + _OWNER +
               r"\s+(?:[a-z][\w-]*\s+){0,2}?(?:" + _RELATIONS + r")(?:s|ren)?(?:-in-law)?)\b"),
    # a family word used as a title, as people say it: 'Mum Gwen', 'Grandson Tom' (capitalised)
    re.compile(r"(?<![\w'’])(?:Mum|Mam|Mom|Mummy|Dad|Daddy|Mother|Father|Son|Daughter|Brother|Sis|Bro|Grandson|"
               r"Granddaughter|Grandmother|Grandfather|Cousin|Husband|Wife)\s+" + _NAME),
    # married to them: 'she married Derek', 'the widow of Derek'
    re.compile(r"(?<![\w'’])(?i:married|marrying|marry|widow\s+of|widower\s+of|engaged\s+to)\s+" + _NAME),
    # another name a person goes by: 'known as Dolly', 'nicknamed Taffy', 'calls her Dolly', 'goes by Dot'
    # ('known as' only of a person: 'Gwendolyn, known as', 'she is known as'; 'the scheme, known as Shared
    # Lives' names no one)
    re.compile(r"(?:(?<=[A-Z][a-z])[a-z]*,\s+|(?<![\w'’])(?i:she|he|who|they|I)\s+(?i:is|was|are|were|'s|’s)\s+"
               r"(?:[a-z]+\s+)?)(?i:known\s+as)\s+[\"“‘']?" + _NAME),
    re.compile(r"(?<![\w'’])(?i:nicknamed|(?:call|calls|called|calling)\s+(?:her|him|them|me|us)|"
               r"(?:goes|went|go)\s+by)\s+[\"“‘']?" + _NAME),
)
# capitalised words a cue may stand before that are not names
_NOT_NAMES = frozenset(("i", "the", "a", "an", "and", "but", "or", "so", "then", "when", "who", "what", "which",
                        "that", "this", "he", "she", "they", "we", "you", "it", "his", "her", "their", "our",
                        "my", "your", "its", "both", "each", "all", "also", "as", "at", "in", "on", "to", "for",
                        "with", "from", "of", "by", "if", "is", "was", "had", "has",
                        # words that open a sentence before a comma ('Later, her son rang')
                        "later", "now", "sadly", "today", "eventually", "recently", "meanwhile", "afterwards",
                        "yesterday", "soon", "finally", "however", "luckily", "fortunately", "unfortunately",
                        "suddenly", "gradually", "initially", "originally", "previously", "currently", "sometimes",
                        "often", "together", "since", "before", "after", "again", "still", "yes", "no", "well",
                        "instead", "there", "here", "tonight", "tomorrow", "everyone", "nobody", "someone",
                        "anyway", "thankfully", "happily", "naturally", "usually", "normally", "first", "next",
                        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
                        "february", "march", "april", "may", "june", "july", "august", "september", "october",
                        "november", "december", "christmas", "easter", "nature", "earth", "superior")) | frozenset(
    t.lower() for t in _TITLES.split("|"))

# Usual short forms of English first names: a listed 'Robert' is also 'Bob'.
# (Short forms are not replaced unasked: 'Will', 'Bill' and 'Pat' are words
# too; a short form found holds the story back until it is listed as an alias.)
SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "bess", "eliza", "libby", "lisa", "elsie"),
    "william": ("bill", "billy", "will", "willie", "liam"),
    "margaret": ("maggie", "meg", "peggy", "madge", "marge", "greta", "rita", "mags"),
    "katherine": ("kate", "kath", "kathy", "katie", "kay", "kit"),
    "catherine": ("cath", "cathy", "kate", "katie", "cat"), "richard": ("rich", "richie", "rick", "dick"),
    "james": ("jim", "jimmy", "jamie"), "john": ("jack", "johnny"),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"), "thomas": ("tom", "tommy"),
    "michael": ("mike", "mick", "mickey", "mikey"), "christopher": ("chris", "kit"),
    "christine": ("chris", "chrissie", "tina"), "anthony": ("tony", "ant"), "joseph": ("joe", "joey"),
    "patricia": ("pat", "patsy", "trish", "tricia"), "patrick": ("pat", "paddy"), "susan": ("sue", "suzy", "susie"),
    "jennifer": ("jen", "jenny"), "rebecca": ("becky", "becca"), "alexander": ("alex", "sandy", "xander"),
    "alexandra": ("alex", "sandra", "lexie"), "victoria": ("vicky", "tori"), "deborah": ("debbie", "debs", "deb"),
    "dorothy": ("dot", "dottie", "dolly"), "frederick": ("fred", "freddie"), "henry": ("harry", "hal"),
    "samuel": ("sam", "sammy"), "samantha": ("sam", "sammy"), "daniel": ("dan", "danny"),
    "david": ("dave", "davey"), "charles": ("charlie", "chuck"), "andrew": ("andy", "drew"),
    "nicholas": ("nick", "nicky"), "stephen": ("steve", "stevie"), "steven": ("steve", "stevie"),
    "matthew": ("matt", "matty"), "benjamin": ("ben", "benny"), "jonathan": ("jon", "jonny"),
    "timothy": ("tim", "timmy"), "peter": ("pete",), "gerald": ("gerry",), "geoffrey": ("geoff",),
    "barbara": ("barb", "babs"), "josephine": ("jo", "josie"), "joanne": ("jo",), "theresa": ("tess", "terri"),
    "teresa": ("tess", "terri"), "abigail": ("abby", "abi"), "isabel": ("izzy", "bel"),
    "isabella": ("izzy", "bella"), "eleanor": ("ellie", "nell", "nora"), "helen": ("nell",),
    "mary": ("molly", "polly", "mae"), "sarah": ("sally", "sadie"), "jacqueline": ("jackie", "jacqui"),
    "gwendolen": ("gwen", "wendy"), "gwenllian": ("gwen",), "gwendolyn": ("gwen", "wendy"),
    "gwendoline": ("gwen", "wendy"), "frances": ("fran", "fanny", "frankie"), "francis": ("frank", "fran"),
    "lawrence": ("larry", "laurie"), "laurence": ("larry", "laurie"), "leonard": ("len", "lenny", "leo"),
    "raymond": ("ray",), "ronald": ("ron", "ronnie"), "donald": ("don", "donnie"), "kenneth": ("ken", "kenny"),
    "terence": ("terry",), "gregory": ("greg",), "philip": ("phil", "pip"), "phillip": ("phil", "pip"),
    "valerie": ("val",), "pamela": ("pam",), "beverley": ("bev",), "maureen": ("mo",), "norman": ("norm",),
    "albert": ("bert", "albie", "al"), "herbert": ("bert", "herb"), "arthur": ("art", "artie"),
    "harold": ("harry", "hal"), "walter": ("wally", "walt"), "stanley": ("stan",), "douglas": ("doug", "dougie"),
    "ernest": ("ernie",), "florence": ("flo", "florrie"), "winifred": ("winnie", "win"), "mildred": ("millie",),
    "amelia": ("millie", "amy"), "olivia": ("liv", "livvy"), "agnes": ("aggie",), "gertrude": ("gertie", "trudy"),
    "matilda": ("tilly", "tilda"), "euphemia": ("effie",), "bernard": ("bernie",), "vincent": ("vince", "vinny"),
    "oliver": ("ollie",), "alfred": ("alf", "alfie", "fred"), "archibald": ("archie",), "reginald": ("reg", "reggie"),
    "cornelius": ("neil",), "nathaniel": ("nat", "nate"), "gwyneth": ("gwyn",), "siobhan": ("shiv",),
}
# short forms that are also ordinary words: opening a sentence, they are the
# word ('Will you come?', 'Drew a map'), not the name
_SENTENCE_WORDS = frozenset(("will", "rich", "chuck", "drew", "kit", "cat", "dot", "ant", "art", "ray", "don", "frank",
                             "norm", "herb", "win", "mo", "pip", "bill", "pat", "sandy", "liv", "al", "fred"))


# the other way: the full names a listed short form stands for ('Robert' for a listed 'Bob')
FULL_FORMS: dict[str, tuple[str, ...]] = {
    short: tuple(full for full, shorts in SHORT_FORMS.items() if short in shorts)
    for shorts in SHORT_FORMS.values() for short in shorts}


def listed_name_parts(story) -> tuple[frozenset[str], frozenset[str]] | None:
    """(the folded parts of every name, alias and pseudonym, those of the
    names and aliases alone) of an anonymised story; None for a story that
    is not anonymised. A word sharing a part of the first is replaced, or is
    a pseudonym; the other forms of the second are looked for (a
    pseudonym's are nobody's)."""
    consent = getattr(story, "consent", None)
    if getattr(consent, "identity", "") != "anonymised":
        return None
    real = [n for p in story.people for n in (p.name or "", *p.aliases) if n.strip()]
    pseudonyms = [n for n in (getattr(consent, "pseudonym", ""), *(getattr(p, "pseudonym", "") for p in story.people))
                  if n and n.strip()]
    names = frozenset(part for n in real for part in name_parts(n))
    return names | {part for n in pseudonyms for part in name_parts(n)}, names


def _is_listed(word: str, listed: frozenset[str]) -> bool:
    """True when `word` shares a part with a listed name or pseudonym (it is
    replaced, or is the pseudonym), or is no name at all ('The', 'Mr')."""
    parts = set(name_parts(word))
    return bool(parts & listed) or fold(word)[0] in _NOT_NAMES or any(
        part in pet_forms(n) for n in listed for part in parts)  # 'Jonesy' for a listed Jones: replaced too


_AND_NAME = re.compile(r"(?:,\s*|,?\s+(?:and|or|&)\s+)" + _NAME)


def _more_names(text: str, at: int) -> list[tuple[int, int]]:
    """Spans of the names listed after the one a cue found ('her children
    Amy, Kofi and Tom'): each is as much a person's name as the first."""
    out = []
    while (m := _AND_NAME.match(text, at)) and fold(m.group("name"))[0] not in _NOT_NAMES:
        out.append((m.start("name"), m.end("name")))
        at = m.end("name")
    return out


# a listed name cut short, as friends and family shorten it ('Gwendo' or
# 'Gwen' for Gwendolyn, 'Toby' for Tobias, 'Smithy' for Smithers): a
# capitalised word that is the start of a listed part of five letters or
# more, of four letters or more itself, or of three with a pet ending
# ('Tob' + 'y'); 'Car' for Caroline is the word
_PET_END = re.compile(r"(?:ie|ey|y|o|sy|s)$")
_LINE_BROKEN = re.compile(r"[-‐‑]?[ \t]*\r?\n[ \t>#]*([a-z]+)")


def _cut_short(text: str, listed: frozenset[str], names: frozenset[str]) -> list[Match]:
    long = [n for n in names if len(n) >= 5 and n.isalpha()]
    if not long:
        return []
    replaced = listed | {f for n in listed for f in pet_forms(n)}  # what the anonymiser replaces anyway
    out = []
    covered = None
    for m in re.finditer(r"(?<![\w'’-])([A-Z][a-z]{2,})(?![\w'’-]*\w)", text):
        word = fold(m.group(1))[0]
        if word in replaced or word in _NOT_NAMES:
            continue
        rest = _LINE_BROKEN.match(text, m.end())  # 'Quen' / 'nell': a name broken at a line end
        if rest and fold(m.group(1) + rest.group(1))[0] in replaced:
            continue
        stems = [word] if len(word) >= 4 else []
        end = _PET_END.search(word)
        if end and end.start() >= 3:
            stem = word[:end.start()]
            stems += [stem, stem[:-1]] if len(stem) >= 4 and stem[-1] == stem[-2] else [stem]
        if any(stem in replaced for stem in stems):  # 'Quennells': a listed name in the plural
            continue
        if any(n.startswith(s) and n != s for s in stems for n in long):
            if covered is None:  # what the anonymiser replaces: 'Zebe\\*dee', '[Zebe](url)dee', 'Quarterm&aacute;ine'
                covered = find_names(text, {n: "x" for n in names})
            if not any(a <= m.start(1) < b for a, b, _ in covered):
                out.append(Match(UNLISTED, m.start(1), m.end(1), word))
    return out


def unlisted_names(text: str, listed: frozenset[str], names: frozenset[str] = frozenset()) -> list[Match]:
    """Names in `text` of people that `listed` (listed_name_parts) does not
    hold: after a cue that makes a word a person's name, and the short forms
    of a first name in `names` ('Bob' for Robert), or the full forms of a
    short one ('Robert' for Bob), that are not listed themselves."""
    found: list[Match] = []
    for pattern in _UNLISTED_RES:
        for m in pattern.finditer(text):
            first = fold(m.group("name"))[0]
            more = _more_names(text, m.end("name")) if first not in _NOT_NAMES else []  # 'Father Christmas and ...'
            for start, end in [(m.start("name"), m.end("name")), *more]:
                if not _is_listed(text[start:end], listed):
                    found.append(Match(UNLISTED, start, end, fold(text[start:end])[0]))
    shorts = {s for n in names for s in (*SHORT_FORMS.get(n, ()), *FULL_FORMS.get(n, ())) if s not in listed}
    found += [m for m in _cut_short(text, listed, names) if not any(f.start <= m.start < f.end for f in found)]
    if shorts:
        for m in re.finditer(r"(?<![\w'’-])([A-Z][a-z]+)(?![\w-])", text):
            word = m.group(1).lower()
            if word not in shorts or any(f.start <= m.start() < f.end for f in found):
                continue
            if word in _SENTENCE_WORDS and re.search(r"(?:^|[.!?:\"“]\s*|\n\s*)$", text[:m.start()]):
                continue  # 'Will you come?' at the start of a sentence
            found.append(Match(UNLISTED, m.start(), m.end(), word))
    return sorted(found, key=lambda m: m.start)


# the fields where a story tells of people (not its people list, nor a source's author or publisher)
UNLISTED_FIELDS = ("title", "summary", "body", "organisation", "place", "source.title", "source.author",
                   "source.organisation", "source.publisher")


def scan_story(story, file_text: str | None = None) -> list[Detection]:
    """Personal data in a story's scanned fields, with the line of the file
    (`file_text`, the story file as read) where each was found; for an
    anonymised story, names of people it does not list too."""
    lines, close, first_body = _lines(story.path, file_text)
    listed = listed_name_parts(story)
    hits: list[Detection] = []
    for fieldname, text in story_texts(story):
        matches = scan_text(text)
        if listed is not None and (fieldname in UNLISTED_FIELDS or fieldname.endswith(".role")):
            matches = sorted(matches + unlisted_names(text, *listed), key=lambda m: m.start)
        for m in matches:
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
    if h.kind == UNLISTED:
        return (f"{h.where()}: {h.kind} in {h.field} (the anonymiser replaces listed names only); the story is "
                f"held back from publication until you list the person (with a pseudonym) or as an alias, "
                f"remove the name, or run 'evidence review-pii {story_id}'")
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


