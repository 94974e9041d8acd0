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
from pathlib import Path
from urllib.parse import unquote

from evidence.content.records import Story
from evidence.content.settings import source_version

# Changes whenever this module does: an anonymised story's public texts were
# made by this version, and a build with another one makes them again
# (store/rows.py puts it in the story's content hash, build.py re-reads
# the files of anonymised stories), so a better anonymiser reaches stories
# that were published before it.
ANONYMISER_VERSION = source_version(Path(__file__))

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
    "œ": "oe", "ß": "ss", "һ": "h", "ү": "y", "ӏ": "l", "ϲ": "c", "ϳ": "j", "օ": "o", "ս": "u", "հ": "h",
})
# Letters that look like an apostrophe (modifier letters, the saltillo),
# typed for one by some keyboards and autocorrection ('Zebedeeʼs', 'OꞌNeill'):
# read as one, since as letters they would hide the word's end from the match
_APOSTROPHE_LETTERS = str.maketrans({c: "'" for c in "ʼʻʹʽˈꞌ"})
# Capitals that look like another Latin letter than their small form does
# (Greek 'Η' is an H, its small 'η' an n; 'Μ' an M, 'μ' a u): mapped before
# case-folding, so 'Ηannah' and 'Μary' are read as they are seen.
_CONFUSABLE_CAPITALS = str.maketrans({
    "Η": "H", "Μ": "M", "Ν": "N", "Υ": "Y", "Ζ": "Z", "Ϲ": "C", "Ј": "J", "Һ": "H", "Ү": "Y", "Ӏ": "I",
    "Ԛ": "Q", "Ԝ": "W", "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K", "Ꮇ": "M",
    "Ꭱ": "R", "Ꮪ": "S", "Ꭲ": "T", "Ꮃ": "W", "Ꮓ": "Z",
})
# Characters a writer may put inside a word without changing what a reader
# sees or hears: apostrophes, hyphens, dots, Markdown emphasis, escapes and
# brackets (a Markdown link around part of a word: '[Mar](url)garet').
_GLUE = "'’‘ʼʻ`´-‐‑‒–—.·‧・*_~^\\[]"
# A word broken at the end of a line, with a hyphen or without one, as text
# copied from a PDF or a narrow column is ('Zebe-' / 'dee', 'Quarter' /
# 'maine'), or a heading cut short ('## Zebe' / 'dee'): the reader joins the
# halves, and so does the match (the next line may be indented, quoted or a
# heading: '> dee', '# dee').
_LINE_BREAK_HYPHEN = r"[-‐‑]?[ \t]*\r?\n[ \t>#]*"
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_MAX_PART_GAP = 12  # characters of space or punctuation allowed between the parts of a full name


# Characters a browser draws as nothing that are neither format characters
# nor marks (Unicode's Default_Ignorable_Code_Point letters: Hangul fillers)
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Latin letters that NFKD leaves alone but a reader sees as a plain letter:
# small capitals ('ᴍᴀʀʏ'), script and dotless forms, letters with a stroke or
# hook ('ǥ', 'ɠ'); the letter is taken from the character's Unicode name
_LATIN_VARIANT = re.compile(r"LATIN (?:(?:SMALL|CAPITAL) )?LETTER (?:(?:SMALL CAPITAL|SCRIPT|DOTLESS|BARRED|CLOSED) )?"
                            r"([A-Z]{1,2})(?: WITH .+)?")


@lru_cache(maxsize=65536)
def _fold_char(c: str) -> str:
    """One character as compared: compatibility form, no accents, case-folded,
    look-alikes to Latin; '' for characters a browser does not draw: format
    characters (zero-width spaces and joiners, soft hyphen, bidi marks),
    every mark (combining or not: variation selectors, the combining
    grapheme joiner) and blank letters."""
    if unicodedata.category(c) in ("Cf", "Mn", "Me") or c in _BLANK_LETTERS:
        return ""
    out = []
    for d in unicodedata.normalize("NFKD", c):
        if unicodedata.combining(d) or unicodedata.category(d) in ("Mn", "Me"):
            continue
        if ord(d) > 0x7F and unicodedata.category(d).startswith("L"):
            m = _LATIN_VARIANT.fullmatch(unicodedata.name(d, ""))
            if m:
                d = m.group(1)
        out.append(d)
    return "".join(out).translate(_CONFUSABLE_CAPITALS).casefold().translate(_CONFUSABLES).translate(_APOSTROPHE_LETTERS)


