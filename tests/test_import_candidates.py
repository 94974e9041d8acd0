"""`evidence add --from-review`: all or nothing (a bad finding after a good
story leaves every file byte-identical), errors naming the candidate and the
candidates file's field, people with roles, a new study from the file, and
re-runs that add nothing twice."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml

STORY_A = ("Sunita, who is 79, had not been out of her flat for a winter when a volunteer from the timebank "
           "knocked. They now walk to the library together on Tuesdays, and she teaches two neighbours to "
           "cook dal in return for lifts to the surgery.")
STORY_B = ("After his stroke Gareth could not go back to the building site. A Local Area Coordinator helped him "
           "find a woodwork group at the community centre, where he now mends benches for the park.")


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(("evidence.db", "public.db", ".evidence"))}


def story(n: int, passage: str, **add) -> dict:
    fields = {"id": "", "title": f"Story {n}", "summary": "", "approach": "local-area-coordination",
              "organisation": "", "place": "", "source_author": "", "source_organisation": "Test Council",
              "source_url": "", "consent": "given-by-person", "consent_scope": "public", "identity": "named",
              "pseudonym": "", "consent_wording": "Consent form v2, signed", "recorded_by": "",
              "people": [{"name": "Sunita", "role": "person supported"}]}
    fields.update(add)
    return {"candidate": f"story-{n}", "keep": True, "duplicate_of": None, "source_title": "Test post",
            "people": ["Sunita"], "passage": passage, "add": fields}


def finding(n: int, statement: str, **add) -> dict:
    fields = {"study": "new-timebank-survey", "id": "", "direction": "", "population": "", "design": "survey",
              "year": 2025, "place": "", "approach": "", "study_title": "Timebank members survey 2025",
              "study_organisation": "Test Timebank", "study_authors": "", "study_year": 2025, "study_url": "",
              "study_kind": "survey"}
    fields.update(add)
    return {"candidate": f"finding-{n}", "keep": True, "duplicate_of": None, "statement": statement,
            "measure": "", "value": None, "unit": "", "sample_size": None, "add": fields}


def write(path: Path, stories: list, findings: list) -> Path:
    path.write_text(yaml.safe_dump({"extracted": "2026-11-30", "files": ["x.txt"], "stories": stories,
                                    "findings": findings}, sort_keys=False, allow_unicode=True, width=100),
                    encoding="utf-8")
    return path


def test_a_bad_finding_after_a_good_story_leaves_every_file_byte_identical(built: Path, cli, tmp_path):
    review = write(tmp_path / "cands.yml", [story(1, STORY_A)],
                   [finding(1, "Two in three members said they felt less lonely."),
                    finding(2, "Members gave 4,000 hours.", approach="no-such-approach")])
    before, cands = snapshot(built), review.read_bytes()
    db_before = (built / "evidence.db").stat().st_mtime_ns
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 1
    line = r.output.strip()
    assert len(line.splitlines()) == 1 and "finding-2:" in line and "nothing was added" in line
    assert "unknown approach 'no-such-approach'" in line
    assert snapshot(built) == before and review.read_bytes() == cands
    assert (built / "evidence.db").stat().st_mtime_ns == db_before
    assert not (built / "stories" / "story-1.md").exists()


def test_errors_name_the_candidate_and_the_field_of_the_file(built: Path, cli, tmp_path):
    before = snapshot(built)
    cases = [
        (story(1, STORY_A, consent_scope=""), "story-1: kept but add.consent_scope is empty"),
        (story(1, STORY_A, consent_wording=""), "story-1: the consent record needs the wording or version the person agreed to; set add.consent_wording"),
        (story(1, STORY_A, people=[{"name": "Sunita", "role": ""}]), "story-1: add.people[0] (Sunita) has no role"),
        (story(1, STORY_A, approach="home share"), "did you mean 'homeshare'"),
    ]
    for cand, message in cases:
        review = write(tmp_path / "c.yml", [cand], [])
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 1 and message in r.output, r.output
        assert "--" not in r.output.split("Error:", 1)[1], f"names a CLI flag: {r.output}"
    review = write(tmp_path / "c.yml", [], [finding(1, "Most members were over 70.", study_title="")])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 1 and "finding-1:" in r.output and "set add.study_title" in r.output, r.output
    assert snapshot(built) == before


def test_people_roles_new_study_and_an_idempotent_rerun(built: Path, cli, tmp_path):
    review = write(tmp_path / "cands.yml",
                   [story(1, STORY_A, people=[{"name": "Sunita", "role": "person supported"},
                                              {"name": "Ade", "role": "timebank volunteer"}]),
                    story(2, STORY_B, people=[{"name": "Gareth", "role": "person supported"}])],
                   [finding(1, "Two in three members said they felt less lonely."),
                    finding(2, "Members gave 4,000 hours of help in the year.")])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0, r.output
    text = (built / "stories" / "story-1.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["people"] == [{"name": "Sunita", "role": "person supported"}, {"name": "Ade", "role": "timebank volunteer"}]
    study = yaml.safe_load((built / "findings" / "new-timebank-survey.yml").read_text(encoding="utf-8"))
    assert study["title"] == "Timebank members survey 2025" and len(study["findings"]) == 2
    conn = sqlite3.connect(built / "evidence.db")
    assert conn.execute("SELECT count(*) FROM findings WHERE study_id = 'new-timebank-survey'").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM tagged_items WHERE item_id IN ('story-1', 'story-2')").fetchone() == (2,)
    conn.close()
    marked = yaml.safe_load(review.read_text(encoding="utf-8"))
    assert [c["added"] for c in marked["stories"]] == ["story-1", "story-2"]
    assert all(c["added"] for c in marked["findings"])
    # only the added: lines were inserted
    assert sum(1 for line in review.read_text(encoding="utf-8").splitlines() if line.strip().startswith("added:")) == 4
    after = snapshot(built)
    for _ in range(2):
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 0 and "added 0 story(ies)" in r.output and "4 kept candidate(s) were added by an earlier run" in r.output
        assert snapshot(built) == after
    # a new kept candidate in the same file: only it is added
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    data["findings"].append(finding(3, "Half of the members had never volunteered before."))
    review.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0 and "added 0 story(ies)" in r.output and "1 finding(s)" in r.output, r.output
    study = yaml.safe_load((built / "findings" / "new-timebank-survey.yml").read_text(encoding="utf-8"))
    assert len(study["findings"]) == 3


def test_two_candidates_with_one_id_are_refused_before_anything_is_written(built: Path, cli, tmp_path):
    before = snapshot(built)
    review = write(tmp_path / "c.yml", [story(1, STORY_A, id="same-one"), story(2, STORY_B, id="same-one")], [])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 1 and "story-2:" in r.output and "story-1" in r.output
    assert snapshot(built) == before


def test_a_misspelt_or_list_valued_add_field_is_refused_not_dropped(built: Path, cli, tmp_path):
    """'plcae: Leeds' was ignored (the story was added with no place) and a
    title written as a list was stored as "['a', 'b']"."""
    for bad, needle in (({"plcae": "Leeds"}, "unknown field add.plcae (did you mean 'place'?)"),
                        ({"title": ["Sunita", "the woodwork group"]}, "add.title must be text, not a list"),
                        ({"stduy_title": "x"}, None)):
        if needle is None:  # a finding's field
            review = write(tmp_path / "c.yml", [], [finding(1, "Members gave 4,000 hours.", **bad)])
            needle = "finding-1: unknown field add.stduy_title (did you mean 'study_title'?)"
        else:
            review = write(tmp_path / "c.yml", [story(1, STORY_A, **bad)], [])
        before = snapshot(built)
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 1 and needle in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert snapshot(built) == before


def test_area_of_work_in_a_candidate_is_added(built: Path, cli, tmp_path):
    review = write(tmp_path / "c.yml", [story(1, STORY_A, id="sunita-woodwork", area_of_work="day-activities-and-employment")], [])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0, r.output
    assert "area_of_work: day-activities-and-employment" in (built / "stories" / "sunita-woodwork.md").read_text(encoding="utf-8")


def test_content_written_while_waiting_for_the_lock_is_checked_again(built: Path, cli, tmp_path, monkeypatch):
    """The candidates are checked before the lock is taken; inside it they
    are checked again only when the content changed meanwhile (a stat of
    each file), e.g. another curator added a story with the same id."""
    import evidence.curate.import_candidates as ic
    from evidence.curate import write as write_mod

    calls: list[int] = []
    real_plan = ic.plan
    monkeypatch.setattr(ic, "plan", lambda *a, **k: calls.append(1) or real_plan(*a, **k))
    review = write(tmp_path / "c.yml", [story(1, STORY_A, id="first-one")], [])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0, r.output
    assert len(calls) == 1  # nothing changed while it waited: checked once

    calls.clear()
    real_lock = write_mod.curator_lock
    clash = built / "stories" / "second-one.md"

    def lock_after_another_curator(*a, **k):
        clash.write_text((built / "stories" / "first-one.md").read_text(encoding="utf-8"), encoding="utf-8")
        return real_lock(*a, **k)

    monkeypatch.setattr(write_mod, "curator_lock", lock_after_another_curator)
    before = snapshot(built)
    review = write(tmp_path / "d.yml", [story(2, STORY_B, id="second-one")], [])
    r = cli(["add", "--from-review", review, "--root", built])
    assert len(calls) == 2  # the tree changed: checked again inside the lock
    assert r.exit_code == 1 and "second-one" in r.output, r.output
    assert snapshot(built) == {**before, "stories/second-one.md": clash.read_bytes()}  # only the other curator's file


def test_a_tab_after_a_colon_is_marked_or_refused_never_added_unmarked(built: Path, cli, tmp_path):
    """'title:<TAB>Story 1' was read by the C parser, the story added and
    built, and then marking it 'added:' (Python parser) failed with an
    unexpected error: the story was in, the file unmarked, a re-run refused."""
    review = write(tmp_path / "c.yml", [story(1, STORY_A)], [])
    review.write_text(review.read_text(encoding="utf-8").replace("    title: Story 1", "    title:\tStory 1"),
                      encoding="utf-8")
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0, r.output
    assert "added: story-1" in review.read_text(encoding="utf-8")
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 0 and "unexpected" not in r.output.lower(), r.output


def test_a_yaml_mistake_in_the_candidates_file_names_its_line(built: Path, cli, tmp_path):
    """A wrong indentation or a duplicate key said 'not a readable candidates
    file (while parsing a block mapping)' with no line to look at."""
    review = write(tmp_path / "c.yml", [story(1, STORY_A)], [])
    text = review.read_text(encoding="utf-8")
    for bad in (text.replace("      role: person supported", "     role: person supported"),
                text.replace("      role: person supported", "      role: person supported\n      role: carer")):
        review.write_text(bad, encoding="utf-8")
        before = snapshot(built)
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
        n = int(r.output.split(f"{review}:", 1)[1].split(":", 1)[0])
        assert "role:" in bad.split("\n")[n - 1] or "role:" in bad.split("\n")[n - 2], (n, r.output)
        assert snapshot(built) == before


