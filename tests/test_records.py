"""Parsing and validation: every error names the file and the line, and says how to fix it."""
from __future__ import annotations

from pathlib import Path

import pytest

from evidence.build import build
from evidence.errors import ValidationError, ValidationErrors
from evidence.content.records import Vocabulary
from evidence.content.parsers import parse_approach, parse_framework, parse_story, parse_study

ROOT = Path(__file__).resolve().parent.parent
VOCAB = Vocabulary(approaches={"shared-lives", "homeshare"},
                   areas={"support-with-accommodation", "day-activities-and-employment", "support-with-leaving-hospital"})

GOOD = """---
id: rita
title: Rita's Homeshare
summary: Rita shares her home.
people:
  - name: Rita
    role: householder
approach: homeshare
organisation: Homeshare UK
place: Leeds
source:
  title: Our stories
  organisation: Homeshare UK
consent:
  basis: given-by-person
  scope: public
  identity: named
  date: 2026-11-01
  recorded_by: curator
  wording: Consent form v2
status: published
added: 2026-11-02
---
Rita lives with a younger sharer who helps in the evenings.
"""


def story_error(text: str, path: str = "stories/rita.md") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_story(path, text, VOCAB)
    return info.value


def test_good_story_parses_with_all_fields():
    s = parse_story("stories/rita.md", GOOD, VOCAB)
    assert (s.id, s.approach, s.place, s.consent.basis, s.consent.scope) == ("rita", "homeshare", "Leeds", "given-by-person", "public")
    assert s.people[0].name == "Rita" and s.body.startswith("Rita lives")
    assert s.publishable


def test_unknown_approach_names_line_and_lists_known_ones():
    err = story_error(GOOD.replace("approach: homeshare", "approach: homeshar"))
    assert err.line == 8
    assert str(err).startswith("stories/rita.md:8: unknown approach 'homeshar'")
    assert "did you mean 'homeshare'" in str(err) and "homeshare, shared-lives" in str(err)


def test_missing_consent_is_refused():
    text = GOOD.split("consent:")[0] + "status: published\nadded: 2026-11-02\n---\nRita.\n"
    err = story_error(text)
    assert "no consent record" in str(err)


@pytest.mark.parametrize("field", ["basis: given-by-person", "scope: public", "date: 2026-11-01", "recorded_by: curator", "wording: Consent form v2"])
def test_each_missing_consent_part_is_refused_at_its_place(field):
    err = story_error(GOOD.replace(f"  {field}\n", ""))
    key = field.split(":")[0]
    assert f"consent needs '{key}'" in str(err)
    assert err.path == "stories/rita.md" and err.line == 14  # the consent block


def test_bad_consent_scope_suggests_the_right_one():
    err = story_error(GOOD.replace("scope: public", "scope: publc"))
    assert err.line == 16 and "did you mean 'public'" in str(err)


def test_anonymised_story_needs_a_pseudonym():
    err = story_error(GOOD.replace("identity: named", "identity: anonymised"))
    assert "pseudonym" in str(err) and err.line == 14


def test_invalid_yaml_reports_its_line():
    err = story_error(GOOD.replace("place: Leeds", "place: [Leeds"))
    assert "invalid YAML" in str(err) and err.line is not None and err.line >= 10


def test_unknown_field_is_refused_with_a_suggestion():
    err = story_error(GOOD.replace("place: Leeds", "plase: Leeds"))
    assert err.line == 10 and "unknown field 'plase'" in str(err) and "did you mean 'place'" in str(err)


def test_id_must_match_file_name():
    err = story_error(GOOD, path="stories/other.md")
    assert err.line == 2 and "rename the file to rita.md" in str(err)


def test_empty_narrative_is_refused():
    err = story_error(GOOD.split("---\nRita lives")[0] + "---\n\n")
    assert "no narrative" in str(err)


def test_missing_front_matter_and_unclosed_front_matter():
    assert "starts with '---'" in str(story_error("Just a narrative"))
    assert "not closed" in str(story_error("---\nid: rita\n"))


def test_bad_date_is_refused():
    err = story_error(GOOD.replace("added: 2026-11-02", "added: 2nd November"))
    assert err.line == 22 and "YYYY-MM-DD" in str(err)


def test_source_needs_author_or_organisation():
    err = story_error(GOOD.replace("  organisation: Homeshare UK\n", ""))
    assert "author" in str(err) and err.line == 11


