"""Codebooks other than the two shipped ones, and labelled data other than
the shipped corpus: the build and `evidence eval` must treat any codebook
the way they treat ASCOT (fake embedder). The codebook of
tests/codebooks/ is invented for these tests (tests/codebooks/README.md)."""
import json
import shutil
from pathlib import Path

import pytest

from evidence.build import build
from evidence.enrich import tagging
from evidence.enrich.nlp import load_nlp
from evidence.enrich.tagger import load_settings
from evidence.models.embedder import FakeEmbedder
from evidence.store.schema import open_db

HERE = Path(__file__).resolve().parent
CODEBOOKS = HERE / "codebooks"

# the same sentences, labelled for another framework: they say nothing
# about the domains of carer-wellbeing (whoever labelled them did not look)
OTHER_FRAMEWORK_ROWS = "".join(
    f"\"{text}\",ascot/social-participation-and-involvement\n" for text in [
        "She got a weekend off from caring and slept through the night.",
        "Someone sits with him on Thursdays so she can go out.",
        "For those hours she had an afternoon to herself.",
    ] * 12) + "".join(f"\"{text}\",ascot/food-and-drink\n" for text in [
        "He cooks his own meals now.", "A hot dinner every day.", "She makes her own breakfast."])
CARER_ROWS = """text,labels
She got a weekend off from caring and slept through the night.,carer-wellbeing/breathing-space
Someone sits with him on Thursdays so she can go out.,carer-wellbeing/breathing-space
For those hours she had an afternoon to herself.,carer-wellbeing/breathing-space
He gave up his job at the garage to care for her.,carer-wellbeing/money-and-job
She went back to work two mornings a week.,carer-wellbeing/money-and-job
Her son started college in September.,carer-wellbeing/money-and-job
The scheme is funded by the council.,
"""


def _with_carer_codebook(base: Path, training: dict[str, str]) -> Path:
    """The base with the carer-wellbeing codebook beside ASCOT and the
    community outcomes, and these training CSVs (name -> rows) listed in
    pipelines/tagging.yml instead of the shipped one."""
    shutil.copy(CODEBOOKS / "carer-wellbeing.yml", base / "pipelines" / "frameworks" / "carer-wellbeing.yml")
    for name, rows in training.items():
        (base / "pipelines" / "training" / name).write_text(rows, encoding="utf-8")
    settings = base / "pipelines" / "tagging.yml"
    text = settings.read_text(encoding="utf-8").split("training:")[0]
    settings.write_text(text + "training:\n" + "".join(f"  - pipelines/training/{n}\n" for n in training), encoding="utf-8")
    return base


def _classifier_probability(base: Path, key: str, text: str) -> float:
    db = open_db(base / "evidence.db")
    try:
        nlp = load_nlp(base)
        tagger, _ = tagging._tagger(db, base, FakeEmbedder(), nlp, load_settings(base))
        item, = tagger.analyse([nlp(text)])
        return float(item.classifier[0, tagger.index[key]])
    finally:
        db.close()


def test_a_training_csv_of_one_framework_is_no_negative_evidence_for_another(base: Path):
    """The rows of a CSV labelled for ASCOT say nothing about the domains of
    a codebook its coders never saw: they must not teach its classifier that
    these sentences are not evidence for them. Listing the shipped CSV
    beside a new codebook's own took `evidence eval` on the carer codebook
    from micro F1 0.40 to 0.03 (real model), and the build the same way."""
    _with_carer_codebook(base, {"ascot.csv": "text,labels\n" + OTHER_FRAMEWORK_ROWS, "carers.csv": CARER_ROWS})
    build(base)
    p = _classifier_probability(base, "carer-wellbeing/breathing-space", "Someone sits with him so she can go out.")
    assert p > 0.65, p  # 0.50 when the ASCOT rows counted as negatives
    # and the ASCOT rows still train ASCOT
    p = _classifier_probability(base, "ascot/social-participation-and-involvement", "Someone sits with him on Thursdays.")
    assert p > 0.5, p
    assert _classifier_probability(base, "ascot/food-and-drink", "Someone sits with him on Thursdays.") < 0.5


