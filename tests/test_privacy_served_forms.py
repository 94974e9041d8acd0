"""Forms of an anonymised person's name that a reader sees as the name,
through a real `evidence serve`: marks and blank letters inside it, Latin
small capitals, digits glued on, parts run together, a web address with
initials, a Markdown link or escape around part of it. Every served route
is read as a reader would see it (HTML text and attribute values, JSON
strings with Markdown link targets left out) and folded by this test's own
rules (not the anonymiser's), and no part of the name may be in it."""
from __future__ import annotations

import html
import json
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import Server
from evidence.build import build
from storyfiles import CONSENT, write_story

pytestmark = pytest.mark.server

STORY = "a-spare-room-in-the-valley"
ANON = {**CONSENT, "identity": "anonymised", "pseudonym": "Rowan"}
PEOPLE = [{"name": "Obadiah Thistlewaite-Brackley", "role": "householder", "aliases": ["Obi"]},
          {"name": "Zoë Marchbanks", "role": "homesharer", "pseudonym": "Kit"}]
BODY = "\n\n".join([
    "Obad\ufe0fiah had lived alone since his wife died; Thistle\u034fwaite is a name the village knows.",
    "His grandson calls him ᴏʙᴀᴅɪᴀʜ on the family chat, and he signs letters obadiah1941.",
    "His blog is twitter.com/ObadiahTB and his old page https://example.org/othistlewaite still works.",
    "Friends wrote ObadiahThistlewaite on the card and ObiBrackley on the cake.",
    "[Obad](https://example.org/a)iah and [March][1]banks cook on Tuesdays; Obad\\*iah washes up.",
    "[1]: https://example.org/b",
    "Marc\u3164hbanks moved in with her cat in 2024, and 1990marchbanks is her old username.",
])
PARTS = ("obadiah", "thistlewaite", "brackley", "marchbanks")


def _fold(text: str) -> str:
    """The letters a reader sees, lower case: no marks, no invisible or blank
    characters, small capitals and letters with strokes as plain letters."""
    out = []
    for c in unicodedata.normalize("NFKD", text):
        cat = unicodedata.category(c)
        if cat in ("Mn", "Me", "Cf") or c in "\u115f\u1160\u3164\uffa0":
            continue
        if ord(c) > 127 and cat.startswith("L"):
            m = re.fullmatch(r"LATIN (?:(?:SMALL|CAPITAL) )?LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .+)?",
                             unicodedata.name(c, ""))
            c = m.group(1) if m else c
        out.append(c.lower())
    return "".join(out)


def _without_markdown(text: str) -> str:
    text = re.sub(r"\]\([^)]*\)|\]\[[^\]]*\]", "", text)  # link targets
    return re.sub(r"[\[\]\\*_]", "", text)  # brackets, escapes and emphasis


class _Seen(HTMLParser):
    """The text of a page and the values of its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.attrs = [], []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        self.attrs.extend(v for _, v in attrs if v)


def _seen(body: bytes, content_type: str) -> list[str]:
    text = body.decode("utf-8", "replace")
    if "json" in content_type:
        strings: list[str] = []

        def walk(v):
            if isinstance(v, str):
                strings.append(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)

        walk(json.loads(text))
        return [_without_markdown(s) for s in strings]
    if "html" in content_type or "xml" in content_type:
        seen = _Seen()
        seen.feed(text)
        return ["".join(seen.text), *seen.attrs]
    return [html.unescape(_without_markdown(text))]


def _letters_only(text: str) -> str:
    """Letters only: a name split by digits, spaces or punctuation is still found."""
    return "".join(c for c in _fold(text) if c.isalpha())


def _leaks(strings: list[str]) -> list[str]:
    found = []
    for s in strings:
        letters = _letters_only(s)
        found += [p for p in PARTS if p in letters]
    return sorted(set(found))


def served_pages(server, story: str, approach: str, q: str, search: str, extra: tuple[str, ...] = ()) -> dict:
    """Every route a reader can reach the story by, as (content type, body):
    its pages, rows, exports, search, the approach's card and the feed."""
    routes = [
        f"/-/story/{story}", f"/-/story/{story}.json", f"/public/stories/{story}", f"/public/stories/{story}.json",
        "/public/stories.json?_shape=array&_size=max", "/public/stories.csv?_size=max",
        f"/public/stories?_search={search}", f"/public/story_people.json?story_id={story}&_shape=array",
        f"/public/passages.json?item_id={story}&_shape=array", f"/public/tags.json?item_id={story}&_shape=array",
        f"/public/tag_sentences.json?item_id={story}&_shape=array",
        f"/public/entities.json?item_id={story}&_shape=array", f"/-/search.json?q={q}", f"/-/search?q={q}",
        f"/-/search.json?q={q}&mode=fts", "/-/evidence", f"/-/approach/{approach}", f"/-/approach/{approach}.json",
        "/-/feed.atom", "/public/evidence.json?_shape=array&_size=max",
        f"/public/stories.json?_facet=place&_shape=objects&id={story}", *extra,
    ]
    pages = {}
    for route in routes:
        status, headers, body = server.get(route)
        assert status == 200, route
        pages[route] = (headers.get("Content-Type") or headers.get("content-type") or "", body)
    return pages


def test_no_form_of_the_name_is_served(base: Path):
    write_story(base, STORY, body=BODY, title="A spare room: ᴏʙᴀᴅɪᴀʜ and a homesharer",
                summary="ObadiahThistlewaite shares his house with Marchbanks\ufe0f.", approach="homeshare",
                people=PEOPLE, consent=ANON, place="Obadiah1941's house, Treforest",
                source={"title": "[Obad](https://example.org)iah's spare room", "organisation": "Valley Homeshare",
                        "author": "MarchbanksZ"})
    build(base)
    server = Server(base)
    try:
        q = quote("spare room homeshare cat")
        pages = served_pages(server, STORY, "homeshare", q, search="Rowan")
        # the story is there, under its pseudonyms (else the routes prove nothing)
        assert b"Rowan" in pages[f"/-/story/{STORY}"][1] and b"Kit" in pages[f"/-/story/{STORY}"][1]
        assert {route: _leaks(_seen(body, ctype)) for route, (ctype, body) in pages.items()
                if _leaks(_seen(body, ctype))} == {}
        for part in PARTS:  # the full-text index knows no part of a name, in any of its forms
            sql = quote(f"select count(*) from stories_fts where stories_fts match '{part}*'")
            status, _, body = server.get(f"/public.json?sql={sql}&_shape=arrayfirst")
            assert status == 200 and json.loads(body) == [0], part
    finally:
        server.stop()
