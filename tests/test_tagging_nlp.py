"""The spaCy components, each on spacy.blank("en"), and the configured pipeline."""
from pathlib import Path

import pytest
import spacy

import evidence.enrich.nlp  # noqa: F401  (registers the factories)
import evidence.enrich.nlp_components
from evidence.enrich.nlp import entity_rows, load_nlp, make_docs, sentence_units
from evidence.enrich.nlp_components import light_stem

ROOT = Path(__file__).resolve().parent.parent


def blank(*pipes: str):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    for p in pipes:
        nlp.add_pipe(p)
    return nlp


def quantities(text: str) -> list[tuple]:
    doc = blank("evidence_quantities")(text)
    return [(e.text, e.label_, e._.quantity) for e in doc.ents]


def test_light_stem_meets_inflections():
    assert light_stem("friends") == light_stem("friend") == "friend"
    assert light_stem("calls") == light_stem("call")
    assert light_stem("neighbours") == "neighbour"
    assert light_stem("is") == "is"  # short words kept


def test_stem_norm_component_sets_norms():
    doc = blank("evidence_stem_norm")("Her neighbours call in")
    assert [t.norm_ for t in doc] == ["her", "neighbour", "call", "in"]


@pytest.mark.parametrize("text, span, value, unit", [
    ("Pearl now has 27 people on her books.", "27 people", 27.0, "people"),
    ("The workforce fell by -9.3% last year.", "-9.3%", -9.3, "%"),
    ("They support nearly 50 older neighbours.", "nearly 50 older neighbours", 50.0, "older neighbours"),
    ("Half a million people have personal budgets.", "Half a million people", 500000.0, "people"),
    ("It rose by 15.8 per cent.", "15.8 per cent", 15.8, "%"),
    ("The network is 2,000 strong.", "2,000 strong", 2000.0, "strong"),
    ("The bid raised £1.2m for a bus.", "£1.2m", 1_200_000.0, "GBP"),
])
def test_quantities_with_units(text, span, value, unit):
    found = {t: q for t, label, q in quantities(text) if label == "QUANTITY"}
    assert span in found, found
    assert found[span][0] == pytest.approx(value)
    assert found[span][1] == unit


def test_quantity_qualifier_and_years():
    got = quantities("In 2007 over 150 micro-enterprises joined; one of them said so.")
    assert ("2007", "DATE", (2007.0, "", "")) in got
    over = [q for t, label, q in got if label == "QUANTITY"]
    assert over == [(150.0, "micro-enterprises", "over")]  # 'one of them' is not a number


def test_people_component_marks_listed_names_only():
    nlp = blank("evidence_people")
    doc = nlp.make_doc("Debs met Alex at the seminar. Debsy is someone else.")
    doc.user_data["people"] = ["Debs"]
    doc = nlp(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Debs", "PERSON")]


def test_trained_ner_is_a_no_op_without_the_package():
    nlp = blank("evidence_trained_ner")
    assert nlp.get_pipe_config("evidence_trained_ner")["model"] == "en_core_web_sm"
    doc = nlp("Debs lives in Manchester.")  # en_core_web_sm is not installed here: nothing added, nothing fails
    assert list(doc.ents) == []


def test_configured_pipeline_recognises_places_orgs_and_approaches():
    nlp = load_nlp(ROOT)
    assert nlp.pipe_names[:4] == ["sentencizer", "paragraphs", "stem_norm", "entity_ruler"]
    assert nlp.pipe_names[-1] == "sentence_roles"
    doc = make_docs(nlp, ["Community Catalysts runs a programme in Somerset. Shared Lives carers help, and so does local area coordination."],
                    [["Pearl"]])[0]
    ents = {(r["label"], r["norm"]) for r in entity_rows(doc)}
    assert ("PLACE", "somerset") in ents
    assert ("ORG", "community-catalysts") in ents
    assert ("APPROACH", "shared-lives") in ents
    assert ("APPROACH", "local-area-coordination") in ents  # approach names match in any case
    assert [s[2][:10] for s in sentence_units(doc)] == ["Community ", "Shared Liv"]


def test_a_new_approach_file_is_recognised(base: Path):
    (base / "approaches" / "men-in-sheds.yml").write_text(
        "id: men-in-sheds\nname: Men in Sheds\ndescription: x\narea_of_work: whole-community\n"
        "sources: [{title: t, author: a}]\n", encoding="utf-8")
    doc = make_docs(load_nlp(base), ["He joined Men in Sheds last year."])[0]
    assert ("APPROACH", "men-in-sheds") in {(r["label"], r["norm"]) for r in entity_rows(doc)}


def test_entity_offsets_point_into_the_text():
    text = "Pearl now has 27 local people on her books in Somerset."
    doc = make_docs(load_nlp(ROOT), [text], [["Pearl"]])[0]
    rows = entity_rows(doc)
    assert rows and all(text[r["start"]:r["end"]] == r["text"] for r in rows)
    assert {r["label"] for r in rows} >= {"PERSON", "QUANTITY", "PLACE"}


def test_trained_ner_entities_are_mapped_and_added_where_free(monkeypatch):
    other = spacy.blank("en")
    other.add_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": "Wigan"}, {"label": "ORG", "pattern": "Nesta"},
                                                 {"label": "DATE", "pattern": "Monday"}])
    monkeypatch.setattr(evidence.enrich.nlp_components, "trained_pipeline", lambda model: other)
    nlp = blank("evidence_trained_ner")
    doc = nlp("Nesta met people in Wigan on Monday.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Nesta", "ORG"), ("Wigan", "PLACE")]  # DATE is not mapped


