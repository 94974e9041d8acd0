"""Sentence roles (the evidence_sentence_roles spaCy component in
pipelines/nlp.cfg): which sentences speak about the person a story is about.
Invented texts; no model."""
from pathlib import Path

import pytest

from evidence.enrich.nlp import load_nlp, make_docs
from evidence.enrich.nlp_components import role_kind

ROOT = Path(__file__).resolve().parent.parent

STORY = """# A new start for Marjorie

Marjorie Pell is 81 and has lived in Tadcaster all her life. After her husband died she stopped going out.

Her neighbour volunteer, Tomasz Wren, started calling in on Fridays. He fixed the gate first. “I look forward to Fridays now,” she said. “I bake for him.”

Befriending schemes bring huge benefits to older people across the country.

“Volunteers gain as much as the people they visit,” said Priya Dale, the scheme's coordinator.

Now she goes to the Tuesday lunch club and has made two friends there.
"""


@pytest.fixture(scope="module")
def roles():
    nlp = load_nlp(ROOT)
    doc = make_docs(nlp, [STORY], [["Marjorie Pell", "Tomasz Wren"]], roles=[["person supported", "volunteer befriender"]],
                    narrators=[""])[0]
    return {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles if doc.text[s:e].strip()}


def roles_in(text: str, people: list[str], roles: list[str], narrator: str = "") -> dict[str, str]:
    """Each sentence of TEXT (stripped) -> its role, with these people listed."""
    doc = make_docs(load_nlp(ROOT), [text], [people], roles=[roles], narrators=[narrator])[0]
    return {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles if doc.text[s:e].strip()}


def role_of(roles: dict, start: str) -> str:
    hits = [r for text, r in roles.items() if text.startswith(start)]
    assert len(hits) == 1, (start, roles)
    return hits[0]


def test_sentences_about_the_person_by_name_pronoun_and_own_words(roles):
    assert role_of(roles, "Marjorie Pell is 81") == "subject"  # her name
    assert role_of(roles, "After her husband died") == "subject"  # a pronoun that follows her name
    assert role_of(roles, "“I look forward to Fridays") == "subject"  # her own quoted words
    assert role_of(roles, "“I bake for him") == "subject"  # the quote goes on
    assert role_of(roles, "Now she goes to the Tuesday lunch club") == "subject"


def test_commentary_attribution_and_headline_are_told_apart(roles):
    assert role_of(roles, "# A new start") == "headline"
    assert role_of(roles, "Befriending schemes bring huge benefits") == "commentary"
    assert role_of(roles, "“Volunteers gain as much") in ("commentary", "worker")


def test_an_opening_quote_mark_belongs_to_the_sentence_it_opens(roles):
    """Not 'He fixed the gate first. “' and 'I look forward ...': a highlighted
    sentence shows the quote whole."""
    assert not any(text.endswith(("“", '"', "‘")) and len(text) > 1 for text in roles), list(roles)
    assert role_of(roles, "He fixed the gate first") and "He fixed the gate first." in roles


def test_a_sentence_only_about_the_volunteer_is_not_about_the_subject(roles):
    assert role_of(roles, "He fixed the gate first") == "worker"  # 'he' after Tomasz: the volunteer


def test_first_person_narration_counts_when_the_narrator_is_the_person():
    nlp = load_nlp(ROOT)
    text = "I moved to Ripon last year. I did not know anyone. Now I run the knitting group on Mondays."
    mine = make_docs(nlp, [text], [["Dorothy Kay"]], roles=[["person supported"]], narrators=["Dorothy Kay"])[0]
    assert [r for *_, r in mine._.sentence_roles] == ["subject"] * 3
    theirs = make_docs(nlp, ["Every week I visit Dorothy. I bring the paper. She reads me the headlines."],
                       [["Dorothy Kay", "Sam Ode"]], roles=[["person supported", "volunteer"]], narrators=["Sam Ode"])[0]
    assert [r for *_, r in theirs._.sentence_roles] == ["subject", "worker", "subject"]


def test_texts_without_listed_people_have_no_roles_to_weigh():
    nlp = load_nlp(ROOT)
    doc = make_docs(nlp, ["Satisfaction rose by 12% among budget holders. Most said they had more choice."], [[]])[0]
    assert {r for *_, r in doc._.sentence_roles} == {"none"}


