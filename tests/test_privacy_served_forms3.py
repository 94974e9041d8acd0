"""The third round's forms of an anonymised person's name (pet forms and
plurals, initials with dots, Cyrillic and Greek spellings, a word broken at
a line end, digits typed for letters), read through a real `evidence serve`
as a reader sees each route (test_privacy_served_forms.py's reading), with
this test's own transliteration of the other scripts."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import Server
from evidence.build import build
from storyfiles import CONSENT, write_story
from test_privacy_attacks3 import _letters
from test_privacy_served_forms import _seen, served_pages

pytestmark = pytest.mark.server

STORY = "a-kitchen-table-in-the-valley"
BODY = "\n\n".join([
    "Gwenny, as her grandson calls her, moved in with Bryn in March. \"Gwennie never misses a Tuesday,\" said Jonesy.",
    "We all went round to the Joneses for Sunday lunch. G. Q. signed the visitors' book as \"G.Q.\" with a flourish.",
    "Her sister wrote Гвендолін Квеннел on the card from Kyiv, and her pen friend wrote Γκουέν.",
    "Bryn keeps a notebook: \"Quen-\nnell family, Tuesdays\" and a page headed Quen\nnell.",
    "## Gwendo\nlyn's garden",
    "She posts as Gw3ndolyn on the forum and Qu3nnell in her email signature; Rosie from the choir sends cards.",
])
PARTS = ("gwen", "quennell", "jones", "rosie", "hartley", "kvenel", "gkouen")


def _leaks(strings: list[str]) -> list[str]:
    found = []
    for s in strings:
        letters = _letters(s)
        found += [p for p in PARTS if p in letters]
        found += ["G.Q."] if re.search(r"G\.\s*Q", s) else []
    return sorted(set(found))


def test_no_third_round_form_of_the_name_is_served(base: Path):
    write_story(base, STORY, body=BODY, title="A kitchen table: the Joneses and Gwenny", summary="Tea with G.Q. and Jonesy.",
                approach="shared-lives", place="Rosie's house, Treforest",
                people=[{"name": "Gwendolyn Quennell", "role": "person supported", "aliases": ["Gwen"]},
                        {"name": "Bryn Jones", "role": "Shared Lives carer", "pseudonym": "Ash"},
                        {"name": "Rose Hartley", "role": "her friend from the choir", "pseudonym": "Kit"}],
                consent={**CONSENT, "identity": "anonymised", "pseudonym": "Wren"})
    summary = build(base)
    assert not [w for w in summary.warnings if STORY in w], summary.warnings
    server = Server(base)
    try:
        q = quote("kitchen table lunch notebook choir")
        pages = served_pages(server, STORY, "shared-lives", q, search="Wren", extra=(
            f"/public/passages.csv?item_id={STORY}", "/public/stories_by_domain.json?_shape=array&_size=max"))
        assert b"Wren" in pages[f"/-/story/{STORY}"][1] and b"Ash" in pages[f"/-/story/{STORY}"][1]
        assert {route: _leaks(_seen(body, ctype)) for route, (ctype, body) in pages.items()
                if _leaks(_seen(body, ctype))} == {}
        for part in ("gwen*", "quennell*", "jones*", "rosie", "gwenny", "gw3ndolyn"):
            sql = quote(f"select count(*) from stories_fts where stories_fts match '\"{part.rstrip('*')}\"{'*' if part.endswith('*') else ''}'")
            status, _, body = server.get(f"/public.json?sql={sql}&_shape=arrayfirst")
            assert status == 200 and json.loads(body) == [0], part
    finally:
        server.stop()
