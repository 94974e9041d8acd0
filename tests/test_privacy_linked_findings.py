"""A finding shown with an anonymised story must not name its people: the
story page lists the findings of its approach and those linked to it, so a
finding that names the person (a study written from the same account, say)
would sit next to the pseudonym and undo it. Such a story is held back until
the finding no longer names them; other stories are not affected."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from conftest import Server
from evidence.build import build
from storyfiles import CONSENT, find_in_tables, write_story

ANON = {**CONSENT, "identity": "anonymised", "pseudonym": "Rowan"}
STORY = "a-room-by-the-river"
BODY = ("Thaddeus Merriweather had lived alone for years after his wife died. A Homeshare match brought "
        "a nursing student into his spare room: she cooks twice a week and he has company in the evenings.")


def _study(root: Path, statement: str, approach: str = "homeshare",
           title: str = "Riverside Homeshare: a year of matches") -> Path:
    path = root / "findings" / "riverside-homeshare-review.yml"
    path.write_text(yaml.safe_dump({
        "id": "riverside-homeshare-review", "title": title,
        "authors": "Riverside Homeshare", "organisation": "Riverside Homeshare", "year": 2025, "url": "",
        "kind": "programme monitoring",
        "source": {"title": "Annual review", "author": "", "organisation": "Riverside Homeshare", "publisher": "",
                   "url": "", "date": ""},
        "findings": [{
            "id": "riverside-matches", "statement": statement, "measure": "householders matched", "value": 12,
            "unit": "householders", "direction": "", "comparator": "", "sample_size": 12,
            "population": "older householders living alone", "design": "monitoring data", "year": 2025,
            "place": "", "approach": approach, "source_sentence": statement}],
    }, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _story(root: Path) -> None:
    write_story(root, STORY, body=BODY, title="A room by the river", summary="A Homeshare match for a widower.",
                approach="homeshare", consent=ANON,
                people=[{"name": "Thaddeus Merriweather", "role": "householder", "aliases": ["Tad"]}])


@pytest.mark.server
def test_a_finding_naming_the_person_holds_the_story_back_until_it_does_not(base: Path):
    _story(base)
    study = _study(base, "In its first year Riverside Homeshare matched 12 householders, among them "
                         "Mr Merriweather, who had lived alone since his wife died.")
    summary = build(base)
    warnings = [w for w in summary.warnings if "riverside-matches" in w]
    assert len(warnings) == 1, summary.warnings
    assert warnings[0].startswith("findings/riverside-homeshare-review.yml:")  # file and line
    assert STORY in warnings[0] and "Merriweather" not in warnings[0]
    public = base / "public.db"
    assert find_in_tables(public, "Rowan") == []  # the story is not published at all
    assert sqlite3.connect(public).execute("SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 0

    server = Server(base)
    try:
        assert server.get(f"/-/story/{STORY}")[0] == 404
        assert server.get(f"/public/stories/{STORY}.json")[0] == 404
        status, _, page = server.get("/-/approach/homeshare")
        assert status == 200 and b"Rowan" not in page and b"Merriweather" in page  # the finding itself stays

        # the curator writes the finding with the pseudonym: the story is published, the name is nowhere
        study.write_text(study.read_text(encoding="utf-8").replace("Mr Merriweather", "Rowan"), encoding="utf-8")
        summary = build(base)
        assert not [w for w in summary.warnings if "riverside-matches" in w], summary.warnings
        paths = (f"/-/story/{STORY}", f"/-/story/{STORY}.json", "/-/approach/homeshare",
                 "/public/findings.json?_shape=array&_size=max", f"/public/stories/{STORY}.json")
        deadline = time.time() + 5  # a running server follows a new build within 5 s (serving.md)
        while True:
            answers = {path: server.get(path) for path in paths}
            bad = [path for path, (status, _, body) in answers.items()
                   if status != 200 or any(w in body for w in (b"Thaddeus", b"Merriweather", b"Tad "))]
            if not bad or time.time() > deadline:
                break
            time.sleep(0.2)
        assert bad == []
        page = answers[f"/-/story/{STORY}"][2]
        assert b"Rowan" in page and b"riverside-matches" in page  # the finding is shown with the story
    finally:
        server.stop()


def test_a_name_in_the_study_or_a_linked_finding_of_another_approach_holds_it_back_too(built: Path):
    base = built  # the repository's content, built: the builds below add to it
    _story(base)
    # another approach: shown with the story only when linked; a curator's link here
    _study(base, "Twelve householders were matched in the first year.", approach="shared-lives",
           title="Tad's year: Riverside Homeshare")
    assert not [w for w in build(base).warnings if STORY in w]  # not linked: nothing shown together
    story = base / "stories" / f"{STORY}.md"
    text = story.read_text(encoding="utf-8")
    story.write_text(text.replace("status: published", "links:\n- {finding: riverside-matches, status: confirmed, "
                                  "note: curator link}\nstatus: published"), encoding="utf-8")
    summary = build(base)
    assert [w for w in summary.warnings if STORY in w and "study title" in w], summary.warnings
    assert sqlite3.connect(base / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 0
    # a build that changes nothing it depends on keeps the hold, and says so again
    summary = build(base)
    assert summary.enriched.get("privacy_holds") is None  # nothing checked again
    assert [w for w in summary.warnings if STORY in w and "study title" in w], summary.warnings
    # and unlinking releases it
    story.write_text(text, encoding="utf-8")
    summary = build(base)
    assert not [w for w in summary.warnings if STORY in w], summary.warnings
    assert sqlite3.connect(base / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 1


def test_a_named_story_is_not_held_back_by_a_finding_naming_its_people(base: Path):
    write_story(base, STORY, body=BODY, title="A room by the river", approach="homeshare",
                people=[{"name": "Thaddeus Merriweather", "role": "householder"}])
    _study(base, "Mr Merriweather was one of 12 householders matched.")
    summary = build(base)
    assert not [w for w in summary.warnings if STORY in w]
    assert sqlite3.connect(base / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 1


def test_add_says_the_new_story_is_held_back(base: Path, cli, tmp_path: Path):
    _study(base, "Mr Merriweather was one of 12 householders matched in the first year.")
    build(base)
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    result = cli(["add", "--root", base, "--no-input", "--title", "A room by the river", "--approach", "homeshare",
                  "--source-title", "Told to us", "--source-organisation", "Riverside Homeshare",
                  "--consent", "given-by-person", "--consent-scope", "public", "--identity", "anonymised",
                  "--pseudonym", "Rowan", "--person", "Thaddeus Merriweather:householder", "--consent-wording", "form v2",
                  "--body-file", body])
    assert result.exit_code == 0, result.output
    assert "riverside-matches" in result.stderr, result.stderr
    added = [line for line in result.stderr.splitlines() if line.startswith("added stories/")]
    assert len(added) == 1 and "(held back from publication" in added[0], result.stderr
    assert sqlite3.connect(base / "public.db").execute("SELECT count(*) FROM stories WHERE title LIKE '%river%'").fetchone()[0] == 0


@pytest.mark.server
def test_a_curators_link_note_is_published_without_names_or_personal_data(base: Path):
    _story(base)
    story = base / "stories" / f"{STORY}.md"
    story.write_text(story.read_text(encoding="utf-8").replace("status: published", (
        "links:\n"
        "- {finding: somerset-catalyst-ventures, status: confirmed, note: \"Mr Merriweather's Catalyst found him the student\"}\n"
        "- {finding: somerset-pearl-local-workers, status: confirmed, note: \"Tad's daughter rang us on 07911 123456\"}\n"
        "status: published")), encoding="utf-8")
    build(base)
    public = base / "public.db"
    reasons = dict(sqlite3.connect(public).execute(
        "SELECT finding_id, reason FROM links WHERE story_id = ? AND kind = 'curator'", [STORY]).fetchall())
    assert reasons == {"somerset-catalyst-ventures": "Rowan's Catalyst found him the student",
                       "somerset-pearl-local-workers": "linked by a curator"}, reasons
    for word in ("Merriweather", "Tad", "07911"):
        assert find_in_tables(public, word) == [], word
    server = Server(base)
    try:
        status, _, body = server.get(f"/-/story/{STORY}.json")
        assert status == 200 and b"Rowan's Catalyst" in body
        for path in (f"/-/story/{STORY}", f"/-/story/{STORY}.json", f"/public/links.json?story_id={STORY}",
                     f"/public/story_findings.json?story_id={STORY}"):
            status, _, body = server.get(path)
            assert status == 200, path
            for word in (b"Merriweather", b"Tad'", b"07911"):
                assert word not in body, (path, word)
    finally:
        server.stop()


def test_a_curators_certainty_reason_naming_the_person_holds_the_story_back(base: Path):
    _story(base)
    path = _study(base, "Twelve householders were matched in the first year.")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["findings"][0]["certainty"] = {"risk_of_bias": {
        "concern": "serious", "reason": "most of the figures come from Mr Merriweather's own diary"}}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    summary = build(base)
    assert [w for w in summary.warnings if STORY in w and "assessment" in w], summary.warnings
    assert sqlite3.connect(base / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 0


@pytest.mark.parametrize("old,new,field", [
    ("description: \"Homeshare is", "description: \"Thaddeus found his lodger through Homeshare. Homeshare is", "description"),
    ("aliases:", "confidence:\n  - {domain: ascot/social-participation-and-involvement, level: moderate, "
                 "reason: \"Mr Merriweather's lodger tells the same story\", by: Sam, date: 2026-11-29}\naliases:",
     "confidence reason"),
], ids=["description", "confidence reason"])
def test_the_approach_card_naming_the_person_holds_the_story_back(built: Path, old, new, field):
    # the evidence card shows the approach's texts next to its stories' titles and quoted sentences
    _story(built)
    approach = built / "approaches" / "homeshare.yml"
    text = approach.read_text(encoding="utf-8")
    approach.write_text(text.replace(old, new, 1), encoding="utf-8")
    summary = build(built)
    assert [w for w in summary.warnings if STORY in w and "approach 'homeshare'" in w and field in w], summary.warnings
    assert sqlite3.connect(built / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 0
    approach.write_text(text, encoding="utf-8")  # the curator takes the name out: the story is published
    summary = build(built)
    assert not [w for w in summary.warnings if STORY in w], summary.warnings
    assert sqlite3.connect(built / "public.db").execute(
        "SELECT count(*) FROM stories WHERE id = ?", [STORY]).fetchone()[0] == 1