def test_hyphenated_number_words_are_one_number_and_hyphens_in_words_are_no_sign():
    from evidence.enrich.nlp import load_nlp

    nlp = load_nlp(ROOT)
    got = {e.text: e._.quantity for e in nlp("Twenty-seven care organisations took part; the workforce fell (-9.3%).").ents
           if e.label_ == "QUANTITY"}
    assert got["Twenty-seven care organisations"][0] == 27
    assert got["-9.3%"][0] == -9.3


def test_list_items_and_headings_are_sentences_of_their_own():
    """A case study lists its outcomes one a line, seldom with a full stop:
    each item is a sentence (so a tag cites the item, not the whole list),
    and so is a Markdown heading. A hard-wrapped line, "*emphasis*" and a
    "#hashtag" at the start of a line do not cut a sentence."""
    nlp = blank("evidence_paragraph_breaks")
    text = ("## What changed\n"
            "- Moira opens her own post\n"
            "* She walks with the group every week\n"
            "1. She joined the tenants' panel\n"
            "2) She wants part-time work\n"
            "• She cooks again\n\n"
            "Her coordinator says the change\n"
            "took a year and\n"
            "#Kirkcaldy folk ask her\n"
            "*for help now.*")
    sents = [" ".join(s.text.split()) for s in nlp(text).sents]
    assert sents == ["## What changed", "- Moira opens her own post", "* She walks with the group every week",
                     "1. She joined the tenants' panel", "2) She wants part-time work", "• She cooks again",
                     "Her coordinator says the change took a year and #Kirkcaldy folk ask her *for help now.*"]
    # the configured pipeline cuts a story the same way
    doc = load_nlp(ROOT)("She said:\n- yes to the lunch club\n- no to the day centre")
    assert [s.text.strip() for s in doc.sents] == ["She said:", "- yes to the lunch club", "- no to the day centre"]


def test_a_list_items_unit_leaves_its_bullet_out():
    """The scored unit of a list item is what it says: a tag quotes and the
    story page marks "She walks weekly", with offsets to match."""
    text = "What changed:\n- She walks weekly\n2. She cooks again\n- 40 people came"
    units = sentence_units(load_nlp(ROOT)(text))
    assert [u[2] for u in units] == ["What changed:", "She walks weekly", "She cooks again", "40 people came"]
    assert all(text[s:e] == t for s, e, t in units)


@pytest.mark.parametrize("text, sents", [
    ("The project cost £2.5m. It reached 40 carers.", ["The project cost £2.5m.", "It reached 40 carers."]),
    ("Savings were put at £3bn. The council agreed.", ["Savings were put at £3bn.", "The council agreed."]),
    ("She read books, magazines etc. and the paper every day.", ["She read books, magazines etc. and the paper every day."]),
    ("There were approx. 30 carers there. They stayed.", ["There were approx. 30 carers there.", "They stayed."]),
    ("He lives at No. 10 on the estate.", ["He lives at No. 10 on the estate."]),
    ("We met on Tues. 5th March at the cafe.", ["We met on Tues. 5th March at the cafe."]),
    ("He said no. Then he changed his mind.", ["He said no.", "Then he changed his mind."]),
    ("I like the group etc.\n\nwe meet on Fridays.", ["I like the group etc.", "we meet on Fridays."]),
    ("I was so lonely... Now I have friends.", ["I was so lonely...", "Now I have friends."]),
    ("I was so lonely\u2026 Now I have friends.", ["I was so lonely\u2026", "Now I have friends."]),
    ("I was so... well, lonely.", ["I was so... well, lonely."]),
], ids=["money in millions", "money in billions", "etc. and", "approx. 30", "No. 10", "Tues. 5th",
        "a sentence ending on an abbreviation-like word before a capital", "a blank line still cuts",
        "three dots before a capital", "an ellipsis character before a capital", "an ellipsis inside a sentence"])
def test_full_stops_of_abbreviations_and_units(text, sents):
    """A full stop after an abbreviation does not end the sentence when a
    small letter or a number follows; one after a money unit ("£2.5m.",
    which the tokenizer keeps as an abbreviation) or an ellipsis ends it
    before a capital."""
    for nlp in (blank("evidence_paragraph_breaks"), load_nlp(ROOT)):
        assert [s.text.strip() for s in nlp(text).sents if s.text.strip()] == sents