def test_a_person_s_name_or_role_written_as_a_list_is_refused(built: Path, cli, tmp_path):
    """'name: [Tamsin]' was stored as the name "['Tamsin']"."""
    for person, field in (({"name": ["Sunita"], "role": "person supported"}, "name"),
                          ({"name": "Sunita", "role": {"a": "carer"}}, "role")):
        review = write(tmp_path / "c.yml", [story(1, STORY_A, people=[person])], [])
        before = snapshot(built)
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 1 and f"add.people[0].{field} must be text" in r.output, r.output
        assert snapshot(built) == before


def test_an_error_names_the_line_of_the_field_and_a_quoted_keep_is_refused(built: Path, cli, tmp_path):
    """Errors named the candidate and the field but no line, in a file of
    hundreds; and keep: 'true' (quoted) or 'yes please' skipped the
    candidate without a word when another one was kept."""
    cases = [({"people": [{"name": "Sunita", "role": "person supported"}, {"role": "carer"}]}, "- role: carer"),
             ({"consent_scope": "everywhere"}, "consent_scope: everywhere"),
             ({"approach": "homesharing"}, "approach: homesharing")]
    for add, needle in cases:
        review = write(tmp_path / "c.yml", [story(1, STORY_A, **add)], [])
        r = cli(["add", "--from-review", review, "--root", built])
        assert r.exit_code == 1 and "story-1:" in r.output, r.output
        n = int(r.output.split(f"{review}:", 1)[1].split(":", 1)[0])
        assert review.read_text(encoding="utf-8").split("\n")[n - 1].strip() == needle, (n, r.output)
    before = snapshot(built)
    second = story(2, STORY_B)
    second["keep"] = "true"
    review = write(tmp_path / "c.yml", [story(1, STORY_A), second], [])
    r = cli(["add", "--from-review", review, "--root", built])
    assert r.exit_code == 1 and "story-2: keep is 'true'" in r.output and "keep: true" in r.output, r.output
    n = int(r.output.split(f"{review}:", 1)[1].split(":", 1)[0])
    assert review.read_text(encoding="utf-8").split("\n")[n - 1].strip() == "keep: 'true'"
    assert snapshot(built) == before
