"""Figures as a reader reads them, for `evidence extract`.

Each number the pipeline marks (QUANTITY) is read again in its sentence:
money with its period ('£18,500 a year' -> 18500, GBP, year), thousands
separators, ranges ('between 2 and 11 years' -> 2 to 11 years), the unit as
the noun counted ('12 new social enterprises' -> social enterprises, not
'new'), a bare number that repeats the unit before it ('61 people (up from
47 in 2022-23)' -> 47 people). Years, dates, ages and one person's
durations ('for 54 years', 'is 31') are dates, not values. A survey's
sample ('a survey of 176 carers', '74% of the 238 people it surveyed',
'(survey of 58 people)') is the sample size of the percentages around it,
not a count. Each finding carries the approach, place and study (the
document's title) when the document gives them.
"""
from __future__ import annotations

import calendar
import re

# 'after a year', 'within a month' are how long, not how often
_PERIOD = re.compile(r"(?<!after )(?<!within )(?<!for )(?<!over )(?<!in )(?<!than )"
                     r"\b(?:a|an|per|each|every)\s+(year|month|week|day|night|hour|annum|fortnight)\b", re.I)
_PERIOD_BEFORE = re.compile(r"\b(?:for|during|over|in)\s+the\s+(year|month|week)\b", re.I)
_TIME_UNITS = {"year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours", "minute",
               "minutes", "night", "nights"}
_DROP_ADJ = {"new", "established", "additional", "extra", "further", "more", "other", "existing", "current"}
_UNIT_STOP = {"the", "a", "an", "of", "and", "or", "in", "on", "at", "to", "for", "with", "by", "from", "who",
              "which", "that", "than", "as", "is", "are", "was", "were", "be", "been", "have", "has", "had",
              "per", "each", "every", "this", "these", "those", "it", "its", "their", "his", "her", "our", "said",
              "says", "ago", "old", "now", "so", "far", "between", "into", "across", "during",
              # a conjunction or adverb after a bare number is no unit: 'in bed by eight because'
              "because", "when", "while", "but", "if", "unless", "until", "before", "after", "since", "though",
              "although", "where", "then", "there", "here", "not", "just", "only", "again", "yet",
              # a verb after a bare number is no unit: 'Of the 19 enterprises, 12 were still trading'
              "found", "felt", "told", "got", "went", "came", "took", "left", "say", "said", "say", "think", "thought",
              "still", "reported", "agreed", "received", "became", "did", "do", "does", "will", "would", "can",
              "could", "may", "might", "must", "should", "myself", "himself", "herself", "yourself", "ourselves",
              "themselves", "itself"}
# a number after one of these words names a thing, not how many ('Quarter 2 Report', 'Table 2', 'Page 6')
_LABEL_WORDS = {"quarter", "q", "table", "figure", "fig", "page", "item", "section", "phase", "year", "wave", "chapter",
                "appendix", "part", "step", "round", "version", "cohort", "ward", "tier", "level", "stage", "annex",
                "vignette", "case", "no", "number", "unit", "room", "flat", "line", "question", "issue", "volume"}
_SAMPLE = [
    re.compile(r"\b(?:survey|audit|sample|study|evaluation|poll|questionnaire)\s+of\s+(\d[\d,]*)", re.I),
    re.compile(r"\bof\s+the\s+(\d[\d,]*)\s+[a-z ]{0,30}?(?:who\s+(?:replied|responded|answered|took part)|surveyed|interviewed|asked)\b", re.I),
    re.compile(r"\(\s*n\s*=\s*(\d[\d,]*)", re.I),
    re.compile(r"\b(\d[\d,]*)\s+(?:respondents|participants)\b", re.I),
    re.compile(r"\b(\d[\d,]*)\s+[a-z ]{0,20}?who\s+(?:replied|responded|took part)\b", re.I),
    re.compile(r"\(\s*(\d[\d,]*)\s+[a-z ]{0,20}?(?:replied|responded|took part)\s*\)", re.I),  # '(156 carers responded)'
]
_VERB_AFTER = re.compile(r"(?:were|was|are|is|had|have|said|say|reported|felt|told|found|still|now|did|went|got|"
                         r"became|moved|received|took|remain|remained)\b")
