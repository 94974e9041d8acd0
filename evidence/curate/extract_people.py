"""People in a document, and its stories segmented by who they are about.

People: a title and a capitalised word ('Mrs Nowak', 'Dr Anand Mehta'); a
first name from gender-guesser's list ('Callum', 'Kerry-Ann Walsh'), with
the capitalised surname after it; an unknown capitalised name used as a
speaker ('said Kemi', 'Kemi says'), then a first name wherever it stands;
or an initial standing for a person ('J is 34', 'J's story'); 'Mum' or 'Dad' as
a family carer names the person she writes about. Never a word
inside an organisation, place or approach, a language, a month or day, a word the document also
writes in lower case (a common noun: 'Volunteer', 'Spring'), or a stop word
at a sentence start; but a first name that is also a language or a word
('Shona Reilly', 'Rose Adebayo' beside 'attendance rose') is a person with a
surname or as a speaker, and a one-word place after a first name is a
surname ('Ivy Townsend'). Short forms are one person: 'Peggy' and 'Mrs Oxley'
are 'Peggy Oxley' when the document names her in full; 'Ruth and Owain Bevan'
are Ruth Bevan and Owain Bevan.

Stories: consecutive paragraphs that follow the same person (named, by a
pronoun after the name, in quotes, or as the narrator 'I') form one story
whose passage is all of them; up to two paragraphs of background between
mentions stay in the passage; a paragraph about another person who recurs
starts the next story.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from evidence.enrich.gazetteer import first_names, languages
from evidence.enrich.nlp_components import CALENDAR_WORDS

TITLES = {"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Doctor", "Prof", "Professor", "Sir", "Dame", "Lady", "Lord",
          "Rev", "Revd", "Reverend", "Councillor", "Cllr", "Nurse", "Sister", "Father"}
_SPEECH = re.compile(r"^(said|says|explains|explained|recalls|recalled|adds|added|told|tells|laughs|laughed|"
                     r"smiles|admits|admitted|remembers|remembered|agrees|agreed|wrote|writes)$")
_ENT_LABELS = ("ORG", "PLACE", "APPROACH", "NORP")
_HE = re.compile(r"\b(he|him|his|himself|she|her|hers|herself)\b", re.I)
_I = re.compile(r"\b(I|my|me|myself|I'm|I’m|I've|I’ve|I'd|I’d)\b")
_SOMEONE = re.compile(r"\b(a|an|one of (?:his|her|their|our))\s+(?:\w+\s+){0,2}?(woman|man|lady|gentleman|patients?|"
                      r"widow|widower|grandmother|grandfather|neighbour|mother|father)\b", re.I)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
_QUOTE_START = re.compile(r"^\s*[\"“‘']")
_MY_NAME = re.compile(r"\b(?:[Mm]y name is|I am|I'm|I’m)\s+([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)?)")

ROLE_CUES = [  # (role, pattern of words near a person's name); the first that matches wins
    ("carer", re.compile(r"\bShared Lives carers?\b|\bfoster carer", re.I)),
    ("volunteer", re.compile(r"\b(volunteers?|volunteered|befriender|buddy|Compassionate Neighbour|runners?|"
                             r"mentor|matched with)\b", re.I)),
    # job words in any case ('Local Area Coordinator'); GP, Dr and PA only in capitals
    ("worker", re.compile(r"\b((?i:coordinator|worker|nurse|doctor|navigator|manager|officer|assistant|"
                          r"facilitator|therapist|staff|founder|runs|chief|director|practitioner|"
                          r"development|personal assistant)|GP|Dr|PA)\b")),
    ("family carer", re.compile(r"\b(mum|mother|dad|father|wife|husband|son|daughter|sister|brother|parents?|"
                                r"family carer|cares for|caring for|niece|nephew|grandmother|grandfather)\b", re.I)),
]


@dataclass
class Person:
    name: str  # as the document writes it in full ('Dr Imogen Pryor', 'Callum Brooks', 'Mrs Nowak')
    first: str = ""
    last: str = ""
    title: str = ""
    mentions: int = 0
    paragraphs: set = field(default_factory=set)
    narrator: bool = False

    def forms(self) -> set[str]:
        out = {self.name}
        if self.first:
            out.add(self.first)
        if self.last and self.title:
            out.add(f"{self.title} {self.last}")
        if self.last:  # with a title of his or hers, not the other's ('Mr Okafor' is not his wife)
            titles = ("Mr", "Dr") if self.title in _HIS else ("Mrs", "Ms", "Miss", "Dr") if self.title in _HER else \
                ("Mr", "Mrs", "Ms", "Miss", "Dr")
            out.update(f"{t} {self.last}" for t in titles)
        return out


_HIS = {"Mr", "Sir", "Lord", "Father"}
_HER = {"Mrs", "Ms", "Miss", "Dame", "Lady", "Sister"}


def _other_gender(title: str, other: str) -> bool:
    """Two titles that name different people of one family ('Mr', 'Mrs')."""
    return bool({title, other} & _HIS) and bool({title, other} & _HER)


def _lower_words(text: str) -> set[str]:
    return set(re.findall(r"\b[a-z][a-z'-]+\b", text))


_VERBISH = {"is", "was", "has", "had", "says", "said", "will", "would", "can", "could", "does", "did", "now",
            "lives", "went", "came", "comes", "got", "gets", "knows", "knew", "loves", "likes", "wants", "takes",
            "took", "still", "also", "never", "always", "and", "who", "first", "runs", "ran", "spends", "spent"}
# a name standing after these is a person's even when it is also a place: 'her son Martin', 'a runner called Stanley'
_APPOSITIVE = {"son", "daughter", "husband", "wife", "brother", "sister", "partner", "friend", "neighbour", "grandson",
               "granddaughter", "nephew", "niece", "called", "named", "carer", "volunteer", "mum", "dad", "mother",
               "father", "grandmother", "grandfather", "cousin", "uncle", "aunt", "boyfriend", "girlfriend",
               "fiancé", "fiancée", "befriender", "homesharer", "householder", "stepson", "stepdaughter"}
# what a family writes for a parent or grandparent as a name ('Mum is 84', 'Dad's carers'): the person
# a family carer's story is about, who has no other name in it
KIN_NAMES = {"Mum", "Mam", "Mom", "Mummy", "Dad", "Daddy", "Nan", "Nana", "Nanna", "Gran", "Granny", "Grandma",
             "Grandad", "Granddad", "Grandpa"}
_HEARD_FROM = {"heard", "hear", "hears", "came", "comes", "letter", "call", "calls", "message", "visit", "visits",
               "help", "support", "email", "note", "card", "words", "story", "thanks"}
# a pronoun is nobody's name, even as a speaker ('"He said it was for old people," Jenny says')
_PRONOUNS = {"he", "she", "they", "we", "it", "you", "i", "his", "her", "him", "them", "us", "who", "someone",
             "everyone", "nobody", "everybody", "somebody", "one", "this", "that", "there"}
_PLACE_PREPS = {"in", "at", "from", "to", "near", "of", "around", "outside", "into", "across", "towards", "via"}
_DETERMINERS = {"the", "a", "an", "our", "their", "this", "that", "your", "its"}


def names_in(doc, common: set[str], place_names=frozenset(), nouns: frozenset = frozenset(),
             also_first: frozenset = frozenset()) -> list[tuple[int, str, str, str, bool]]:
    """(token index, title, first, last, sure) for each person name in a doc;
    `sure` is False for a lone first name opening a sentence ('Spring').
    `also_first`: lower-cased words to take as first names besides the list
    (names the document shows to be people elsewhere)."""
    firsts = first_names() | also_first if also_first else first_names()
    langs = languages()
    blocked = {t.i for e in doc.ents if e.label_ in _ENT_LABELS for t in e
               if not (e.label_ == "PLACE" and len(e) == 1 and e.text.lower() in firsts
                       and (e.start == 0 or doc[e.start - 1].lower_ not in _PLACE_PREPS))}
    # a one-word place right after a first name is a surname: 'Ivy Townsend', 'Jack Preston'
    place_words = {e.start for e in doc.ents if e.label_ == "PLACE" and len(e) == 1}
    out = []
    # a 'Mum' inside quoted speech is the speaker's mother, not the narrator's
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(doc.text)]
    i, n = 0, len(doc)
    while i < n:
        tok = doc[i]
        t = tok.text
        if t in KIN_NAMES and i not in blocked and not any(a <= tok.idx < b for a, b in quoted):
            out.append((i, "", t, "", True))
            i += 1
            continue
        if i in blocked or not t[:1].isupper() or not t.replace("’", "").replace("'", "").replace("-", "").isalpha():
            i += 1
            continue
        # a title and the capitalised words after it
        if t.rstrip(".") in TITLES and i + 1 < n and doc[i + 1].text[:1].isupper() and doc[i + 1].is_alpha \
                and (i + 1) not in blocked:
            words, j = [], i + 1
            while j < n and len(words) < 3 and doc[j].text[:1].isupper() and doc[j].is_alpha and j not in blocked:
                words.append(doc[j].text)
                j += 1
            first = words[0] if len(words) > 1 else ""
            out.append((i, t.rstrip("."), first, words[-1], True))
            i = j
            continue
        # an initial standing for a person, as case studies anonymise ('J is 34', 'J told us',
        # 'J's story'); never 'A' or 'I', and never after a word that makes it a label ('Plan B')
        if len(t) == 1 and t not in ("A", "I") and i + 1 < n:
            nxt, prev = doc[i + 1], doc[i - 1] if i > 0 else None
            if (nxt.lower_ in _VERBISH or _SPEECH.match(nxt.lower_) or nxt.text in ("'s", "’s")) and nxt.lower_ != "and" \
                    and (prev is None or not (prev.is_alpha and (prev.text[:1].isupper() or prev.lower_ in _DETERMINERS))):
                out.append((i, "", t, "", True))
            i += 1
            continue
        # a (hyphenated) first name
        first, j = t, i + 1
        if j + 1 < n and doc[j].text == "-" and not tok.whitespace_ and not doc[j].whitespace_ and doc[j + 1].text[:1].isupper():
            first, j = f"{t}-{doc[j + 1].text}", j + 2
        known = first.lower() in firsts or first.split("-")[0].lower() in firsts
        surname = ""
        if j < n and doc[j].text[:1].isupper() and doc[j].is_alpha and (j not in blocked or (known and j in place_words)) \
                and doc[j].text not in TITLES and doc[j].text not in CALENDAR_WORDS and doc[j].lower_ not in common:
            surname = doc[j].text
        nxt = doc[j + (1 if surname else 0)] if j + (1 if surname else 0) < n else None
        prev = doc[i - 1] if i > 0 else None
        # '... who' names a person ('we heard from Debs who'), except where someone is from ('a nursing
        # student from Kraków who', 'a family in Leigh who'): a place's name after a noun and 'from' or 'in'
        who = nxt is not None and nxt.lower_ == "who" and not (
            not known and prev is not None and prev.lower_ in ("from", "in", "at", "near", "outside")
            and i >= 2 and doc[i - 2].is_alpha and doc[i - 2].text.islower() and not doc[i - 2].is_stop
            and doc[i - 2].lower_ not in _HEARD_FROM and not doc[i - 2].lower_.endswith("ed"))
        speaker = bool((nxt is not None and _SPEECH.match(nxt.lower_)) or who
                       or (prev is not None and _SPEECH.match(prev.lower_)))
        # a name given after who the person is, with or without a comma ('His mum, Lowenna Trevithick,
        # says', 'her boyfriend, Bartek,', 'Ivor's daughter Siân'): a person, on the first-name list or not
        kin = doc[i - 2] if prev is not None and prev.text == "," and i >= 2 else prev
        speaker = speaker or bool(kin is not None and kin.lower_ in _APPOSITIVE and not tok.is_sent_start and not tok.is_stop
                                  and (kin is prev or not kin.is_sent_start))
        inner = prev is not None and not tok.is_sent_start and prev.text[:1].isupper() and prev.is_alpha \
            and prev.text.rstrip(".") not in TITLES and not (prev.is_sent_start and prev.is_stop)
        # a first name that is also a language or a word the document writes in lower case ('Shona',
        # 'Rose' beside 'numbers rose') is a person with a surname, as a speaker, or once the
        # document has shown it to be one (also_first)
        after = doc[j + 1] if surname and j + 1 < n else None
        person_like = known and not tok.is_stop and (
            (bool(surname) and not (after is not None and after.text[:1].isupper() and after.is_alpha))  # not 'Key Performance Indicators'
            or speaker or first.lower() in also_first)
        bad = (t.lower() in _PRONOUNS or t in CALENDAR_WORDS or ((t in langs or first.lower() in common) and not person_like) or t.upper() == t or inner
               or (first in nouns and not surname)
               or (prev is not None and prev.lower_ in _DETERMINERS)
               or (not surname and prev is not None and prev.lower_ in _PLACE_PREPS - {"from", "to", "of"})
               or (not surname and t in place_names and not known) or surname in langs
               or (tok.is_sent_start and tok.is_stop) or (tok.is_stop and not surname and not speaker))
        if not bad and (known or speaker):
            verb = nxt is not None and (nxt.lower_ in _VERBISH or bool(re.match(r"^[a-z]{3,}ed$", nxt.text))
                                        # a case study's heading: 'Bob's story'
                                        or (nxt.text in ("'s", "’s") and doc[nxt.i + 1: nxt.i + 2].text.lower() in ("story", "journey")))
            mid = not tok.is_sent_start and (i not in place_words or (prev is not None and prev.lower_ in _APPOSITIVE))
            out.append((i, "", first, surname, bool(surname or speaker or verb or mid)))
            i = j + (1 if surname else 0)
            continue
        i += 1
    return _couples(doc, out)


def _couples(doc, names: list[tuple]) -> list[tuple]:
    """A couple written with one surname ('Maureen and Dave Pollard', 'Ruth
    and Owain Bevan'): the first name before 'and' has the surname too, so
    'Maureen' later in the story is Maureen Pollard, not a third person."""
    out = list(names)
    for n in range(len(out) - 1):
        i, title, first, last, _ = out[n]
        j, _, first2, last2, _ = out[n + 1]
        if not title and not last and len(first) > 1 and first not in KIN_NAMES and first2 and last2 \
                and j == i + 2 and doc[i + 1].lower_ == "and":
            out[n] = (i, "", first, last2, True)
    return out


def find_people(pairs: list[tuple[str, object]], place_names=frozenset()) -> tuple[list[Person], list[dict]]:
    """The people of a document and, per paragraph, {person name: mentions}.
    A lone first name counts only if the document also uses it where it is
    not opening a sentence, with a surname, or as a speaker."""
    whole = "\n".join(t for t, _ in pairs)
    common = _lower_words(whole)
    # a capitalised word the document writes after 'the', 'a' or 'our' is a noun ('our Catalyst', 'the Hub')
    nouns = frozenset(re.findall(r"\b(?:[Tt]he|a|an|[Oo]ur|[Tt]heir|[Yy]our|[Ii]ts)\s+([A-Z][a-z]+)\b(?!\s+[A-Z])", whole))
    raw = [names_in(doc, common, place_names, nouns) for _, doc in pairs]
    # a name off the first-name list that the document shows to be a person ('Wilf says') is
    # a first name wherever it stands, so 'When Wilf Ambrose came home' gives the surname too
    firsts = first_names()
    langs = languages()
    shown = frozenset(x[2].lower() for xs in raw for x in xs if x[2] and x[4]
                      and (x[2].lower() not in firsts or x[2].lower() in common or x[2] in langs))
    if shown:
        raw = [names_in(doc, common, place_names, nouns, also_first=shown) for _, doc in pairs]
    sure = {(x[2], x[3]) for xs in raw for x in xs if x[4]} | {(x[2], "") for xs in raw for x in xs if x[4] and x[2]}
    raw = [[x for x in xs if x[4] or (x[2], x[3]) in sure] for xs in raw]
    people: list[Person] = []

    def find(title: str, first: str, last: str) -> Person | None:
        for p in people:
            if first and last and p.first == first and p.last == last:
                return p
            if last and not first and p.last == last and not _other_gender(title, p.title):
                return p  # 'Mrs Oxley' is Peggy Oxley; 'Mr Okafor' is not 'Mrs Okafor', his wife
            if first and not last and (p.first == first or (not p.first and p.last == first)):
                return p
        return None

    # full names first, so short forms join them
    ordered = sorted(((k, x) for k, xs in enumerate(raw) for x in xs), key=lambda kx: (not (kx[1][2] and kx[1][3]), kx[0], kx[1][0]))
    for _, (_, title, first, last, _) in ordered:
        if find(title, first, last) is None:
            name = " ".join(x for x in (title, first, last) if x)
            people.append(Person(name=name, first=first, last=last, title=title))
    per_para: list[dict] = []
    for k, xs in enumerate(raw):
        counts: dict[str, int] = {}
        for _, title, first, last, _ in xs:
            p = find(title, first, last)
            if p is not None:
                p.mentions += 1
                p.paragraphs.add(k)
                counts[p.name] = counts.get(p.name, 0) + 1
        per_para.append(counts)
    # a name seen once as a person ('heard from Debs who') also counts where the
    # tokens hide it from the rules above ('Debs’ interaction')
    for p in people:
        if p.mentions == 1 and not p.title:
            rx = re.compile(rf"(?<![\w-]){re.escape(p.name)}(?![\w-])")
            for k, (text, _) in enumerate(pairs):
                extra = len(rx.findall(text)) - per_para[k].get(p.name, 0)
                if extra > 0:
                    p.mentions += extra
                    p.paragraphs.add(k)
                    per_para[k][p.name] = per_para[k].get(p.name, 0) + extra
    # a heading's title case hides a name from the rules above ('Meet Linda', 'Introducing Kofi'): a
    # heading that names nobody yet, but writes the first name of someone the document names, names her
    for k, (text, _) in enumerate(pairs):
        if not per_para[k] and _heading(text):
            hits = [p for p in people if p.first and len(p.first) > 1 and p.mentions
                    and re.search(rf"(?<![\w-]){re.escape(p.first)}(?![\w-])", text)]
            if len({p.first for p in hits}) == 1 and len(hits) == 1:
                per_para[k][hits[0].name] = 1
                hits[0].paragraphs.add(k)
    _heading_names(pairs, people, per_para)
    m = _MY_NAME.search(whole)
    if m:
        for p in people:
            if p.name in m.group(1) or (p.first and p.first == m.group(1).split()[0]):
                p.narrator = True
    # a name alone never seen in full stays as written; a by-line name is not a story's person
    return people, per_para


# a paragraph that introduces a text's author ('A guest blog from Simon Taylor', '... Sian writes:'):
# the author is a by-line, and what follows is the author's text, not a story about them
_AUTHOR = re.compile(r"\b(?:guest (?:blog|post|column|article)|blog (?:post )?(?:from|by)|written by|posted by)\b|"
                     r"\b(?:writes|wrote|explains):\s*$", re.I)


def _heading_names(pairs, people: list[Person], per_para: list[dict]) -> None:
    """A heading that names one person ('Bob's story', 'Case study: Mrs Hale')
    over a paragraph that names nobody and says 'he' or 'she': the paragraph
    is about that person, as a reader takes it (else the story is lost)."""
    by_name = {p.name: p for p in people}
    for k in range(len(pairs) - 1):
        if len(per_para[k]) == 1 and _heading(pairs[k][0]) and not per_para[k + 1] and not _heading(pairs[k + 1][0]) \
                and len(_HE.findall(_QUOTED.sub(" ", pairs[k + 1][0]))) >= 2:
            name = next(iter(per_para[k]))
            per_para[k + 1][name] = 1
            by_name[name].mentions += 1
            by_name[name].paragraphs.add(k + 1)


def _heading(text: str) -> bool:
    return len(text) < 80 and not re.search(r"[.!?\"”:]$", text.strip())


_SHORT = 100  # characters: a list item, a table row or a heading, not a paragraph of prose


def _gap_length(gap: list[int], pairs) -> int:
    """Paragraphs of background in a gap, a list counting as one: the
    bullets of what a group did this year ('Met 46 times', 'Welcomed 23 new
    members', ...) between two paragraphs about a person are one aside, not a
    change of subject (at most six items to a paragraph)."""
    length, run = 0, 0
    for k in gap:
        if len(pairs[k][0]) < _SHORT:
            run += 1
            if run % 6 == 1:
                length += 1
        else:
            run = 0
            length += 1
    return length


def _narrated_intro(story: list[int], pairs, per_para: list[dict], taken: set[int], max_back: int = 2) -> list[int]:
    """The paragraphs before a story's first name that its narrator wrote
    about herself ('I signed up to GoodGym last autumn because I wanted...'),
    when the story is told in the first person too: the start of the story,
    not background (at most two, naming nobody, no heading between)."""
    def narrated(k: int) -> bool:
        return len(_I.findall(_QUOTED.sub(" ", pairs[k][0]))) >= 2

    if not any(len(_I.findall(_QUOTED.sub(" ", pairs[k][0]))) >= 1 for k in story):
        return []
    out: list[int] = []
    k = story[0] - 1
    while k >= 0 and len(out) < max_back and k not in taken and not per_para[k] and not _heading(pairs[k][0]) \
            and narrated(k):
        out.insert(0, k)
        k -= 1
    return out


def _first_person(story: list[int], pairs) -> bool:
    """Told in the first person: 'I', 'my', 'me' three times or more outside quotes."""
    return sum(len(_I.findall(_QUOTED.sub(" ", pairs[k][0]))) for k in story) >= 3


_YOU = re.compile(r"\b(you|your|yourself)\b", re.I)
_LINK = re.compile(r"https?://|www\.|@\w|\.(?:org|com|co\.uk)\b", re.I)


def _closing_appeal(story: list[int], pairs, per_para: list[dict], taken: set[int]) -> list[int]:
    """The narrator's closing words to the reader after a story told in the
    first person ('If you care for someone ..., ask about a circle'), under a
    heading of their own or not: part of the piece, as a curator reads it. At
    most one paragraph; none that names someone or carries a link."""
    if not _first_person(story, pairs):
        return []
    k = story[-1] + 1
    head = [k] if k < len(pairs) and _heading(pairs[k][0]) and not per_para[k] else []
    k += len(head)
    if k >= len(pairs) or k in taken or per_para[k] or _heading(pairs[k][0]):
        return []
    text = _QUOTED.sub(" ", pairs[k][0])
    return head + [k] if len(_YOU.findall(text)) >= 2 and not _LINK.search(text) else []


def segment(pairs: list[tuple[str, object]], people: list[Person], per_para: list[dict],
            max_gap: int = 2) -> list[list[int]]:
    """Paragraph indices of each story (see the module docstring)."""
    authors = {p.name for p in people if p.paragraphs and all(_AUTHOR.search(pairs[k][0]) for k in p.paragraphs)}
    main = {p.name for p in people if (len(p.paragraphs) >= 2 or p.mentions >= 2 or p.narrator)} - authors
    narrators = {p.name for p in people if p.narrator}
    stories: list[list[int]] = []
    casts: list[set[str]] = []
    cur: list[int] | None = None
    cast: set[str] = set()
    gap: list[int] = []
    first_person = False

    def close() -> None:
        if cur is not None:
            # a paragraph naming only people of an earlier story (notes, a quote after the figures) is not a new
            # story; the last part of the story before it when it is about her and quotes her or says 'she'
            if not (len(cur) == 1 and any(cast <= c for c in casts)):
                stories.append(cur)
                casts.append(set(cast))
            elif stories and cast <= casts[-1] and _main_person(cur, per_para, narrators) == \
                    _main_person(stories[-1], per_para, narrators) and \
                    (_QUOTED.search(pairs[cur[0]][0]) or _HE.search(pairs[cur[0]][0])):
                stories[-1] += list(range(stories[-1][-1] + 1, cur[0])) + cur

    for k, (text, _) in enumerate(pairs):
        named = set(per_para[k])
        heading = _heading(text)
        new_main = (named & main) - cast
        # a heading that names someone else than the person of the story so far ('Kofi's story' after
        # Harold's, where Kofi was Harold's volunteer) starts that person's story
        if cur is not None and heading and len(named & main) == 1 and \
                named & main != {_main_person(cur, per_para, narrators)}:
            close()
            cur, gap = None, []
            continue
        narration = _QUOTED.sub(" ", text)  # 'I' inside a quote is the speaker's, not the narrator's
        if cur is not None and len(cur) <= 2 and not first_person and len(_I.findall(narration)) >= 2:
            first_person = True  # an introduction ('Sunita Desai lives in Leicester') and then her own words
            narrators |= cast
        first_i = first_person and len(_I.findall(narration)) >= 1
        if cur is not None and new_main and not (named & cast) and not first_i:
            ahead = [n for j in range(k + 1, min(len(pairs), k + 2 + max_gap)) for n in per_para[j]]
            if not (cast & set(ahead)):
                close()
                cur = None
        if cur is None:
            first_sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
            unnamed = not named and len(_HE.findall(text)) >= 3 and _SOMEONE.search(first_sentence)
            followed = named and len(_HE.findall(_QUOTED.sub(" ", text))) >= 2  # named once, then her pronouns
            if ((named & main) or unnamed or followed) and not heading:
                cur, cast, gap = [k], set(named), []
                first_person = bool(named & narrators) or len(_I.findall(narration)) >= 2
            continue
        first_sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        linked = bool(named & cast) or first_i or (not heading and not new_main and (
            _QUOTE_START.match(text) or _HE.search(first_sentence)))
        if linked:
            cur += gap + [k]
            cast |= named
            gap = []
        else:
            gap.append(k)
            if _gap_length(gap, pairs) > max_gap:
                close()
                cur, gap = None, []
    close()
    stories = _rejoined(stories, per_para, people)
    taken = {k for st in stories for k in st}
    for st in stories:
        intro = _narrated_intro(st, pairs, per_para, taken)
        st[:0] = intro
        taken.update(intro)
        appeal = _closing_appeal(st, pairs, per_para, taken)
        st += appeal
        taken.update(appeal)
        sign = _signature(st, pairs, per_para, taken)
        st += sign
        taken.update(sign)
    for p in people:
        p.narrator = p.narrator or p.name in narrators
    return stories


_SIGNED = re.compile(r"^\W*(?:by\s+|from\s+)?([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,2})\W*(?:,\s*[^.!?]{1,40})?\W*$")


def _signature(story: list[int], pairs, per_para: list[dict], taken: set[int]) -> list[int]:
    """The line that signs a piece told in the first person ('Geoff Ingram,
    Robin Hood's Bay', '— Claire Hennessy'): its writer's name, part of the
    story (after its closing words), so the narrator is among its people."""
    k = story[-1] + 1
    if k >= len(pairs) or k in taken or not per_para[k] or len(pairs[k][0]) > 80:
        return []
    if not _first_person(story, pairs):
        return []
    m = _SIGNED.match(pairs[k][0].strip())
    name = next((n for n in per_para[k] if m and m.group(1) == n), "")
    if not name:
        return []
    # what follows the name is where the writer lives ('Robin Hood's Bay'), nobody
    per_para[k] = {name: per_para[k][name]}
    return [k]


def _main_person(story: list[int], per_para: list[dict], narrators: set[str]) -> str:
    counts: dict[str, int] = {}
    for k in story:
        for name, c in per_para[k].items():
            counts[name] = counts.get(name, 0) + c
    return max(counts, key=lambda n: (n in narrators, counts[n]), default="")


def _rejoined(stories: list[list[int]], per_para: list[dict], people: list[Person]) -> list[list[int]]:
    """Two stories in a row about the same person are one story split by a
    long aside (a long read's section on how the scheme works, between two
    parts of her story): one candidate, with the aside, as a reader reads it."""
    narrators = {p.name for p in people if p.narrator}
    out: list[list[int]] = []
    for st in stories:
        if out and _main_person(st, per_para, narrators) and \
                _main_person(st, per_para, narrators) == _main_person(out[-1], per_para, narrators):
            out[-1] = out[-1] + list(range(out[-1][-1] + 1, st[0])) + st
        else:
            out.append(st)
    return out


def guess_role(person: Person, passage: str, main: str) -> str:
    """person supported, carer, volunteer, worker, family carer or other:
    from the appositive after the person's first mention and the words
    before it in the sentence (a guess the curator corrects)."""
    if person.title in ("Dr", "Doctor", "Nurse"):
        return "worker"
    for form in sorted(person.forms(), key=len, reverse=True):
        m = re.search(rf"(?<!\w){re.escape(form)}(?!\w)", passage)
        if not m:
            continue
        after = passage[m.end(): m.end() + 90]
        appositive = after.split(",")[1] if after.startswith(",") and "," in after[1:] else after[:40] if after.startswith(",") else ""
        appositive = re.split(r"[.;]", appositive)[0]
        before = re.split(r"[.!?]\s", passage[max(0, m.start() - 50): m.start()])[-1]
        for role, cue in ROLE_CUES:
            if cue.search(appositive) or cue.search(before):
                if person.name == main and role == "family carer":
                    break
                return role
        break
    return "person supported" if person.name == main else "other"


def story_people(indices: list[int], people: list[Person], per_para: list[dict], passage: str) -> list[dict]:
    """The people named in a story, the one it is about first, each with a guessed role."""
    counts: dict[str, int] = {}
    first_at: dict[str, int] = {}
    for k in indices:
        for name, c in per_para[k].items():
            counts[name] = counts.get(name, 0) + c
            first_at.setdefault(name, k)
    by_name = {p.name: p for p in people}
    ranked = sorted(counts, key=lambda n: (not by_name[n].narrator, -counts[n], first_at[n]))
    if not ranked:
        return []
    main = ranked[0]
    roles = {n: guess_role(by_name[n], passage, main) for n in ranked}
    # who cares for whom: 'Dennis Oldroyd cares for his wife Pat' makes Dennis the family carer and Pat
    # the person supported (the kin word before Pat's name made her the 'family carer'); a narrator who
    # says 'I care for' or 'I didn't think of myself as a carer' is one, as is the signer of such a piece
    narration = _QUOTED.sub(" ", passage)
    for m in _CARES_FOR.finditer(passage):
        carer = _named_at(ranked, by_name, passage[max(0, m.start() - 60): m.start()], last=True)
        cared = _named_at(ranked, by_name, passage[m.end(): m.end() + 40], last=False, at_start=True)
        if carer and cared and carer != cared:
            roles[carer], roles[cared] = "family carer", "person supported"
    # the story of a volunteer or a carer ('Kofi signed up as a befriender', 'Linda ... became a Shared
    # Lives carer'): the story's person, in that role
    for f in sorted(by_name[main].forms(), key=len, reverse=True):
        m = re.search(rf"(?<!\w){re.escape(f)}(?!\w)[^.!?\"“]{{0,60}}?(?:{_VOLUNTEERS.pattern})", passage)
        if m:
            roles[main] = "carer" if re.search(r"carer", m.group(0), re.I) else "volunteer"
            break
    if by_name[main].narrator and _I_CARE.search(narration):
        roles[main] = "family carer"
        for m in _MY_KIN.finditer(narration):
            cared = _named_at(ranked, by_name, narration[m.end(): m.end() + 30], last=False, at_start=True)
            if cared and cared != main:
                roles[cared] = "person supported"
    signer = ranked[-1] if indices and list(per_para[indices[-1]]) == [ranked[-1]] and counts[ranked[-1]] == 1 \
        and _SIGNED.match(passage.rsplit("\n\n", 1)[-1].strip()) else None
    if signer and signer != main:
        roles[signer] = "family carer" if (_I_CARE.search(narration) or _MY_KIN.search(narration)
                                           or main in KIN_NAMES or re.search(r"\bcaring for\b", narration)) \
            else "volunteer" if ROLE_CUES[1][1].search(narration) else "other"
    return [{"name": n, "role": roles[n]} for n in ranked]


_VOLUNTEERS = re.compile(r"\b(?:signed up as|became|is|has been|was|works as|trained as)\s+(?:a|an|one of our)\s+"
                         r"(?:\w+\s+)?(?:volunteers?|befrienders?|buddy|buddies|mentors?|runners?|Compassionate Neighbours?|"
                         r"Shared Lives carers?|foster carers?)\b|\bvolunteers\s+(?:with|at|for)\b")
_KIN = r"(?:wife|husband|partner|mum|mother|dad|father|son|daughter|sister|brother|grandson|granddaughter|nan|gran)"
_CARES_FOR = re.compile(rf"\b(?:cares|cared|caring|care|looks|looked|looking|look)\s+(?:for|after)\s+(?:his|her|their|my)\s+"
                        rf"(?:\w+\s+)?{_KIN}\b,?\s*", re.I)
_I_CARE = re.compile(r"\bI\s+(?:have\s+)?(?:care|cared|look|looked)\s+(?:for|after)\b|\bmyself as a carer\b|"
                     r"\b(?:I'm|I’m|I am|I was|I became)\s+(?:a|his|her|their|the)\s+(?:full-time\s+|unpaid\s+|family\s+)?carer\b")
_MY_KIN = re.compile(rf"\b[Mm]y\s+{_KIN}\b,?\s*")


def _named_at(ranked: list[str], by_name: dict, text: str, last: bool, at_start: bool = False) -> str:
    """The person of `ranked` named in `text`: the last named (before a verb) or the first (after it;
    with `at_start`, only one named right at the start: 'his wife Pat', not a name a sentence later)."""
    hits = []
    for n in ranked:
        for form in by_name[n].forms():
            m = None
            for m in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text):
                if not last:
                    break
            if m:
                hits.append((m.start(), n))
                break
    if at_start:
        hits = [h for h in hits if h[0] == 0]
    if not hits:
        return ""
    return (max(hits) if last else min(hits))[1]