PETS = """name: pets
domains:
  - label: Cats
    examples: ["purring cat", "a kitten"]
  - label: Dogs
    examples: ["barking dog", "a puppy"]
"""
PETS_TRAIN = """text,labels
the cat purred on the sofa,Cats
a cat chased the kitten,Cats
our cat sleeps all day,Cats
a dog barked at the postman,Dogs
the dog fetched a stick,Dogs
walk the dog in the park,Dogs
"""


def test_eval_leaves_out_the_training_csv_of_another_codebook_beside_its_own(tmp_path, cli):
    """`evidence eval` without --train reads the CSVs tagging.yml lists; one
    that labels none of the codebook's domains (the shipped corpus, beside
    the CSV written for this codebook) is left out, not read as rows with
    no label of it (negatives for every domain)."""
    (tmp_path / "pets.yml").write_text(PETS, encoding="utf-8")
    (tmp_path / "test.csv").write_text("text,labels\na purring cat,Cats\nthe barking dog,Dogs\n", encoding="utf-8")
    root = tmp_path / "base"
    (root / "pipelines" / "training").mkdir(parents=True)
    (root / "pipelines" / "training" / "pets.csv").write_text(PETS_TRAIN, encoding="utf-8")
    other = "text,labels\n" + "".join(f"the cat and the dog {i},birds/garden-birds\n" for i in range(40))
    (root / "pipelines" / "training" / "birds.csv").write_text(other, encoding="utf-8")
    args = ["eval", "--codebook", tmp_path / "pets.yml", "--test", tmp_path / "test.csv", "--json", "--root", root]

    def run(files: list[str]) -> dict:
        (root / "pipelines" / "tagging.yml").write_text(
            "training:\n" + "".join(f"  - pipelines/training/{f}\n" for f in files), encoding="utf-8")
        r = cli(args)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    alone, both = run(["pets.csv"]), run(["birds.csv", "pets.csv"])
    assert both["setup"]["training"] == ["pipelines/training/pets.csv"]
    assert both["setup"]["train_texts"] == alone["setup"]["train_texts"] == 6
    assert both["per_label"] == alone["per_label"]


def test_a_fresh_build_trains_the_classifier_on_each_shipped_sentence_with_its_neighbours(built: Path):
    """The shipped training CSV says which story each sentence is of, so the
    build's classifier reads a sentence's neighbours beside it."""
    from evidence.enrich.tagger import LinearClassifier

    db = open_db(built / "evidence.db")
    try:
        stored = [LinearClassifier.from_bytes(bytes(r[0])) for r in db.execute("SELECT data FROM classifier_cache")]
    finally:
        db.close()
    assert stored and all(c is not None and c.dense_dim == 2 * FakeEmbedder.dim for c in stored)