_AGE_BEFORE = re.compile(r"(\b(?:is|was|aged|age|turned|at|am)\s*|\w['’]m\s*|,\s*)$", re.I)
_PERSONAL_DURATION = re.compile(r"\b(for|since|ago|after|almost|nearly)\b", re.I)
# a clock time ('10am', '5 p.m.') is when, and a file's size ('PDF, 2.1 MB') is a download link's: neither is a figure
_MONTHS = frozenset(calendar.month_name[1:])  # "12 May" is a date, not 12 of anything
_CLOCK = {"am", "pm", "a.m.", "p.m.", "a.m", "p.m"}
_FILE_SIZE = {"kb", "mb", "gb", "tb", "kilobytes", "megabytes", "gigabytes"}
# a number before a street's name is an address ('10 Borough Road', 'Unit 4, Market Street'), not a figure
_STREET = {"Road", "Street", "Lane", "Avenue", "Close", "Way", "Drive", "Place", "Square", "Terrace", "Crescent",
           "Court", "Gardens", "Grove", "Row", "Walk", "Parade", "Rd", "St", "Ave"}
# hours, days or nights given, volunteered or delivered are counted: '96 volunteers gave 5,300 hours'
_GIVEN = re.compile(r"\b(gave|give[ns]?|donated|volunteered|contributed|logged|clocked|delivered|provided)\b[^.;]{0,30}$",
                    re.I)
_AGGREGATE = re.compile(r"\b(average|lasted|between|median|mean|shorter|longer|typical|each|per|every)\b", re.I)
_HEADING_END = re.compile(r"[.!?\"”:]$")


def _plural(w: str) -> bool:
    w = w.lower()
    return w in ("people", "children", "staff", "men", "women") or (w.endswith("s") and not w.endswith("ss") and len(w) > 2)


def _unit_after(doc, j: int, skip: set[int]) -> tuple[str, int]:
    """The noun counted after token j: words to the first plural noun, at
    most three, leaving out adjectives like 'new' and entity names."""
    words, k, entity_word = [], j, ""
    while k < len(doc) and len(words) < 4:
        t = doc[k]
        if k in skip:
            entity_word = t.text if t.is_alpha or "-" in t.text else entity_word
            k += 1
            continue
        if t.text in ("'s", "’s") and words and k + 1 < len(doc) and doc[k + 1].is_alpha:
            words[-1] += t.text  # '486 carer's assessments'
            k += 1
            continue
        if t.lower_ in ("and", "or") and words and not _plural(words[-1]) and k + 2 < len(doc) \
                and doc[k + 1].is_alpha and doc[k + 1].lower_ not in _UNIT_STOP \
                and any(_plural(x.text) for x in doc[k + 1: k + 3] if x.is_alpha):
            words.append(t.text)  # '312 older and disabled people'
            k += 1
            continue
        if not (t.is_alpha or "-" in t.text and t.text.replace("-", "").isalpha()) or t.lower_ in _UNIT_STOP:
            break
        words.append(t.text)
        k += 1
        if k + 1 < len(doc) and doc[k].text == "-" and doc[k + 1].is_alpha and not doc[k - 1].whitespace_:
            words[-1] += "-" + doc[k + 1].text
            k += 2
        if _plural(words[-1]):
            break
    if words and not _plural(words[-1]):
        words = words[:1] if words[0].lower() not in _DROP_ADJ else []
        if words and re.match(r"^[a-z]+ed$", words[0]):
            words = []  # a verb: 'All three agreed', 'the first 12 found that'
        if words and words[0].lower() in ("and", "or"):
            words = []
    while words and words[0].lower() in _DROP_ADJ and len(words) > 1:
        words = words[1:]
    if words and words[0].lower() in _DROP_ADJ:
        words = []
    if not words and entity_word and _plural(entity_word):
        words = [entity_word]  # '11 new micro-enterprises': the approach's own word is the unit
    return " ".join(words), k


