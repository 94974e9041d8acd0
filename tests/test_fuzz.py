"""Bad input: property-based tests (hypothesis) of the parsers of story front
matter, findings files, codebooks, approaches and areas, and a short fuzz
run of mutated content files through `evidence build`: every failure is a
one-line error naming the file, never a traceback, and nothing already
stored changes."""
from __future__ import annotations

import copy
import datetime as dt
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import integrity

from evidence.content import pii

from evidence.store import rows
from evidence.store import schema as store
from evidence.errors import ValidationError
from evidence.content.records import APPROACH_FIELDS, STORY_FIELDS, STUDY_FIELDS, FINDING_FIELDS, Vocabulary
from evidence.content.parsers import parse_approach, parse_areas, parse_framework, parse_story, parse_study

ROOT = Path(__file__).resolve().parent.parent
VOCAB = Vocabulary(approaches={p.stem for p in (ROOT / "approaches").glob("*.yml")},
                   areas={a.id for a in parse_areas("a", (ROOT / "pipelines" / "areas_of_work.yml").read_text())})
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(), st.text(max_size=20),
                    st.dates(min_value=dt.date(1, 1, 1)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3), max_leaves=8)


def _mutate(base: dict, keys: tuple, draw_changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in draw_changes.items():
        if value == "<drop>":
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _changes(keys: tuple):
    return st.dictionaries(st.sampled_from(keys + ("unknown_key",)), st.one_of(values, st.just("<drop>")), max_size=4)


STORY = yaml.safe_load((ROOT / "stories" / "james-and-andy.md").read_text().split("\n---\n")[0].removeprefix("---\n"))
STORY["approach"] = "shared-lives"
STUDY = yaml.safe_load((ROOT / "findings" / "poet-second-survey.yml").read_text())
APPROACH = yaml.safe_load((ROOT / "approaches" / "homeshare.yml").read_text())


def _only_validation_errors(fn, *args):
    """Call a parser: a result or a ValidationError naming the file; anything else fails the test."""
    try:
        return fn(*args)
    except ValidationError as exc:
        assert str(exc).startswith(args[0]), exc
        assert "\n" not in str(exc)
        return None


@pytest.mark.slow
@SETTINGS
@given(changes=_changes(STORY_FIELDS), consent=_changes(("basis", "scope", "identity", "pseudonym", "date", "recorded_by", "wording")),
       body=st.text(max_size=200).map(lambda t: "A narrative. " + t))
def test_story_front_matter(changes, consent, body):
    front = _mutate(STORY, STORY_FIELDS, changes)
    if isinstance(front.get("consent"), dict):
        front["consent"] = _mutate(front["consent"], (), consent)
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body
    story = _only_validation_errors(parse_story, "stories/james-and-andy.md", text, VOCAB)
    if story is not None:  # what build does next must not fail either
        rows.story_row(story)
        rows.people_rows(story)
        pii.scan_story(story, text)


@pytest.mark.slow
@SETTINGS
@given(changes=_changes(STUDY_FIELDS), finding=_changes(FINDING_FIELDS))
def test_findings_file(changes, finding):
    data = _mutate(STUDY, STUDY_FIELDS, changes)
    if isinstance(data.get("findings"), list) and data["findings"] and isinstance(data["findings"][0], dict):
        data["findings"][0] = _mutate(data["findings"][0], FINDING_FIELDS, finding)
    study = _only_validation_errors(parse_study, "findings/poet-second-survey.yml", yaml.safe_dump(data), VOCAB)
    if study is not None:
        rows.study_row(study)
        [rows.finding_row(f) for f in study.findings]


@pytest.mark.slow
@SETTINGS
@given(changes=_changes(("name", "id", "title", "version", "description", "domains", "source")),
       domain=_changes(("id", "label", "description", "examples", "maps_to")))
def test_codebook(changes, domain):
    data = _mutate({"name": "fw", "domains": [{"label": "Control", "examples": ["choice"]}]}, (), changes)
    if isinstance(data.get("domains"), list) and data["domains"] and isinstance(data["domains"][0], dict):
        data["domains"][0] = _mutate(data["domains"][0], (), domain)
    fw = _only_validation_errors(parse_framework, "pipelines/frameworks/fw.yml", yaml.safe_dump(data))
    if fw is not None:
        rows.framework_rows(fw)


@pytest.mark.slow
@SETTINGS
@given(changes=_changes(APPROACH_FIELDS), areas=values)
def test_approach_and_areas(changes, areas):
    a = _only_validation_errors(parse_approach, "approaches/homeshare.yml", yaml.safe_dump(_mutate(APPROACH, (), changes)), VOCAB)
    if a is not None:
        rows.approach_row(a)
    _only_validation_errors(parse_areas, "pipelines/areas_of_work.yml", yaml.safe_dump({"areas": areas}))


@pytest.mark.slow
@SETTINGS
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=400).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_as_any_content_file(text):
    for parser, path, extra in ((parse_story, "stories/x.md", (VOCAB,)), (parse_study, "findings/x.yml", (VOCAB,)),
                                (parse_approach, "approaches/x.yml", (VOCAB,)), (parse_framework, "pipelines/frameworks/x.yml", ()),
                                (parse_areas, "pipelines/areas_of_work.yml", ())):
        _only_validation_errors(parser, path, text, *extra)
        _only_validation_errors(parser, path, "---\n" + text, *extra)


