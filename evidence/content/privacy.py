"""Privacy: what of a story may be shown publicly.

For an anonymised story, every name and alias of the people listed on it,
and every part of each (first name, surname, the halves of 'Mary-Ann'), is
replaced by the published pseudonym in every field that is published: the
title, summary and narrative, the people's roles, place, organisation and
every source field. The result is stored as public_* columns (or, for the
fields published as they are, as the stored value itself), and every derived
public artefact (tags' sentences, passages, vectors, full-text index) is
computed from those public texts, never from the originals.

Matching is done on a folded copy of the text, so that none of these hides
a name: any case ('ZEBEDEE'), a possessive ('Quartermaine's', 'Zebedees'),
any whitespace between the parts (line breaks, no-break spaces) or none
('zebedee-quartermaine', 'ZebedeeQuartermaine', '%20' in a URL), a title
before a surname ('Mr Quartermaine'), Unicode composed or decomposed (NFC,
NFD) and compatibility forms (NFKC: full-width letters, ligatures), accents
left off or added ('Siobhan' for 'Siobhán'), look-alike Cyrillic or Greek
letters, invisible format characters (zero-width spaces, soft hyphens), HTML
entities ('Zeb&#101;dee') and Markdown emphasis inside a word ('Zeb*ed*ee').
Replacement is literal: a pseudonym is inserted as it is written, never
read as a regular-expression template.

Fields that cannot be rewritten without breaking them (the id, which is the
file name, and URLs) are checked instead: build refuses a story whose id or
URL holds a name of an anonymised person.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

from evidence.content.records import Story

# Titles that may stand before a name ('Mr Quartermaine', 'Auntie Zeb'):
# replaced together with the name, never on their own.
HONORIFICS = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lady", "lord",
              "rev", "revd", "father", "sister", "brother", "nurse", "auntie", "aunty", "aunt", "uncle",
              "nan", "nana", "nanna", "gran", "granny", "grandma", "grandad", "grandpa", "cllr", "councillor")
# Look-alike letters from other scripts, folded to the Latin letter they imitate.
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae",
    "œ": "oe", "ß": "ss",
})
# Characters a writer may put inside a word without changing what a reader
# sees or hears: apostrophes, hyphens, dots, Markdown emphasis.
_GLUE = "'’‘ʼ`´-‐‑‒–—.·*_~^"
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_MAX_PART_GAP = 12  # characters of space or punctuation allowed between the parts of a full name


@lru_cache(maxsize=65536)
def _fold_char(c: str) -> str:
    """One character as compared: compatibility form, no accents, case-folded,
    look-alikes to Latin; '' for invisible format characters."""
    if unicodedata.category(c) == "Cf":  # zero-width spaces and joiners, soft hyphen, bidi marks
        return ""
    out = []
    for d in unicodedata.normalize("NFKD", c):
        if unicodedata.combining(d):
            continue
        out.append(d)
    return "".join(out).casefold().translate(_CONFUSABLES)


def fold(text: str) -> tuple[str, "list[int] | range"]:
    """(folded text, for each folded character the index in `text` where the
    character it came from starts). `text` must already be NFC."""
    if text.isascii() and "&" not in text and "%" not in text:  # the common case, ~100x faster
        return text.lower(), range(len(text) + 1)
    out: list[str] = []
    index: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        piece, width = None, 1
        if c == "&":
            m = _ENTITY.match(text, i)
            if m:
                decoded = html.unescape(m.group(0))
                if decoded != m.group(0):
                    piece, width = "".join(_fold_char(d) for d in decoded), len(m.group(0))
        elif c == "%":
            m = _PERCENT.match(text, i)
            if m and int(m.group(0)[1:], 16) < 0x80:
                piece, width = _fold_char(chr(int(m.group(0)[1:], 16))), 3
        if piece is None:
            piece = _fold_char(c)
        for ch in piece:
            out.append(ch)
            index.append(i)
        i += width
    return "".join(out), index


def name_parts(name: str) -> list[str]:
    """The folded parts of a name: words split at spaces, and also the pieces
    of a hyphenated one ('Mary-Ann' -> 'maryann', 'mary', 'ann'); apostrophes
    and dots are dropped ('O'Neill' -> 'oneill'). Honorifics and single
    letters are not parts."""
    folded, _ = fold(unicodedata.normalize("NFC", name))
    parts: list[str] = []
    for word in folded.split():
        whole = "".join(ch for ch in word if ch.isalnum())
        pieces = ["".join(ch for ch in p if ch.isalnum()) for p in re.split(r"[-‐‑‒–—]", word)]
        for p in [whole, *pieces]:
            if len(p) >= 2 and p not in HONORIFICS and p not in parts:
                parts.append(p)
    return parts


def _word_pattern(part: str) -> str:
    """A folded name part, letting 'glue' stand between its letters."""
    glue = "[" + re.escape(_GLUE) + "]{0,3}"
    return glue.join(re.escape(ch) for ch in part)


_BEFORE = r"(?<![^\W_])"  # not preceded by a letter or digit (an underscore is a separator)
_AFTER = r"(?![^\W_])"
_HONORIFIC = r"(?:(?:" + "|".join(HONORIFICS) + r")\.?[\s\W_]{1,3})?"
_POSSESSIVE_S = r"(?:s(?![^\W_]))?"  # 'Zebedees' (a possessive without its apostrophe)


@lru_cache(maxsize=256)
def _pattern(names: tuple[tuple[str, ...], ...]) -> re.Pattern | None:
    """One alternation over every full name (parts in order, any gap of
    spaces or punctuation, or none) and every part alone, longest first."""
    alternatives: set[str] = set()
    gap = r"[\W_]{0," + str(_MAX_PART_GAP) + "}"
    for parts in names:
        words = [p for p in parts if p]
        for a in range(len(words)):
            for b in range(a + 1, len(words) + 1):
                alternatives.add(gap.join(_word_pattern(w) for w in words[a:b]))
    if not alternatives:
        return None
    ordered = sorted(alternatives, key=len, reverse=True)
    return re.compile(_BEFORE + _HONORIFIC + "(?:" + "|".join(ordered) + ")" + _POSSESSIVE_S + _AFTER)


def _name_words(name: str) -> tuple[str, ...]:
    """The folded words of a name in order, for full-name matching
    ('Mary-Ann Jones' -> ('maryann', 'jones'))."""
    folded, _ = fold(unicodedata.normalize("NFC", name))
    out = []
    for word in folded.split():
        w = "".join(ch for ch in word if ch.isalnum())
        if len(w) >= 2 and w not in HONORIFICS:
            out.append(w)
    return tuple(out)


def _names_for(name: str) -> list[tuple[str, ...]]:
    """Word sequences to look for: the name's words in order, and each part alone."""
    seqs = [_name_words(name)]
    seqs += [(p,) for p in name_parts(name)]
    return [s for s in seqs if s]


def find_names(text: str, replacements: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, pseudonym) of every mention of a listed name in the NFC
    form of `text`, without overlaps, longest first where they compete."""
    if not text or not replacements:
        return []
    text = unicodedata.normalize("NFC", text)
    folded, index = fold(text)
    spans: list[tuple[int, int, str]] = []
    by_pseudonym: dict[str, list[tuple[str, ...]]] = {}
    for name, pseudonym in replacements.items():
        by_pseudonym.setdefault(pseudonym, []).extend(_names_for(name))
    for pseudonym, seqs in by_pseudonym.items():
        pattern = _pattern(tuple(sorted(set(seqs))))
        if pattern is None:
            continue
        for m in pattern.finditer(folded):
            if m.end() == m.start():
                continue
            start = index[m.start()]
            end = index[m.end()] if m.end() < len(index) else len(text)
            # keep a possessive 's' (written without its apostrophe) after the pseudonym
            if folded[m.end() - 1] == "s" and m.group(0)[-1] == "s" and not _ends_in_part(m.group(0), seqs):
                end = index[m.end() - 1]
            spans.append((start, end, pseudonym))
    spans += _handle_spans(text, folded, index, by_pseudonym)
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str]] = []
    for s in spans:
        if out and s[0] < out[-1][1]:
            continue
        out.append(s)
    return out


# a social-media handle or hashtag (@ZebedeeQ, #zeb1941) and an email
# address's local part (zebedeeq@...): identities written as one token, in
# which a name part is found anywhere, not only between word boundaries
_HANDLE = re.compile(r"(?<![\w@#])[@#][^\W_][\w.]*|[\w.+-]+(?=@[^\W_][\w-]*\.)")


def _handle_spans(text: str, folded: str, index, by_pseudonym: dict[str, list[tuple[str, ...]]]) -> list[tuple[int, int, str]]:
    """(start, end, pseudonym) of name parts inside handles, hashtags and
    email local parts of the folded text."""
    out: list[tuple[int, int, str]] = []
    parts = {pseudonym: sorted({p for seq in seqs for p in seq if len(p) >= 2}, key=len, reverse=True)
             for pseudonym, seqs in by_pseudonym.items()}
    for m in _HANDLE.finditer(folded):
        token, base = m.group(0), m.start()
        for pseudonym, names in parts.items():
            for part in names:
                at = token.find(part)
                while at >= 0:
                    a, b = base + at, base + at + len(part)
                    out.append((index[a], index[b] if b < len(index) else len(text), pseudonym))
                    at = token.find(part, at + len(part))
    return out


def _ends_in_part(matched: str, seqs: list[tuple[str, ...]]) -> bool:
    """True when the final 's' of a match belongs to the name itself ('Jess')."""
    letters = "".join(ch for ch in matched if ch.isalnum())
    return any(letters.endswith(seq[-1]) for seq in seqs if seq)


def pseudonymise(text: str, replacements: dict[str, str]) -> str:
    """`text` (NFC) with every mention of a listed name replaced, literally,
    by its pseudonym. Runs until nothing is left to replace (a name hidden
    by the removal of another cannot come through)."""
    if not text or not replacements:
        return text
    text = unicodedata.normalize("NFC", text)
    for _ in range(4):
        spans = find_names(text, replacements)
        if not spans:
            break
        pieces, last = [], 0
        for start, end, pseudonym in spans:
            pieces.append(text[last:start])
            pieces.append(pseudonym)  # literal: no template, no escapes
            last = end
        pieces.append(text[last:])
        new = "".join(pieces)
        if new == text:
            break
        text = new
    return text


def replacements(story: Story) -> dict[str, str]:
    """name or alias -> pseudonym for an anonymised story ({} when named)."""
    if story.consent.identity != "anonymised":
        return {}
    out: dict[str, str] = {}
    for person in story.people:
        pseudonym = person.pseudonym or story.consent.pseudonym
        for name in [person.name, *person.aliases]:
            if name.strip():
                out[name.strip()] = pseudonym
    return out


def public_texts(story: Story) -> dict[str, str]:
    """The title, summary and body as they may be published."""
    rep = replacements(story)
    return {
        "public_title": pseudonymise(story.title, rep),
        "public_summary": pseudonymise(story.summary, rep),
        "public_body": pseudonymise(story.body, rep),
    }


# Free-text fields published as they are stored: pseudonymised when stored.
PSEUDONYMISED_FIELDS = ("organisation", "place") + tuple(
    f"source.{k}" for k in ("title", "author", "organisation", "publisher", "date", "note"))


def public_field(story: Story, key: str) -> str:
    """A free-text field of PSEUDONYMISED_FIELDS as it may be published."""
    obj = story.source if key.startswith("source.") else story
    value = str(getattr(obj, key.split(".", 1)[-1]) or "")
    return pseudonymise(value, replacements(story))


def public_people(story: Story) -> list[dict]:
    """People as they may be published: pseudonyms (and roles without names)
    for anonymised stories."""
    anonymised = story.consent.identity == "anonymised"
    rep = replacements(story)
    return [{
        "name": (p.pseudonym or story.consent.pseudonym) if anonymised and p.name else p.name,
        "role": pseudonymise(p.role, rep) if anonymised else p.role,
    } for p in story.people]


# Fields that cannot be rewritten (the id is the file name; a URL would
# break): for an anonymised story they may not hold a name at all.
VERBATIM_FIELDS = ("id", "source.url")


def names_in_published_fields(story: Story) -> list[tuple[str, str, tuple]]:
    """(field label, name, YAML key path) for every name or alias of an
    anonymised story's people found in a field published verbatim (the id,
    the source URL, percent-decoded too)."""
    rep = replacements(story)
    if not rep:
        return []
    out = []
    for key in VERBATIM_FIELDS:
        obj = story.source if key.startswith("source.") else story
        value = str(getattr(obj, key.split(".", 1)[-1]) or "")
        for candidate in (value, unquote(value)):
            spans = find_names(candidate, rep)
            if spans:
                name = next((n for n in sorted(rep, key=len, reverse=True)
                             if find_names(candidate, {n: rep[n]})), sorted(rep)[0])
                out.append((f"'{key}'", name, tuple(key.split("."))))
                break
    return out


def pseudonym_clashes(story: Story) -> list[tuple[int, str]]:
    """(person index, pseudonym) where a pseudonym holds a part of a listed
    name: publishing it would publish the name."""
    if story.consent.identity != "anonymised":
        return []
    parts = {p for person in story.people for n in [person.name, *person.aliases] for p in name_parts(n)}
    out = []
    for i, person in enumerate(story.people):
        pseudonym = person.pseudonym or story.consent.pseudonym
        if set(name_parts(pseudonym)) & parts:
            out.append((i, pseudonym))
    return out