def _percent_char(text: str, i: int) -> tuple[str, int] | None:
    """(character, width) of the percent-encoded character at text[i]: one
    escape for ASCII ('%65'), two to four for UTF-8 ('%C3%A9'); None when
    there is none."""
    m = _PERCENT.match(text, i)
    if not m:
        return None
    lead = int(m.group(0)[1:], 16)
    n = 1 if lead < 0x80 else 2 if 0xC2 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF5 else 0
    escapes = [text[i + 3 * k:i + 3 * k + 3] for k in range(n)]
    if not n or not all(_PERCENT.fullmatch(e) for e in escapes):
        return None
    try:
        return bytes(int(e[1:], 16) for e in escapes).decode("utf-8"), 3 * n
    except UnicodeDecodeError:
        return None


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
            decoded = _percent_char(text, i)
            if decoded:
                piece, width = "".join(_fold_char(d) for d in decoded[0]), decoded[1]
        if piece is None:
            piece = _fold_char(c)
        for ch in piece:
            out.append(ch)
            index.append(i)
        i += width
    return "".join(out), index


def name_parts(name: str) -> list[str]:
    """The folded parts of a name: words split at spaces, and also the pieces
    of a hyphenated one ('Mary-Ann' -> 'maryann', 'mary', 'ann') or of one
    with an apostrophe ('O'Neill' -> 'oneill', 'neill': 'O Neill' and 'Mrs
    Neill' are written too), or of one with a capital inside ('JoAnne' ->
    'jo', 'anne'; 'MacLeod' -> 'mac', 'leod': 'Jo Anne' and 'Mac Leod' are
    written too). Honorifics are not parts when the name has
    other words ('Mr' of 'Mr Jones'), and are when it has none ('Nan', 'Auntie
    Nana': that is what the person is called). Single letters are not parts."""
    folded, _ = fold(unicodedata.normalize("NFC", _CAMEL.sub("-", name)))
    parts: list[str] = []
    for word in folded.split():
        whole = "".join(ch for ch in word if ch.isalnum())
        pieces = ["".join(ch for ch in p if ch.isalnum()) for p in re.split(r"[-‐‑‒–—'’‘ʼ`´]", word)]
        for p in [whole, *pieces]:
            if len(p) >= 2 and p not in parts:
                parts.append(p)
    words = ["".join(ch for ch in w if ch.isalnum()) for w in folded.split()]
    if all(w in HONORIFICS for w in words if w):  # 'Nan', 'Auntie Nana' (but not 'Mr D')
        return parts
    return [p for p in parts if p not in HONORIFICS]


def _word_pattern(part: str) -> str:
    """A folded name part, letting 'glue' stand between its letters, or a
    hyphen at the end of a line."""
    glue = "(?:[" + re.escape(_GLUE) + "]{0,3}|" + _LINE_BREAK_HYPHEN + ")"
    return glue.join(re.escape(ch) for ch in part)


# A name part stands between non-letters: digits, underscores and
# punctuation separate it ('margaret1952', '1952margaret', 'zeb_q').
# Only a Latin letter (as folded) joins a name to a word: a letter of a
# script written without spaces does not ('Zebedee的女儿', 'Zebedeeさん').
_LATIN = r"[a-z\u00c0-\u024f\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff]"
_BEFORE = r"(?<!" + _LATIN + ")"  # not preceded by a letter
_AFTER = r"(?!" + _LATIN + ")"
_HONORIFIC = r"(?:(?:" + "|".join(HONORIFICS) + r")\.?[\s\W_]{1,3})?"
_POSSESSIVE_S = r"(?:s" + _AFTER + ")?"  # 'Zebedees' (a possessive without its apostrophe)


@lru_cache(maxsize=256)
def _pattern(names: tuple[tuple[str, ...], ...]) -> re.Pattern | None:
    """One alternation over every full name (parts in order, any gap of
    spaces or punctuation, or none) and every part alone, longest first;
    several of them written as one word match together ('MargaretOkonkwo'
    for 'Margaret Okonkwo-Bailey', 'ZebQuartermaine' for an alias and a
    surname)."""
    alternatives: set[str] = set()
    gap = r"[\W_]{0," + str(_MAX_PART_GAP) + "}"
    for parts in names:
        words = [p for p in parts if p]
        for a in range(len(words)):
            for b in range(a + 1, len(words) + 1):
                alternatives.add(gap.join(_word_pattern(w) for w in words[a:b]))
    if not alternatives:
        return None
    ordered = "(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + ")"
    return re.compile(_BEFORE + _HONORIFIC + ordered + "+" + _POSSESSIVE_S + _AFTER)