@pytest.mark.parametrize("role, kind", [
    ("person supported", "subject"), ("family carer", "subject"), ("family carer and volunteer", "subject"),
    ("Shared Lives carer", "worker"), ("Local Area Coordinator (worker)", "worker"), ("GoodGym runner", "worker"),
    ("florist", "unknown"),
])
def test_role_kinds(role, kind):
    from spacy.language import Language

    defaults = Language.get_factory_meta("evidence_sentence_roles").default_config
    assert role_kind(role, defaults["subject_roles"], defaults["worker_roles"]) == kind


def test_a_family_carer_telling_of_mum_speaks_about_the_person_supported():
    """'Mum' used as a name and 'my husband' in a family carer's own words
    point at the person cared for, not at the worker named last."""
    nlp = load_nlp(ROOT)
    text = ("Dad was a joiner all his life. After his stroke the agency sent someone new every day.\n\n"
            "We chose Kwame as his personal assistant. He comes at nine.\n\n"
            "Dad is back in his shed most mornings. He made the grandchildren a bird box.\n\n"
            "My husband helps on Sundays. He drives us to the coast.")
    doc = make_docs(nlp, [text], [["Ruth Adeyemi", "Kwame Boateng"]], roles=[["family carer", "personal assistant"]],
                    narrators=["Ruth Adeyemi"])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles}
    assert got["Dad was a joiner all his life."] == "subject"
    assert got["Dad is back in his shed most mornings."] == "subject"
    assert got["He made the grandchildren a bird box."] == "subject"  # 'he' after Dad, not Kwame
    assert got["He comes at nine."] == "worker"  # 'he' after Kwame
    assert got["My husband helps on Sundays."] == "subject"


def test_family_words_in_a_worker_s_words_or_as_common_nouns_are_not_the_person():
    nlp = load_nlp(ROOT)
    text = ("I have been a support worker for ten years. My dad was a miner. "
            "Every new mum at the group gets a visit. The dad of one boy runs the football.")
    doc = make_docs(nlp, [text], [["Lena Park", "Joe Park"]], roles=[["support worker", "person supported"]],
                    narrators=["Lena Park"])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles}
    assert got["My dad was a miner."] == "worker"
    assert got["Every new mum at the group gets a visit."] != "subject"
    assert got["The dad of one boy runs the football."] != "subject"


def test_a_quote_after_a_sentence_that_names_its_speaker_is_theirs():
    nlp = load_nlp(ROOT)
    text = ("Olwen Price says the difference is that she sleeps through the night now that Dev lives in. "
            "“I hear his key in the door and I know everyone is home.”")
    doc = make_docs(nlp, [text], [["Olwen Price", "Dev Sharma"]], roles=[["householder", "homesharer"]], narrators=[""])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles}
    assert got["“I hear his key in the door and I know everyone is home.”"] == "subject"


def test_an_object_pronoun_is_not_the_worker_who_starts_its_sentence():
    """'Imran drives him to the match': 'him' is the man supported, not Imran;
    and a pronoun keeps its person in mind for the next 'he'."""
    nlp = load_nlp(ROOT)
    text = ("Our son Callum is 20. Imran Qureshi became his personal assistant in May.\n\n"
            "Imran drives him to the match on Saturdays and waits with him at the gate.\n\n"
            "It is not perfect. He still hates the crowds at half time.")
    doc = make_docs(nlp, [text], [["Callum Reid", "Imran Qureshi"]], roles=[["person supported", "personal assistant"]],
                    narrators=[""])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles}
    assert got["Imran drives him to the match on Saturdays and waits with him at the gate."] == "subject"
    assert got["He still hates the crowds at half time."] == "subject"


def test_single_quoted_speech_as_british_papers_write_it():
    """'...,' she says: the quote is hers (a sentence of her own words with no
    'I' in it too), the mark opens the next sentence, a sentence ending in a
    closing ' is no headline, and an apostrophe is no quote."""
    nlp = load_nlp(ROOT)
    text = ("Maureen Tully had not left the estate in a year. 'Nobody asked me anywhere,' she says. "
            "'It was the telly and the cat.'\n\nThe workers' room at the centre isn't big.")
    doc = make_docs(nlp, [text], [["Maureen Tully"]], roles=[["person supported"]], narrators=[""])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles if doc.text[s:e].strip()}
    assert "Maureen Tully had not left the estate in a year." in got  # the ' went to the next sentence
    assert got["'Nobody asked me anywhere,' she says."] == "subject"
    assert got["'It was the telly and the cat.'"] == "subject"  # her words, not a headline
    assert got["The workers' room at the centre isn't big."] != "subject"


