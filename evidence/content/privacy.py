"""Privacy: what of a story may be shown publicly.

For an anonymised story, every name (and alias) of the people listed on it
is replaced by the published pseudonym, in the title, summary and narrative.
The result is stored beside the original as public_title / public_summary /
public_body, and every derived public artefact (tags' sentences, passages,
vectors, full-text index) is computed from those public texts, never from
the originals.
"""
from __future__ import annotations

import re

from evidence.content.records import Story


def pseudonymise(text: str, replacements: dict[str, str]) -> str:
    """Replace whole-word, case-insensitive occurrences of each name with its
    pseudonym, longest names first (so 'Mary Ann' wins over 'Mary')."""
    for name in sorted((n for n in replacements if n.strip()), key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w]){re.escape(name.strip())}(?![\w])", re.IGNORECASE)
        text = pattern.sub(replacements[name], text)
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


def public_people(story: Story) -> list[dict]:
    """People as they may be published: pseudonyms for anonymised stories."""
    anonymised = story.consent.identity == "anonymised"
    return [{
        "name": (p.pseudonym or story.consent.pseudonym) if anonymised and p.name else p.name,
        "role": p.role,
    } for p in story.people]


# Fields published as they are (not pseudonymised): for an anonymised story
# none of them may contain a person's name or alias, or the name would leak.
VERBATIM_FIELDS = ("id", "organisation", "place") + tuple(
    f"source.{k}" for k in ("title", "author", "organisation", "publisher", "url"))


def names_in_published_fields(story: Story) -> list[tuple[str, str, tuple]]:
    """(field label, name, YAML key path) for every name or alias of an
    anonymised story's people that appears in a field published verbatim
    (id, organisation, place, source, people's roles)."""
    rep = replacements(story)
    if not rep:
        return []
    values: list[tuple[str, str, tuple]] = []
    for key in VERBATIM_FIELDS:
        obj = story.source if key.startswith("source.") else story
        attr = key.split(".", 1)[-1]
        values.append((f"'{key}'", str(getattr(obj, attr) or ""), tuple(key.split("."))))
    values += [(f"the role of person {i + 1}", p.role, ("people", i, "role")) for i, p in enumerate(story.people)]
    out = []
    for label, value, keys in values:
        # ids and urls are slugs: compare them as slugs too ('mary-jones' holds 'Mary Jones')
        plain = value.replace("-", " ").replace("_", " ").replace("/", " ").replace(".", " ")
        for name in sorted(rep, key=len, reverse=True):
            if _contains(value, name) or _contains(plain, name):
                out.append((label, name, keys))
                break
    return out


def _contains(text: str, name: str) -> bool:
    """True when `name` occurs in `text` as a whole word (any case)."""
    return bool(re.search(rf"(?<![\w]){re.escape(name.strip())}(?![\w])", text, re.IGNORECASE))
