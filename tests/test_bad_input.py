"""Input that is refused, not guessed (issue 11, item 7): each attack gives a
one-line error naming the file, the line and the field, exit 1, and nothing
already stored changes; generated input never gives an "unexpected" error."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.content.parsers import parse_approach, parse_story, parse_study
from evidence.content.records import Vocabulary
from evidence.errors import EvidenceError, ValidationError
from evidence.store import rows
from evidence.store import schema as store
from evidence.store.writes import upsert
from storyfiles import story_text, write_story

ROOT = Path(__file__).resolve().parent.parent
VOCAB = Vocabulary(approaches={p.stem for p in (ROOT / "approaches").glob("*.yml")},
                   areas={"community-capacity", "prevention", "personalised-support", "housing", "workforce"})


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "unexpected" not in lines[0].lower() and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _public_ids(base: Path) -> set[str]:
    conn = sqlite3.connect(base / "public.db")
    try:
        return {r[0] for r in conn.execute("SELECT id FROM stories")}
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# YAML: duplicate keys, status, impossible values


def test_a_duplicate_consent_scope_is_refused_not_last_wins(built: Path, cli):
    text = story_text("two-scopes", consent={"basis": "given-by-person"}).replace(
        "  basis: given-by-person\n",
        "  basis: given-by-person\n  scope: research\n  scope: public\n  identity: named\n  date: 2026-01-02\n"
        "  recorded_by: c\n  wording: w\n")
    (built / "stories" / "two-scopes.md").write_text(text)
    line = _one_line_error(cli(["build", "--root", built]), "stories/two-scopes.md:", "'scope'", "twice")
    n = int(re.search(r"\.md:(\d+):", line).group(1))
    assert text.split("\n")[n - 1].strip() == "scope: public"  # the line of the second key
    assert "two-scopes" not in _public_ids(built)


@pytest.mark.parametrize("where", ["top", "people", "source", "finding"])
def test_duplicate_keys_anywhere_are_refused(where):
    if where == "finding":
        text = (ROOT / "findings" / "poet-second-survey.yml").read_text()
        text = text.replace("\n  - id: ", "\n  - statement: doubled\n    id: ", 1)
        # the first finding now holds 'statement' twice
        with pytest.raises(ValidationError, match="'statement' appears twice"):
            parse_study("findings/poet-second-survey.yml", text, VOCAB)
        return
    text = story_text("dup")
    text = {"top": text.replace("place: Testtown\n", "place: Testtown\nplace: Elsewhere\n"),
            "people": text.replace("  role: person supported\n", "  role: person supported\n  role: carer\n"),
            "source": text.replace("  title: Test source\n", "  title: Test source\n  title: Other\n")}[where]
    with pytest.raises(ValidationError, match=r"stories/dup.md:\d+: key '\w+' appears twice"):
        parse_story("stories/dup.md", text, VOCAB)


@pytest.mark.parametrize("status_line", ["", "status:\n", "status: null\n", "status: ~\n"])
def test_a_missing_or_null_status_is_an_error(status_line):
    text = story_text("no-status").replace("status: published\n", status_line)
    with pytest.raises(ValidationError, match="needs 'status:'"):
        parse_story("stories/no-status.md", text, VOCAB)


def _with_date(text: str, field: str, value: str) -> str:
    """A test story's text with `value` as its consent date, added date or
    source date (`field`: consent_date, added, source_date)."""
    if field == "consent_date":
        text = text.replace("  date: '2026-01-02'\n", f"  date: {value}\n")
    elif field == "added":
        text = text.replace("added: '2026-01-02'\n", f"added: {value}\n")
    else:
        text = text.replace("source:\n", f"source:\n  date: {value}\n")
    assert value in text
    return text


@pytest.mark.parametrize("field,value,needle", [
    ("added", "2026-13-45", "'added'"),
    ("added", "2026-02-30", "'added'"),
    ("consent_date", "2026-00-10", "'date'"),
])
def test_an_impossible_date_names_file_line_and_field(built: Path, cli, field, value, needle):
    text = _with_date(story_text("bad-date"), field, value)
    (built / "stories" / "bad-date.md").write_text(text)
    line = _one_line_error(cli(["build", "--root", built]), "stories/bad-date.md:", needle, value)
    n = int(re.search(r"\.md:(\d+):", line).group(1))
    assert value in text.split("\n")[n - 1]


@pytest.mark.parametrize("field,value", [
    ("consent_date", "20260102"),          # a number (Python's fromisoformat takes it)
    ("consent_date", "'20260102'"),
    ("consent_date", "2026-W01-5"),        # an ISO week date
    ("added", "2026-01-02T10:30:00"),      # a date and a time
    ("added", "2026-01-02 10:30"),
    ("source_date", "2026-02-30"),         # quoted, as `evidence add --source-date` writes it
    ("source_date", "'2026-02-30'"),
    ("source_date", "2019-13"),
    ("source_date", "March 2019"),
])
def test_a_date_not_written_yyyy_mm_dd_is_refused_not_stored_as_written(built: Path, cli, field, value):
    """Each of these was stored as written (a consent date 20260102 published
    the story); now a one-line error names the file, the line and the field."""
    text = _with_date(story_text("odd-date"), field, value)
    (built / "stories" / "odd-date.md").write_text(text)
    line = _one_line_error(cli(["build", "--root", built]), "stories/odd-date.md:", "'date'" if "date" in field[1:] else "'added'")
    assert "YYYY" in line
    n = int(re.search(r"\.md:(\d+):", line).group(1))
    assert value in text.split("\n")[n - 1]
    assert "odd-date" not in _public_ids(built)


@pytest.mark.parametrize("value", ["2019", "2019-03", "2019-03-12", "''"])
def test_a_source_date_may_be_a_year_or_a_month(built: Path, cli, value):
    (built / "stories" / "dated.md").write_text(story_text("dated").replace("source:\n", f"source:\n  date: {value}\n"))
    r = cli(["build", "--root", built])
    assert r.exit_code == 0, r.output
    assert "dated" in _public_ids(built)


@pytest.mark.parametrize("field,value,needle", [
    ("sample_size", "1.0e+30", "sample_size"),
    ("sample_size", "1e30", "sample_size"),
    ("sample_size", "-5", "sample_size"),
    ("year", "12345678901234567890", "year"),
    ("year", ".nan", "year"),
    ("value", ".inf", "value"),
    ("value", "-.Inf", "value"),
    ("value", ".NaN", "value"),
])
def test_impossible_numbers_are_refused(built: Path, cli, field, value, needle):
    path = built / "findings" / "poet-second-survey.yml"
    before = sqlite3.connect(built / "evidence.db").execute("SELECT count(*) FROM findings").fetchone()[0]
    text = path.read_text()
    first = text.index("\n  - id: ")
    text = text[:first] + f"\n  - {field}: {value}\n    id: " + text[first + len("\n  - id: "):]
    if field == "value":
        text = text.replace(f"  - {field}: {value}\n", f"  - {field}: {value}\n    unit: people\n")
    path.write_text(text)
    _one_line_error(cli(["build", "--root", built]), "findings/poet-second-survey.yml:", needle)
    after = sqlite3.connect(built / "evidence.db").execute("SELECT count(*) FROM findings").fetchone()[0]
    assert after == before


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u2066"])
def test_control_characters_are_refused_in_fields_and_narrative(char):
    code = f"U+{ord(char):04X}"
    text = story_text("ctl", title="A title").replace("title: A title", f'title: "A {char.encode("unicode_escape").decode()} title"')
    with pytest.raises(ValidationError, match=re.escape(f"'title' holds the control character {code}")):
        parse_story("stories/ctl.md", text, VOCAB)
    body = story_text("ctl", body=f"Line one.\nLine two {char} here.")
    with pytest.raises(ValidationError) as err:
        parse_story("stories/ctl.md", body, VOCAB)
    assert code in str(err.value) and "narrative" in str(err.value)
    assert err.value.line == body.split("\n").index(f"Line two {char} here.") + 1


@pytest.mark.parametrize("field,url", [
    ("study", "javascript:alert(1)"), ("study", "JaVaScRiPt:alert(document.domain)"),
    ("study", " javascript:alert(1)"), ("study", "data:text/html;base64,PHNjcmlwdD4="),
    ("study", "vbscript:msgbox"), ("study", "java\tscript:alert(1)"), ("study", "//evil.example/x"),
    ("approach", "javascript:alert(1)"), ("approach", "file:///etc/passwd"),
    ("story", "javascript:alert(1)"), ("story", "https://exa mple.org"), ("story", "http:alert(1)"),
])
def test_url_fields_allow_only_http_https_and_mailto(field, url):
    if field == "study":
        data = yaml.safe_load((ROOT / "findings" / "poet-second-survey.yml").read_text())
        data["url"] = url
        with pytest.raises(ValidationError, match="'url' is .*http://, https:// or mailto:"):
            parse_study("findings/poet-second-survey.yml", yaml.safe_dump(data), VOCAB)
    elif field == "approach":
        data = yaml.safe_load((ROOT / "approaches" / "homeshare.yml").read_text())
        data["website"] = url
        with pytest.raises(ValidationError, match="'website' is"):
            parse_approach("approaches/homeshare.yml", yaml.safe_dump(data), VOCAB)
    else:
        text = story_text("u", source={"title": "T", "organisation": "O", "url": url})
        with pytest.raises(ValidationError, match=r"stories/u.md:\d+: 'url' is"):
            parse_story("stories/u.md", text, VOCAB)


@pytest.mark.parametrize("url", ["https://example.org/a?b=c#d", "http://example.org", "mailto:team@example.org",
                                 "HTTPS://EXAMPLE.ORG/"])
def test_good_urls_pass(url):
    text = story_text("u", source={"title": "T", "organisation": "O", "url": url})
    assert parse_story("stories/u.md", text, VOCAB).source.url == url


# ---------------------------------------------------------------------------
# Files: names, sizes, ids


def test_an_upper_case_md_story_is_not_skipped_silently(built: Path, cli):
    write_story(built, "shouty")
    (built / "stories" / "shouty.md").rename(built / "stories" / "shouty.MD")
    _one_line_error(cli(["build", "--root", built]), "stories/shouty.MD", "shouty.md")


def test_a_yaml_extension_is_not_skipped_silently(built: Path, cli):
    src = built / "findings" / "poet-second-survey.yml"
    src.rename(built / "findings" / "poet-second-survey.yaml")
    _one_line_error(cli(["build", "--root", built]), "findings/poet-second-survey.yaml", ".yml")


def test_a_finding_id_equal_to_a_story_id_is_refused(built: Path, cli):
    path = built / "findings" / "poet-second-survey.yml"
    text = path.read_text()
    data = yaml.safe_load(text)
    old = data["findings"][0]["id"]
    path.write_text(text.replace(f"id: {old}\n", "id: james-and-andy\n", 1))
    _one_line_error(cli(["build", "--root", built]), "findings/poet-second-survey.yml", "james-and-andy", "story")
    assert "james-and-andy" in _public_ids(built)


def test_a_story_id_equal_to_a_finding_id_is_refused(built: Path, cli):
    fid = yaml.safe_load((built / "findings" / "poet-second-survey.yml").read_text())["findings"][0]["id"]
    write_story(built, fid)
    _one_line_error(cli(["build", "--root", built]), f"stories/{fid}.md", "finding")


@pytest.mark.slow  # a large-corpus test: parses a 100,000-finding file (tens of seconds on 2 cores)
def test_a_huge_findings_file_is_refused_fast_and_the_limit_can_be_raised(built: Path, cli):
    head = "id: huge\ntitle: Huge\norganisation: O\nfindings:\n"
    item = "  - id: f-{0}\n    statement: Statement number {0} about support.\n"
    (built / "findings" / "huge.yml").write_text(head + "".join(item.format(i) for i in range(100_000)))
    start = time.perf_counter()
    _one_line_error(cli(["build", "--root", built]), "findings/huge.yml", "max_yaml_bytes")
    assert time.perf_counter() - start < 5
    (built / "pipelines" / "limits.yml").write_text("max_yaml_bytes: 50000000\n")
    start = time.perf_counter()
    _one_line_error(cli(["build", "--root", built]), "findings/huge.yml", "max_findings_per_file")
    assert time.perf_counter() - start < 60  # counted before the findings are parsed one by one


def test_a_story_over_the_size_limit_is_refused_and_the_limit_can_be_raised(built: Path, cli):
    write_story(built, "very-long", body="A sentence about support. " * 45_000)  # ~1.2 MB: spaCy's E088 before
    _one_line_error(cli(["build", "--root", built]), "stories/very-long.md", "max_story_bytes")
    (built / "pipelines" / "limits.yml").write_text("max_story_bytes: 2000000\n")
    from evidence.enrich.nlp import load_nlp

    assert load_nlp(built).max_length > 2_000_000  # the pipeline follows the setting (no E088)


def test_bad_limits_settings_are_refused(built: Path, cli):
    (built / "pipelines" / "limits.yml").write_text("max_story_bytes: lots\n")
    _one_line_error(cli(["build", "--root", built]), "limits.yml", "max_story_bytes")
    (built / "pipelines" / "limits.yml").write_text("max_story_bytes: 10\nmax_story_bytes: 20\n")
    _one_line_error(cli(["build", "--root", built]), "limits.yml", "twice")


def test_add_body_file_dev_zero_is_refused_at_once(built: Path, cli):
    start = time.perf_counter()
    result = cli(["add", "--root", built, "--no-input", "--title", "Zero", "--approach", "homeshare",
                  "--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "form v2",
                  "--source-title", "T", "--source-organisation", "O", "--body-file", "/dev/zero"])
    _one_line_error(result, "/dev/zero", "max_story_bytes")
    assert time.perf_counter() - start < 10
    assert not (built / "stories" / "zero.md").exists()


def test_add_file_dev_zero_and_huge_stdin_are_refused(built: Path, cli):
    _one_line_error(cli(["add", "--root", built, "--file", "/dev/zero"]), "/dev/zero")
    result = cli(["add", "--root", built, "--no-input", "--title", "Big", "--approach", "homeshare",
                  "--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "form v2",
                  "--source-title", "T", "--source-organisation", "O"], input="x" * 600_000)
    _one_line_error(result, "stdin", "max_story_bytes")


# ---------------------------------------------------------------------------
# eval and models


def test_min_labels_greater_than_max_labels_is_refused(cli, tmp_path: Path):
    csv = tmp_path / "t.csv"
    csv.write_text("text,labels\nhello,Control over daily life\n")
    result = cli(["eval", "--codebook", ROOT / "pipelines" / "frameworks" / "ascot.yml", "--test", csv,
                  "--min-labels", "3", "--max-labels", "1"])
    _one_line_error(result, "--min-labels 3", "--max-labels 1")


def test_an_eval_csv_cell_over_the_csv_limit_names_file_line_and_field(cli, tmp_path: Path):
    csv = tmp_path / "t.csv"
    csv.write_text("text,labels\nshort one,Control over daily life\n\"" + "x" * 140_000 + "\",Control over daily life\n")
    result = cli(["eval", "--codebook", ROOT / "pipelines" / "frameworks" / "ascot.yml", "--test", csv])
    _one_line_error(result, f"{csv}:", "'text'")


def test_an_eval_csv_with_no_label_in_any_row_is_refused(cli, tmp_path: Path):
    """A test CSV whose labels column was left empty printed 'macro F1 0.000'
    and exit 0: a measurement of nothing."""
    csv = tmp_path / "t.csv"
    csv.write_text("\ufefftext,labels\r\nShe chose her meals,\r\nHe felt safe at home,\r\n", encoding="utf-8")
    result = cli(["eval", "--codebook", ROOT / "pipelines" / "frameworks" / "ascot.yml", "--test", csv, "--codebook-only"])
    _one_line_error(result, f"{csv}:", "'labels'", "empty in every row")


@pytest.mark.parametrize("model", ["/nonexistent/model", "42", "[a, b]", "EMPTY"])
def test_a_bad_model_in_embedding_yml_is_a_one_line_error(tmp_path: Path, monkeypatch, model):
    from evidence.models import embedder

    monkeypatch.delenv("EVIDENCE_EMBEDDER", raising=False)
    (tmp_path / "pipelines").mkdir()
    if model == "EMPTY":
        (tmp_path / "empty-model").mkdir()
        model = str(tmp_path / "empty-model")
    (tmp_path / "pipelines" / "embedding.yml").write_text(f"model: {model}\n")
    with pytest.raises(EvidenceError) as err:
        embedder.get_embedder(tmp_path).encode(["hello"])
    assert "'model'" in str(err.value) and "embedding.yml" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------------------
# Property: no parser error is unexpected, and what parses can be stored

RISKY = st.sampled_from([
    "2026-13-45", "2026-02-30", "0000-01-01", "9999-99-99", "1e30", "1.0e+30", "-1.0e+400", ".nan", ".inf", "-.inf",
    "12345678901234567890", "-99999999999999999999", "0x1F", "0o777", "1_000", "'\\\\g<0>'", "\"a\\x07b\"",
    "\"\\u202e\"", "~", "null", "''", "[]", "{}", "[1, [2, [3]]]", "{a: 1, a: 2}", "yes", "No", "'javascript:alert(1)'",
    "'http://'", "'mailto:x'", "&a x", "*a", "!!python/object:os.system", "!!binary aGk=", "2026-01-01T25:00:00",
    "'  '", "\"\\0\"", "|\n  block", "- a\n- b", "@x", "`x`", "%TAG", "? complex", "1:2:3", "+.5", "0b101",
])
KEYS = st.sampled_from(["id", "title", "summary", "status", "added", "place", "organisation", "approach", "people",
                        "source", "consent", "tags", "links", "privacy", "value", "sample_size", "year", "unit",
                        "statement", "url", "date", "scope", "identity", "pseudonym", "website", "findings"])


def _store(obj) -> None:
    """Write a parsed record into an in-memory database as build would."""
    db = store.open_db(":memory:")
    db.execute("PRAGMA foreign_keys = OFF")  # the record alone, without the approaches it points at
    try:
        if hasattr(obj, "findings"):
            upsert(db, "studies", [rows.study_row(obj)], pk="id")
            upsert(db, "findings", [rows.finding_row(f) for f in obj.findings], pk="id")
        elif hasattr(obj, "consent"):
            upsert(db, "stories", [rows.story_row(obj)], pk="id")
            upsert(db, "story_people", rows.people_rows(obj), pk=("story_id", "position"))
        else:
            upsert(db, "approaches", [rows.approach_row(obj)], pk="id")
    finally:
        db.close()


def _only_validation_errors(fn, path: str, text: str):
    try:
        obj = fn(path, text, VOCAB)
    except ValidationError as exc:
        assert str(exc).startswith(path) and "\n" not in str(exc), exc
        return
    _store(obj)


@pytest.mark.slow  # a fuzz test (150 generated files): in `make test`, not test-fast
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(KEYS, RISKY, st.sampled_from(["replace", "append", "nest"])), min_size=1, max_size=4))
def test_no_parser_error_is_unexpected(edits):
    story = story_text("prop").split("\n")
    study = (ROOT / "findings" / "poet-second-survey.yml").read_text().split("\n")
    approach = (ROOT / "approaches" / "homeshare.yml").read_text().split("\n")
    for key, value, how in edits:
        for lines in (story, study, approach):
            idx = next((i for i, line in enumerate(lines) if line.lstrip().startswith(f"{key}:")), None)
            indent = "" if idx is None else lines[idx][:len(lines[idx]) - len(lines[idx].lstrip())].replace("-", " ")
            new = f"{indent}{key}: {value}"
            if how == "replace" and idx is not None:
                lines[idx] = new
            elif how == "nest" and idx is not None:
                lines.insert(idx + 1, f"{indent}  {key}: {value}")
            else:
                at = 1 if lines and lines[0] == "---" else 0
                lines.insert(at, f"{key}: {value}")
    _only_validation_errors(parse_story, "stories/prop.md", "\n".join(story))
    _only_validation_errors(parse_study, "findings/poet-second-survey.yml", "\n".join(study))
    _only_validation_errors(parse_approach, "approaches/homeshare.yml", "\n".join(approach))


@pytest.mark.slow  # a fuzz test (100 generated stories): in `make test`, not test-fast
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.text(max_size=300), pseudonym=st.text(min_size=1, max_size=12), name=st.text(min_size=1, max_size=20))
def test_anonymised_stories_with_any_text_parse_or_refuse_cleanly(body, pseudonym, name):
    text = story_text("anon", body="A narrative. " + body, people=[{"name": name, "role": "person"}],
                      consent={"basis": "given-by-person", "scope": "public", "identity": "anonymised",
                               "pseudonym": pseudonym, "date": dt.date(2026, 1, 2), "recorded_by": "c", "wording": "w"})
    _only_validation_errors(parse_story, "stories/anon.md", text)


# ---------------------------------------------------------------------------
# Command-line mistakes: one line and exit 1, as every other bad input


@pytest.mark.parametrize("args,needles", [
    (["add-finding", "--study", "poet-second-survey", "--statement", "x", "--value", "27%"], ["'--value'", "add-finding --help"]),
    (["add-finding", "--study", "poet-second-survey", "--statement", "x", "--sample-size", "1,234"], ["'--sample-size'"]),
    (["search", "lonely", "--limit", "ten"], ["'--limit'", "search --help"]),
    (["add", "--tittle", "Rita"], ["No such option: --tittle", "--title"]),
    (["review"], ["Missing argument 'ID'"]),
    (["add-finding", "--statement", "x"], ["Missing option '--study'"]),
    (["withdraw", "james-and-andy", "--reason"], ["'--reason' requires an argument"]),
    (["bogus"], ["No such command 'bogus'"]),
])
def test_command_line_mistakes_are_one_line_errors_with_exit_1(built: Path, cli, args, needles):
    """Click's usage errors were a boxed block of lines with exit status 2."""
    before = {p.name: p.read_bytes() for p in (built / "findings").iterdir()}
    r = cli([args[0], "--root", built, *args[1:]] if args[0] != "bogus" else args)
    line = _one_line_error(r, *needles)
    assert line.startswith("Error: ") and "╭" not in r.stderr
    assert {p.name: p.read_bytes() for p in (built / "findings").iterdir()} == before


