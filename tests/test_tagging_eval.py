"""`evidence eval` on a small labelled fixture with known answers."""
import json
from pathlib import Path

import numpy as np
import pytest

from evidence.enrich.evaluate import scores, split_validation

CODEBOOK = """\
name: pets
domains:
  - label: Cats
    theme: animals          # extra keys are ignored
    examples: ["purring cat", "a kitten"]
  - label: Dogs
    id: dogs
    description: Dogs and puppies.
    examples: ["barking dog", "a puppy"]
  - label: Fish
    examples: ["goldfish bowl", "aquarium"]
"""
TRAIN = """text,labels
the cat purred on the sofa,Cats
a cat chased the kitten,Cats
our cat sleeps all day,Cats
the cat and the kitten played,Cats
a dog barked at the postman,Dogs
the dog fetched a stick,Dogs
walk the dog in the park,dogs
the puppy and the dog ran,Dogs
goldfish swim in the bowl,Fish
feed the goldfish daily,Fish
a goldfish in the aquarium,Fish
clean the aquarium for the goldfish,Fish
"""
TEST = """text,labels
"a purring cat, and a kitten",Cats
the barking dog wanted a walk,Dogs
an aquarium and a goldfish bowl,Fish
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in {"codebook.yml": CODEBOOK, "train.csv": TRAIN, "test.csv": TEST}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        out[name] = tmp_path / name
    return out


def test_eval_json_with_training_data_has_known_answers(files, cli):
    r = cli(["eval", "--codebook", files["codebook.yml"], "--train", files["train.csv"], "--test", files["test.csv"], "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) >= {"macro_f1", "micro_f1", "per_label", "baseline"}
    assert data["macro_f1"] == data["micro_f1"] == 1.0
    assert data["per_label"] == {lab: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1} for lab in ("Cats", "Dogs", "Fish")}
    assert data["baseline"]["macro_f1"] == data["baseline"]["micro_f1"] == 1.0
    assert data["setup"]["train_texts"] == 12 and data["setup"]["max_labels"] == 1  # single-label data: one label each


def test_eval_codebook_only_and_table_output(files, cli):
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"]])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "precision  recall     f1  support" in out
    assert "tagger:   macro F1 1.000  micro F1 1.000" in out  # every test text contains a codebook phrase
    assert "baseline: macro F1" in out and "TF-IDF + LinearSVC" in out


def test_metrics_by_hand():
    gold = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    pred = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], dtype=bool)
    m = scores(gold, pred, ["a", "b"])
    # a: tp 1, fp 1, fn 1 -> p .5 r .5 f .5; b: tp 1, fp 1, fn 0 -> p .5 r 1 f .6667
    assert m["per_label"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_label"]["b"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-4)
    assert m["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1), abs=1e-4)


def test_validation_slice_comes_from_training_rows_only():
    labels = [["a"]] * 10 + [["b"]] * 5 + [["c"]]
    fit, val = split_validation(labels)
    assert sorted(fit + val) == list(range(16)) and not set(fit) & set(val)
    assert sum(1 for i in val if labels[i] == ["a"]) == 2 and sum(1 for i in val if labels[i] == ["b"]) == 1
    assert 15 in fit  # a label with one example keeps it for training


@pytest.mark.parametrize("content, message", [
    ("text,tags\nhello,Cats\n", "has no 'labels' column"),
    ("words,labels\nhello,Cats\n", "has no 'text' column"),
    ("", "is empty"),
    ("text,labels\n", "has no rows with text"),
    ("text,labels\na cat,Catz\n", "test.csv:2: unknown label 'Catz' (did you mean 'Cats'?)"),
])
def test_bad_test_files_are_refused_with_one_line(files, cli, content, message):
    _eval_refuses(files, cli, content, message)


def _eval_refuses(files, cli, content: str, message: str) -> None:
    """`evidence eval` on a test CSV holding `content`: exit 1 and one line
    with `message`, no traceback."""
    files["test.csv"].write_text(content, encoding="utf-8")
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"]])
    assert r.exit_code == 1, r.output
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output and "unexpected" not in r.output


def test_missing_files_and_bad_codebooks(files, cli, tmp_path):
    r = cli(["eval", "--codebook", tmp_path / "nope.yml", "--test", files["test.csv"]])
    assert r.exit_code == 1 and "codebook not found" in r.output
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", tmp_path / "nope.csv"])
    assert r.exit_code == 1 and "test file not found" in r.output
    (tmp_path / "bad.yml").write_text("name: x\ndomains: []\n", encoding="utf-8")
    r = cli(["eval", "--codebook", tmp_path / "bad.yml", "--test", files["test.csv"]])
    assert r.exit_code == 1 and "needs 'domains:'" in r.output


def test_a_test_set_with_unlabelled_texts_under_the_default_minimum_gets_a_note(files, cli):
    """With no training data eval gives every text at least one label; when
    the test set has texts with none, it says so and how to change it."""
    files["test.csv"].write_text(TEST + "the report came out in May,\n", encoding="utf-8")
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--codebook-only"])
    assert r.exit_code == 0, r.output
    assert "note: 1 of the 4 test texts have no label" in r.stderr and "--min-labels 0" in r.stderr
    data = json.loads(cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"],
                           "--codebook-only", "--json", "-q"]).stdout)
    assert len(data["notes"]) == 1
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--codebook-only",
             "--min-labels", "0"])
    assert r.exit_code == 0 and "note:" not in r.stderr


def test_multi_label_with_two_codebooks(tmp_path, cli):
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "t.csv").write_text(
        "text,labels\nShe made new friends at the club and got a job.,ascot/social-participation-and-involvement|ascot/occupation|community-outcomes/more-connected\n"
        "The report was published in 2017.,\n", encoding="utf-8")
    r = cli(["eval", "--codebook", root / "pipelines/frameworks/ascot.yml", "--codebook", root / "pipelines/frameworks/community-outcomes.yml",
             "--test", tmp_path / "t.csv", "--min-labels", "0", "--json", "--codebook-only"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["setup"]["train_texts"] == 0 and data["setup"]["training"] is None
    assert data["per_label"]["ascot/occupation"]["support"] == 1
    assert data["per_label"]["ascot/social-participation-and-involvement"]["recall"] == 1.0  # 'made new friends' is a codebook phrase
    assert data["setup"]["labels"] == 11


def _base_with_training(tmp_path: Path, rows: str) -> Path:
    """An evidence base whose pipelines/tagging.yml lists one training CSV."""
    root = tmp_path / "base"
    (root / "pipelines" / "training").mkdir(parents=True)
    (root / "pipelines" / "tagging.yml").write_text("training:\n  - pipelines/training/pets.csv\n", encoding="utf-8")
    (root / "pipelines" / "training" / "pets.csv").write_text(rows, encoding="utf-8")
    return root


def test_eval_without_train_measures_the_tagger_the_build_trains(files, cli, tmp_path):
    """No --train: the training CSVs of ROOT's tagging.yml, as the build
    uses them; a label of another codebook there is left out, not an error."""
    root = _base_with_training(tmp_path, TRAIN + "a parrot on a perch,Birds\n")
    args = ["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--json", "--root", root]
    data = json.loads(cli(args).stdout)
    assert data["setup"]["training"] == ["pipelines/training/pets.csv"]
    assert data["setup"]["train_texts"] == 13 and data["setup"]["classifier_labels"] == 3
    assert data["setup"]["min_labels"] == 0  # the parrot row has no label of this codebook
    assert data["setup"]["weights"] == {"rule": 0.25, "embedding": 1.0, "classifier": 1.0}  # tagging.yml's, not re-tuned
    only = json.loads(cli(args + ["--codebook-only"]).stdout)
    assert only["setup"]["train_texts"] == 0 and only["setup"]["training"] is None and only["setup"]["classifier_labels"] == 0
    table = cli(args[:-3] + ["--root", root])
    assert table.exit_code == 0 and "13 training texts (the build's pipelines/training/pets.csv)" in table.stdout


def test_eval_ignores_training_data_of_another_codebook(files, cli, tmp_path):
    root = _base_with_training(tmp_path, "text,labels\na parrot on a perch,Birds\nthe hawk flew,Birds\nan owl at night,Birds\n")
    data = json.loads(cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--json",
                           "--root", root]).stdout)
    assert data["setup"]["train_texts"] == 0 and data["setup"]["training"] is None


def test_train_and_codebook_only_together_are_refused(files, cli):
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--train", files["train.csv"],
             "--codebook-only"])
    assert r.exit_code == 1 and "--codebook-only" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    # labels written comma-separated without quotes: the second label would be dropped silently
    ("text,labels\nthe barking dog,Dogs,Cats\n", "test.csv:2: the row has 3 fields but the header has 2"),
    # a quote left open swallows every row after it into one text with no labels
    ('text,labels\n"a purring cat,Cats\nthe barking dog,Dogs\n', "test.csv:2: the row has 1 field(s) but the header has 2"),
    ("text,labels\na purring cat\nthe barking dog,Dogs\n", "test.csv:2: the row has 1 field(s)"),
    # which of two 'labels' columns counts is not guessed
    ("text,labels,labels\na purring cat,Cats,Dogs\n", "test.csv:1: the column 'labels' appears twice"),
    # a labelled row whose text is missing is not skipped silently
    ("text,labels\n,Cats\nthe barking dog,Dogs\n", "test.csv:2: the row has labels but no text"),
    # a spreadsheet saved with semicolons: say so
    ("text;labels\na purring cat;Cats\n", "separated by semicolons: save it with commas"),
    ('text,labels\na purring cat,"Cats,Dogs"\n', "test.csv:2: unknown label 'Cats,Dogs'; separate several labels with '|'"),
])
def test_malformed_csv_rows_are_refused_not_guessed(files, cli, content, message):
    _eval_refuses(files, cli, content, message)


def test_csv_row_line_numbers_count_quoted_line_breaks_and_blank_lines(files, cli):
    files["test.csv"].write_text('text,labels\n\n"a purring cat\nand a kitten",Cats\n\nthe dog,Dgos\n', encoding="utf-8")
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"]])
    assert r.exit_code == 1 and "test.csv:6: unknown label 'Dgos'" in r.output, r.output


def test_header_names_are_read_as_people_write_them(files, cli):
    files["test.csv"].write_text(TEST.replace("text,labels", "Text, Labels "), encoding="utf-8")
    r = cli(["eval", "--codebook", files["codebook.yml"], "--train", files["train.csv"], "--test", files["test.csv"], "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["per_label"]["Dogs"]["support"] == 1


def test_a_label_shared_by_two_domains_names_the_codebook(files, cli):
    files["codebook.yml"].write_text(CODEBOOK.replace("label: Dogs", "label: Cats"), encoding="utf-8")  # ids cats, dogs
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"]])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert f"{files['codebook.yml']}: the domain 'dogs' has the label 'Cats'" in r.output, r.output


def test_min_labels_above_the_number_of_labels_is_refused(files, cli):
    """--min-labels 5 with a 3-label codebook gave every text every label and printed scores."""
    r = cli(["eval", "--codebook", files["codebook.yml"], "--test", files["test.csv"], "--min-labels", "5"])
    assert r.exit_code == 1 and "--min-labels 5 is more than the 3 labels" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_small_training_set_is_tuned_on_all_its_texts_out_of_fold(files, cli):
    """With 12 training texts the combination was tuned on a slice of 3 (one
    per label); now every training text is scored by a classifier fitted
    without it, and the tuning sees all 12."""
    r = cli(["eval", "--codebook", files["codebook.yml"], "--train", files["train.csv"], "--test", files["test.csv"], "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["setup"]["validation_texts"] == 12