def test_list_items_are_judged_on_what_they_say_and_headings_are_headlines():
    """A case study's "What changed" list: each item is a sentence, and an
    item about the person is theirs even with no full stop (a short line with
    no closing punctuation is otherwise taken for a heading); the heading
    itself is a headline."""
    text = ("## Background\n\nMoira Kerr, 58, lives alone in Kirkcaldy.\n\n## What changed\n"
            "- Moira opens her own post again\n- She walks with the group every week\n"
            "- Local Area Coordination works with people of all ages\n")
    doc = make_docs(load_nlp(ROOT), [text], [["Moira Kerr"]], roles=[["person supported"]], narrators=[""])[0]
    got = {doc.text[s:e].strip(): r for s, e, r in doc._.sentence_roles if doc.text[s:e].strip()}
    assert got["## Background"] == got["## What changed"] == "headline"
    assert got["- Moira opens her own post again"] == "subject"
    assert got["- She walks with the group every week"] == "subject"
    assert got["- Local Area Coordination works with people of all ages"] == "commentary"


def test_a_line_alone_before_a_blank_line_is_a_headline_though_it_names_the_person():
    """A bold sub-heading or a 'Posted by' line, set apart by blank lines, is
    a headline even when it names the person: the blank line after it is the
    sentence's own last token, so 'nothing else on its line' must look
    inside the sentence as well as after it."""
    text = ("**Ruth has her Fridays back**\n\nPosted by Callum P, her son\n\n"
            "Ruth Pryor is 79. She goes to the lunch club again.\n\n**What happened next**\n\n"
            "She goes on Tuesdays too.")
    got = roles_in(text, ["Ruth Pryor", "Callum Pryor"], ["person supported", "her son"])
    assert got["**Ruth has her Fridays back**"] == "headline"
    assert got["Posted by Callum P, her son"] == "headline"
    assert got["**What happened next**"] == "headline"
    assert got["She goes to the lunch club again."] == "subject"
    assert got["She goes on Tuesdays too."] == "subject"


def test_a_letter_quoted_as_a_block_speaks_for_its_writer_not_the_narrator():
    """A worker's post quoting a card: the card's 'I' is the person who signs
    it (or whom the lead-in names), not the worker who narrates the post; a
    block nobody signs is nobody's we know."""
    signed = ("Hannah Okafor writes: this card came to the office last week and I have permission to share it.\n\n"
              "> Dear all,\n>\n> After my fall I did not go into the garden at all.\n"
              "> Now I sit out there every morning.\n>\n> With thanks,\n> Ivy Rendell\n\n"
              "We were so pleased to read it.")
    nlp = load_nlp(ROOT)
    people, roles_ = [["Ivy Rendell", "Hannah Okafor"]], [["person supported", "volunteer coordinator"]]
    doc = make_docs(nlp, [signed], people, roles=roles_, narrators=["Hannah Okafor"])[0]
    got = {" ".join(doc.text[s:e].split()): r for s, e, r in doc._.sentence_roles if doc.text[s:e].strip()}

    def role(words: str) -> str:
        return next(r for t, r in got.items() if words in t)
    assert role("did not go into the garden") == "subject"
    assert role("Now I sit out there every morning.") == "subject"
    assert role("I have permission to share it") == "worker"
    assert role("We were so pleased to read it.") != "subject"
    introduced = ("A note from Ivy arrived on Monday.\n\n> I did not go into the garden at all before you came.\n")
    doc = make_docs(nlp, [introduced], people, roles=roles_, narrators=["Hannah Okafor"])[0]
    assert [r for s, e, r in doc._.sentence_roles if "garden" in doc.text[s:e]] == ["subject"]
    unsigned = "I run the Tuesday group.\n\n> I did not go into the garden at all before you came.\n"
    doc = make_docs(nlp, [unsigned], people, roles=roles_, narrators=["Hannah Okafor"])[0]
    assert [r for s, e, r in doc._.sentence_roles if "garden" in doc.text[s:e]] == ["other"]


