"""How values read on the public site and in the exports: excerpts of a
narrative, people's names, numbers with their units (money as a source
writes it: £26,000, not 26,000 £), notes with the curators' working marks
taken out, and "cite this" lines. Plain functions; no Datasette here."""
from __future__ import annotations

import json
import re

# --- excerpts and names --------------------------------------------------

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(^|\s)[#>]+\s*|[*_`]+|^\s*[-+]\s+", re.M)


def plain_text(markdown_text: str) -> str:
    """Markdown as plain words on one line (links keep their text)."""
    text = _MD_LINK.sub(r"\1", markdown_text or "")
    text = _MD_MARKS.sub(lambda m: m.group(1) or "", text)
    return " ".join(text.split())


def display_text(markdown_text: str) -> str:
    """A piece of Markdown as a reader sees it (emphasis marks, link syntax
    and heading or quote marks taken out, runs of space made one), keeping
    one space at either edge where it had one: a search result shows its
    passage between the text before and after it, and they must still join."""
    text = markdown_text or ""
    if not text:
        return ""
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    plain = plain_text(text)
    return f"{lead}{plain}{trail}" if plain else (lead or trail)


def excerpt(markdown_text: str, limit: int = 180) -> str:
    """The opening of a narrative, cut at a word boundary, at most `limit` characters."""
    # only the opening is needed: a long narrative is not cleaned whole
    text = plain_text((markdown_text or "")[:limit * 3])
    if len(text) <= limit and len(markdown_text or "") <= limit * 3:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.–— ")
    return cut + "…"


def people_names(people_json: str | None) -> list[str]:
    """The people of a story's `people` JSON as a reader names them: the
    published name, or their role for a person the source does not
    name; [] when it is not a JSON list."""
    try:
        people = json.loads(people_json or "[]")
    except (TypeError, ValueError):
        return []
    if not isinstance(people, list):
        return []
    out = []
    for p in people:
        if not isinstance(p, dict):
            continue
        name = str(p.get("name") or "").strip()
        role = str(p.get("role") or "").strip()
        if name:
            out.append(name)
        elif role:
            out.append(role)
    return out


# --- numbers ---------------------------------------------------------------

CURRENCY = {"£": "£", "$": "$", "€": "€", "gbp": "£", "usd": "$", "eur": "€",
            "pounds": "£", "pound": "£", "dollars": "$", "euros": "€"}
_CURRENCY_UNIT = re.compile(r"^\s*(£|\$|€|gbp\b|usd\b|eur\b|pounds?\b|dollars\b|euros\b)\s*", re.I)
_PERCENT_UNIT = re.compile(r"^\s*(%|per ?cent\b|percent\b)\s*", re.I)


def number(value: float | int) -> str:
    """12,345 or 15.8 or -9.3 (no trailing .0)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_value(value, unit: str | None = None) -> str:
    """A finding's number with its unit, written the way sources write it:
    '£26,000 a year per person', '20% of personal budget holders',
    '143 people interviewed'. '' when there is no value."""
    if value is None or value == "":
        return ""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return f"{value} {unit or ''}".strip()
    unit = (unit or "").strip()
    m = _CURRENCY_UNIT.match(unit)
    if m:
        symbol = CURRENCY[m.group(1).lower()]
        sign = "-" if n < 0 else ""
        amount = number(abs(n)) if float(n).is_integer() else f"{abs(n):,.2f}"
        return f"{sign}{symbol}{amount} {unit[m.end():]}".strip()
    m = _PERCENT_UNIT.match(unit)
    if m:
        return f"{number(n)}% {unit[m.end():]}".strip()
    return f"{number(n)} {unit}".strip()


# --- curators' working notes ----------------------------------------------

# references to the curators' working material: "(seed 000)", "(seed 003,
# The Green Paper)", "(curator: check)"; and sentences about the seeds
# themselves ("The seeds do not describe its scale.")
_NOTE_REF = re.compile(r"\s*\((?:seeds?\s*\d+|curator|todo|tbc|check)\b[^()]*\)", re.I)
_SEED_SENTENCE = re.compile(r"[^.;]*\b(?:the|these|our) seeds?\b[^.;]*[.;]?", re.I)


def public_note(text: str | None) -> str:
    """A note as the public should read it: the curators' references to
    their working material removed, punctuation tidied."""
    text = _NOTE_REF.sub("", text or "")
    text = _SEED_SENTENCE.sub("", text)
    text = re.sub(r"\s+([.;,])", r"\1", text)
    text = re.sub(r"([;,])\s*([;,.])", r"\2", text)
    return " ".join(text.split()).strip(" ;,")


# --- "cite this" -------------------------------------------------------------

def cite(title: str = "", author: str = "", organisation: str = "", publisher: str = "", url: str = "",
         date: str | int | None = "", seen_at: str = "") -> str:
    """One citation line: Author (Organisation). Date. "Title". Publisher. URL.
    With `seen_at`, where it was found in the evidence base."""
    parts = []
    who = author or organisation
    if who:
        parts.append(f"{author} ({organisation})" if author and organisation and organisation != author else who)
    if date:
        parts.append(str(date))
    if title:
        parts.append(f"“{title}”")
    if publisher and publisher not in (author, organisation):
        parts.append(publisher)
    if url:
        parts.append(url)
    line = ". ".join(p.rstrip(".") for p in parts)
    line = line + "." if line else ""
    if seen_at:
        line += f" In: evidence for community-centred social care, {seen_at}."
    return line.strip()


def cite_story(story: dict, page_url: str = "") -> str:
    """The citation of a story: its source, then where the evidence base holds it."""
    return cite(story.get("source_title") or story.get("title") or "", story.get("source_author") or "",
                story.get("source_organisation") or "", story.get("source_publisher") or "",
                story.get("source_url") or "", story.get("source_date") or "", seen_at=page_url)


def cite_source(source: dict) -> str:
    """The citation of one source of an approach (sources JSON entry)."""
    return cite(source.get("title") or "", source.get("author") or "", source.get("organisation") or "",
                source.get("publisher") or "", source.get("url") or "", source.get("date") or "")
