"""Abbreviations search expands (pipelines/abbreviations.yml): the glossary
itself, its errors, and its path through a build into the passages the model
embeds, the public database and the query (fake embedder: plumbing only;
tests/test_search_relevance.py has the real model)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evidence.build import build
from evidence.content.abbreviations import Glossary, load_glossary, parse_glossary
from evidence.errors import EvidenceError, ValidationError
from evidence.search.query import search, weak_match
from search_helpers import write_story

GLOSSARY = Glossary({"MND": "motor neurone disease", "mnd": "motor neurone disease", "PAs": "personal assistants",
                     "A&E": "accident and emergency", "SEND": "special educational needs and disabilities",
                     "VCSE": "voluntary, community and social enterprise sector"})


@pytest.mark.parametrize("text,expected", [
    ("a husband with MND at home", "a husband with MND (motor neurone disease) at home"),
    ("typed as mnd", "typed as mnd (motor neurone disease)"),
    ("her PAs came", "her PAs (personal assistants) came"),
    ("twice to A&E, then home", "twice to A&E (accident and emergency), then home"),
    ("MND, and MND again", "MND (motor neurone disease), and MND again"),  # once per text
    ("Motor neurone disease (MND) took his voice", "Motor neurone disease (MND) took his voice"),  # said already
    ("a husband with motor neurone disease", "a husband with motor neurone disease (MND)"),  # and the reverse
    ("Personal assistants and MND", "Personal assistants (PAs) and MND (motor neurone disease)"),
    ("SEND and send", "SEND (special educational needs and disabilities) and send"),  # the case as listed
    ("AMND, MNDs, PA, Pas, xA&E", "AMND, MNDs, PA, Pas, xA&E"),  # whole words only
    ("she does voluntary work", "she does voluntary work"),  # a one-word full form stands for nothing
    ("", ""),
])
def test_an_abbreviation_gets_its_expansion_after_it_once_and_only_as_a_whole_word(text, expected):
    assert GLOSSARY.expand(text) == expected


def test_the_shipped_glossary_reads_and_leaves_out_forms_that_are_also_words():
    glossary = load_glossary(Path(__file__).resolve().parents[1])
    assert glossary.entries["MND"] == "motor neurone disease" and len(glossary.entries) >= 40
    assert not {"salt", "send", "pip", "LAC", "GP", "NHS"} & set(glossary.entries)
    assert glossary.expand("a wife nursing a husband with mnd") == \
        "a wife nursing a husband with mnd (motor neurone disease)"
    assert Glossary().expand("MND") == "MND" and not Glossary()


@pytest.mark.parametrize("text,line,words", [
    ("abbreviations:\n  MND: motor neurone disease\n  M N D: x\n", 3, ["'M N D' is not an abbreviation"]),
    ("abbreviations:\n  MND: motor neurone disease\n  PA:\n", 3, ["'PA' needs what it stands for"]),
    ("abbreviations:\n  MND: [motor, neurone]\n", 2, ["'MND' needs what it stands for"]),
    ("abbreviations:\n  NO: nursing officer\n", None, ["write it in quotes"]),
    ("abbreviations:\n  - MND\n", 1, ["a mapping of each abbreviation"]),
    ("abbreviations:\n  MND: motor neurone disease\n   bad indent: x\n", 3, ["invalid YAML"]),
])
def test_a_wrong_glossary_entry_is_a_one_line_error_naming_the_file_and_line(text, line, words):
    with pytest.raises(ValidationError) as err:
        parse_glossary(text)
    message = str(err.value)
    assert message.startswith("pipelines/abbreviations.yml") and "\n" not in message
    assert all(w in message for w in words), message
    if line:
        assert err.value.line == line, message


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_bad_glossary_stops_the_build_with_one_line_and_keeps_what_was_published(built):
    before = _rows(built / "public.db", "SELECT abbreviation, expansion FROM abbreviations ORDER BY 1")
    (built / "pipelines" / "abbreviations.yml").write_text("abbreviations:\n  MND: ''\n", encoding="utf-8")
    with pytest.raises(EvidenceError) as err:
        build(built)
    assert "abbreviations.yml:2" in str(err.value) and "'MND'" in str(err.value) and "\n" not in str(err.value)
    assert _rows(built / "public.db", "SELECT abbreviation, expansion FROM abbreviations ORDER BY 1") == before


def test_the_glossary_reaches_the_embedded_passages_the_public_database_and_the_query(built):
    # the fake embedder hashes words: "MND" and "motor neurone disease" share
    # none, so only an expansion can bring the two together
    write_story(built, "alf-mnd", "Alf and Sadie", "Sadie cares for Alf at home. Alf has MND and a volunteer "
                "visits him each Friday.")
    write_story(built, "bert-dementia", "Bert and June", "June cares for Bert at home. Bert has dementia and "
                "a volunteer visits him each Friday.")
    write_story(built, "cyril-motor", "Cyril and Vi", "Vi cares for Cyril at home. Cyril has motor neurone "
                "disease and a volunteer visits him each Friday.")
    (built / "pipelines" / "abbreviations.yml").write_text(
        "abbreviations:\n  MND: motor neurone disease\n  mnd: motor neurone disease\n", encoding="utf-8")
    build(built)
    public = built / "public.db"
    assert _rows(public, "SELECT abbreviation, expansion FROM abbreviations ORDER BY 1") == [
        ("MND", "motor neurone disease"), ("mnd", "motor neurone disease")]
    # what is shown is never changed
    assert not _rows(public, "SELECT 1 FROM passages WHERE text LIKE '%(motor neurone disease)%'")
    for mode in ("vector", "fts", "hybrid"):
        for query in ("motor neurone disease", "MND", "mnd"):
            top = [h.id for h in search(public, query, limit=2, mode=mode)]
            assert set(top) == {"alf-mnd", "cyril-motor"}, (mode, query, top)
    weak, score = weak_match(public, "MND")
    assert score == pytest.approx(weak_match(public, "MND (motor neurone disease)")[1])

    # without the glossary, "MND" no longer meets "motor neurone disease"
    (built / "pipelines" / "abbreviations.yml").unlink()
    build(built)
    assert _rows(public, "SELECT count(*) FROM abbreviations") == [(0,)]
    top = [h.id for h in search(public, "MND", limit=3, mode="fts")]
    assert top == ["alf-mnd"], top
    top = [h.id for h in search(public, "a man with motor neurone disease", limit=1, mode="vector")]
    assert top == ["cyril-motor"], top
