"""Personal data checks: the scanner on a corpus of UK formats and near
misses, and what build, add and review-pii do with a hit."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from evidence.content import pii
from evidence.build import build
from evidence.content.parsers import parse_story
from storyfiles import write_story

CORPUS = yaml.safe_load((Path(__file__).parent / "pii_corpus.yml").read_text(encoding="utf-8"))
FOUND = [(kind.split(" (", 1)[0], text) for kind, texts in CORPUS["found"].items() for text in texts]
REPO = Path(__file__).resolve().parent.parent


KNOWN_MISSES = set(CORPUS.get("known_misses") or [])


@pytest.mark.parametrize("kind,text", [
    pytest.param(k, t, marks=pytest.mark.xfail(strict=True, reason="a known miss, see the corpus")) if t in KNOWN_MISSES
    else (k, t) for k, t in FOUND], ids=[f"{k}:{i}" for i, (k, _) in enumerate(FOUND)])
def test_every_example_is_found_with_its_kind(kind, text):
    assert [m.kind for m in pii.scan_text(text)] == [kind]


def test_the_corpus_covers_every_kind():
    assert {k.split(" (", 1)[0] for k in CORPUS["found"]} == set(pii.KINDS)
    assert all(len(v) >= 10 for v in CORPUS["found"].values())
    assert len(FOUND) >= 100 and len(CORPUS["near_misses"]) >= 100


@pytest.mark.parametrize("text", CORPUS["near_misses"])
def test_no_false_alarm_on_ordinary_numbers(text):
    assert pii.scan_text(text) == []


def test_nhs_check_digit():
    assert pii.nhs_check_digit_ok("9434765919")
    assert not pii.nhs_check_digit_ok("9434765918")
    assert not pii.nhs_check_digit_ok("943476591")


def test_no_hit_in_any_of_our_real_content():
    files = [p for d in ("stories", "findings", "approaches", "pipelines") for p in (REPO / d).rglob("*")
             if p.is_file() and p.suffix in (".md", ".yml", ".yaml", ".jsonl", ".cfg")]
    assert len(files) > 30
    for p in files:
        assert pii.scan_text(p.read_text(encoding="utf-8")) == [], p
    for p in (REPO / "stories").glob("*.md"):
        text = p.read_text(encoding="utf-8")
        assert pii.scan_story(parse_story(f"stories/{p.name}", text), text) == [], p


# ---------------------------------------------------------------------------
# build, add and review

PHONE, POSTCODE, EMAIL, NHS = "020 7946 0958", "SW1A 1AA", "jo.bloggs@example.org", "943 476 5919"


def _public_ids(root: Path) -> set[str]:
    conn = sqlite3.connect(root / "public.db")
    try:
        return {r[0] for r in conn.execute("SELECT id FROM stories")}
    finally:
        conn.close()


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().split("\n"), 1) if needle in line)


def test_build_holds_a_story_back_and_names_file_line_kind_never_the_data(built: Path, cli):
    path = write_story(
        built, "a-story-with-data",
        title=f"Write to {EMAIL}", summary=f"She lives near {POSTCODE}.",
        people=[{"name": "Ann", "role": "person supported", "aliases": [NHS]}],
        body=f"First paragraph.\n\nSecond paragraph.\n\nRing her on {PHONE} any day.\n")
    result = cli(["build", "--root", built])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 4, warnings
    expected = {("e-mail address", _line_of(path, EMAIL)), ("UK postcode", _line_of(path, POSTCODE)),
                ("NHS number", _line_of(path, NHS)), ("UK phone number", _line_of(path, PHONE))}
    got = set()
    for w in warnings:
        where, _, rest = w.removeprefix("warning: ").partition(": ")
        assert where.startswith("stories/a-story-with-data.md:")
        got.add((rest.split(" in ")[0], int(where.rsplit(":", 1)[1])))
        assert "review-pii a-story-with-data" in w
    assert got == expected
    for secret in (PHONE, POSTCODE, EMAIL, NHS, "7946", "1AA", "bloggs", "5919"):
        assert secret not in result.output
    # held: in the working database, not in the public one
    assert "a-story-with-data" in {r[0] for r in sqlite3.connect(built / "evidence.db").execute("SELECT id FROM stories")}
    assert "a-story-with-data" not in _public_ids(built)
    assert "james-and-andy" in _public_ids(built)


def test_add_with_personal_data_adds_the_story_unpublished_with_a_warning(built: Path, cli, tmp_path: Path):
    body = tmp_path / "body.md"
    body.write_text(f"Pat runs the lunch club. Ring Pat on 07911 123456 to book a place.\n")
    result = cli(["add", "--root", built, "--no-input", "--title", "Pat and the lunch club", "--approach", "shared-lives",
                  "--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "form v2",
                  "--source-title", "Told to us", "--source-organisation", "Shared Lives Plus", "--body-file", body])
    assert result.exit_code == 0, result.output
    assert (built / "stories" / "pat-and-the-lunch-club.md").exists()
    assert "held back from publication" in result.stderr
    assert any(line.startswith("warning: stories/pat-and-the-lunch-club.md:") and "UK phone number" in line
               for line in result.stderr.splitlines())
    assert "07911" not in result.output
    assert "pat-and-the-lunch-club" not in _public_ids(built)


def test_review_publishes_until_the_personal_data_changes(built: Path, cli):
    path = write_story(built, "helpline-story", body=f"The helpline is {PHONE}. It changed Lou's week.\n")
    build(built)
    assert "helpline-story" not in _public_ids(built)
    listed = cli(["review-pii", "--root", built])
    assert listed.exit_code == 0 and "stories/helpline-story.md:" in listed.stdout and "7946" not in listed.stdout

    result = cli(["review-pii", "helpline-story", "--by", "Curator Kim", "--root", built])
    assert result.exit_code == 0, result.output
    front = yaml.safe_load(path.read_text().split("---")[1])
    assert front["privacy"]["by"] == "Curator Kim" and len(front["privacy"]["hash"]) == 16
    assert "helpline-story" in _public_ids(built)
    assert cli(["review-pii", "--root", built]).stdout == ""

    # an edit elsewhere keeps the review
    path.write_text(path.read_text().replace("It changed Lou's week.", "It changed Lou's whole week."))
    build(built)
    assert "helpline-story" in _public_ids(built)

    # new personal data needs a new review
    path.write_text(path.read_text().replace("whole week.", "whole week. Lou's mobile is 07911 123456."))
    summary = build(built)
    assert "helpline-story" not in _public_ids(built)
    assert any("no longer matches" in w for w in summary.warnings)
    assert any(w.startswith("stories/helpline-story.md:") and "UK phone number" in w for w in summary.warnings)


def test_review_of_a_story_without_personal_data(built: Path, cli):
    result = cli(["review-pii", "james-and-andy", "--by", "Kim", "--root", built])
    assert result.exit_code == 0 and "nothing to review" in result.stderr
    assert "privacy:" not in (built / "stories" / "james-and-andy.md").read_text()
    missing = cli(["review-pii", "no-such-story", "--by", "Kim", "--root", built])
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1


def test_a_story_never_checked_is_not_published(built: Path):
    """Fail closed: the publish filter needs a passed check, not the absence of a failed one."""
    from evidence.store import publish
    from evidence.store import schema as store

    db = store.open_db(built / "evidence.db")
    try:
        with db.atomic():
            db.execute("DELETE FROM pii_checks WHERE story_id = 'james-and-andy'")
        publish.publish(db, built / "public.db")
    finally:
        db.close()
    assert "james-and-andy" not in _public_ids(built)
    build(built)  # the next build scans it again
    assert "james-and-andy" in _public_ids(built)


def test_set_privacy_block_replaces_an_old_review():
    text = "---\nid: x\nprivacy:\n  reviewed: 2026-01-01\n  by: A\n  hash: abc\nstatus: published\n---\nBody\n"
    from evidence.curate.pii_review import set_privacy_block

    out = set_privacy_block(text, {"reviewed": "2026-02-02", "by": "B", "hash": "0123456789abcdef"})
    front = yaml.safe_load(out.split("---")[1])
    assert front == {"id": "x", "status": "published",
                     "privacy": {"reviewed": "2026-02-02", "by": "B", "hash": "0123456789abcdef"}}
    assert out.count("privacy:") == 1 and out.endswith("---\nBody\n")


# ---------------------------------------------------------------------------
# Every published field is scanned (issue 11): a hit anywhere holds the story back


@pytest.mark.parametrize("field,value,kind", [
    ("place", "Flat 3, Leeds LS6 2QB", pii.POSTCODE),
    ("place", "ls6 2qb", pii.POSTCODE),
    ("organisation", "Friends of Pat, 0113 496 0123", pii.PHONE),
    ("source", {"title": "Pat's story", "author": "pat.jones@example.org", "organisation": "Test Organisation"}, pii.EMAIL),
    ("source", {"title": "Pat's story", "organisation": "Test Organisation", "url": "https://example.org/call-07700900123"}, pii.PHONE),
    # (a source's date can no longer hold words: it must be a date, see test_bad_input.py)
    ("source", {"title": "Pat was born 3 March 1947", "organisation": "Test Organisation"}, pii.BIRTH),
    ("source", {"title": "Pat's story", "organisation": "Test Organisation", "publisher": "14 Acacia Avenue"}, pii.ADDRESS),
    ("summary", "Write to pat at example dot com", pii.EMAIL),
    ("body", "Her NI number is AB 12 34 56 C.", pii.NINO),
    ("body", "She lives at 14 Acacia Avenue.", pii.ADDRESS),
    ("id", "call-07700900123", pii.PHONE),
])
def test_personal_data_in_any_published_field_holds_the_story_back(built: Path, field, value, kind):
    base = built  # the repository's content, built: the build below adds this one story
    story_id = value if field == "id" else "pat-story"
    fields = {} if field in ("id", "body") else {field: value}
    body = value if field == "body" else "A narrative about support in the community."
    write_story(base, story_id, body=body, **fields)
    summary = build(base)
    conn = sqlite3.connect(base / "public.db")
    ids = {r[0] for r in conn.execute("SELECT id FROM stories")}
    conn.close()
    assert story_id not in ids
    lines = [w for w in summary.warnings if f"stories/{story_id}.md" in w]
    assert lines and any(kind in w for w in lines), summary.warnings
    assert all(str(value)[:12] not in w for w in lines if field != "id")  # the data itself is never printed


def test_never_issued_ni_prefixes_are_left_out():
    for prefix in ("QQ", "GB", "BG", "NK", "KN", "TN", "NT", "ZZ", "DA", "AO", "FA", "IA", "UA", "VA"):
        assert pii.scan_text(f"NI number {prefix} 12 34 56 C") == [], prefix
    assert [m.kind for m in pii.scan_text("NI number AB 12 34 56 C")] == [pii.NINO]


def test_birth_dates_must_be_real_dates():
    assert pii.scan_text("born 31/13/1947") == []
    assert pii.scan_text("born 45 March 1947") == []
