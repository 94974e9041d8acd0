"""`evidence add` and `evidence add-finding`: scripted and interactive, and
every refusal leaves nothing written."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from evidence.content.parsers import parse_story

ARGS = [
    "--title", "Rita and her Homeshare", "--approach", "homeshare", "--person", "Rita:householder",
    "--person", "Sam:sharer", "--place", "Leeds", "--organisation", "Homeshare UK",
    "--source-title", "Our Homeshare stories", "--source-organisation", "Homeshare UK",
    "--consent", "given-by-person", "--consent-scope", "public",
    "--consent-wording", "Consent form v2: may be published with first names", "--no-input",
]
BODY = "Rita, 84, shares her home with Sam, a student, who cooks with her on weekday evenings.\n"


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file under root (content and databases)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith("serve-")}


def query(db: Path, sql: str):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_add_scripted_writes_the_file_and_updates_both_databases(built, cli):
    result = cli(["add", "--root", built, *ARGS], input=BODY)
    assert result.exit_code == 0, result.output
    path = built / "stories" / "rita-and-her-homeshare.md"
    story = parse_story("stories/rita-and-her-homeshare.md", path.read_text())
    assert story.title == "Rita and her Homeshare" and story.body.strip() == BODY.strip()
    assert [(p.name, p.role) for p in story.people] == [("Rita", "householder"), ("Sam", "sharer")]
    assert story.consent.basis == "given-by-person" and story.consent.recorded_by
    assert "added stories/rita-and-her-homeshare.md" in result.stderr and "1 added" in result.stderr
    for db in ("evidence.db", "public.db"):
        assert query(built / db, "SELECT title, place FROM stories WHERE id = 'rita-and-her-homeshare'") == [("Rita and her Homeshare", "Leeds")]
    assert not list((built / "stories").glob(".*tmp"))


def test_add_reads_the_body_from_a_file(built, cli, tmp_path):
    body = tmp_path / "body.md"
    body.write_text(BODY)
    result = cli(["add", "--root", built, *ARGS, "--id", "rita", "--body-file", body])
    assert result.exit_code == 0, result.output
    assert (built / "stories" / "rita.md").exists()


def test_add_interactive_prompts_for_each_field(built, cli):
    answers = "\n".join([
        "Ola's Gig Buddy",            # title
        "Ola had not been to a gig for years; now she goes every month with her buddy.",
        ".",                          # end of the narrative
        "Ola goes to gigs again.",    # summary
        "gig-buddies",                # approach
        "Ola", "person supported",    # a person: name, then role
        "",                           # no more people
        "Stay Up Late",               # organisation
        "Brighton",                   # place
        "Gig Buddies stories",        # source title
        "",                           # source author
        "Stay Up Late",               # source organisation
        "",                           # source url
        "",                           # source date
        "published-by-organisation",  # consent basis
        "public",                     # consent scope
        "",                           # identity: named
        "",                           # consent date: today
        "",                           # consent wording: the organisation's default
        "",                           # recorded by: the default
    ]) + "\n"
    result = cli(["add", "--root", built, "--interactive"], input=answers)
    assert result.exit_code == 0, result.output
    story = parse_story("stories/olas-gig-buddy.md", (built / "stories" / "olas-gig-buddy.md").read_text())
    assert (story.approach, story.place, story.consent.scope) == ("gig-buddies", "Brighton", "public")
    assert "Account published by Stay Up Late" in story.consent.wording
    assert story.body.startswith("Ola had not been to a gig")
    assert query(built / "public.db", "SELECT count(*) FROM stories WHERE id = 'olas-gig-buddy'") == [(1,)]


def test_add_accepts_an_approach_by_its_name(built, cli):
    args = [a if a != "homeshare" else "Homeshare" for a in ARGS]
    assert cli(["add", "--root", built, *args], input=BODY).exit_code == 0
    assert "approach: homeshare" in (built / "stories" / "rita-and-her-homeshare.md").read_text()


def _refused(cli, root: Path, args: list, input=BODY) -> str:
    before = snapshot(root)
    result = cli(["add", "--root", root, *args], input=input)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert snapshot(root) == before, "a refused add must write nothing"
    return lines[0]


def test_refuses_unknown_approach_listing_known_ones(built, cli):
    args = [a if a != "homeshare" else "homesharing" for a in ARGS]
    msg = _refused(cli, built, args)
    assert "unknown approach 'homesharing'" in msg and "shared-lives" in msg and "homeshare" in msg


def test_refuses_missing_consent_basis(built, cli):
    args = ARGS[:ARGS.index("--consent")] + ARGS[ARGS.index("--consent") + 2:]
    assert "no consent basis" in _refused(cli, built, args)


def test_refuses_missing_consent_scope(built, cli):
    args = ARGS[:ARGS.index("--consent-scope")] + ARGS[ARGS.index("--consent-scope") + 2:]
    assert "no consent scope" in _refused(cli, built, args)


def test_a_missing_source_title_names_the_option_not_a_file_line(built, cli):
    """`add` writes the file itself, so "add a line 'title: ...'" pointed at
    nothing the curator can edit: the error names the option."""
    i = ARGS.index("--source-title")
    msg = _refused(cli, built, ARGS[:i] + ARGS[i + 2:])
    assert "source needs 'title'; pass --source-title TEXT" in msg and "add a line" not in msg


def test_refuses_an_existing_id(built, cli):
    assert "already exists" in _refused(cli, built, [*ARGS, "--id", "james-and-andy"])


@pytest.mark.parametrize("retyped", [
    str.upper,
    lambda t: " ".join(t.split()).replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'"),
    lambda t: t.replace(". ", ".\n\n").replace(",", " ,"),
], ids=["upper case", "one line, straight quotes", "other breaks and spacing"])
def test_refuses_content_that_already_exists(built, cli, retyped):
    existing = (built / "stories" / "agnes-and-lucia.md").read_text().split("---\n", 2)[2]
    msg = _refused(cli, built, [*ARGS, "--id", "agnes-again"], input=retyped(existing))
    assert "already in the evidence base as story 'agnes-and-lucia'" in msg


def test_a_narrative_with_one_word_changed_is_not_a_duplicate(built, cli):
    existing = (built / "stories" / "agnes-and-lucia.md").read_text().split("---\n", 2)[2]
    assert "Agnes felt" in existing
    r = cli(["add", "--root", built, *ARGS, "--id", "agnes-again"], input=existing.replace("Agnes felt", "Agnes knew"))
    assert r.exit_code == 0, r.output
    assert (built / "stories" / "agnes-again.md").exists()


def test_refuses_an_empty_body(built, cli):
    assert "body is empty" in _refused(cli, built, ARGS, input="  \n\n")


def test_refuses_a_body_that_is_not_text(built, cli, tmp_path):
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")
    assert "not text" in _refused(cli, built, [*ARGS, "--body-file", binary])
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Caf\xe9 au lait".encode("latin-1"))
    assert "not UTF-8" in _refused(cli, built, [*ARGS, "--body-file", latin])


def test_refuses_a_missing_body_file(built, cli, tmp_path):
    assert "body file not found" in _refused(cli, built, [*ARGS, "--body-file", tmp_path / "nope.md"])


def test_add_a_complete_story_file(built, cli, tmp_path):
    src = (built / "stories" / "james-and-phil.md").read_text()
    draft = tmp_path / "draft.md"
    draft.write_text(src.replace("id: james-and-phil", "id: phil-again").replace("fishing", "fly fishing on Sundays"))
    result = cli(["add", "--root", built, "--file", draft])
    assert result.exit_code == 0, result.output
    assert query(built / "public.db", "SELECT count(*) FROM stories WHERE id = 'phil-again'") == [(1,)]
    # the same file again is refused: the id exists now
    assert "already exists" in _refused(cli, built, ["--file", draft])


def test_add_finding_appends_to_a_study_keeping_the_file(built, cli):
    p = built / "findings" / "poet-second-survey.yml"
    old = p.read_text()
    result = cli(["add-finding", "--root", built, "--study", "poet-second-survey", "--id", "poet-new",
                  "--statement", "Carers reported more time for themselves.", "--value", "12", "--unit", "% of carers",
                  "--sample-size", "300", "--design", "survey", "--approach", "personal-budgets"])
    assert result.exit_code == 0, result.output
    assert p.read_text().startswith(old.rstrip("\n"))
    assert query(built / "public.db", "SELECT value, unit, sample_size FROM findings WHERE id = 'poet-new'") == [(12.0, "% of carers", 300)]


def test_add_finding_creates_a_new_study(built, cli):
    result = cli(["add-finding", "--root", built, "--study", "new-study", "--study-title", "A new study",
                  "--study-organisation", "Somewhere", "--statement", "People felt less lonely.", "--design", "evaluation"])
    assert result.exit_code == 0, result.output
    assert query(built / "evidence.db", "SELECT s.title, f.statement FROM findings f JOIN studies s ON s.id = f.study_id WHERE s.id = 'new-study'") == [("A new study", "People felt less lonely.")]


@pytest.mark.parametrize("args,needle", [
    (["--study", "nope", "--statement", "X happened."], "no study 'nope'"),
    (["--study", "poet-second-survey", "--statement", "X happened.", "--approach", "nowhere"], "unknown approach 'nowhere'"),
    (["--study", "poet-second-survey", "--statement", "X happened.", "--value", "3"], "no unit"),
    (["--study", "Bad Id", "--statement", "X happened."], "not a slug"),
])
def test_add_finding_refusals_write_nothing(built, cli, args, needle):
    before = snapshot(built)
    result = cli(["add-finding", "--root", built, *args])
    assert result.exit_code == 1 and needle in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(built) == before


@pytest.mark.parametrize("flag,value,needle", [
    ("--consent-date", "20260102", "'date' is '20260102'"),
    ("--source-date", "2026-02-30", "not a real date"),
    ("--source-date", "30/02/2026", "write the date as YYYY, YYYY-MM or YYYY-MM-DD"),
])
def test_add_refuses_a_date_the_build_would_have_stored_as_written(built, cli, flag, value, needle):
    before = snapshot(built)
    result = cli(["add", "--root", built, *ARGS, flag, value], input=BODY)
    assert result.exit_code == 1 and needle in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(built) == before


def test_add_with_standard_input_closed_is_a_one_line_error(built):
    """`evidence add ... <&-` (a script or a cron job without stdin): sys.stdin
    is None, which was an 'unexpected AttributeError'."""
    import os
    import subprocess
    import sys

    before = snapshot(built)
    checkout = Path(__file__).resolve().parent.parent  # `-m evidence` from here runs this checkout's code
    for extra in ([], ["--interactive"]):
        args = [sys.executable, "-m", "evidence", "add", "--root", str(built), *ARGS, *extra]
        r = subprocess.run(args, cwd=checkout, capture_output=True, text=True, timeout=120,
                           preexec_fn=lambda: os.close(0))
        assert r.returncode == 1, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "standard input is closed" in lines[0] and "unexpected" not in lines[0], lines
    assert snapshot(built) == before


def test_an_id_made_from_a_title_keeps_accented_letters_base_letters(built, cli):
    """'Zoë and Łukasz' gave the id 'zo-and-ukasz': letters dropped silently."""
    args = [a for a in ARGS]
    args[args.index("--title") + 1] = "Zoë and Łukasz share a flat"
    result = cli(["add", "--root", built, *args], input="Zoë, 79, shares her flat with Łukasz, who studies nursing.\n")
    assert result.exit_code == 0, result.output
    assert (built / "stories" / "zoe-and-lukasz-share-a-flat.md").exists()
    text = (built / "stories" / "zoe-and-lukasz-share-a-flat.md").read_text(encoding="utf-8")
    bad = built / "stories" / "zoe-x.md"
    bad.write_text(text.replace("id: zoe-and-lukasz-share-a-flat", "id: zoë-x").replace("Łukasz, who", "Ł., who"), encoding="utf-8")
    r = cli(["build", "--root", built])
    assert r.exit_code == 1 and "use a lower-case slug such as 'zoe-x'" in r.stderr, r.output


@pytest.mark.parametrize("person", ["Mavis", ":carer", "Mavis:", "  "])
def test_a_person_without_a_name_or_a_role_is_refused(built, cli, person):
    """'--person Mavis' was added with an empty role (add --from-review and
    the prompts refuse that), ':carer' with an empty name."""
    before = snapshot(built)
    result = cli(["add", "--root", built, *ARGS, "--person", person], input=BODY)
    assert result.exit_code == 1 and "needs a name and a role, written 'Name:role'" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(built) == before