def read_numbers(sent) -> list[dict]:
    """Every number of a sentence (a spaCy span) read as above."""
    doc = sent.doc
    skip = {t.i for e in doc.ents if e.label_ in ("APPROACH", "ORG", "PLACE") for t in e}
    out: list[dict] = []
    ents = [e for e in sent.ents if e.label_ in ("QUANTITY", "DATE") and e._.quantity]
    used: set[int] = set()
    for n, e in enumerate(ents):
        if n in used:
            continue
        value, unit, qualifier = e._.quantity
        text = e.text
        before = doc[max(sent.start, e.start - 3): e.start].text
        num_tok = next((t for t in e if t.like_num or t.text[:1].isdigit()), e[0])
        item = {"text": text, "value": value, "value_max": None, "unit": "", "period": "", "kind": "count",
                "qualifier": qualifier, "role": "value"}
        if e.label_ == "DATE" or (e.end < len(doc) and doc[e.end].text.title() in _MONTHS) or unit.title() in _MONTHS:
            item["role"] = "date"
        after_words = doc[num_tok.i + 1: num_tok.i + 4]
        label = e.start > sent.start and doc[e.start - 1].lower_.rstrip(".") in _LABEL_WORDS \
            and doc[e.start - 1].text[:1].isupper() and float(value).is_integer() and unit not in ("%", "GBP", "USD", "EUR")
        if label:
            item["role"] = "label"
        elif unit.lower() in _CLOCK or doc[e.end: e.end + 1].text.lower() in _CLOCK:
            item["role"] = "date"
        elif after_words and after_words[0].text[:1].isupper() and any(t.text.rstrip(".") in _STREET for t in after_words):
            item["role"] = "address"
        elif unit.lower() in _FILE_SIZE:
            item["role"] = "size"
        elif unit == "%":
            item["unit"], item["kind"] = "%", "percent"
        elif unit in ("GBP", "USD", "EUR"):
            item["unit"], item["kind"] = unit, "money"
        elif item["role"] not in ("date", "label"):
            # 'between 2 and 11 years': the unit after the second number
            nxt = ents[n + 1] if n + 1 < len(ents) else None
            if nxt is not None and doc[e.end: nxt.start].text.strip().lower() in ("and", "to", "-", "–") \
                    and re.search(r"\bbetween\s*$", before, re.I):
                item["value_max"] = nxt._.quantity[0]
                used.add(n + 1)
                item["unit"], _ = _unit_after(doc, num_tok.i + 1, skip) if not nxt._.quantity[1] else (nxt._.quantity[1], 0)
                item["unit"], _ = _unit_after(doc, nxt.end - len(nxt._.quantity[1].split()) if nxt._.quantity[1] else nxt.end, skip)
                text = doc[e.start: nxt.end].text
            else:
                item["unit"], _ = _unit_after(doc, num_tok.i + 1, skip)
            after = doc[e.end: min(len(doc), e.end + 3)].text.lower()
            between = doc[e.end: ents[n + 1].start].text.strip().lower() if n + 1 < len(ents) else "x"
            if not item["unit"] and between in ("of", "of the") and ents[n + 1]._.quantity[1] not in ("", "%", "GBP"):
                item["unit"] = ents[n + 1]._.quantity[1]  # 'Three of the 23 matches'
            if not item["unit"] and out and out[-1]["unit"] and (re.search(r"\b(from|to|of|another|and)\s*$", before, re.I)
                                                              or after.startswith(("in ", "who ", "which "))
                                                              or re.match(_VERB_AFTER, after)):
                item["unit"] = out[-1]["unit"]  # 'up from 47', 'another 29 who', '12 were': the unit said before
            lead = doc[sent.start: e.start].text
            if not item["unit"] and re.match(r"^[A-Z][^:.;]{2,80}:\s*$", lead):
                head = next((w for w in re.findall(r"[A-Za-z][\w'-]*", lead) if _plural(w)), "")
                item["unit"] = head.lower()  # 'Assessments completed for the council: 318': the label's noun
            if not item["unit"]:
                m = re.search(r"\b([a-z]+s)\s+(?:(?:among|of|for|in|by)\s+[a-z ]{0,30}?)?(?:fell|rose|dropped|increased|decreased|went (?:up|down))\s+from\b",
                              doc[sent.start: e.start].text, re.I)
                if m:
                    item["unit"] = m.group(1)  # 'admissions fell from 22 to 9'
                elif out and re.search(r"\bto\s*$", before, re.I) and out[-1]["unit"]:
                    item["unit"] = out[-1]["unit"]
            last = item["unit"].lower().split(" ")[-1] if item["unit"] else ""
            if last in _TIME_UNITS:
                agg = _AGGREGATE.search(sent.text)
                personal = _PERSONAL_DURATION.search(before) or re.search(r"\b(ago|old)\b", doc[e.end: e.end + 3].text)
                counted = (last.startswith("hour") and (" " in item["unit"] or re.match(r"\s*of\b", doc[num_tok.i + 2: num_tok.i + 3].text))) \
                    or bool(_GIVEN.search(doc[sent.start: e.start].text))
                item["kind"] = "count" if counted else "duration"
                if personal or not (agg or counted):
                    item["role"] = "date"
            if not item["unit"] and _AGE_BEFORE.search(before) and float(value).is_integer() and value < 120:
                item["role"] = "age"
            elif re.search(r"^\s*-?year-old", doc[e.end: e.end + 3].text):
                item["role"] = "age"
        tail = doc[e.end: min(sent.end, e.end + 12)].text
        tail = re.split(r"[;:(]|,\s(?!\d)", tail)[0]
        m = _PERIOD.search(tail)
        adj = re.search(r"\b(annual|annually|yearly|weekly|monthly|daily)\b", doc[sent.start: e.start].text
                        + " " + tail, re.I) if item["kind"] == "money" else None
        if m:
            item["period"] = m.group(1).lower()
        elif adj:  # 'the average weekly cost ... was £612', '£684,000 in additional annual income'
            item["period"] = {"annual": "year", "annually": "year", "yearly": "year", "weekly": "week",
                              "monthly": "month", "daily": "day"}[adj.group(1).lower()]
        else:
            m = _PERIOD_BEFORE.search(doc[sent.start: e.start].text)
            if m and item["kind"] == "money":
                item["period"] = m.group(1).lower()
        item["text"] = text
        out.append(item)
    return out