def test_the_build_reads_a_training_csv_as_eval_does_labels_ids_and_keys(tmp_path):
    """A CSV written for `evidence eval --codebook` (labels or ids, not
    <framework>/<domain>) was refused when tagging.yml listed it; a label
    two loaded domains share names neither: an error asking for the key."""
    (tmp_path / "pipelines" / "training").mkdir(parents=True)
    path = tmp_path / "pipelines" / "training" / "t.csv"
    settings = load_settings(tmp_path)
    settings.training = ["pipelines/training/t.csv"]
    db = open_db(tmp_path / "w.db")
    db["frameworks"].insert_all([{"id": "carer-wellbeing"}, {"id": "home-life"}], pk="id")
    db["domains"].insert_all([
        {"id": "carer-wellbeing/breathing-space", "framework_id": "carer-wellbeing", "label": "Breathing space"},
        {"id": "carer-wellbeing/own-health", "framework_id": "carer-wellbeing", "label": "The carer's own health"},
        {"id": "home-life/own-health", "framework_id": "home-life", "label": "Staying well"}], pk="id")
    known = {r["id"] for r in db.query("SELECT id FROM domains")}
    path.write_text("text,labels\nShe had a weekend off.,Breathing space\n"
                    "He slept badly for months.,The carer's own health|staying well\n", encoding="utf-8")
    texts, pos, _, _, stories = tagging.training_examples(db, tmp_path, settings, known)
    assert pos == [["carer-wellbeing/breathing-space"], ["carer-wellbeing/own-health", "home-life/own-health"]]
    assert stories == ["", ""]  # no story column: each row stands alone
    # with one, rows of a story are neighbours: the same story name in another file is another story
    path.write_text("Text,Labels,Story\nShe had a weekend off.,Breathing space,ann\nIt helped.,,ann\nHe slept.,,\n",
                    encoding="utf-8")
    texts, _, _, _, stories = tagging.training_examples(db, tmp_path, settings, known)
    assert texts == ["She had a weekend off.", "It helped.", "He slept."]
    assert stories[0] == stories[1] != "" and stories[0].endswith("t.csv#ann") and stories[2] == ""
    path.write_text("text,labels\nHe slept badly for months.,own-health\n", encoding="utf-8")
    with pytest.raises(Exception) as err:
        tagging.training_examples(db, tmp_path, settings, known)
    assert "t.csv:2: the label 'own-health' names 2 domains (carer-wellbeing/own-health, home-life/own-health)" in str(err.value)
    db.close()


