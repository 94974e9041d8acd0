"""Abbreviations of health and social care ("MND", "PAs", "CHC") and what
they stand for, read from pipelines/abbreviations.yml.

The small sentence model knows few of them: "a husband with MND" and "a
husband with motor neurone disease" are far apart to it. Search writes the
expansion after each abbreviation, and the abbreviation after each full
form, in brackets, in the text the model embeds (every passage, at build
time) and in the query (at search time), so the two spellings meet; the
words added join the query's full-text terms too. What is displayed is never
changed.

An abbreviation matches as a whole word, in the case it is written in the
file; a form typed in lower case ("mnd") is listed as well when it is not
also a word ("salt", "send"). A full form of two words or more matches in
any case, up to its first comma or bracket (so an expansion's own name
should hold no comma). Where both forms are in the text already, nothing
is added.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from evidence.content.yamldoc import YamlDoc
from evidence.errors import ValidationError

FILE = ("pipelines", "abbreviations.yml")
MAX_LENGTH = 12  # characters of an abbreviation


@dataclass
class Glossary:
    """Abbreviation -> expansion, and the pattern that finds them."""

    entries: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pattern = (re.compile(r"(?<![\w&'’-])(" + "|".join(re.escape(f) for f in sorted(self.entries, key=len, reverse=True))
                                    + r")(?![\w&-])") if self.entries else None)
        # each abbreviation's full form, and each full form's abbreviations in
        # the order listed; a full form of one word ("voluntary") is too
        # common to stand for one thing, so only longer ones are matched
        self._core = {abbr: core(expansion) for abbr, expansion in self.entries.items()}
        self._forms: dict[str, list[str]] = {}
        for abbr, full in self._core.items():
            self._forms.setdefault(full, []).append(abbr)
        self._short = {full: forms[0] for full, forms in self._forms.items() if len(full.split()) >= 2}
        self._full = (re.compile(r"(?<!\w)(" + "|".join(re.escape(c) for c in sorted(self._short, key=len, reverse=True))
                                 + r")(?!\w)", re.IGNORECASE) if self._short else None)

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def digest(self) -> str:
        """A short hash of the entries: changes whenever one does."""
        return hashlib.sha256(json.dumps(sorted(self.entries.items())).encode()).hexdigest()[:16]

    def expand(self, text: str) -> str:
        """The text with each abbreviation's expansion after it in brackets
        ("MND" -> "MND (motor neurone disease)") and each full form's
        abbreviation after it ("motor neurone disease (MND)"), once each, and
        not where the other form is in the text already."""
        if not self._pattern or not text:
            return text
        lower = text.lower()
        done: set[str] = set()
        words = set(re.findall(r"[\w&]+", text))

        def long(m: re.Match) -> str:
            abbr = m.group(1)
            expansion = self.entries[abbr]
            if expansion in done or self._core[abbr] in lower:
                return abbr
            done.add(expansion)
            return f"{abbr} ({expansion})"

        def short(m: re.Match) -> str:
            phrase = m.group(1)
            key = phrase.lower()
            abbr = self._short[key]
            if key in done or any(a in words for a in self._forms[key]):
                return phrase
            done.add(key)
            return f"{phrase} ({abbr})"

        text = self._full.sub(short, text)
        return self._pattern.sub(long, text)


def core(expansion: str) -> str:
    """An expansion's words before any comma or bracket, in lower case: "COPD:
    chronic obstructive pulmonary disease, a lung condition" -> "chronic
    obstructive pulmonary disease"."""
    return re.split(r"[,(]", expansion)[0].strip().lower()


def parse_glossary(text: str, path: str = "pipelines/abbreviations.yml") -> Glossary:
    """Read the file's `abbreviations:` mapping; a wrong entry is a
    ValidationError naming the file, the line and the entry."""
    doc = YamlDoc(path, text)
    data = doc.data
    if data is None:
        return Glossary()
    if not isinstance(data, dict) or not isinstance(data.get("abbreviations", {}), dict):
        raise doc.error("needs 'abbreviations:', a mapping of each abbreviation to what it stands for "
                        "(MND: motor neurone disease)", "abbreviations")
    entries: dict[str, str] = {}
    for abbr, expansion in (data.get("abbreviations") or {}).items():
        if isinstance(abbr, bool) or abbr is None:
            raise doc.error(f"an abbreviation YAML reads as {abbr}: write it in quotes (\"NO\": ...)", "abbreviations")
        if not isinstance(abbr, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9&]*", abbr) or len(abbr) > MAX_LENGTH:
            raise doc.error(f"'{abbr}' is not an abbreviation: give one word of letters (digits and & allowed), "
                            f"at most {MAX_LENGTH} characters", "abbreviations", abbr)
        if not isinstance(expansion, str) or not expansion.strip():
            raise doc.error(f"'{abbr}' needs what it stands for, as text (MND: motor neurone disease)", "abbreviations", abbr)
        if len(expansion) > 200:
            raise doc.error(f"'{abbr}' stands for over 200 characters; give the words it abbreviates", "abbreviations", abbr)
        entries[abbr] = " ".join(expansion.split())
    return Glossary(entries)


def load_glossary(root: Path) -> Glossary:
    """The evidence base's glossary (empty when it has no such file)."""
    path = Path(root).joinpath(*FILE)
    if not path.is_file():
        return Glossary()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError("/".join(FILE), None, "is not UTF-8 text; save it as UTF-8") from None
    return parse_glossary(text, "/".join(FILE))
