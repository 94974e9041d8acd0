"""Passages: the pieces of a story or finding that are embedded one by one,
so that a search match points at the sentences that matched.

A story gives one passage for its summary and overlapping windows of
sentences of its narrative; a finding gives one passage, its statement.
Every passage keeps character offsets into the field it came from, and its
`embed_text` (what the model sees) may carry context: a window after the
story's title and summary, a statement with the population it is about
(the setting passage_context in pipelines/embedding.yml). Pure functions,
no models.

These choices were measured on the dev half of tests/relevance.yml with the
80 corpus stories (docs/search.md): title and summary before each window,
and the population after a statement, found more expected items at rank 1
than the title alone, the statement alone, the people's roles or the study's
title; windows of 3 sentences, 2 apart, did better than 4, 3 apart.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# bump when the way texts are cut into passages changes: every item is then
# cut again (vectors of unchanged passage texts are still reused)
CHUNKER_VERSION = "2"  # 2: list items and Markdown headings are sentences of their own

# a sentence ends at . ! ? or … (plus closing quotes or brackets) followed by
# white space and a capital or digit, at a blank line, and before a line
# that opens a list item or a Markdown heading ("- ", "* ", "• ", "1. ",
# "2) ", "## "): a case study lists its outcomes one a line, seldom with a
# full stop, and the tagger's sentences are cut the same way
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]*_]*(?=\s+["'“‘(\[*_]*[A-Z0-9])|\n[ \t]*\n"""
                           r"""|\n(?=[ \t]*(?:[-*+•–‣▪◦·][ \t]|\d{1,2}[.)][ \t]|\#{1,6}[ \t]))""")


@dataclass(frozen=True)
class Passage:
    """One piece of an item: `text` is field[start:end]; `embed_text` is what
    the model sees (the text, sometimes with the item's title for context)."""

    field: str
    start: int
    end: int
    text: str
    embed_text: str

    @property
    def text_hash(self) -> str:
        """SHA-256 (hex, 32 chars) of the embedded text: the key that lets an
        unchanged text keep its vector."""
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()[:32]


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, trimmed of
    surrounding white space; Markdown emphasis marks stay in place."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        _add_span(text, pos, m.end() if m.group().strip() else m.start(), spans)
        pos = m.end()
    _add_span(text, pos, len(text), spans)
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and _LIST_NUMBER.fullmatch(text, *out[-1]):
            a = out.pop()[0]  # "1." of "1. She walks": the item's number stays with its words
        out.extend(_heading_apart(text, a, b))
    return out


_HEADING = re.compile(r"#{1,6}[ \t]")
_LIST_NUMBER = re.compile(r"\d{1,2}[.)]")


def _heading_apart(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A Markdown heading line is a sentence of its own, apart from the line
    after it."""
    if _HEADING.match(text, start):
        cut = text.find("\n", start, end)
        if cut > 0:
            spans: list[tuple[int, int]] = []
            _add_span(text, start, cut, spans)
            _add_span(text, cut, end, spans)
            return spans
    return [(start, end)]


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and re.search(r"\w", text[start:end]):
        spans.append((start, end))


def windows(spans: list[tuple[int, int]], size: int, stride: int) -> list[tuple[int, int]]:
    """Overlapping windows of `size` sentences, `stride` apart, covering every
    sentence; as (start, end) offsets of the first and last sentence."""
    size, stride = max(1, int(size)), max(1, int(stride))
    if not spans:
        return []
    out = []
    i = 0
    while True:
        last = min(i + size, len(spans)) - 1
        out.append((spans[i][0], spans[last][1]))
        if last == len(spans) - 1:
            return out
        i += stride


# what may go before a story's passages when they are embedded (the setting
# passage_context in pipelines/embedding.yml): its title, its summary, the
# roles of its people ("Shared Lives carer", "homesharer"; roles, never names)
CONTEXTS = ("title", "summary", "roles")
# what may go with a finding's statement: the title of its study (before
# it), the population it is about (after it, in brackets)
FINDING_CONTEXTS = ("study", "population")


def roles_text(people: list[dict] | None) -> str:
    """The people's roles, in order and without repeats ("person supported,
    Shared Lives carer"); names are left out."""
    roles = [str(p.get("role") or "").strip() for p in people or [] if isinstance(p, dict)]
    return ", ".join(dict.fromkeys(r for r in roles if r))


def story_passages(title: str, summary: str, body: str, size: int = 3, stride: int = 2,
                   context: tuple[str, ...] = ("title", "summary"), roles: str = "") -> list[Passage]:
    """Passage 0: the summary; then sentence windows of the narrative,
    offsets into the body. Each window is embedded after the `context`
    (title, summary, roles) given; the summary passage after the title and
    roles when those are in the context."""
    title, summary, body, roles = (title or "").strip(), summary or "", body or "", (roles or "").strip()
    head = [t for t in (title if "title" in context else "", f"({roles})" if roles and "roles" in context else "") if t]
    if summary.strip():
        field, source = "summary", summary
        embed = ". ".join([" ".join(head), summary.strip()]) if head else summary.strip()
    else:
        field, source = "title", title
        embed = " ".join(head) or title
    start = len(source) - len(source.lstrip())
    end = len(source.rstrip())
    out = [Passage(field, start, end, source[start:end], embed)]
    prefix = " ".join(head + ([summary.strip()] if "summary" in context and summary.strip() else []))
    prefix = f"{prefix}: " if prefix else ""
    for start, end in windows(sentence_bounds(body), size, stride):
        out.append(Passage("body", start, end, body[start:end], prefix + body[start:end]))
    return out


def finding_passages(statement: str, study: str = "", context: tuple[str, ...] = (),
                     population: str = "") -> list[Passage]:
    """One passage: the statement (its measure, mostly a paraphrase of it,
    made matching worse when embedded with it), after its study's title when
    `context` holds 'study', followed by its population in brackets when it
    holds 'population' (who the number is about: "people using personal
    budgets in the worst performing local authorities")."""
    statement = statement or ""
    embed = statement.strip()
    if "study" in context and (study or "").strip():
        embed = f"{study.strip().strip('[]')}: {embed}"
    if "population" in context and (population or "").strip():
        embed = f"{embed} ({population.strip()})"
    return [Passage("statement", 0, len(statement), statement, embed)]