def test_transcripts_and_interviews_give_each_answer_to_its_speaker():
    """A transcript's speaker labels and an interview's questions decide whose
    'I' a paragraph holds: the interviewee's answers are theirs (even 'Very
    quiet.', with no 'I'), the host's turns and an editor's note in italics
    are not, whoever wrote the post up."""
    people = ["Nesta Prothero", "Gareth Lunn"]
    roles_ = ["person supported", "programme coordinator and podcast host"]
    transcript = ("**[00:10] GARETH:** I'm Gareth and I run the project.\n\n"
                  "**[00:20] NESTA:** I stopped going to chapel after my fall. I missed the singing.\n\n"
                  "**[00:35] GARETH:** And now?\n\n**[00:40] NESTA:** I go every Sunday.\n")
    got = roles_in(transcript, people, roles_, "Gareth Lunn")
    assert got["I missed the singing."] == "subject"
    assert got["**[00:40] NESTA:** I go every Sunday."] == "subject"
    assert got["**[00:10] GARETH:** I'm Gareth and I run the project."] == "worker"
    interview = ("*Each month we talk to one of our members. This month it's Nesta Prothero, 84.*\n\n"
                 "**1. What was life like before you joined, Nesta?**\n\nVery quiet. I sat in the house all day.\n\n"
                 "**2. And now?**\n\nI go to the lunch club on Tuesdays.\n\n"
                 "*The lunch club is open to anyone over 65 in the town.*\n")
    got = roles_in(interview, people, roles_, "Gareth Lunn")
    assert got["Very quiet."] == "subject"
    assert got["I sat in the house all day."] == "subject"
    assert got["I go to the lunch club on Tuesdays."] == "subject"
    assert got["*The lunch club is open to anyone over 65 in the town.*"] != "subject"
    got = roles_in("I run the Tuesday group. Nesta Prothero came along in May. I was glad.", people, roles_, "Gareth Lunn")
    assert got["I run the Tuesday group."] == "worker"  # no transcript: the narrator's 'I' as before


def test_people_listed_by_an_initial_are_found_by_it():
    """Anonymised case studies name people by an initial: 'Mr W' is the title
    and the letter, 'J' the capital standing alone; 'A' and 'I' are words."""
    text = ("Mr. W is 78 and lives alone. He fell in March. Mr W declined a care home.\n\n"
            "J is 24. The rota ended at ten. J now goes to gigs twice a month.\n\n"
            "A new scheme started in the town.")
    got = roles_in(text, ["Mr W", "J", "A"], ["person supported", "person supported", "tenant"])
    assert got["Mr. W is 78 and lives alone."] == "subject"
    assert got["He fell in March."] == "subject"
    assert got["Mr W declined a care home."] == "subject"
    assert got["J is 24."] == "subject"
    assert got["J now goes to gigs twice a month."] == "subject"
    assert got["The rota ended at ten."] != "subject"
    assert got["A new scheme started in the town."] != "subject"  # the article, not a person listed as 'A'


def test_a_person_the_story_never_names_is_found_by_description_and_pronoun():
    """A story that keeps someone anonymous calls them 'the gentleman' or
    only 'she': the description, and a pronoun before anyone else is named,
    are theirs, not the volunteer's whom the story does name."""
    text = ("I was matched with the gentleman in April. He did not answer the door at first.\n\n"
            "The flat was cold. By June the gentleman had the heating on.")
    got = roles_in(text, ["the gentleman", "Rosa Kell"], ["person supported", "volunteer"], "Rosa Kell")
    assert got["He did not answer the door at first."] == "subject"
    assert got["By June the gentleman had the heating on."] == "subject"
    unnamed = ("This month we hear from one of our members, who asked us to leave her name out.\n\n"
               "She joined two winters ago, after her sight went. Hamza rings her every Wednesday.\n\n"
               "She has not missed a Monday social since.")
    got = roles_in(unnamed, ["Edith Marr", "Hamza Ali"], ["person supported", "volunteer phone friend"])
    assert got["She joined two winters ago, after her sight went."] == "subject"
    assert got["She has not missed a Monday social since."] == "subject"