def _name_words(name: str) -> tuple[str, ...]:
    """The folded words of a name in order, for full-name matching
    ('Mary-Ann Jones' -> ('maryann', 'jones'))."""
    folded, _ = fold(unicodedata.normalize("NFC", name))
    words = [w for w in ("".join(ch for ch in word if ch.isalnum()) for word in folded.split()) if w]
    if all(w in HONORIFICS for w in words):
        return tuple(w for w in words if len(w) >= 2)
    return tuple(w for w in words if len(w) >= 2 and w not in HONORIFICS)


# Endings that make a pet form or a plural of a name itself: 'Gwenny',
# 'Gwennie' (the last letter doubled), 'Jonesy', 'Smithy', 'Jacko', 'Rosie'
# (a final 'e' dropped), 'the Joneses'. A reader knows the person in each.
_VOWELS = "aeiouy"


@lru_cache(maxsize=4096)
def pet_forms(part: str) -> tuple[str, ...]:
    """Pet forms and the plural of a folded name part of three letters or
    more ('gwen' -> 'gwenny', 'gwennie', 'gweny', ...; 'rose' -> 'rosie',
    'rosy'; 'jones' -> 'joneses', 'jonesy')."""
    if len(part) < 3 or not part.isalpha():
        return ()
    forms = {part + end for end in ("y", "ie", "ey", "o", "sy")}
    if part[-1] not in _VOWELS and part[-1] not in "sxz" and part[-2] in _VOWELS:
        forms |= {part + part[-1] + end for end in ("y", "ie", "o")}  # gwen -> gwenny, gwennie
    if part[-1] == "e" and len(part) >= 4:
        forms |= {part[:-1] + end for end in ("y", "ie", "o")}  # rose -> rosie, rosy
    if part.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(part + "es")  # jones -> joneses
    return tuple(sorted(f for f in forms if f != part))