def test_help_and_no_arguments_are_unchanged(cli):
    r = cli(["tags", "--help"])
    assert r.exit_code == 0 and "--json" in r.stdout
    r = cli([])
    assert r.exit_code == 2 and "add-finding" in r.output  # bare `evidence`: the list of commands


def test_a_finding_id_used_in_another_findings_file_names_the_line(built: Path, cli):
    path = built / "findings" / "poet-second-survey.yml"
    text = path.read_text(encoding="utf-8")
    first = re.search(r"^  - id: (\S+)$", text, re.M)
    other = re.search(r"^  - id: (\S+)$", (built / "findings" / "skills-for-care-workforce.yml").read_text(encoding="utf-8"), re.M).group(1)
    path.write_text(text[:first.start(1)] + other + text[first.end(1):], encoding="utf-8")
    line = _one_line_error(cli(["build", "--root", built]), "findings/poet-second-survey.yml:", f"'{other}'",
                           "findings/skills-for-care-workforce.yml")
    n = int(re.search(r"\.yml:(\d+):", line).group(1))
    assert path.read_text(encoding="utf-8").split("\n")[n - 1].strip() == f"- id: {other}"


@pytest.mark.parametrize("numbers,needle,key", [
    ("    value: 27\n    interval_low: 40\n    interval_high: 50\n", "value 27 is outside its own interval 40 to 50", "value"),
    ("    value: null\n    interval_low: 20\n    interval_high: 30\n", "gives an interval but no 'value'", "interval_low"),
    ("    value: 27\n    interval_low: 30\n    interval_high: 20\n", "interval_low is above interval_high", "interval_low"),
    ("    value: 27\n    interval_low: 20\n", "gives one end of its interval", "interval_low"),
])
def test_an_interval_that_does_not_hold_its_value_is_refused(built: Path, cli, numbers, needle, key):
    """A value outside its own interval (or an interval around no value) was
    published as it was, and graded for precision by the certainty rules."""
    path = built / "findings" / "birmingham-micro-enterprise-study.yml"
    text = path.read_text(encoding="utf-8")
    assert "    value: 27\n" in text
    text = text.replace("    value: 27\n", numbers, 1)
    path.write_text(text, encoding="utf-8")
    line = _one_line_error(cli(["build", "--root", built]), "findings/birmingham-micro-enterprise-study.yml:", needle)
    n = int(re.search(r"\.yml:(\d+):", line).group(1))
    assert text.split("\n")[n - 1].strip().startswith(f"{key}:")


