"""`evidence add --from-review FILE`: add the candidates a curator kept in an
extract candidates file, through the same validation as any add. Every kept
candidate is checked first (a missing consent field, title, approach or
study names the candidate in a one-line error) so that nothing is added
unless all of them can be."""
from __future__ import annotations

from pathlib import Path

import yaml

from evidence.curate.add import FindingInput, StoryInput, add_finding, add_story, prepare_story
from evidence.errors import EvidenceError


def _load(file: Path) -> dict:
    from evidence.content.settings import read_bounded, read_limits
    from evidence.content.yamldoc import load_yaml

    if not Path(file).exists():
        raise EvidenceError(f"{file}: no such candidates file; run 'evidence extract' first")
    try:
        data = load_yaml(read_bounded(file, read_limits(Path(".")).max_yaml_bytes, "candidates file",
                                      "max_yaml_bytes").decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvidenceError(f"{file}: not a readable candidates file ({first}); fix the YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("stories", []), list) or not isinstance(data.get("findings", []), list):
        raise EvidenceError(f"{file}: not a candidates file (needs 'stories:' and 'findings:' lists); run 'evidence extract' first")
    return data


def _story_input(c: dict, recorded_by: str) -> StoryInput:
    a = c.get("add") or {}
    name = c.get("candidate", "?")
    for key in ("consent", "consent_scope"):
        if not str(a.get(key) or "").strip():
            raise EvidenceError(f"{name}: kept but add.{key} is empty; fill the consent fields in the candidates file")
    return StoryInput(
        title=str(a.get("title") or ""), body=str(c.get("passage") or ""), id=str(a.get("id") or ""),
        summary=str(a.get("summary") or ""),
        people=[(str(p), "") for p in c.get("people") or []],
        approach=str(a.get("approach") or ""), organisation=str(a.get("organisation") or ""),
        place=str(a.get("place") or ""), source_title=str(c.get("source_title") or ""),
        source_author=str(a.get("source_author") or ""), source_organisation=str(a.get("source_organisation") or ""),
        source_url=str(a.get("source_url") or ""), consent=str(a.get("consent") or ""),
        consent_scope=str(a.get("consent_scope") or ""), identity=str(a.get("identity") or "named"),
        pseudonym=str(a.get("pseudonym") or ""), recorded_by=str(a.get("recorded_by") or recorded_by),
        consent_wording=str(a.get("consent_wording") or ""),
    )


def _finding_input(c: dict) -> FindingInput:
    a = c.get("add") or {}
    name = c.get("candidate", "?")
    if not str(a.get("study") or "").strip():
        raise EvidenceError(f"{name}: kept but add.study is empty; give the id of the study (findings/<study>.yml)")
    value = c.get("value")
    return FindingInput(
        study=str(a["study"]), statement=str(c.get("statement") or ""), id=str(a.get("id") or ""),
        measure=str(c.get("measure") or ""), value=float(value) if isinstance(value, (int, float)) else None,
        unit=str(c.get("unit") or ""), direction=str(a.get("direction") or ""),
        comparator=str(c.get("comparator") or ""),
        sample_size=c.get("sample_size") if isinstance(c.get("sample_size"), int) else None,
        population=str(a.get("population") or ""), design=str(a.get("design") or ""),
        year=a.get("year") if isinstance(a.get("year"), int) else None, place=str(a.get("place") or ""),
        approach=str(a.get("approach") or ""), source_sentence=str(c.get("source_sentence") or ""),
    )


def add_from_review(root: Path, file: Path, db_path=None, public_path=None, recorded_by: str = "curator") -> dict:
    """Add every kept candidate of a candidates file; returns {'stories': [ids],
    'findings': [ids]}. All kept stories are validated before any is added."""
    root = Path(root)
    data = _load(file)
    stories = [c for c in data.get("stories") or [] if isinstance(c, dict) and c.get("keep") is True]
    findings = [c for c in data.get("findings") or [] if isinstance(c, dict) and c.get("keep") is True]
    if not stories and not findings:
        raise EvidenceError(f"{file}: no candidate has keep: true; mark the ones to add and run again")
    story_inputs = []
    for c in stories:
        inp = _story_input(c, recorded_by)
        try:
            prepare_story(root, StoryInput(**vars(inp)))
        except EvidenceError as exc:
            raise EvidenceError(f"{c.get('candidate', '?')}: {exc}") from None
        story_inputs.append((c, inp))
    finding_inputs = [(c, _finding_input(c)) for c in findings]
    added: dict[str, list[str]] = {"stories": [], "findings": []}
    for c, inp in story_inputs:
        try:
            path, _ = add_story(root, inp, db_path, public_path)
        except EvidenceError as exc:
            raise EvidenceError(f"{c.get('candidate', '?')}: {exc} (added before it: {', '.join(added['stories']) or 'none'})") from None
        added["stories"].append(path.stem)
    for c, inp in finding_inputs:
        try:
            add_finding(root, inp, db_path, public_path)
        except EvidenceError as exc:
            done = ", ".join(added["stories"] + added["findings"]) or "none"
            raise EvidenceError(f"{c.get('candidate', '?')}: {exc} (added before it: {done})") from None
        added["findings"].append(c.get("candidate", "?"))
    return added