def test_eval_refuses_a_label_two_codebooks_share_instead_of_picking_the_first(tmp_path, cli):
    (tmp_path / "pets.yml").write_text(PETS, encoding="utf-8")
    (tmp_path / "farm.yml").write_text("name: farm\ndomains:\n  - label: Dogs\n    id: sheepdogs\n  - label: Sheep\n",
                                       encoding="utf-8")
    (tmp_path / "test.csv").write_text("text,labels\nthe barking dog,Dogs\na lamb in the field,farm/sheep\n", encoding="utf-8")
    r = cli(["eval", "--codebook", tmp_path / "pets.yml", "--codebook", tmp_path / "farm.yml", "--test",
             tmp_path / "test.csv", "--codebook-only"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert "test.csv:2: the label 'Dogs' names 2 domains (pets/dogs, farm/sheepdogs)" in r.output


@pytest.mark.parametrize("domains, line, message", [
    # a domain id a curator could never name: `evidence review` refused 'x/santé' ("did you mean 'x/santé'?")
    ("  - label: Own health\n    id: santé\n", 5, "domain id 'santé' must be lower-case letters and digits joined by '-'; "
                                                 "write 'id: sante'"),
    ("  - label: Rest\n    id: Breathing Space\n", 5, "write 'id: breathing-space'"),
    ("  - label: Work\n    id: work/study\n", 5, "write 'id: work-study'"),
    # a typo in a field name dropped the field without a word
    ("  - label: Rest\n    exmaples: [a weekend off]\n", 5, "unknown field 'exmaples' (did you mean 'examples'?)"),
    ("  - label: Rest\n    descripton: Time away.\n", 5, "unknown field 'descripton' (did you mean 'description'?)"),
    # text where text belongs: a list or a mapping became "['a', 'b']" or "{'text': ...}" anchors
    ("  - label: Rest\n    description:\n      - a break\n      - sleep\n", 5, "'description' must be text"),
    ("  - label: Rest\n    examples:\n      - {text: a weekend off}\n", 6, "each of 'examples' must be text"),
    ("  - label: Rest\n    examples: a weekend off\n", 5, "'examples' must be a list"),
    ("  - Label: Rest\n", 4, "unknown field 'Label' (did you mean 'label'?)"),
    ("  - Rest\n", 4, "each domain needs a 'label': write '- label: Rest'"),
])
def test_a_malformed_codebook_is_one_line_naming_the_file_line_and_field(tmp_path, cli, domains, line, message):
    cb = tmp_path / "cb.yml"
    cb.write_text("name: x\ndomains:\n  - label: Sleep\n" + domains, encoding="utf-8")
    (tmp_path / "t.csv").write_text("text,labels\nShe slept.,Sleep\n", encoding="utf-8")
    r = cli(["eval", "--codebook", cb, "--test", tmp_path / "t.csv", "--codebook-only"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"cb.yml:{line}: " in r.output and message in r.output, r.output


def test_a_codebook_name_with_no_latin_letters_is_refused_not_made_empty(tmp_path, cli):
    """'name: 福祉' became the framework id '' and keys '/休息'."""
    cb = tmp_path / "cb.yml"
    cb.write_text("name: 福祉\ndomains:\n  - label: 休息\n  - label: 健康\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("text,labels\nShe slept.,休息\n", encoding="utf-8")
    r = cli(["eval", "--codebook", cb, "--test", tmp_path / "t.csv", "--codebook-only"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert "cb.yml:1: " in r.output and "add 'id:'" in r.output, r.output
    cb.write_text("name: 福祉\nid: welfare\ndomains:\n  - label: 休息\n  - label: 健康\n", encoding="utf-8")
    r = cli(["eval", "--codebook", cb, "--test", tmp_path / "t.csv", "--codebook-only", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["setup"]["codebook"] == "welfare", r.output


def test_the_about_page_names_the_codebooks_the_base_loads(base: Path):
    """The about page said 'tagged by outcome domain (ASCOT and the
    universal community outcomes)' whatever pipelines/frameworks/ held."""
    from test_pages import get

    for name in ("ascot.yml", "community-outcomes.yml"):
        (base / "pipelines" / "frameworks" / name).unlink()
    _with_carer_codebook(base, {"carers.csv": CARER_ROWS})
    build(base)
    page, = get(base, "/-/about")
    assert page.status_code == 200
    assert "A family carer&#39;s own wellbeing" in page.text or "A family carer's own wellbeing" in page.text
    assert "ASCOT" not in page.text


def test_a_curators_decision_teaches_only_the_framework_of_its_domain(base: Path, cli):
    """A curator who confirms a carer-wellbeing tag on a sentence judged that
    codebook's domains there, not ASCOT's: the sentence was a negative
    example for every ASCOT domain, as the rows of another codebook's CSV
    were."""
    _with_carer_codebook(base, {"carers.csv": CARER_ROWS})
    build(base)
    r = cli(["review", "agnes-and-lucia", "carer-wellbeing/own-health", "--confirm", "--sentence",
             "Agnes felt that isolation.", "--root", base])
    assert r.exit_code == 0, r.output
    db = open_db(base / "evidence.db")
    try:
        known = {r["id"] for r in db.query("SELECT id FROM domains")}
        texts, pos, neg, scope, _ = tagging.training_examples(db, base, load_settings(base), known)
    finally:
        db.close()
    row = texts.index("Agnes felt that isolation.")
    assert pos[row] == ["carer-wellbeing/own-health"]
    assert scope[row] == {k for k in known if k.startswith("carer-wellbeing/")}


def test_a_codebooks_own_lists_under_a_plural_field_name_are_kept_out_not_refused(tmp_path, cli):
    """A codebook brought from elsewhere may list its sources or a domain's
    other labels ('sources:', 'labels:'); those are its own, not typos of
    'source' or 'label' (a single 'exmaple' still is)."""
    cb = tmp_path / "cb.yml"
    cb.write_text("name: x\nsources:\n  - A survey of carers, 2024\n  - Focus groups\ndomains:\n"
                  "  - label: Sleep\n    labels: [rest, a night's sleep]\n  - label: Money\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("text,labels\nShe slept well at last.,Sleep\nThe bills were paid.,Money\n",
                                    encoding="utf-8")
    r = cli(["eval", "--codebook", cb, "--test", tmp_path / "t.csv", "--codebook-only", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["setup"]["codebook"] == "x"
    cb.write_text("name: x\ndomains:\n  - label: Sleep\n    exmaple: [rest]\n", encoding="utf-8")
    r = cli(["eval", "--codebook", cb, "--test", tmp_path / "t.csv", "--codebook-only"])
    assert r.exit_code == 1 and "did you mean 'examples'?" in r.output, r.output