# ---------------------------------------------------------------------------
# Personal data: the line of each hit is the line of its own field


def test_an_unlisted_name_is_reported_at_its_own_field_s_line_once():
    """A hit's line was the first front-matter line holding the name anywhere:
    'her husband Al' in the summary was reported at the title 'Always there',
    and 'Mrs Quill' in the source title at the story title's 'Mrs Quill'."""
    from evidence.content.pii import UNLISTED, scan_story

    consent = {"basis": "given-by-person", "scope": "public", "identity": "anonymised", "pseudonym": "Sam",
               "date": "2026-01-02", "recorded_by": "c", "wording": "w"}
    text = story_text("anon-lines", body="Robert lives alone.\n\nHis friend called Nellie visits most days.",
                      title="Always there for Mrs Quill", summary="Her husband Al helps.",
                      people=[{"name": "Robert Pike", "role": "person supported"},
                              {"name": "Jo Penn", "role": "Ted's neighbour"}],
                      source={"title": "Tea with Mrs Quill", "organisation": "Example Trust"}, consent=consent)
    story = parse_story("stories/anon-lines.md", text, VOCAB)
    lines = text.split("\n")
    hits = [h for h in scan_story(story, text) if h.kind == UNLISTED]
    where = sorted({(h.field, h.line) for h in hits})
    expected = {"title": "title:", "summary": "summary:", "source.title": "  title: Tea", "people[1].role": "  role: Ted",
                "body": "His friend"}
    assert [f for f, _ in where] == sorted(expected), where
    for field, line in where:
        assert lines[line - 1].lstrip("- ").startswith(expected[field].strip()), (field, line, lines[line - 1])


