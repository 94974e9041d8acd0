"""Did-you-mean, only when the match is close: a curator who types
"accomodation" is offered the accommodation domain, never an unrelated one
that happens to share letters."""
from __future__ import annotations

import difflib
import re

CLOSE = 0.8  # difflib ratio at or above which a spelling counts as close


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def close_match(word: str, choices, aliases: dict[str, str] | None = None) -> str | None:
    """The one choice `word` most likely means, or None when none is close.

    Tried in order: the same slug (case, spaces and hyphens aside); an alias
    (e.g. a display name, or the part after 'framework/'); one choice whose
    slug, or the part after its '/', begins with the word, or one that has it as a
    whole hyphenated word (at least 4 letters); the most similar spelling with a difflib ratio of at least
    0.8, compared whole, after '/', and (6 letters or more) with the
    choice's beginning."""
    choices = list(dict.fromkeys(str(c) for c in choices))
    w = _slug(word)
    if not w:
        return None
    keyed: dict[str, str] = {}
    for c in choices:
        keyed.setdefault(_slug(c), c)
        keyed.setdefault(_slug(c.rsplit("/", 1)[-1]), c)
    for alias, target in (aliases or {}).items():
        keyed.setdefault(_slug(alias), target)
    if w in keyed:
        return keyed[w]
    if len(w) >= 4:
        starts = {c for s, c in keyed.items() if s.startswith(w)}
        if len(starts) == 1:
            return starts.pop()
        words = {c for s, c in keyed.items() if re.search(rf"(^|-){re.escape(w)}(-|$)", s)}
        if len(words) == 1:  # 'safety' for ascot/personal-safety
            return words.pop()
    best, score = None, 0.0
    for s, c in keyed.items():
        r = difflib.SequenceMatcher(None, w, s).ratio()
        if len(w) >= 6 and len(s) > len(w) + 1:  # a misspelt beginning: 'accomodation' for accommodation-...
            r = max(r, difflib.SequenceMatcher(None, w, s[:len(w) + 1]).ratio())
        if r > score:
            best, score = c, r
    return best if score >= CLOSE else None


def hint(word: str, choices, aliases: dict[str, str] | None = None) -> str:
    """" (did you mean 'x'?)" or ""."""
    m = close_match(word, choices, aliases)
    return f" (did you mean '{m}'?)" if m else ""