# Letters written out where a keyboard has none, and the other way round:
# 'Müller' is 'Mueller' on a form, 'Søren' is 'Soeren', 'Åse' is 'Aase'; a
# listed 'Mueller' is 'Müller' in a letter (only a vowel pair between
# consonants in a word of six letters or more: 'Joel' and 'Zoe' are not
# umlauts).
_UMLAUTS = {"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "Oe", "Å": "Aa"}
_WRITTEN_OUT = re.compile(r"(?<=[b-df-hj-np-tv-zß])([aou])e(?=[b-df-hj-np-tv-zß])", re.I)


def _umlaut_spellings(name: str) -> set[str]:
    name = unicodedata.normalize("NFC", name)
    out = set()
    if any(c in _UMLAUTS for c in name):
        out.add("".join(_UMLAUTS.get(c, c) for c in name))
    words = name.split()
    if any(len(w) >= 6 and _WRITTEN_OUT.search(w) for w in words):
        out.add(" ".join(_WRITTEN_OUT.sub(r"\1", w) if len(w) >= 6 else w for w in words))
    return out


def _names_for(name: str) -> list[tuple[str, ...]]:
    """Word sequences to look for: the name's words in order (and with a
    capital inside a word taken as the start of another: 'Jo Anne Mac Leod'
    for 'JoAnne MacLeod'; and as spelt in Latin letters when the name is
    listed in another script), each part alone, and each part's pet forms."""
    seqs = [_name_words(name), _name_words(_CAMEL.sub(" ", name))]
    for other in {_transliterated_name(name), *_umlaut_spellings(name)} - {name}:
        seqs += [_name_words(other)] + [(p,) for p in name_parts(other)]
    seqs += [(p,) for p in name_parts(name)]
    seqs += [(f,) for seq in list(seqs) if len(seq) == 1 for f in pet_forms(seq[0])]
    return [s for s in seqs if s]


def find_names(text: str, replacements: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, pseudonym) of every mention of a listed name in the NFC
    form of `text`, without overlaps, longest first where they compete.
    The text is read as written and as Markdown shows it (link targets
    left out), so a link around part of a name does not hide it."""
    if not text or not replacements:
        return []
    text = unicodedata.normalize("NFC", text)
    by_pseudonym: dict[str, list[tuple[str, ...]]] = {}
    for name, pseudonym in replacements.items():
        by_pseudonym.setdefault(pseudonym, []).extend(_names_for(name))
    spans = _spans_in(text, range(len(text) + 1), by_pseudonym, handles=True)
    for view in (_markdown_visible, _camel_split, _spelt_out_joined, _digits_as_i, _digits_as_l):
        seen, where = view(text)
        if seen != text:
            spans += _spans_in(seen, where, by_pseudonym)
    spans += _other_script_spans(text, by_pseudonym)
    spans += _initials_spans(text, replacements)
    spans = [(*_balanced(text, a, b), p) for a, b, p in spans]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str]] = []
    for s in spans:
        if out and s[0] < out[-1][1]:
            continue
        out.append(s)
    return out


_EMPHASIS_BEFORE = re.compile(r"[*_~]+$")
_EMPHASIS_AFTER = re.compile(r"[*_~]{1,3}")


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """A name's span widened over Markdown that opens before it and closes
    inside it, or opens inside it and closes after it ('**Zeb**edee',
    'Zeb**edee**', '[Zebe](url)dee'), so that none is left unbalanced by the
    replacement."""
    inside = text[start:end]
    if start and text[start - 1] == "[" and ("](" in inside or "][" in inside):
        start -= 1
    m = _EMPHASIS_BEFORE.search(text, max(0, start - 3), start)
    if m and m.group(0) in inside:
        start = m.start()
    m = _EMPHASIS_AFTER.match(text, end)
    if m and m.group(0) in inside:
        end = m.end()
    return start, end


def _spans_in(text: str, where, by_pseudonym: dict[str, list[tuple[str, ...]]],
              handles: bool = False) -> list[tuple[int, int, str]]:
    """Spans of names in `text`, as offsets of the original text (`where`
    maps each offset of `text`, and its end, to one of the original); with
    `handles`, inside handles, email addresses and web addresses too."""
    folded, index = fold(text)
    spans: list[tuple[int, int, str]] = []
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
    if handles:
        spans += _handle_spans(text, folded, index, by_pseudonym)
    return [(where[a], where[b], p) for a, b, p in spans]


# the part of a Markdown link a reader does not see: its target, inline
# ('](url "title")') or by reference ('][ref]')
_LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)|\]\[[^\[\]]*\]")


def _markdown_visible(text: str) -> tuple[str, list[int]]:
    """`text` without Markdown link targets (the ']' stays), and for each
    of its offsets, and its end, the offset in `text`."""
    if "](" not in text and "][" not in text:
        return text, range(len(text) + 1)
    out: list[str] = []
    where: list[int] = []
    last = 0
    for m in _LINK_TARGET.finditer(text):
        out.append(text[last:m.start() + 1])
        where.extend(range(last, m.start() + 1))
        last = m.end()
    out.append(text[last:])
    where.extend(range(last, len(text) + 1))
    return "".join(out), where


# a name spelt out letter by letter ('Z E B E D E E', for emphasis or so that
# the reader gets it right): three single letters or more, a space between each
_SINGLE = r"(?<![^\W\d_])[^\W\d_](?![^\W\d_])"
_SPELT_OUT = re.compile(_SINGLE + r"(?:[ \u00a0]" + _SINGLE + "){2,}")


def _spelt_out_joined(text: str) -> tuple[str, list[int]]:
    """`text` with the spaces inside every run of letters spelt out removed
    ('Z E B E D E E' -> 'ZEBEDEE'), and for each of its offsets, and its end,
    the offset in `text`."""
    runs = list(_SPELT_OUT.finditer(text))
    if not runs:
        return text, range(len(text) + 1)
    gone = {i for m in runs for i in range(m.start() + 1, m.end(), 2)}
    where = [i for i in range(len(text)) if i not in gone]
    return "".join(text[i] for i in where), where + [len(text)]


_CAMEL = re.compile(r"(?<=[a-zß-öø-ÿ])(?=[A-ZÀ-ÖØ-Þ])")


def _camel_split(text: str) -> tuple[str, list[int]]:
    """`text` with a space where a lower-case letter meets an upper-case one
    ('ZebedeeQ', 'MarchbanksZ', 'zebQuartermaine': a name with initials or
    another name glued on), and for each of its offsets, and its end, the
    offset in `text`."""
    cuts = [m.start() for m in _CAMEL.finditer(text)]
    if not cuts:
        return text, range(len(text) + 1)
    out: list[str] = []
    where: list[int] = []
    last = 0
    for cut in cuts:
        out += [text[last:cut], " "]
        where += [*range(last, cut), cut]
        last = cut
    out.append(text[last:])
    where += range(last, len(text) + 1)
    return "".join(out), where


# a social-media handle or hashtag (@ZebedeeQ, #zeb1941) and an email
# address's local part (zebedeeq@...): identities written as one token, in
# which a name part is found anywhere, not only between word boundaries
_HANDLE = re.compile(r"(?<![\w@#])[@#][^\W_][\w.]*|[\w.+-]+(?=@[^\W_][\w-]*\.)")
# a web address (with or without its scheme: 'twitter.com/ZebedeeQ'); in it
# a name part may carry initials glued on ('zebedeeq', 'zquartermaine')
_URL = re.compile(r"(?:https?://|www\.|(?<![\w.@/-])[^\W_][\w-]*(?:\.[\w-]+)*\.[a-z]{2,}/)[^\s<>()\[\]\"'`]*")
_LETTERS = re.compile(r"[^\W\d_]+")
_INITIALS = 2  # letters of initials allowed before or after a name part in a web address
# a name part this long is the name wherever it stands in a word of a web
# address ('justgiving.com/okonkwofamily', 'www.quartermainefamily.org.uk':
# pages are named after people); a shorter one only with initials beside it
# ('example.org/annual-report' is not Ann's)
_LONG_PART = 5


def _handle_spans(text: str, folded: str, index, by_pseudonym: dict[str, list[tuple[str, ...]]]) -> list[tuple[int, int, str]]:
    """(start, end, pseudonym) of name parts inside handles, hashtags, email
    local parts and web addresses of the folded text."""
    found: list[tuple[int, int, str]] = []
    parts = {pseudonym: tuple(sorted({p for seq in seqs for p in seq if len(p) >= 2}, key=len, reverse=True))
             for pseudonym, seqs in by_pseudonym.items()}
    if "@" in folded or "#" in folded:
        for m in _HANDLE.finditer(folded):
            token, base = m.group(0), m.start()
            for pseudonym, names in parts.items():
                for part in names:
                    at = token.find(part)
                    while at >= 0:
                        found.append((base + at, base + at + len(part), pseudonym))
                        at = token.find(part, at + len(part))
    if "/" in folded or "www." in folded:
        for m in _URL.finditer(folded):
            for pseudonym, names in parts.items():
                for initials in _with_initials(names):
                    for w in initials.finditer(m.group(0)):
                        found.append((m.start() + w.start("part"), m.start() + w.end("part"), pseudonym))
    return [(index[a], index[b] if b < len(index) else len(text), p) for a, b, p in found]


@lru_cache(maxsize=256)
def _with_initials(parts: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """A word of a web address that is a part (three letters or more) with at
    most _INITIALS letters after it, or before it; and a part of _LONG_PART
    letters or more anywhere."""
    alt = "|".join(re.escape(p) for p in parts if len(p) >= 3)
    if not alt:
        return ()
    letter, edge = r"[^\W\d_]", r"(?<![^\W\d_])"
    patterns = [re.compile(edge + f"(?P<part>{alt}){letter}{{0,{_INITIALS}}}(?!{letter})"),
                re.compile(edge + f"{letter}{{1,{_INITIALS}}}(?P<part>{alt})(?!{letter})")]
    long = "|".join(re.escape(p) for p in parts if len(p) >= _LONG_PART)
    if long:
        patterns.append(re.compile(f"(?P<part>{long})"))
    return tuple(patterns)


def _ends_in_part(matched: str, seqs: list[tuple[str, ...]]) -> bool:
    """True when the final 's' of a match belongs to the name itself ('Jess')."""
    letters = "".join(ch for ch in matched if ch.isalnum())
    return any(letters.endswith(seq[-1]) for seq in seqs if seq)


# Digits typed for the letters they look like ('Gw3ndolyn', 'Qu4rtermaine'),
# read as letters only between two letters, where they cannot be a number
# ('A1', '4x4' and '3pm' stay numbers). '1' is an 'i' or an 'l': two views.
_DIGIT_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])[013457](?=[^\W\d_])")
_DIGIT_LETTERS = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t"}


def _digits_view(text: str, one: str) -> tuple[str, "range"]:
    if not _DIGIT_BETWEEN_LETTERS.search(text):
        return text, range(len(text) + 1)
    letters = {**_DIGIT_LETTERS, "1": one}
    return _DIGIT_BETWEEN_LETTERS.sub(lambda m: letters[m.group(0)], text), range(len(text) + 1)


def _digits_as_i(text: str):
    """`text` with digits between letters read as letters, '1' as 'i'."""
    return _digits_view(text, "i")


def _digits_as_l(text: str):
    """`text` with digits between letters read as letters, '1' as 'l'."""
    return _digits_view(text, "l")


# Initials with dots ('G. Q.', 'G.Q.', 'G.Q'): the first letters of a listed
# name of two words or more, in order, each but the last followed by a dot.
# Case matters here (capitals only), so 'i.e.' and 'e.g.' stay what they are
# for an 'Ian Edwards' or an 'Edward Green'.
# abbreviations written with dots that are not anyone's initials ('9 A.M.',
# 'the U.K.', 'her G.P.', 'P.S.'): left alone even when a name's initials
_DOTTED_WORDS = frozenset(("AM", "PM", "UK", "US", "USA", "GP", "PS", "PPS", "BC", "AD", "NB", "RIP", "EU", "TV",
                           "DJ", "PA", "MP", "QC", "KC", "BA", "MA", "BSC", "MSC", "PE", "RE", "IT", "OK", "ID",
                           "IE", "EG", "AKA", "ETA", "NHS", "BBC", "VIP", "RSVP", "ASAP", "DIY", "CV", "PC", "OT"))


def _initials(name: str) -> list[str]:
    words = [w for w in re.split(r"[\s\-‐‑'’]+", unicodedata.normalize("NFC", name)) if w]
    words = [w for w in words if "".join(ch for ch in w if ch.isalnum()).lower() not in HONORIFICS]
    letters = [w[0].upper() for w in words if w[0].isalpha()]
    return letters if len(letters) >= 2 and "".join(letters) not in _DOTTED_WORDS else []


def _initials_spans(text: str, replacements: dict[str, str]) -> list[tuple[int, int, str]]:
    if "." not in text:
        return []
    spans = []
    for name, pseudonym in replacements.items():
        letters = _initials(name)
        # all the initials, and the first and last of a name with middle names ('G.Q.' for Gwendolyn Mary Quennell)
        for seq in [letters] + ([[letters[0], letters[-1]]] if len(letters) >= 3 else []):
            if not seq or "".join(seq) in _DOTTED_WORDS:
                continue
            body = r"\.[ \t\u00a0]?-?".join(re.escape(c) for c in seq)
            pattern = re.compile(r"(?<![^\W\d_])" + body + r"(?:\.|(?![^\W\d_]))")
            spans += [(m.start(), m.end(), pseudonym) for m in pattern.finditer(text)]
    return spans


# Names in other scripts, as relatives abroad or a translated form write them
# ('Олена Коваленко' for Olena Kovalenko, 'Γιώργος' for Giorgos, 'Гвендолін'
# for Gwendolyn). Cyrillic and Greek are read in Latin letters, and both the
# text and the name are then reduced to a skeleton where the letters that
# transliterations disagree on are one ('г' is g in Russian, h in Ukrainian:
# g = h; 'й', 'и', 'і', 'y', 'j' are one; 'в', 'w', 'u', 'v' are one; 'qu'
# is a k, written 'кв' or 'к'; doubled letters are single). Only a match that holds a letter of the other script
# counts, so the Latin words of the text are matched as before.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "ie", "ж": "zh",
    "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia", "ђ": "dj", "ј": "j",
    "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dz", "ѓ": "g", "ќ": "k", "ѕ": "dz",
}
_GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}
# Greek pairs read as one sound; 'μπ' and 'ντ' are b and d at a word's start
_GREEK_PAIRS = {"ου": "u", "γκ": "g", "γγ": "ng", "αι": "e", "ει": "i", "οι": "i", "αυ": "av", "ευ": "ev",
                "μπ": "mb", "ντ": "nd"}
_WORD_START_PAIRS = {"μπ": "b", "ντ": "d"}
_SKELETON = [(re.compile(a), b) for a, b in (
    (r"ou", "u"), (r"ph", "f"), (r"th", "t"), (r"kh|ch", "h"), (r"x", "ks"), (r"[cq]", "k"), (r"h", "g"),
    (r"[yj]", "i"), (r"[wu]", "v"), (r"kv", "k"), (r"ie", "e"), (r"([a-z])\1+", r"\1"))]


def _plain_lower(c: str) -> str:
    return "".join(d for d in unicodedata.normalize("NFD", c.lower()) if not unicodedata.combining(d))


def _is_other_script(c: str) -> bool:
    return "\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff" or "\u0400" <= c <= "\u052f"


def _romanised(text: str) -> tuple[str, list[int]]:
    """`text` with Cyrillic and Greek letters in Latin ones, folded, and for
    each character the offset in `text` it came from (and the end)."""
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        piece, width = None, 1
        if _is_other_script(c):
            pair = _plain_lower(text[i:i + 2])
            if len(pair) == 2 and pair in _GREEK_PAIRS:
                start = i == 0 or not text[i - 1].isalpha()
                piece, width = (_WORD_START_PAIRS.get(pair) if start else None) or _GREEK_PAIRS[pair], 2
            else:
                low = _plain_lower(c)
                piece = _CYRILLIC.get(low, _GREEK.get(low))
        if piece is None:
            piece = _fold_char(c)
        out.extend(piece)
        where.extend([i] * len(piece))
        i += width
    where.append(n)
    return "".join(out), where


def _skeleton(text: str, where: list[int]) -> tuple[str, list[int]]:
    """The romanised text reduced to its skeleton (see above), with offsets."""
    for pattern, repl in _SKELETON:
        out: list[str] = []
        new_where: list[int] = []
        last = 0
        for m in pattern.finditer(text):
            out.append(text[last:m.start()])
            new_where.extend(where[last:m.start()])
            r = m.expand(repl)
            out.append(r)
            new_where.extend([where[m.start()]] * len(r))
            last = m.end()
        out.append(text[last:])
        new_where.extend(where[last:len(text)])
        text, where = "".join(out), new_where + [where[len(text)]]
    return text, where


def _transliterated_name(name: str) -> str:
    """A name listed in Cyrillic or Greek, in Latin letters ('Олена' -> 'olena');
    any other name as it is."""
    if not any(_is_other_script(c) for c in name):
        return name
    return _romanised(unicodedata.normalize("NFC", name))[0]


def _other_script_spans(text: str, by_pseudonym: dict[str, list[tuple[str, ...]]]) -> list[tuple[int, int, str]]:
    if not any(_is_other_script(c) for c in text):
        return []
    seen, where = _skeleton(*_romanised(text))
    spans = []
    gap = r"[\W_\d]{0," + str(_MAX_PART_GAP) + "}"
    for pseudonym, seqs in by_pseudonym.items():
        alts = set()
        for seq in seqs:
            words = [_skeleton(w, list(range(len(w) + 1)))[0] for w in seq]
            if all(len(w) >= 2 for w in words):
                alts.add(gap.join(re.escape(w) for w in words))
        if not alts:
            continue
        pattern = re.compile(r"(?<![a-z])(?:" + "|".join(sorted(alts, key=len, reverse=True)) + r")(?:s(?![a-z]))?(?![a-z])")
        for m in pattern.finditer(seen):
            a, b = where[m.start()], where[m.end()]
            if any(_is_other_script(c) for c in text[a:b]):
                spans.append((a, b, pseudonym))
    return spans


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
    names = [n for person in story.people for n in [person.name, *person.aliases] if n.strip()]
    parts = {p for n in names for p in name_parts(n)}
    forms = parts | {f for p in parts for f in pet_forms(p)}  # 'Gwenny' for Gwen, 'Rosie' for Rose
    initials = {"".join(_initials(n)) for n in names} - {""}  # 'G.Q.' for Gwendolyn Quennell
    out = []
    for i, person in enumerate(story.people):
        pseudonym = person.pseudonym or story.consent.pseudonym
        mine = set(name_parts(pseudonym))
        if (mine & forms or any(set(pet_forms(p)) & parts for p in mine)
                or "".join(ch for ch in pseudonym if ch.isalpha()).upper() in initials):
            out.append((i, pseudonym))
    return out