def test_a_name_found_by_two_cues_is_one_warning(built: Path, cli):
    """'his friend called Nellie' (a relation before a name, and 'called')
    gave two identical warning lines."""
    consent = {"basis": "given-by-person", "scope": "public", "identity": "anonymised", "pseudonym": "Sam",
               "date": "2026-01-02", "recorded_by": "c", "wording": "w"}
    write_story(built, "two-cues", body="Robert lives alone. His friend called Nellie visits.",
                people=[{"name": "Robert Pike", "role": "person supported"}], consent=consent)
    r = cli(["build", "--root", built])
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if "stories/two-cues.md" in line]
    assert len(warnings) == 1 and "in body" in warnings[0], warnings


# ---------------------------------------------------------------------------
# pipelines/tagging.yml: values that would tag everything, nothing, or not what was meant


@pytest.mark.parametrize("edit,needles", [
    (("threshold: 0.4\n", "threshold: -0.5\n"), ["'threshold'", "between 0 and 1"]),
    (("threshold: 0.4\n", "threshold: 5\n"), ["'threshold'", "between 0 and 1"]),
    (("threshold: 0.4\n", "threshold: true\n"), ["'threshold'", "number"]),
    (("max_tags_per_framework: 4", "max_tags_per_framework: 2.7"), ["'max_tags_per_framework'", "whole number"]),
    (("max_tags_per_framework: 4", "max_tags_per_framework: -1"), ["'max_tags_per_framework'", "1 or more"]),
    (("similarity_low: 0.1", "similarity_low: 0.9"), ["'similarity_low'", "below 'similarity_high'"]),
    (("  commentary: 0.3", "  comentary: 0.3"), ["'role_weights'", "'comentary'", "commentary"]),
    (("  commentary: 0.3", "  commentary: 3"), ["'role_weights.commentary'", "between 0 and 1"]),
    (("training:\n  - pipelines/training/stories_dev.csv", "training: pipelines/training/stories_dev.csv"),
     ["'training'", "list"]),
    (("  - pipelines/training/stories_dev.csv", "  - pipelines/training/stories-dev.csv"),
     ["'training'", "stories-dev.csv not found"]),
    (("thresholds: {}", "thresholds: {ascot/contrl-over-daily-life: 0.5}"),
     ["'thresholds'", "did you mean 'ascot/control-over-daily-life'"]),
])
def test_bad_tagging_settings_are_refused_with_their_line(built: Path, cli, edit, needles):
    """Each of these was built without a word: a negative threshold tagged
    every sentence with every domain, 5 tagged nothing, a misspelt role's
    weight was never used, nor a misspelt domain's threshold, and a training
    path written without '- ' was read letter by letter ('training file p
    not found')."""
    path = built / "pipelines" / "tagging.yml"
    text = path.read_text(encoding="utf-8")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    line = _one_line_error(cli(["build", "--root", built]), "pipelines/tagging.yml:", *needles)
    n = int(re.search(r"tagging\.yml:(\d+):", line).group(1))
    assert edit[1].split("\n")[0].strip() in path.read_text(encoding="utf-8").split("\n")[n - 1]