def test_yaml_anchors_are_refused_before_they_can_expand():
    fm = "id: bomb\ntags:\n  - a: &a [lol, lol, lol]\n  - b: [*a, *a, *a]\n"
    with pytest.raises(ValidationError, match="anchors"):
        parse_story("stories/bomb.md", "---\n" + fm + "---\nbody\n")


# ---------------------------------------------------------------------------
# A short fuzz run through the real build


def _mutations(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    flipped = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(len(flipped))
        flipped[k] = rng.randrange(256)
    text = data.decode("utf-8")
    return [
        ("flipped bytes", bytes(flipped)),
        ("truncated", data[:rng.randrange(len(data))]),
        ("line deleted", b"\n".join(lines[:i] + lines[i + 1:])),
        ("line duplicated", b"\n".join(lines[:i + 1] + lines[i:])),
        ("tab indent", b"\n".join(lines[:i] + [b"\t" + lines[i]] + lines[i + 1:])),
        ("junk line", b"\n".join(lines[:i] + ["\u202e\ufeff: [{".encode()] + lines[i:])),
        ("random bytes", bytes(rng.randrange(256) for _ in range(300))),
        ("empty", b""),
        ("latin-1", text.replace("'", "\u2019").encode("utf-8").decode("utf-8").encode("latin-1", "replace") + "é".encode("latin-1")),
        ("utf-16", text.encode("utf-16")),
        ("binary nul", data[:50] + b"\x00\x00" + data[50:]),
    ]


@pytest.mark.slow
def test_fuzz_content_files_through_build(built: Path, cli):
    rng = random.Random(20261122)
    targets = ["stories/james-and-andy.md", "findings/poet-second-survey.yml", "approaches/homeshare.yml",
               "pipelines/frameworks/" + sorted(p.name for p in (built / "pipelines" / "frameworks").glob("*.yml"))[0],
               "pipelines/areas_of_work.yml"]
    before = integrity.digest(built / "evidence.db")
    public = (built / "public.db").read_bytes()
    tried = refused = 0
    for target in targets:
        path = built / target
        original = path.read_bytes()
        for label, data in _mutations(rng, original):
            path.write_bytes(data)
            result = cli(["build", "--root", built])
            tried += 1
            assert result.exit_code in (0, 1), (target, label, result.output)
            assert "Traceback" not in result.output
            if result.exit_code == 1:
                refused += 1
                lines = [line for line in result.stderr.splitlines() if line]
                assert lines and all(line.startswith("Error: ") for line in lines), (target, label, lines)
                assert any(t.split("/")[0] in lines[0] or "areas_of_work" in lines[0] for t in targets), (target, label, lines)
                assert integrity.digest(built / "evidence.db") == before, (target, label)
                assert (built / "public.db").read_bytes() == public, (target, label)
            path.write_bytes(original)
            if result.exit_code == 0:  # a harmless mutation: put the original back
                assert integrity.check(built / "evidence.db") == []
                assert cli(["build", "--root", built]).exit_code == 0
                before = integrity.digest(built / "evidence.db")
                public = (built / "public.db").read_bytes()
    assert tried == 55 and refused >= 35, (tried, refused)
