"""`evidence extract` and `evidence add --from-review`: the seed documents
(recall of the corpus, precision against tests/extract_expected.yml, merged
repeats), small fixtures, bad input, and the review round trip."""
from __future__ import annotations

import codecs
import glob
import re
from pathlib import Path

import pytest
import yaml

from evidence.models.embedder import FakeEmbedder, get_embedder
from evidence.curate.extract import NEAR_THRESHOLD, extract
from extract_scoring import score

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted(Path(p) for p in glob.glob("/work/shared/seeds/*.txt"))

STORY = ("Maria lived alone for ten years after her husband died and rarely left the house. "
         "Maria was matched with a Homeshare companion, Tom, who moved into her spare room. "
         "She now goes to the market every week and says, “I have someone to talk to again.”\n\n")
FINDING = "In the survey of 212 householders, 74% of people reported feeling less lonely compared with the year before.\n"


@pytest.fixture(scope="module")
def seed_run():
    assert len(SEEDS) == 5, "the five seed documents are needed in /work/shared/seeds"
    return extract(ROOT, SEEDS, FakeEmbedder())


def test_seeds_stories_and_findings(seed_run):
    s = score(seed_run, ROOT)
    assert s["stories_in_corpus"] == 7
    assert s["stories_proposed_once"] == 7, s["story_proposals"]
    assert s["findings_proposed"] / s["findings_in_corpus"] >= 0.8, s["findings_missed"]
    james = [c for c in seed_run.stories if c.fields["people"][:1] == ["James"] and "epilepsy" in c.text]
    assert len(james) == 1 and len(james[0].occurrences) == 3  # the same passage in three seeds: merged


def test_seeds_precision_against_the_curators_judgements(seed_run):
    s = score(seed_run, ROOT)
    assert s["unjudged"] == [], "every candidate must be judged in tests/extract_expected.yml"
    assert s["precision"] >= 0.45  # measured 32/71 = 0.45


@pytest.fixture(scope="module")
def docs_run():
    from extract_scoring import document_files

    return extract(ROOT, document_files(), FakeEmbedder())


def test_documents_goals(docs_run):
    """The 39 hand-written documents against tests/extract_docs/expected.yml."""
    from extract_scoring import score_documents

    s = score_documents(docs_run)
    assert s["documents"] == 39
    assert s["docs_one_per_story"] / s["documents"] >= 0.9, s["failures"]
    assert s["person_named"] / s["stories"] >= 0.9, s["failures"]
    assert s["approach_right"] / s["approach_named"] >= 0.9, s["failures"]
    assert s["figures_right"] / s["figures"] >= 0.8, s["failures"]
    assert s["wrong_merges"] == 0


def test_people_are_people(docs_run):
    from extract_scoring import DOCS

    key = yaml.safe_load((DOCS / "expected.yml").read_text(encoding="utf-8"))["documents"]
    not_people = {x for d in key for x in d.get("not_people") or []}
    proposed = {p for c in docs_run.stories for p in c.fields["people"]}
    assert {"Mr Haddad", "Mrs Nowak", "Kenneth Baines", "Peggy Oxley"} <= proposed
    assert not proposed & not_people, proposed & not_people  # measured 0 (was 1, "He", before the 37)