# ---------------------------------------------------------------------------
# Story bodies in template shapes


@pytest.mark.parametrize("body", ["## What changed\n\n## Outcomes\n\n### Next steps", "#\n\n-\n\n* \n\n1.", "---\n\n***"])
def test_a_narrative_of_only_headings_or_markers_is_refused(built: Path, cli, body):
    """A case-study template left unfilled ('## What changed' with nothing
    under it) was published as a story that tells nothing."""
    text = story_text("template", body=body)
    (built / "stories" / "template.md").write_text(text, encoding="utf-8")
    line = _one_line_error(cli(["build", "--root", built]), "stories/template.md:", "narrative", "headings")
    n = int(re.search(r"\.md:(\d+):", line).group(1))
    assert text.split("\n")[n - 1] == body.split("\n")[0]
    assert "template" not in _public_ids(built)


@pytest.mark.parametrize("body", ["- She walks weekly.\n- He cooks on Fridays.",
                                  "\n".join(f"- Item {i}: a visit at home." for i in range(200)),
                                  "## What changed\n\nShe walks weekly."])
def test_a_narrative_that_is_a_list_or_has_headings_is_published(built: Path, cli, body):
    write_story(built, "listed", body=body)
    r = cli(["build", "--root", built])
    assert r.exit_code == 0, r.output
    assert "listed" in _public_ids(built)


