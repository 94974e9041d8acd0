"""`evidence add --from-review FILE`: add the candidates a curator kept in an
extract candidates file, all or nothing, and repeatably.

1. Every kept candidate not yet marked `added:` is checked first, through
   the same validation as any add (stories, findings, new studies, ids and
   narratives unique among themselves and against the evidence base). An
   error names the candidate and the candidates file's field
   ("story-2: add.consent_scope is empty; ..."), and nothing is written.
2. All the content files are written and ONE incremental build runs; if it
   fails, every file is put back as it was.
3. Each added candidate gets `added: <id>` in the candidates file (only
   that line is inserted; the rest of the file is kept), so running the same
   file again adds nothing twice.

A story candidate's `add.people` gives the people as `{name, role}`
(extract fills the names); a finding candidate's `add.study_title` (with
`study_organisation`, `study_authors`, `study_year`, `study_url`,
`study_kind`) creates a study that does not exist yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evidence.curate.add import FindingInput, StoryInput, prepare_finding, prepare_story
from evidence.errors import EvidenceError
from evidence.content.yamldoc import InputError, plain_yaml

# CLI wording in the shared validation -> the candidates file's fields
FLAG_FIELDS = {
    "--title": "add.title", "--id": "add.id", "--approach": "add.approach", "--consent-scope": "add.consent_scope",
    "--consent-wording": "add.consent_wording", "--consent": "add.consent", "--identity": "add.identity",
    "--pseudonym": "add.pseudonym", "--study-title": "add.study_title", "--study-organisation": "add.study_organisation",
    "--study": "add.study", "--statement": "statement", "--body-file": "passage",
}


def _in_file_terms(message: str) -> str:
    """Say 'set add.title in the candidates file', not 'pass --title'."""
    message = re.sub(r"pass --body-file FILE or pipe the narrative on stdin", "fill 'passage'", message)

    def repl(m: re.Match) -> str:
        return f"set {FLAG_FIELDS.get(m.group(1), m.group(1).lstrip('-').replace('-', '_'))}"

    message = re.sub(r"pass (--[a-z-]+)(?: [A-Z]+| with)?", repl, message)
    return re.sub(r"--([a-z][a-z-]+)", lambda m: FLAG_FIELDS.get(m.group(0), "add." + m.group(1).replace("-", "_")), message)


@dataclass
class ImportResult:
    stories: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # candidates marked added: by an earlier run
    summary: object = None


def _load(file: Path) -> tuple[dict, str]:
    from evidence.content.settings import read_bounded, read_limits
    from evidence.content.yamldoc import load_yaml

    if not Path(file).exists():
        raise EvidenceError(f"{file}: no such candidates file; run 'evidence extract' first")
    try:
        text = read_bounded(file, read_limits(Path(".")).max_yaml_bytes, "candidates file",
                            "max_yaml_bytes").decode("utf-8")
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise EvidenceError(_yaml_error(file, exc)) from None
    except UnicodeDecodeError:
        raise EvidenceError(f"{file}: not a readable candidates file (not UTF-8 text); save it as UTF-8") from None
    if not isinstance(data, dict) or not isinstance(data.get("stories") or [], list) or not isinstance(data.get("findings") or [], list):
        raise EvidenceError(f"{file}: not a candidates file (needs 'stories:' and 'findings:' lists); run 'evidence extract' first")
    return data, text


def _yaml_error(file: Path, exc: yaml.YAMLError) -> str:
    """One line for a candidates file the YAML parser refuses, at the line
    it stopped on (its problem, not its context: 'while parsing a block
    mapping' says nothing of what to fix), since the file is edited by hand."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, InputError):  # YAML, but refused (a key twice): the problem says the fix
        return f"{where}: not a readable candidates file ({problem})"
    return (f"{where}: not a readable candidates file ({problem}); fix the YAML at that line "
            "(indent with spaces, not tabs, as the lines around it are)")


def _text(a: dict, key: str, name: str = "") -> str:
    v = a.get(key)
    if isinstance(v, (list, dict)):  # str() would store "['a', 'b']" as the value
        raise EvidenceError(f"{name}: add.{key} must be text, not a {'list' if isinstance(v, list) else 'mapping'}; "
                            "write one value")
    return "" if v is None else str(v).strip()


# the fields a curator may fill under a candidate's 'add:'
STORY_ADD_KEYS = ("id", "title", "summary", "people", "approach", "organisation", "place", "area_of_work",
                  "source_title", "source_author", "source_organisation", "source_url", "source_date", "consent",
                  "consent_scope", "identity", "pseudonym", "consent_date", "recorded_by", "consent_wording")
FINDING_ADD_KEYS = ("study", "id", "direction", "population", "design", "year", "place", "approach", "study_title",
                    "study_organisation", "study_authors", "study_year", "study_url", "study_kind")


def _check_keys(a: dict, allowed: tuple[str, ...], name: str) -> None:
    """A misspelt field ('plcae: Leeds') is refused, not dropped silently."""
    from evidence.content.yamldoc import suggest

    for key in a:
        if key not in allowed:
            raise EvidenceError(f"{name}: unknown field add.{key}{suggest(str(key), allowed)}; "
                                f"the fields are: {', '.join(allowed)}")


def _people(c: dict, name: str) -> list[tuple[str, str]]:
    a = c.get("add") or {}
    raw = a.get("people")
    if raw is None:  # older candidates files: names only, from extract
        raw = [{"name": p, "role": ""} for p in c.get("people") or []]
    if not isinstance(raw, list):
        raise EvidenceError(f"{name}: add.people must be a list of {{name: ..., role: ...}}")
    out = []
    for i, p in enumerate(raw):
        if isinstance(p, str):
            n, _, r = p.partition(":")
            p = {"name": n, "role": r}
        for key in ("name", "role"):
            if isinstance(p, dict) and isinstance(p.get(key), (list, dict)):  # str() would store "['Tamsin']"
                raise EvidenceError(f"{name}: add.people[{i}].{key} must be text, not a "
                                    f"{'list' if isinstance(p[key], list) else 'mapping'}; write one value")
        if not isinstance(p, dict) or not str(p.get("name") or "").strip():
            raise EvidenceError(f"{name}: add.people[{i}] needs a name, as {{name: Maria, role: person supported}}")
        if not str(p.get("role") or "").strip():
            raise EvidenceError(f"{name}: add.people[{i}] ({p['name']}) has no role; give one, e.g. "
                                "'person supported', 'carer', 'family member', 'worker'")
        out.append((str(p["name"]).strip(), str(p["role"]).strip()))
    return out


def _story_input(c: dict, name: str, recorded_by: str) -> StoryInput:
    a = c.get("add") or {}
    if not isinstance(a, dict):
        raise EvidenceError(f"{name}: 'add' must be a mapping of the fields to fill")
    _check_keys(a, STORY_ADD_KEYS, name)
    for key in STORY_ADD_KEYS:
        if key != "people":
            _text(a, key, name)
    for key in ("title", "approach", "consent", "consent_scope"):
        if not _text(a, key):
            raise EvidenceError(f"{name}: kept but add.{key} is empty; fill it in the candidates file")
    if not _text(c, "passage"):
        raise EvidenceError(f"{name}: kept but its 'passage' (the narrative) is empty")
    return StoryInput(
        title=_text(a, "title"), body=str(c.get("passage") or ""), id=_text(a, "id"), summary=_text(a, "summary"),
        people=_people(c, name), approach=_text(a, "approach"), organisation=_text(a, "organisation"),
        place=_text(a, "place"), area_of_work=_text(a, "area_of_work"),
        source_title=_text(a, "source_title") or _text(c, "source_title"),
        source_author=_text(a, "source_author"), source_organisation=_text(a, "source_organisation"),
        source_url=_text(a, "source_url"), source_date=_text(a, "source_date"), consent=_text(a, "consent"),
        consent_scope=_text(a, "consent_scope"), identity=_text(a, "identity") or "named",
        pseudonym=_text(a, "pseudonym"), consent_date=_text(a, "consent_date"),
        recorded_by=_text(a, "recorded_by") or recorded_by, consent_wording=_text(a, "consent_wording"),
    )


def _int(a: dict, key: str, name: str) -> int | None:
    v = a.get(key)
    if v in (None, ""):
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise EvidenceError(f"{name}: add.{key} must be a whole number, not '{v}'")
    return v


def _finding_input(c: dict, name: str) -> FindingInput:
    a = c.get("add") or {}
    if not isinstance(a, dict):
        raise EvidenceError(f"{name}: 'add' must be a mapping of the fields to fill")
    _check_keys(a, FINDING_ADD_KEYS, name)
    for key in FINDING_ADD_KEYS:
        if key not in ("year", "study_year"):
            _text(a, key, name)
    if not _text(a, "study"):
        raise EvidenceError(f"{name}: kept but add.study is empty; give the id of the study (findings/<study>.yml), "
                            "and add.study_title when it is a new one")
    value = c.get("value")
    return FindingInput(
        study=_text(a, "study"), statement=str(c.get("statement") or ""), id=_text(a, "id"),
        measure=str(c.get("measure") or ""), value=float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
        unit=str(c.get("unit") or ""), direction=_text(a, "direction"), comparator=str(c.get("comparator") or ""),
        sample_size=c.get("sample_size") if isinstance(c.get("sample_size"), int) else None,
        population=_text(a, "population"), design=_text(a, "design"), year=_int(a, "year", name),
        place=_text(a, "place"), approach=_text(a, "approach"), source_sentence=str(c.get("source_sentence") or ""),
        study_title=_text(a, "study_title"), study_authors=_text(a, "study_authors"),
        study_organisation=_text(a, "study_organisation"), study_year=_int(a, "study_year", name),
        study_url=_text(a, "study_url"), study_kind=_text(a, "study_kind"),
    )


def _named(c: dict, kind: str, i: int) -> str:
    return str(c.get("candidate") or f"{kind}[{i}]")


def _line(text: str, *keys: str | int) -> int | None:
    """1-based line of the value at `keys` in the candidates file (or of its
    nearest existing parent), so that an error sends the curator there."""
    from evidence.content.yamldoc import compose_yaml

    try:
        node = compose_yaml(text)
    except yaml.YAMLError:  # pragma: no cover - the file was read by the same parser
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _error_keys(message: str) -> tuple[str | int, ...]:
    """The keys under a candidate of the field an error names
    ('add.people[1] needs a name' -> add, people, 1)."""
    m = re.search(r"\badd\.([a-z_]+)(?:\[(\d+)\])?", message)
    if m:
        return ("add", m.group(1), *([int(m.group(2))] if m.group(2) else []))
    # the shared validation's words for a story file's fields
    story_field = re.search(r"'(scope|basis|identity|wording|pseudonym)' is|unknown (approach|area_of_work)", message)
    if story_field:
        name = story_field.group(1) or story_field.group(2)
        return ("add", {"scope": "consent_scope", "basis": "consent", "wording": "consent_wording"}.get(name, name))
    return ("add",) if "'add'" in message else ()


def plan(root: Path, file: Path, recorded_by: str = "curator"):
    """Check every kept candidate; returns (changes [(path, text, old)],
    [(section, index, candidate name, id)], skipped names). Writes nothing."""
    from evidence.content.records import content_hash, normalise_text

    root = Path(root)
    data, text = _load(file)
    for sec in ("stories", "findings"):
        for i, c in enumerate(data.get(sec) or []):
            if isinstance(c, dict) and c.get("keep") not in (True, False, None):  # 'yes please', 'true' in quotes
                raise EvidenceError(f"{file}:{_line(text, sec, i, 'keep')}: {_named(c, sec, i)}: keep is "
                                    f"{c['keep']!r}; write keep: true (or false), without quotes")
    kept = [(sec, i, c) for sec in ("stories", "findings") for i, c in enumerate(data.get(sec) or [])
            if isinstance(c, dict) and c.get("keep") is True]
    todo = [(sec, i, c) for sec, i, c in kept if not c.get("added")]
    skipped = [_named(c, sec, i) for sec, i, c in kept if c.get("added")]
    if not kept:
        raise EvidenceError(f"{file}: no candidate has keep: true; mark the ones to add and run again")
    changes: list[tuple[Path, str, str | None]] = []
    marks: list[tuple[str, int, str, str]] = []
    ids, bodies = {}, {}
    pending: dict[Path, str] = {}
    old_texts: dict[Path, str | None] = {}
    taken: dict[str, str] = {}
    for sec, i, c in todo:
        name = _named(c, sec, i)
        try:
            if sec == "stories":
                inp = _story_input(c, name, recorded_by)
                path, text = prepare_story(root, inp)
                if path.stem in ids:
                    raise EvidenceError(f"its id '{path.stem}' is also {ids[path.stem]}'s; set add.id to tell them apart")
                h = content_hash(normalise_text(inp.body))
                if h in bodies:
                    raise EvidenceError(f"its passage is the same as {bodies[h]}'s; keep one of them")
                ids[path.stem], bodies[h] = name, name
                changes.append((path, text, None))
                marks.append((sec, i, name, path.stem))
            else:
                inp = _finding_input(c, name)
                path, text, old, fid = prepare_finding(root, inp, pending, taken)
                old_texts.setdefault(path, old)
                marks.append((sec, i, name, fid))
        except EvidenceError as exc:
            msg = str(exc)
            msg = msg if msg.startswith(f"{name}:") else f"{name}: {_in_file_terms(msg)}"
            line = _line(text, sec, i, *_error_keys(msg))
            raise EvidenceError(f"{file}:{line}: {msg} (nothing was added)" if line else
                                f"{file}: {msg} (nothing was added)") from None
    changes += [(p, t, old_texts[p]) for p, t in pending.items()]
    return changes, marks, skipped


def add_from_review(root: Path, file: Path, db_path=None, public_path=None, recorded_by: str = "curator",
                    options=None) -> ImportResult:
    """Add every kept candidate not yet added, all or nothing (see the module
    docstring); returns what was added and what an earlier run had added."""
    from evidence.content.tree import stamp, write_atomic
    from evidence.curate.write import curator_lock, write_all_and_build

    root = Path(root)
    result = ImportResult()
    before = stamp(root, Path(file))
    changes, marks, result.skipped = plan(root, file, recorded_by)  # refuse before taking the lock (no lock file left)
    if not marks:
        return result
    with curator_lock(root, db_path, public_path):
        if stamp(root, Path(file)) != before:  # someone wrote meanwhile: check again, now that no one else writes
            changes, marks, result.skipped = plan(root, file, recorded_by)
            if not marks:
                return result
        # the marked file is made before anything is written: a layout it cannot mark is refused
        # while nothing is added, not after the stories are in (a re-run would add them twice)
        marked = marked_text(Path(file), [(sec, i, ident) for sec, i, _, ident in marks])
        result.summary = write_all_and_build(root, changes, db_path, public_path, options)
        write_atomic(Path(file), marked)
    for sec, _, _, ident in marks:
        (result.stories if sec == "stories" else result.findings).append(ident)
    return result


def marked_text(file: Path, marks: list[tuple[str, int, str]]) -> str:
    """The candidates file's text with `added: <id>` inserted into each
    (section, index) candidate; raises EvidenceError when it cannot be."""
    from evidence.content.yamldoc import compose_yaml

    text = file.read_text(encoding="utf-8")
    lines = text.split("\n")
    try:  # the parser that read the file (the Python one refuses a tab after 'title:' that the C one reads)
        root = compose_yaml(text)
    except yaml.YAMLError as exc:  # pragma: no cover - the file was read by the same parser
        raise EvidenceError(_yaml_error(file, exc)) from None
    inserts: list[tuple[int, str]] = []
    sections = {k.value: v for k, v in root.value}
    for sec, i, ident in marks:
        node = sections[sec].value[i]
        if node.flow_style:  # a one-line mapping: rewrite that line
            raise EvidenceError(f"{file}:{node.start_mark.line + 1}: {sec}[{i}] is written on one line, so it cannot be "
                                f"marked 'added: {ident}'; nothing was added. Write it one key a line, then run again")
        first, value = node.value[0]
        end = value.end_mark.line
        if value.end_mark.column == 0 and end > value.start_mark.line:
            end -= 1  # a block value's end mark points at the next line
        inserts.append((end + 1, f"{' ' * first.start_mark.column}added: {ident}"))
    for line_no, line in sorted(inserts, reverse=True):
        lines.insert(line_no, line)
    new = "\n".join(lines)
    check = plain_yaml(new)
    for sec, i, ident in marks:
        if check[sec][i].get("added") != ident:  # pragma: no cover - a layout the line insert cannot handle
            raise EvidenceError(f"{file}: {sec}[{i}] could not be marked 'added: {ident}'; nothing was added. Write "
                                "the candidate as extract does (one key a line), then run again")
    return new