def test_figures_read_as_a_reader(tmp_path, base):
    doc = tmp_path / "figures.md"
    doc.write_text("# Our year\n\n- 12 new social enterprises supported\n- 4 established social enterprises supported\n"
                   "- £18,500 a year saved for each person\n- 7,450 volunteer hours given\n"
                   "- Over 2021, 90 people were supported each week\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    by = {c.fields["value"]: c.fields for c in r.findings}
    assert by[12]["unit"] == "social enterprises" and by[4]["unit"] == "social enterprises"
    assert by[18500]["unit"] == "GBP" and by[18500]["period"] == "year"
    assert by[7450]["unit"] == "volunteer hours"
    assert 2021 not in by and by[90]["period"] == "week" and by[90]["sample_size"] is None
    assert all(c.fields["study"] == "Our year" for c in r.findings)
    assert r.merged == 0


def test_story_fields_from_the_pipeline(seed_run):
    agnes = next(c for c in seed_run.stories if "Agnes" in c.fields["people"])
    assert agnes.fields["approach"] == "compassionate-neighbours"
    assert "Lucia" in agnes.fields["people"]
    assert any("more like family" in q for q in agnes.fields["quotes"])
    pearl = next(c for c in seed_run.findings if c.text.startswith("Pearl now has 27"))
    assert pearl.fields["value"] == 27 and pearl.fields["unit"] == "local people"


def test_fixture_story_and_finding_and_html(tmp_path, base):
    html = tmp_path / "post.html"
    html.write_text(f"<html><head><script>var x = 'Maria said';</script></head><body><h1>Report</h1>"
                    f"<p>{STORY.strip()}</p><p>{FINDING.strip()}</p></body></html>", encoding="utf-8")
    r = extract(base, [html], FakeEmbedder())
    assert len(r.stories) == 1 and r.stories[0].fields["people"][:1] == ["Maria"]
    assert r.stories[0].fields["approach"] == "homeshare"
    assert "var x" not in r.stories[0].text
    assert r.stories[0].fields["quotes"] == ["I have someone to talk to again."]
    f = next(c for c in r.findings if "212" in c.text)
    assert f.fields["sample_size"] == 212
    assert any(n["value"] == 74 and n["unit"] == "%" for n in f.fields["numbers"])
    assert f.fields["comparator"].startswith("the year before")
    assert r.stories[0].duplicate_of is None


def test_a_first_name_off_the_list_shown_as_a_speaker_keeps_its_surname(tmp_path, base):
    """'Kenver' is on no first-name list; 'Kenver says' shows he is a person,
    so his first mention in full gives the surname the curator must see
    (a pseudonym for 'Kenver' alone would leave 'Brannock' in the text)."""
    from evidence.enrich.gazetteer import first_names

    assert "kenver" not in first_names()
    doc = tmp_path / "news.md"
    doc.write_text("When Kenver Brannock came home from hospital after a fall, he could not stand long enough to cook.\n\n"
                   "A volunteer now visits on Tuesdays and they cook together. \"I make my own stew again,\" Kenver says.\n",
                   encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    assert [c.fields["people"][:1] for c in r.stories] == [["Kenver Brannock"]]
    assert r.stories[0].fields["quotes"] == ["I make my own stew again"]  # not 'again,': the attribution broke it off

def test_speech_in_single_quotes_is_a_quote_and_an_apostrophe_is_not(tmp_path, base):
    """British papers quote in single marks: 'Nobody asked me anywhere,' she
    says. Those are the candidate's quotes; "don't" and "workers'" are not."""
    doc = tmp_path / "paper.md"
    doc.write_text("Maureen Tully, 79, had not left the estate in a year after a fall. 'Nobody asked me anywhere,' she says. "
                   "'I don't count the telly.'\n\nA volunteer from the Good Neighbours scheme now takes her to the "
                   "workers' cafe on Fridays. ‘She’s my Friday,’ Maureen says.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    quotes = [q for c in r.stories for q in c.fields["quotes"]]
    assert quotes == ["Nobody asked me anywhere", "I don't count the telly.", "She’s my Friday"], quotes


def test_a_figure_gets_the_documents_place_only_when_the_document_is_about_it(tmp_path, base):
    """A place one story mentions in passing is no study's place; a place the
    document names more than once (or in its title) is."""
    story = ("Wilma Ashdown lives alone and could not cook after a fall. A volunteer now visits her on Tuesdays. "
             "Her daughter, who lives in Leeds, says she worries less now.\n\n")
    figure = "Our 212 volunteers made 1,480 home visits last year, and 64% of the people we support live alone.\n"
    passing, about = tmp_path / "passing.md", tmp_path / "about.md"
    passing.write_text(story + figure, encoding="utf-8")
    about.write_text("Home visits in Doncaster have grown. Volunteers across Doncaster are busy.\n\n" + figure, encoding="utf-8")
    for path, place in ((passing, ""), (about, "Doncaster")):
        found = [c for c in extract(base, [path], FakeEmbedder()).findings if "1,480" in c.text]
        assert found and found[0].fields["place"] == place, (path.name, [c.fields["place"] for c in found])

def test_case_studies_anonymised_by_initials_are_candidates(tmp_path, base):
    doc = tmp_path / "review.txt"
    doc.write_text("Case study 1: Mr A\n\nMr A is 82 and has lived alone since his wife died. He stopped going out "
                   "after a fall. A connector introduced him to a lunch club, and Mr A now goes twice a week.\n\n"
                   "Case study 2: J's story\n\nJ is a 34-year-old woman with a learning disability who wanted to work. "
                   "With an employment navigator she found a job at a garden centre. J told us that earning her own "
                   "money has made her feel proud.\n\nThe plan was agreed under Plan B. I think it works.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    assert [c.fields["person"] for c in r.stories] == ["Mr A", "J"]
    assert "garden centre" in r.stories[1].text and "lunch club" not in r.stories[1].text
    assert not {"B", "I", "A"} & {p for c in r.stories for p in c.fields["people"]}

def test_a_couple_sharing_a_surname_are_two_people_and_a_capitalised_job_is_a_worker(tmp_path, base):
    doc = tmp_path / "couple.txt"
    doc.write_text("Mr and Mrs Ilori have been married for 61 years. Mrs Ilori has dementia and Mr Ilori, who is 88, "
                   "looks after her at home.\n\nWhen Mr Ilori went into hospital, she was moved to a care home and "
                   "stopped eating.\n\nTheir Local Area Coordinator, Bronwen, helped them plan for emergencies. "
                   "Mrs Ilori still lives at home with her husband.\n", encoding="utf-8")
    [story] = extract(base, [doc], FakeEmbedder()).stories
    roles = {p["name"]: p["role"] for p in story.fields["roles"]}
    assert {"Mrs Ilori", "Mr Ilori"} <= set(roles), roles
    assert roles.get("Bronwen") == "worker", roles

def test_where_a_person_is_from_as_local_news_writes_it_is_a_place(tmp_path, base):
    doc = tmp_path / "press.md"
    doc.write_text("One of the first people to use the service is Dennis, 91, from Kings Heath. Dennis has not left "
                   "his flat since the winter. He now gets a call every Monday from a volunteer.\n\n"
                   "\"She makes me laugh,\" Dennis said.\n", encoding="utf-8")
    [story] = extract(base, [doc], FakeEmbedder()).stories
    assert "Kings Heath" in story.fields["places"]

def test_exact_repeats_are_merged_and_existing_items_named(tmp_path, base):
    a, b = tmp_path / "a.md", tmp_path / "b.txt"
    a.write_text("# Post one\n\n" + STORY + FINDING, encoding="utf-8")
    b.write_text("Another post\n\n" + STORY.upper().lower().replace("maria", "Maria").replace("tom", "Tom") + "\n", encoding="utf-8")
    r = extract(base, [a, b], FakeEmbedder())
    assert len(r.stories) == 1 and len(r.stories[0].occurrences) == 2
    assert r.stories[0].merged[0]["how"] == "exact"
    poet = tmp_path / "poet.txt"
    poet.write_text("In the worst performing areas surveyed, the increase in people gaining employment was almost zero, for instance.\n",
                    encoding="utf-8")
    r = extract(base, [poet], FakeEmbedder())
    assert r.findings[0].duplicate_of == {"id": "poet2-employment-worst-areas", "how": "exact", "similarity": 1.0}


@pytest.mark.model
def test_near_duplicates_across_rewording_and_truncation_real_model(tmp_path, base):
    emb = get_embedder(base, name="all-MiniLM-L6-v2")
    original = STORY
    truncated = STORY.split(". ")[0] + ". " + STORY.split(". ")[1] + ".\n\n"
    reworded = ("After her husband died, Maria spent ten years living on her own and hardly went out. "
                "Through Homeshare she was matched with Tom, who took her spare room. "
                "These days she is at the market each week.\n\n")
    unrelated = ("Kwame runs a gardening club for young carers in Leeds. Kwame says the club gives them a "
                 "break and he has seen their confidence grow over the summer.\n\n")
    v = emb.encode([original, truncated, reworded, unrelated])
    t = NEAR_THRESHOLD["story"]
    assert float(v[0] @ v[1]) >= t and float(v[0] @ v[2]) >= t and float(v[0] @ v[3]) < t
    files = []
    for i, text in enumerate([original, truncated, reworded, unrelated]):
        files.append(tmp_path / f"d{i}.txt")
        files[-1].write_text(text, encoding="utf-8")
    r = extract(base, files, emb)
    assert len(r.stories) == 2 and sorted(len(c.occurrences) for c in r.stories) == [1, 3]
    assert {m["how"] for m in r.stories[0].merged} == {"near"}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("name,data,message", [
    ("empty.txt", b"", "the file is empty"),
    ("blank.txt", b"  \n\n ...\n", "has no text"),
    ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10, "binary file"),
    ("latin.txt", "Café de Maria, où on parle.".encode("latin-1"), "unknown text encoding"),
    ("bad16.txt", codecs.BOM_UTF16_LE + b"\x00\xd8", "not valid UTF-16"),
])
def test_bad_input_one_line_error(cli, base, tmp_path, name, data, message):
    f = _write(tmp_path, name, data)
    out = tmp_path / "review.yml"
    r = cli(["extract", f, "-o", out, "--root", base])
    assert r.exit_code == 1
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def test_large_file_refused_with_the_limit_option(cli, base, tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    r = cli(["extract", big, "-o", tmp_path / "r.yml", "--root", base])
    assert r.exit_code == 1 and "50.0 MB is over the 5 MB limit" in r.output and "--max-mb" in r.output
    small = _write(tmp_path, "s.txt", (STORY * 40).encode())
    r = cli(["extract", small, "-o", tmp_path / "r.yml", "--root", base, "--max-mb", "0.001"])
    assert r.exit_code == 1 and "over the 0.001 MB limit" in r.output


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_encodings_are_read(cli, base, tmp_path, encoding):
    f = _write(tmp_path, "u.txt", (STORY + FINDING).encode(encoding))
    r = cli(["extract", f, "-o", tmp_path / "r.yml", "--root", base, "--json"])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load((tmp_path / "r.yml").read_text(encoding="utf-8"))
    assert data["stories"][0]["people"][0] == "Maria"


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_review_round_trip(cli, base, tmp_path):
    doc = _write(tmp_path, "post.txt", ("Homeshare news\n\n" + STORY + FINDING).encode())
    review = tmp_path / "review.yml"
    before = _snapshot(base)
    r = cli(["extract", doc, "-o", review, "--root", base, "--json"])
    assert r.exit_code == 0, r.output
    assert _snapshot(base) == before, "extract must not change the evidence base"
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    assert all(c["keep"] is False for c in data["stories"] + data["findings"])
    assert {"consent", "consent_scope", "consent_wording"} <= set(data["stories"][0]["add"])
    # nothing kept: refused
    r = cli(["add", "--from-review", review, "--root", base])
    assert r.exit_code == 1 and "no candidate has keep: true" in r.output
    # kept without consent: refused, naming the candidate; nothing added
    data["stories"][0]["keep"] = True
    data["stories"][0]["add"]["title"] = "Maria and Tom"
    review.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    r = cli(["add", "--from-review", review, "--root", base])
    assert r.exit_code == 1 and r.output.strip().startswith("Error: ") and re.search(r"review\.yml:\d+: story-1: kept but add\.consent is empty", r.output)
    assert _snapshot(base) == before
    # consent filled, and a finding kept: both added through the usual validation
    data["stories"][0]["add"].update(consent="published-by-organisation", consent_scope="public",
                                     source_organisation="Homeshare UK")
    # extract guesses each person's role (issue 15); the curator corrects it
    assert data["stories"][0]["add"]["people"][0] == {"name": "Maria", "role": "person supported"}
    for p in data["stories"][0]["add"]["people"]:
        p["role"] = "person supported"
    f = next(c for c in data["findings"] if "212" in c["statement"])
    f["keep"] = True
    f["add"]["study"] = "poet-second-survey"
    review.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    r = cli(["add", "--from-review", review, "--root", base])
    assert r.exit_code == 0, r.output
    assert (base / "stories" / "maria-and-tom.md").exists()
    assert "212 householders" in (base / "findings" / "poet-second-survey.yml").read_text(encoding="utf-8")
    # a second run adds nothing twice: the candidates are marked added
    marked = yaml.safe_load(review.read_text(encoding="utf-8"))
    assert marked["stories"][0]["added"] == "maria-and-tom"
    after = _snapshot(base)
    r = cli(["add", "--from-review", review, "--root", base])
    assert r.exit_code == 0 and "added 0 story(ies)" in r.output, r.output
    assert _snapshot(base) == after


def test_approach_aliases_plurals_and_abbreviations(base):
    from evidence.content.parsers import parse_approach
    from evidence.enrich.nlp import approach_forms, load_nlp

    text = (ROOT / "approaches" / "local-area-coordination.yml").read_text(encoding="utf-8")
    assert parse_approach("approaches/local-area-coordination.yml", text).aliases == ["Local Area Coordinator", "LAC"]
    forms = approach_forms({"name": "Local Area Coordination", "aliases": ["Local Area Coordinator", "LAC"]})
    assert {"Local Area Coordinators", "LAC", "LACs"} <= set(forms)
    nlp = load_nlp(ROOT)
    doc = nlp("Local Area Coordinators (LACs) work with a Shared Lives carer and the Nidd Valley Homeshare scheme.")
    ents = {(e.text, e.label_, e.ent_id_) for e in doc.ents}
    assert ("Local Area Coordinators", "APPROACH", "local-area-coordination") in ents
    assert ("LACs", "APPROACH", "local-area-coordination") in ents
    assert any(e[1] == "APPROACH" and e[2] == "shared-lives" for e in ents)
    assert ("Nidd Valley Homeshare", "ORG", "") in ents
    assert list(doc.user_data["org_approaches"].values()) == ["homeshare"]


def test_organisations_and_places_as_documents_write_them():
    from evidence.enrich.nlp import load_nlp

    nlp = load_nlp(ROOT)
    doc = nlp("Calder Moor Council funds Roomfield Community Garden in Todmorden, near Friar Street. "
              "Over 2021 she spoke Welsh with staff from Exe Estuary Homeshare CIC.")
    ents = {(e.text, e.label_) for e in doc.ents}
    assert {("Calder Moor Council", "ORG"), ("Roomfield Community Garden", "ORG"), ("Todmorden", "PLACE"),
            ("Friar Street", "PLACE"), ("Exe Estuary Homeshare CIC", "ORG")} <= ents
    assert not any(t in ("Over", "Welsh") for t, _ in ents)


@pytest.mark.slow
def test_places_gazetteer_is_built_from_the_packages():
    from evidence.enrich.gazetteer import build_places

    listed = [x for x in (ROOT / "pipelines" / "places.txt").read_text(encoding="utf-8").splitlines() if not x.startswith("#")]
    assert listed == build_places(), "regenerate: python -m evidence.enrich.gazetteer pipelines/places.txt"


@pytest.mark.parametrize("name,data,message", [
    # a PDF made of plain ASCII has no NUL byte: it was read as text and gave 0 candidates
    ("report.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n", "is a PDF, not text"),
    ("notes.docx", b"PK\x03\x04" + b"word/document.xml" + b"\x00" * 30, "is a zip archive"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "an old Office document"),
    ("u16.txt", "Maria went to the lunch club every week with Tom.".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
])
def test_documents_that_are_not_text_are_named(cli, base, tmp_path, name, data, message):
    f = _write(tmp_path, name, data)
    out = tmp_path / "review.yml"
    r = cli(["extract", f, "-o", out, "--root", base])
    assert r.exit_code == 1 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not out.exists()


def test_a_folder_or_a_bad_size_limit_is_a_one_line_error(cli, base, tmp_path):
    (tmp_path / "docs").mkdir()
    r = cli(["extract", tmp_path / "docs", "-o", tmp_path / "r.yml", "--root", base])
    assert r.exit_code == 1 and "docs: is a folder" in r.output, r.output
    doc = _write(tmp_path, "post.txt", (STORY + FINDING).encode())
    for bad in ("nan", "0", "-2"):
        r = cli(["extract", doc, "-o", tmp_path / "r.yml", "--root", base, "--max-mb", bad])
        assert r.exit_code == 1 and "--max-mb" in r.output and "above 0" in r.output, (bad, r.output)
    assert not (tmp_path / "r.yml").exists()


@pytest.mark.parametrize("target", ["stories/agnes-and-lucia.md", "findings/new-study.yml",
                                    "findings/poet-second-survey.yml", "pipelines/frameworks/x.yml"])
def test_the_candidates_file_is_never_written_into_the_content_folders(cli, base, tmp_path, target):
    doc = _write(tmp_path, "post.txt", (STORY + FINDING).encode())
    before = _snapshot(base)
    r = cli(["extract", doc, "-o", base / target, "--root", base])
    assert r.exit_code == 1 and "where the build reads content files" in r.output, r.output
    assert _snapshot(base) == before  # the story or study it named is as it was


def test_an_existing_file_or_a_curators_decisions_are_not_overwritten(cli, base, tmp_path):
    doc = _write(tmp_path, "post.txt", (STORY + FINDING).encode())
    notes = tmp_path / "notes.yml"
    notes.write_text("my: notes\n", encoding="utf-8")
    r = cli(["extract", doc, "-o", notes, "--root", base])
    assert r.exit_code == 1 and "not a candidates file" in r.output
    assert notes.read_text(encoding="utf-8") == "my: notes\n"
    review = tmp_path / "review.yml"
    assert cli(["extract", doc, "-o", review, "--root", base]).exit_code == 0
    assert cli(["extract", doc, "-o", review, "--root", base]).exit_code == 0  # untouched: written again
    edited = review.read_text(encoding="utf-8").replace("keep: false", "keep: true", 1)
    review.write_text(edited, encoding="utf-8")
    r = cli(["extract", doc, "-o", review, "--root", base])
    assert r.exit_code == 1 and "holds your decisions (1 candidate(s)" in r.output, r.output
    assert review.read_text(encoding="utf-8") == edited
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = cli(["extract", doc, "-o", out_dir, "--root", base])
    assert r.exit_code == 1 and "is a folder" in r.output and ".tmp" not in r.output, r.output


def test_a_text_saved_as_one_long_line_is_cut_into_bounded_paragraphs():
    from evidence.curate.extract_input import MAX_PARAGRAPH, paragraphs

    line = "Maria went to the lunch club with Tom. " * 30_000  # 1.2 MB, no line break (a PDF export)
    paras = paragraphs(line)
    assert max(len(p) for p in paras) <= MAX_PARAGRAPH
    assert all(p.endswith("Tom.") for p in paras)  # cut at sentence ends
    assert " ".join(paras) == line.strip()  # nothing lost
    words = paragraphs("word " * 4_000)  # no sentence end at all: cut at spaces
    assert max(len(p) for p in words) <= MAX_PARAGRAPH and " ".join(words).split() == ["word"] * 4_000


@pytest.mark.slow
def test_extract_reads_a_document_that_is_one_line_over_spacys_limit(cli, base, tmp_path):
    """Over 1,000,000 characters in one line was an 'unexpected ValueError'
    (spaCy's E088: text longer than max_length)."""
    doc = _write(tmp_path, "export.txt", (("Edna, 88, was matched with a Homeshare companion. Edna now walks to the "
                                          "shops every week. ") * 9_000).encode())
    r = cli(["extract", doc, "-o", tmp_path / "r.yml", "--root", base])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((tmp_path / "r.yml").read_text(encoding="utf-8"))["stories"]


def test_plain_text_as_word_processors_and_reports_write_it():
    """Non-breaking spaces are spaces; a hard-wrapped line that happens to end
    a sentence is no paragraph end; a box's sides and rules are no text; a
    table's rows are read with their header's words as units."""
    from evidence.curate.extract_input import paragraphs

    text = ("Derek Holroyd spent 31\u00a0years down the pit and another ten driving buses.\r\n"
            "When depression hit after his wife died, he stopped answering the door and\r\n"
            "his nurse referred him to a Creative\u00a0Minds woodwork group in Goldthorpe.\r\n\r\n"
            "+--------------------------------------------------------------------+\n"
            "| CASE STUDY: JOAN                                                   |\n"
            "|                                                                    |\n"
            "| Joan Ellery is 79 and has cared for her son Martin, who has        |\n"
            "| cerebral palsy, for all of his 52 years. Joan joined our Tuesday   |\n"
            "| peer group in January and now helps run it.                         |\n"
            "+--------------------------------------------------------------------+\n\n"
            "  Service                      Carers supported   Hours of support\n"
            "  ---------------------------  -----------------  ----------------\n"
            "  One-to-one advice                    684              2,910\n"
            "  Carers' breaks                       311              6,220\n")
    paras = paragraphs(text)
    assert paras[0].startswith("Derek Holroyd spent 31 years") and paras[0].endswith("in Goldthorpe.")
    assert "Creative Minds" in paras[0] and "\u00a0" not in paras[0]
    assert "CASE STUDY: JOAN" in paras and not any("|" in p or "---" in p for p in paras), paras
    assert any(p.startswith("Joan Ellery is 79") and p.endswith("now helps run it.") for p in paras), paras
    assert "One-to-one advice: 684 carers supported, 2,910 hours of support." in paras
    assert "Carers' breaks: 311 carers supported, 6,220 hours of support." in paras


def test_an_html_tables_cells_stay_apart_and_a_caption_is_no_text(tmp_path, base):
    html = tmp_path / "figures.html"
    html.write_text("<h1>Our year</h1><figure><img src=x.jpg><figcaption>Rashida at the desk. Photo: Jon Price"
                    "</figcaption></figure><table><tr><th>Service</th><th>People supported</th></tr>"
                    "<tr><td>Befriending</td><td>212</td></tr></table>", encoding="utf-8")
    r = extract(base, [html], FakeEmbedder())
    [f] = r.findings
    assert f.text == "Befriending: 212 people supported." and f.fields["unit"] == "people"


def test_clock_times_file_sizes_and_conjunctions_are_no_figures_and_hours_given_are(tmp_path, base):
    doc = tmp_path / "notes.md"
    doc.write_text("- Warm spaces open weekdays from 10am to 4pm\n- Download the report (PDF, 2.1 MB)\n"
                   "- I was in bed by eight because that was when the last visit was\n"
                   "- 96 volunteers gave 5,300 hours\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    values = {(x["value"], x["unit"]) for c in r.findings for x in c.fields["numbers"]}
    assert values == {(96, "volunteers"), (5300, "hours")}, values


def test_names_that_are_also_words_languages_or_places_are_people(tmp_path, base):
    """'Rose' beside 'numbers rose', 'Shona' (a language), 'Townsend' (a
    place) are people when written as names; a place that is also a first
    name ('London SE1') is not a person, and a person's name is no place."""
    doc = tmp_path / "news.txt"
    doc.write_text("Rose Adebayo is 81 and lives alone in Peckham. Her nurse, Shona Reilly, visits weekly. "
                   "Rose now goes to a lunch club with Ivy Townsend, 88, who lives next door.\n\n"
                   "\"It is the best day of my week,\" Rose says. Her son Martin rings every Sunday.\n\n"
                   "Attendance at the club rose by 40% this year. Write to us at 10 Borough Road, London SE1 0AA.\n",
                   encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert story.fields["person"] == "Rose Adebayo"
    assert {"Shona Reilly", "Ivy Townsend", "Martin"} <= set(story.fields["people"]), story.fields["people"]
    assert "London" not in story.fields["people"] and not {"Townsend", "Martin"} & set(story.fields["places"]), story.fields


def test_a_family_carers_mum_is_the_person_and_a_guest_blogs_author_is_no_story(tmp_path, base):
    """'Mum' is the person a family carer writes about (her own introduction
    before Mum is named is the story's start); in someone's quoted speech it
    is not. The author a guest blog introduces is a by-line, not a story."""
    mum, guest = tmp_path / "mum.md", tmp_path / "guest.md"
    mum.write_text("# Mum's circle\n\nI'm writing this because I wish I had known sooner. I was the only person she saw.\n\n"
                   "Mum is 84 and has dementia, and I live an hour away. A facilitator called Bernie came to Mum's house and asked who she "
                   "used to see.\n\nNow Doreen comes on Wednesdays, and Mum sits at the allotment. "
                   "\"My Mum was lonely,\" Doreen said.\n", encoding="utf-8")
    guest.write_text("# Growing micro-enterprises\n\nThis is a guest blog from Simon Taylor, who supports our members. "
                     "Simon writes:\n\nMicro-enterprises are growing. I have seen 40 start this year in my own town.\n",
                     encoding="utf-8")
    r = extract(base, [mum, guest], FakeEmbedder())
    assert [c.fields["person"] for c in r.stories] == ["Mum"]
    assert r.stories[0].text.startswith("I'm writing this")
    assert r.stories[0].fields["people"] == ["Mum", "Bernie", "Doreen"] or set(r.stories[0].fields["people"]) == {"Mum", "Bernie", "Doreen"}


def test_a_couple_with_one_surname_and_a_street_number(tmp_path, base):
    """'Ruth and Owain Bevan' are Ruth Bevan and Owain Bevan (so 'Ruth' later
    is no third person); '10 Borough Road' in a footer is an address, no figure."""
    doc = tmp_path / "news.txt"
    doc.write_text("Dion Campbell moved in with Shared Lives carers Ruth and Owain Bevan in the spring. Dion now works "
                   "two days a week.\n\nRuth says Dion makes his own plans now.\n\n"
                   "South Bank Cares, 10 Borough Road, London SE1 0AA.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert story.fields["people"] == ["Dion Campbell", "Ruth Bevan", "Owain Bevan"], story.fields["people"]
    assert not any(x["value"] == 10 for c in r.findings for x in c.fields["numbers"])


def test_a_markdown_table_and_a_case_study_named_only_in_its_heading(tmp_path, base):
    """A Markdown table's rows are figures with the header's units; a case
    study whose heading names its person ('Bob's story') and whose text says
    only 'he' is Bob's story, not lost."""
    doc = tmp_path / "year.md"
    doc.write_text("# Our year\n\n| Service | People supported |\n|---|---:|\n| Befriending | 212 |\n\n## Bob's story\n\n"
                   "At 91, he is our oldest member. He stopped going out after his wife died. His neighbour brought "
                   "him to the lunch club, and he now comes every week.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    assert [(c.text, c.fields["unit"]) for c in r.findings] == [("Befriending: 212 people supported.", "people")]
    assert [c.fields["person"] for c in r.stories] == ["Bob"] and r.stories[0].text.startswith("At 91")


# ---------------------------------------------------------------------------
# Documents in the shapes of 26-37 (attack 8): each test names the fault it found

def test_a_pages_sidebar_and_navigation_are_no_stories_and_another_languages_paragraphs_are_left_out(tmp_path, base):
    """Related-stories teasers in a sidebar outside the article name other
    people ('Tang Hall' was proposed as a person); a fact box inside the
    article is kept; the Welsh half of a bilingual page (lang="cy", or
    Welsh prose in plain text) is no second story and no finding."""
    page = tmp_path / "page.html"
    page.write_text("""<!DOCTYPE html><html lang="cy"><body>
<nav><a href="/">Home</a> <a href="/stories">Stories by Bill Archer</a></nav>
<main><h1>Stories</h1>
<p lang="cy">Mae Gethin Pritchard yn 41 oed ac yn byw ar ei ben ei hun yn Llanrwst ers blynyddoedd.</p>
<p lang="en">Gethin Pritchard is 41 and lives alone in Llanrwst. He met a Local Area Coordinator at the repair café.</p>
<p lang="cy">Erbyn hyn mae Gethin yn rhedeg gweithdy beiciau bob dydd Sadwrn gyda dau wirfoddolwr arall.</p>
<p lang="en">Gethin now runs a bike workshop every Saturday. “I feel part of the place again,” Gethin says.</p>
<aside class="factbox"><p>This year our coordinators supported 287 people.</p></aside>
</main>
<aside><h2>Related stories</h2><ul><li><a href="/m">Maureen Tate on knitting</a><p>How a knitting circle in Tang Hall kept Maureen going after her operation.</p></li>
<li><p>Bill and Sunil have never met but talk every Thursday, and Bill says Sunil is his best friend.</p></li></ul></aside>
<div class="related-stories"><p>Margaret Hale says the café changed her life, and Margaret now goes every week.</p></div>
</body></html>""", encoding="utf-8")
    text = tmp_path / "bilingual.txt"
    text.write_text("Eleni bu ein chwe cydlynydd yn cefnogi dau gant wyth deg saith o bobl ar draws y sir.\n\n"
                    "This year our six coordinators supported 287 people across the county.\n", encoding="utf-8")
    r = extract(base, [page, text], FakeEmbedder())
    assert [c.fields["person"] for c in r.stories] == ["Gethin Pritchard"], [c.fields["people"] for c in r.stories]
    assert "Mae Gethin" not in r.stories[0].text and "Erbyn" not in r.stories[0].text
    assert [c.text for c in r.findings] == ["This year our coordinators supported 287 people.",
                                            "This year our six coordinators supported 287 people across the county."]


def test_a_pdf_exports_hyphenation_page_furniture_and_page_breaks(tmp_path, base):
    """A word hyphenated across lines is one word ('arrange-/ments' was read
    'arrange- ments' and its finding lost), a compound keeps its hyphen, a
    running footer and a page number are no text, and a paragraph broken by
    a page's end is one paragraph, so the story is one candidate."""
    doc = tmp_path / "report.txt"
    doc.write_text(
        "This year 64 people were supported in long-term arrange-\n"
        "ments and a further 23 people used our short breaks serv-\n"
        "ice, which is run with self-\nadvocates.\n\n"
        "Terry Gallagher is 52 and lived for nineteen years in a care home near Wake-\n"
        "field. He moved in with Shared Lives carers Bev and Errol Campbell in the\n\n\n"
        "Brookdale Shared Lives – Annual Report 2024-25                 Page 6\n\n\n"
        "spring, and now he has been to Blackpool twice with Errol and the grandchildren.\n\n"
        "\"I like it here,\" Terry says. \"I have my own key and I make the tea for everybody.\"\n\n\n"
        "Brookdale Shared Lives – Annual Report 2024-25                 Page 7\n\n"
        "Page 8 of 12\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert "Wakefield" in story.text and "in the spring, and now" in story.text, story.text
    assert "Page" not in story.text and "Annual Report" not in story.text
    assert story.fields["places"][:1] == ["Wakefield"] and "Blackpool" in story.fields["places"]
    [fig] = [c for c in r.findings if "64" in c.text]
    assert "long-term arrangements and a further 23 people used our short breaks service, which is run with self-advocates" in fig.text
    assert [(x["value"], x["unit"]) for x in fig.fields["numbers"]] == [(64, "people"), (23, "people")]


def test_a_word_exports_tracked_changes_and_comments_are_not_text(tmp_path, base):
    """Comment anchors ('Hicks.[MH1]' hid Morwenna Hicks's surname), the
    comments listed at the foot (which joined the story), deletions and
    insertions (pandoc's spans) read as the document now reads."""
    doc = tmp_path / "draft.txt"
    doc.write_text(
        "Daniel Trevithick set up his gardening round with our coordinator, Morwenna Hicks.[MH1] He had applied for "
        "jobs for four years[, and had almost given up]{.deletion author=\"Jago Pascoe\" date=\"2025-05-02T09:14:00Z\"}.\n\n"
        "Daniel now has [fourteen ]{.insertion author=\"Morwenna Hicks\"}regular customers. \"I'm my own boss,\" Daniel says.\n\n"
        "________________________________\n"
        "[MH1]Morwenna Hicks: Daniel has agreed to his name being used.\n"
        "[JP2]Jago Pascoe: check the villages with Daniel.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert story.fields["people"] == ["Daniel Trevithick", "Morwenna Hicks"], story.fields["people"]
    assert "[MH1]" not in story.text and "given up" not in story.text and "has fourteen regular customers" in story.text
    assert "Jago" not in story.text and "agreed" not in story.text


def test_a_name_given_after_who_the_person_is_is_a_person(tmp_path, base):
    """Names off the first-name list after 'his mum,', 'her boyfriend,',
    'daughter' were missed ('Lowenna Trevithick', 'Bartek', 'Siân')."""
    doc = tmp_path / "story.md"
    doc.write_text("Ivor Protheroe is 84 and lives in the lock cottage near Brecon. On Sundays her boyfriend, Bartek, "
                   "comes to lunch. Ivor's daughter Siân, who lives in Cardiff, rings less often now.\n\n"
                   "His mum, Lowenna Trevithick, says Ivor sounds happy. \"He answers the phone now,\" Ivor's friend said.\n",
                   encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert {"Bartek", "Siân", "Lowenna Trevithick"} <= set(story.fields["people"]), story.fields["people"]


def test_one_persons_long_story_split_by_an_aside_is_one_candidate(tmp_path, base):
    """A long read whose section on how the scheme works (three paragraphs
    naming nobody) came between two parts of Kieran's story gave two
    candidates, neither covering the story; two stories in a row about the
    same person are one."""
    doc = tmp_path / "long.md"
    body = ("# A year in Kieran's circle\n\n## Before\n\nKieran Fairclough was 23 when his mum heard about circles. "
            "He spent most days in his room.\n\nKieran met Norman at the model railway club, and he went back every week.\n\n"
            "## How circles work\n\nCircles have run since 2019. Each has a paid facilitator for eighteen months and "
            "meets about once a month.\n\nThe programme supported 38 circles last year, with an average of seven "
            "volunteers in each one of them.\n\nAn evaluation followed 31 people with circles over two years and found "
            "more contact with people outside the family.\n\n## A year on\n\nKieran started an apprenticeship in "
            "January. \"They're my people now,\" Kieran says.\n")
    doc.write_text(body, encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    assert len(r.stories) == 1, [c.text[:40] for c in r.stories]
    assert r.stories[0].text.startswith("Kieran Fairclough was 23") and r.stories[0].text.endswith("Kieran says.")


def test_two_documents_stories_that_share_only_a_volunteer_are_not_merged(tmp_path, base):
    """Two family carers' pieces that both mention a volunteer called Doreen
    were merged as one story told twice (the second document's story lost):
    a story told again names the person it is about."""
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    story = ("{p} was diagnosed with dementia four years ago and stopped going out. A volunteer called Doreen Ainsley "
             "sat with {p} at the memory café, and now {p} looks for Doreen as soon as we arrive. \"There's my friend,\" "
             "{p} says. The café runs on Saturday mornings with tea, cake and a sing-song.\n")
    a.write_text(story.format(p="Margaret"), encoding="utf-8")
    b.write_text(story.format(p="Winifred"), encoding="utf-8")
    r = extract(base, [a, b], _SameVectors())
    assert sorted(c.fields["person"] for c in r.stories) == ["Margaret", "Winifred"]


class _SameVectors:
    """An embedder for which every text is the same: only the rules keep stories apart."""
    model_id = "same"

    def encode(self, texts):
        import numpy as np
        v = np.zeros((len(texts), 4), dtype="float32")
        v[:, 0] = 1.0
        return v


def test_a_pronoun_and_where_someone_is_from_are_no_people(tmp_path, base):
    """'"He said ...," Jenny says' made 'He' a person; 'a nursing student from
    Kraków who' made Kraków one (while 'we heard from Debs who' is Debs); a
    month before an organisation ('Last November Ellis Vale Homeshare') is
    no part of its name."""
    doc = tmp_path / "story.md"
    doc.write_text("Last November Ellis Vale Homeshare matched Ivor Protheroe with Kasia Wrona, a nursing student from "
                   "Kraków who needed somewhere to live. \"He said it was for old people,\" Kasia says. \"He's lovely.\"\n\n"
                   "Ivor says Kasia reads him the paper. At the café we heard from Debs who talked about painting.\n",
                   encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert set(story.fields["people"]) == {"Ivor Protheroe", "Kasia Wrona", "Debs"}, story.fields["people"]
    assert story.fields["organisations"] == ["Ellis Vale Homeshare"]


def test_figures_in_reports_shapes_read_as_a_reader_reads_them(tmp_path, base):
    """Misreadings the new documents showed: '12 were' lost its unit,
    '312 older and disabled people' was 312 'older', "486 carer's
    assessments" 486 'carer', 'Label: 318' nothing, a table whose columns
    are quarters nothing at all, 'Quarter 2 Report' a figure of 2, a weekly
    or annual cost no period, "(156 carers responded)" a count, not the
    sample, "I'm 71 myself" a figure, 'All three agreed' 3 'agreed'."""
    doc = tmp_path / "q2.md"
    doc.write_text(
        "# Social Prescribing Service: Quarter 2 Report\n\n"
        "Of the 19 enterprises, 12 were still trading after a year.\n\n"
        "Together the 40 micro-enterprises now support 312 older and disabled people in their homes.\n\n"
        "In 2024-25 the Hub carried out 486 carer's assessments.\n\n"
        "Assessments completed on behalf of the local authority: 318 (full year target 600).\n\n"
        "| Measure | Q1 | Q2 | Target |\n|---|---|---|---|\n| Referrals received | 176 | 214 | 180 |\n\n"
        "The average weekly cost of a placement was £612. Benefits advice secured £684,000 in additional annual income.\n\n"
        "In the outcome survey (156 carers responded), 79% said they felt more able to continue caring.\n\n"
        "\"I'm 71 myself so it's not easy,\" she says. All three agreed to share their stories with us.\n",
        encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    read = {c.text: [(x["value"], x["unit"], x["period"]) for x in c.fields["numbers"]] for c in r.findings}
    assert read["Of the 19 enterprises, 12 were still trading after a year."] == [(19, "enterprises", ""), (12, "enterprises", "")]
    assert read["Together the 40 micro-enterprises now support 312 older and disabled people in their homes."][1][:2] == \
        (312, "older and disabled people")
    assert read["In 2024-25 the Hub carried out 486 carer's assessments."] == [(486, "carer's assessments", "")]
    assert read["Assessments completed on behalf of the local authority: 318 (full year target 600)."][0] == (318, "assessments", "")
    assert read["Referrals received: 176 referrals received (Q1), 214 referrals received (Q2), 180 referrals received (Target)."] == \
        [(176, "referrals", ""), (214, "referrals", ""), (180, "referrals", "")]
    assert read["The average weekly cost of a placement was £612."] == [(612, "GBP", "week")]
    assert read["Benefits advice secured £684,000 in additional annual income."] == [(684000, "GBP", "year")]
    [survey] = [c for c in r.findings if "79%" in c.text]
    assert survey.fields["sample_size"] == 156 and [x["value"] for x in survey.fields["numbers"]] == [79]
    assert not any("Quarter 2" in c.text or "71 myself" in c.text or "agreed" in c.text for c in r.findings), list(read)


def test_who_cares_for_whom_and_the_signer_of_a_first_person_piece(tmp_path, base):
    """A carer's story gave the carer 'person supported' and the wife she
    cares for 'family carer' (the kin word before her name); a narrator who
    says she is a carer is one; the name signing a first-person piece at its
    foot ('Geoff Ingram, Robin Hood's Bay') was lost, and the place after it
    proposed as people ('Robin Hood', 'Bay')."""
    news, piece = tmp_path / "news.md", tmp_path / "piece.md"
    news.write_text("Dennis Oldroyd cares for his wife Pat, who has Parkinson's. Dennis says the Monday calls from "
                    "Gillian Marsh, who cared for her own mother for ten years, keep him going.\n\n"
                    "Dennis now goes to the carers' coffee morning, and Pat comes along too.\n", encoding="utf-8")
    piece.write_text("When Margaret was diagnosed with Alzheimer's, I stopped taking her out. I didn't think of myself "
                     "as a carer then. I just did it.\n\nMargaret took to the café straight away, and I talk to the other "
                     "husbands while she sings.\n\nIf you are caring for someone, please find your nearest café. You don't "
                     "have to explain anything.\n\nGeoff Ingram, Robin Hood's Bay\n", encoding="utf-8")
    r = extract(base, [news, piece], FakeEmbedder())
    roles = {c.fields["person"]: {x["name"]: x["role"] for x in c.fields["roles"]} for c in r.stories}
    assert roles["Dennis Oldroyd"]["Dennis Oldroyd"] == "family carer" and roles["Dennis Oldroyd"]["Pat"] == "person supported"
    assert roles["Dennis Oldroyd"]["Gillian Marsh"] != "person supported"
    assert roles["Margaret"] == {"Margaret": "person supported", "Geoff Ingram": "family carer"}, roles
    assert r.stories[1].text.endswith("Geoff Ingram, Robin Hood's Bay")


def test_a_repeated_pull_quote_an_image_its_caption_and_a_credit_are_not_the_story(tmp_path, base):
    """A Markdown post's image ('![Photo of Ivor](...)' was read '!Photo of
    Ivor'), the italic caption under it and its photographer's credit, and
    a pull quote repeating the story's own words in the middle of it, were
    taken into the passage and its quotes."""
    doc = tmp_path / "post.md"
    doc.write_text("![Photo of Ivor and Kasia](/img/ivor.jpg)\n*Ivor and Kasia in the garden. Photo: Tom Reddy*\n\n"
                   "Ivor Protheroe is 84 and registered blind. \"I'd be in bed by seven just to make the day end,\" he says.\n\n"
                   "> \"I'd be in bed by seven just to make the day end.\"\n\n"
                   "Ivor was matched with Kasia Wrona, a nursing student, who now cooks with him on weeknights.\n",
                   encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert story.text.startswith("Ivor Protheroe is 84") and story.text.count("bed by seven") == 1, story.text
    assert "Tom Reddy" not in story.text and "!Photo" not in story.text


def test_a_profile_of_the_volunteer_after_the_story_she_is_in_is_her_own_story(tmp_path, base):
    """'## Kofi's story' after Harold's story (in which Kofi is his
    volunteer) was merged into Harold's, with Kofi as its person; a heading
    in title case ('Meet Linda') named nobody. Each is its own story, and the
    volunteer or Shared Lives carer it is about has that role."""
    doc = tmp_path / "two.md"
    doc.write_text("# Stories\n\n## Harold's story\n\nHarold Pickering is 88 and lives on his own in Haxby. After his wife "
                   "died he stopped going out.\n\nOur volunteer Kofi Asante has visited him every Wednesday since February, "
                   "and Harold now goes to the club on his own.\n\n\"Kofi got me back into it,\" Harold told us.\n\n"
                   "## Meet Kofi\n\nKofi Asante retired from the Royal Mail two years ago. He says he missed the people more "
                   "than the work.\n\nKofi signed up as a befriender after seeing a poster. \"I get as much out of it as "
                   "Harold does,\" he says.\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    assert [c.fields["person"] for c in r.stories] == ["Harold Pickering", "Kofi Asante"], [c.text[:30] for c in r.stories]
    assert r.stories[0].text.endswith("Harold told us.") and r.stories[1].text.startswith("Kofi Asante retired")
    assert r.stories[1].fields["roles"][0] == {"name": "Kofi Asante", "role": "volunteer"}


def test_a_two_column_pdf_page_exported_with_its_layout_reads_column_by_column(tmp_path, base):
    """pdftotext -layout puts a page's two columns side by side on each
    line; the story and its figures were read across the columns ('a keen
    The navigator service supported 412 gardener': 412 'gardener')."""
    left = ["Nadia Hussain is 67 and lives in Rochdale.", "After her husband died she stopped going",
            "to the market and rarely spoke to anyone.", "Her GP referred her to the navigator",
            "service, and Owen Pryce visited her.", "", "Owen found that Nadia had been a keen",
            "gardener, and she now goes to the allotment."]
    right = ['"I feel like myself again," Nadia says.', '"The women at the allotment are my', 'friends now."', "",
             "The navigator service supported 412", "people in Rochdale last year, and 68%",
             "of those asked said they felt less", "lonely after three months."]
    doc = tmp_path / "page.txt"
    doc.write_text("\n".join(f"{a:<48}      {b}".rstrip() for a, b in zip(left, right)) + "\n", encoding="utf-8")
    r = extract(base, [doc], FakeEmbedder())
    [story] = r.stories
    assert "Rochdale. After her husband died" in story.text and "keen gardener, and she" in story.text, story.text
    assert '"I feel like myself again," Nadia says. "The women at the allotment are my friends now."' in story.text
    [fig] = [c for c in r.findings if "412" in c.text]
    assert fig.text == "The navigator service supported 412 people in Rochdale last year, and 68% of those asked said they felt less lonely after three months."


def test_a_figure_takes_the_documents_approach_only_when_the_document_is_about_it(tmp_path, base):
    """A figure whose sentence and paragraph name no approach takes the
    document's only when the document is about it (named twice, or in its
    heading), not when one paragraph names it in passing."""
    passing = tmp_path / "passing.md"
    passing.write_text(
        "# Notes from the spring conference\n\n"
        "Speakers covered many things, from budgets to buses, and schemes such as Homeshare came up once.\n\n"
        "In the survey, 212 of 300 delegates (71%) said the day changed how they plan services.\n",
        encoding="utf-8")
    about = tmp_path / "about.md"
    about.write_text(
        "# Notes from the spring conference\n\n"
        "The day was about Homeshare. Homeshare matches people with a spare room with people who need a home.\n\n"
        "In the survey, 212 of 300 delegates (71%) said the day changed how they plan services.\n",
        encoding="utf-8")
    titled = tmp_path / "titled.md"
    titled.write_text(
        "# Homeshare: notes from the spring conference\n\n"
        "Speakers covered many things, from budgets to buses.\n\n"
        "In the survey, 212 of 300 delegates (71%) said the day changed how they plan services.\n",
        encoding="utf-8")
    got = {}
    for doc in (passing, about, titled):
        r = extract(base, [doc], FakeEmbedder())
        got[doc.stem] = next(c for c in r.findings if "212" in c.text).fields["approach"]
    assert got == {"passing": "", "about": "homeshare", "titled": "homeshare"}