def test_add_reads_a_utf16_body_file_and_names_a_binary_one(built: Path, cli, tmp_path: Path):
    """A narrative saved as UTF-16 (with a byte-order mark, as Notepad may)
    was refused as 'not text (it contains NUL bytes)', and a binary body
    file was refused without naming it."""
    args = ["add", "--root", built, "--no-input", "--approach", "homeshare", "--consent", "given-by-person",
            "--consent-scope", "public", "--consent-wording", "form v2", "--source-title", "T",
            "--source-organisation", "O", "--body-file"]
    wide = tmp_path / "wide.txt"
    wide.write_bytes("Rosa moved in with a student and feels safe at home again.\n".encode("utf-16"))
    r = cli([*args, wide, "--title", "Rosa at home"])
    assert r.exit_code == 0, r.output
    assert "feels safe at home again" in (built / "stories" / "rosa-at-home.md").read_text(encoding="utf-8")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _one_line_error(cli([*args, blob, "--title", "Blob"]), str(blob), "not text", "UTF-8")
    assert not (built / "stories" / "blob.md").exists()


def test_add_names_the_line_of_the_narrative_it_refuses(built: Path, cli, tmp_path: Path):
    """'the narrative holds the control character U+0007' said not where, in
    a narrative of any length (the story file is not written, so its line
    would point nowhere)."""
    body = tmp_path / "body.md"
    body.write_text("Rosa moved in.\n\nShe sings \x07 in the choir now.\n", encoding="utf-8")
    r = cli(["add", "--root", built, "--no-input", "--title", "Rosa sings", "--approach", "homeshare",
             "--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "form v2",
             "--source-title", "T", "--source-organisation", "O", "--body-file", body])
    _one_line_error(r, "U+0007", "line 3 of the narrative")
    assert not (built / "stories" / "rosa-sings.md").exists()