STUDY = """id: s1
title: A study
organisation: Uni
findings:
  - id: f1
    statement: Things got better.
    value: 27
    unit: organisations
    approach: shared-lives
  - id: f2
    statement: Other things.
"""


def test_study_parses_and_checks_findings():
    s = parse_study("findings/s1.yml", STUDY, VOCAB)
    assert [f.id for f in s.findings] == ["f1", "f2"] and s.findings[0].value == 27
    with pytest.raises(ValidationError) as info:
        parse_study("findings/s1.yml", STUDY.replace("    unit: organisations\n", ""), VOCAB)
    assert info.value.line == 7 and "no unit" in str(info.value)
    with pytest.raises(ValidationError) as info:
        parse_study("findings/s1.yml", STUDY.replace("id: f2", "id: f1"), VOCAB)
    assert info.value.line == 10 and "appears twice" in str(info.value)
    with pytest.raises(ValidationError) as info:
        parse_study("findings/s1.yml", STUDY.replace("value: 27", "value: lots"), VOCAB)
    assert info.value.line == 7 and "must be a number" in str(info.value)
    with pytest.raises(ValidationError) as info:
        parse_study("findings/s1.yml", STUDY.replace("approach: shared-lives", "approach: nope"), VOCAB)
    assert info.value.line == 9 and "unknown approach 'nope'" in str(info.value)


def test_approach_area_is_checked():
    text = (ROOT / "approaches" / "shared-lives.yml").read_text()
    a = parse_approach("approaches/shared-lives.yml", text, VOCAB)
    assert a.name == "Shared Lives"
    with pytest.raises(ValidationError) as info:
        parse_approach("approaches/shared-lives.yml", text.replace("area_of_work: support-with-accommodation", "area_of_work: nowhere"), VOCAB)
    assert "unknown area of work 'nowhere'" in str(info.value) and info.value.line == 4


def test_generic_codebook_is_accepted():
    fw = parse_framework("x.yml", "name: demo\ndomains:\n  - label: Food and drink\n    theme: extra key ignored\n  - label: Dignity\n    id: dig\n")
    assert fw.id == "demo" and [d.key for d in fw.domains] == ["demo/food-and-drink", "demo/dig"]
    with pytest.raises(ValidationError) as info:
        parse_framework("x.yml", "name: demo\ndomains:\n  - label: A\n  - description: no label\n")
    assert info.value.line == 4 and "needs a 'label'" in str(info.value)


def test_every_content_file_in_the_repository_is_valid(tmp_path):
    from conftest import copy_base

    summary = build(copy_base(tmp_path / "b"))
    assert summary.added >= 7 + 10 + 15 + 2
    assert summary.published["stories"] >= 7 and summary.published["findings"] >= 30


def test_build_reports_every_invalid_file_with_file_and_line(base):
    (base / "stories" / "james-and-andy.md").write_text(
        (base / "stories" / "james-and-andy.md").read_text().replace("approach: shared-lives", "approach: shared-live"))
    bad = (base / "findings" / "poet-second-survey.yml")
    bad.write_text(bad.read_text().replace("findings:", "findings: [", 1))
    with pytest.raises(ValidationErrors) as info:
        build(base)
    lines = str(info.value).splitlines()
    assert any(l.startswith("stories/james-and-andy.md:") and "unknown approach 'shared-live'" in l and "did you mean 'shared-lives'" in l for l in lines)
    assert any(l.startswith("findings/poet-second-survey.yml:") and "invalid YAML" in l for l in lines)


def test_finding_ids_are_unique_across_files(base):
    src = (base / "findings" / "poet-second-survey.yml").read_text()
    first_id = src.split("- id: ", 1)[1].split("\n", 1)[0].strip()
    (base / "findings" / "copy.yml").write_text(
        f"id: copy\ntitle: Copy\nfindings:\n  - id: {first_id}\n    statement: A different statement.\n")
    with pytest.raises(ValidationErrors, match=f"finding id '{first_id}' is already used"):
        build(base)


def test_crosswalk_to_unknown_domain_is_refused(base):
    p = base / "pipelines" / "frameworks" / "community-outcomes.yml"
    p.write_text(p.read_text().replace("ascot/control-over-daily-life", "ascot/control-over-daily-lfe"))
    with pytest.raises(ValidationErrors, match="maps_to unknown domain 'ascot/control-over-daily-lfe'"):
        build(base)