def sample_sizes(text: str) -> list[int]:
    """Sample sizes written in a text ('a survey of 176 carers')."""
    out = []
    for rx in _SAMPLE:
        for m in rx.finditer(text):
            out.append(int(m.group(1).replace(",", "")))
    return out


def figure_fields(sent, paragraph_sample: int | None) -> dict | None:
    """value, unit, period, kind, numbers and sample size of a sentence with a
    figure; None when it has no number a curator would record."""
    numbers = read_numbers(sent)
    own = sample_sizes(sent.text)
    sample = own[0] if own else paragraph_sample
    for x in numbers:
        if x["role"] == "value" and sample is not None and x["value"] == sample and x["kind"] != "percent":
            x["role"] = "sample"
    values = [x for x in numbers if x["role"] == "value" and (x["unit"] or x["kind"] != "count")]
    if not values:
        return None
    first = values[0]
    return {
        "value": first["value"], "value_max": first["value_max"], "unit": first["unit"], "period": first["period"],
        "kind": first["kind"], "qualifier": first["qualifier"], "numbers": values,
        "dates": [x["text"] for x in numbers if x["role"] in ("date", "age")],
        "sample_size": sample if any(x["kind"] == "percent" for x in values) or own else None,
    }


def is_heading(text: str) -> bool:
    return len(text) < 80 and not _HEADING_END.search(text.strip())
