"""Plain word lists and helpers shared by search and its training pairs.

`STOPWORDS`: English function words that say nothing about which item a
query wants; full-text search leaves them out of its terms.

`keywords()`: a sentence cut down to the words a person types into a search
box ("older man lost wife found company allotment"), which is how many
queries come: training pairs made this way teach the search model that
such a query and a full passage mean the same thing.
"""
from __future__ import annotations

import re

STOPWORDS = frozenset("""a about after all also an and any are as at be been but by can could did do does for from
had has have he her hers him his how i if in into is it its me more most my no not of on or our she so some such
than that the their them then there these they this those to was we were what when where which who whom why will
with would you your""".split())

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]|\d+")


def keywords(sentence: str, limit: int = 10) -> str:
    """The sentence's content words in order, in lower case, at most
    `limit`: stop words go, and so do capitalised words inside the sentence
    (names of people and places a searcher would not know); words written
    with two capitals or more (abbreviations such as "MND" and "PAs") stay
    as written."""
    out: list[str] = []
    for i, match in enumerate(_WORD.finditer(sentence)):
        word = match.group()
        if sum(c.isupper() for c in word) >= 2:
            out.append(word)
        elif word[0].isupper() and i > 0:
            continue
        elif word.lower() in STOPWORDS:
            continue
        else:
            out.append(word.lower())
        if len(out) >= limit:
            break
    return " ".join(out)
