"""Add: write a new story (or finding) file and update both databases.

Everything is validated before anything is written; the file is written
through a temp file and a rename; if the following incremental build fails,
the new file is removed again, so a refused add leaves no trace.
"""
from __future__ import annotations

import codecs
import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evidence.build import BuildOptions, BuildSummary
from evidence.curate.write import curator_lock, write_and_build
from evidence.errors import EvidenceError, ValidationError
from evidence.content.records import (
    CONSENT_BASES, CONSENT_SCOPES, IDENTITIES, Vocabulary, content_hash, normalise_text,
)
from evidence.content.yamldoc import SLUG_RE, plain_yaml, slugify, split_front_matter
from evidence.content.parsers import parse_areas, parse_story, parse_study


@dataclass
class StoryInput:
    """The fields of a new story, as a curator gives them."""

    title: str = ""
    body: str = ""
    id: str = ""
    summary: str = ""
    people: list[tuple[str, str]] = field(default_factory=list)  # (name, role)
    approach: str = ""
    organisation: str = ""
    place: str = ""
    area_of_work: str = ""
    source_title: str = ""
    source_author: str = ""
    source_organisation: str = ""
    source_url: str = ""
    source_date: str = ""
    consent: str = ""  # the basis
    consent_scope: str = ""
    identity: str = "named"
    pseudonym: str = ""
    consent_date: str = ""
    recorded_by: str = ""
    consent_wording: str = ""
    status: str = "published"


def git_user() -> str:
    """`git config user.name`, or "" when git or the setting is missing."""
    import subprocess

    try:
        out = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def vocabulary(root: Path) -> Vocabulary:
    """Known approach and area ids, read from the content files."""
    root = Path(root)
    vocab = Vocabulary(approaches={p.stem for p in (root / "approaches").glob("*.yml")})
    areas_file = root / "pipelines" / "areas_of_work.yml"
    if areas_file.exists():
        vocab.areas = {a.id for a in parse_areas(str(areas_file), areas_file.read_text(encoding="utf-8"))}
    return vocab


def parse_person(text: str) -> tuple[str, str]:
    """'James:person supported' -> ('James', 'person supported'). A name
    without a role ('James', as add --from-review and the prompts refuse
    too) or a role without a name is refused, not stored with a blank."""
    name, _, role = text.partition(":")
    name, role = name.strip(), role.strip()
    if not name or not role:
        raise EvidenceError(f"--person '{text}' needs a name and a role, written 'Name:role', "
                            "e.g. --person 'Maria:person supported'")
    return name, role


def read_body(source, root: Path) -> str:
    """The narrative from a file path or a binary stream (stdin), reading at
    most the story size limit: '--body-file /dev/zero' is refused at once."""
    from evidence.content.settings import read_bounded, read_limits

    limit = read_limits(root).max_story_bytes
    if isinstance(source, (str, Path)):
        return check_body(read_bounded(source, limit, "body file", "max_story_bytes"), f"the body file {source}")
    data = source.read(limit + 1)
    if len(data) > limit:
        raise EvidenceError(f"the narrative on stdin is over {limit:,} bytes; shorten it, or raise 'max_story_bytes' "
                            "in pipelines/limits.yml")
    return check_body(data, "the narrative on stdin")


def check_body(body: str | bytes, name: str = "the story body") -> str:
    """The body as text, or EvidenceError if it is empty or not text. Text
    saved as UTF-16 with a byte-order mark (as Windows Notepad may) is read
    as such: as bytes it holds NUL bytes, which said 'not text' of a text."""
    if isinstance(body, bytes):
        if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                body = body.decode("utf-16")
            except UnicodeDecodeError:
                raise EvidenceError(f"{name} has a UTF-16 byte-order mark but is not UTF-16 text; save it as UTF-8") from None
        elif b"\x00" in body:
            raise EvidenceError(f"{name} is not text (it contains NUL bytes: a binary or word-processor file, or UTF-16 "
                                "without a byte-order mark); save the narrative as UTF-8 text or Markdown")
        else:
            try:
                body = body.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise EvidenceError(f"{name} is not UTF-8 text (bad byte at {exc.start}); save it as UTF-8 and try again") from None
    if "\x00" in body:
        raise EvidenceError("the story body is not text (it contains NUL bytes); give a UTF-8 text or Markdown file")
    if not body.strip():
        raise EvidenceError("the story body is empty; pass --body-file FILE or pipe the narrative on stdin")
    return body.strip() + "\n"


def render_story(inp: StoryInput, story_id: str, today: str) -> str:
    """The Markdown file text of a new story (front matter then narrative)."""
    consent = {
        "basis": inp.consent, "scope": inp.consent_scope, "identity": inp.identity or "named",
    }
    if inp.pseudonym:
        consent["pseudonym"] = inp.pseudonym
    consent.update({
        "date": inp.consent_date or today, "recorded_by": inp.recorded_by,
        "wording": inp.consent_wording,
    })
    front = {
        "id": story_id, "title": inp.title, "summary": inp.summary,
        "people": [{"name": n, "role": r} for n, r in inp.people],
        "approach": inp.approach, "organisation": inp.organisation, "place": inp.place,
        "area_of_work": inp.area_of_work,
        "source": {
            "title": inp.source_title, "author": inp.source_author,
            "organisation": inp.source_organisation, "url": inp.source_url, "date": inp.source_date,
        },
        "consent": consent, "status": inp.status, "added": today,
    }
    fm = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{fm}---\n{inp.body.strip()}\n"


def duplicate_of(root: Path, body: str) -> str | None:
    """The id of a story under root whose narrative is this one's, as
    normalise_text reads both (case, quotes, spacing), or None.

    Only a file whose lower-cased text holds the narrative's longest word
    can match, so only those are parsed and normalised: the check costs a
    read of each file, not a parse (0.38 s at 1,000 stories before)."""
    key = normalise_text(body)
    if not key:
        return None
    want, probe = content_hash(key), max(key.split(), key=len)
    for p in sorted((Path(root) / "stories").glob("*.md")):
        try:
            text = p.read_text(encoding="utf-8")
            if probe not in text.lower():
                continue
            _, other, _ = split_front_matter(p.name, text)
        except (ValidationError, UnicodeDecodeError):
            continue
        if content_hash(normalise_text(other)) == want:
            return p.stem
    return None


def prepare_story(root: Path, inp: StoryInput, today: str | None = None,
                  override_tombstone: bool = False) -> tuple[Path, str]:
    """Validate a new story exactly as build does; return (path, file text).
    Raises EvidenceError with a one-line message; writes nothing."""
    root = Path(root)
    today = today or _dt.date.today().isoformat()
    inp.body = check_body(inp.body)
    if not inp.title.strip():
        raise EvidenceError("the story needs a title; pass --title TEXT")
    title_for_id = inp.title
    if inp.identity == "anonymised" and inp.pseudonym:  # the id is published: never slug a real name
        from evidence.content.privacy import pseudonymise

        title_for_id = pseudonymise(inp.title, {n: inp.pseudonym for n, _ in inp.people if n.strip()})
    story_id = inp.id or slugify(title_for_id)[:60].strip("-")
    if not SLUG_RE.match(story_id):
        raise EvidenceError(f"id '{story_id}' is not a slug; pass --id with lower-case letters, digits and hyphens")
    if not inp.consent:
        raise EvidenceError(f"the story has no consent basis; pass --consent with one of: {', '.join(CONSENT_BASES)}")
    if inp.consent not in CONSENT_BASES:
        raise EvidenceError(f"unknown consent basis '{inp.consent}'; use one of: {', '.join(CONSENT_BASES)}")
    if not inp.consent_scope:
        raise EvidenceError(f"the story has no consent scope; pass --consent-scope with one of: {', '.join(CONSENT_SCOPES)}")
    if inp.identity not in IDENTITIES:
        raise EvidenceError(f"unknown identity '{inp.identity}'; use one of: {', '.join(IDENTITIES)}")
    vocab = vocabulary(root)
    if not inp.approach:
        raise EvidenceError(f"the story needs an approach; pass --approach with one of: {', '.join(sorted(vocab.approaches))}")
    if inp.approach not in vocab.approaches:
        by_name = _approach_by_name(root, inp.approach)
        if not by_name:
            from evidence.content.suggest import hint

            raise EvidenceError(f"unknown approach '{inp.approach}'{hint(inp.approach, vocab.approaches, approach_names(root))}; "
                                f"known approaches: {', '.join(sorted(vocab.approaches))}")
        inp.approach = by_name
    if not inp.consent_wording and inp.consent == "published-by-organisation":
        where = inp.source_organisation or inp.organisation or "the organisation"
        inp.consent_wording = f"Account published by {where}" + (f" in \"{inp.source_title}\"" if inp.source_title else "") + "; reproduced with attribution."
    if not inp.consent_wording:
        raise EvidenceError("the consent record needs the wording or version the person agreed to; pass --consent-wording TEXT")
    path = root / "stories" / f"{story_id}.md"
    if path.exists():
        raise EvidenceError(f"a story with id '{story_id}' already exists (stories/{story_id}.md); pass another --id")
    check_tombstone(root, story_id, override_tombstone, inp.body)
    duplicate = duplicate_of(root, inp.body)
    if duplicate:
        raise EvidenceError(f"this narrative is already in the evidence base as story '{duplicate}'; edit that story instead")
    text = render_story(inp, story_id, today)
    try:
        parse_story(f"stories/{story_id}.md", text, vocab)
    except ValidationError as exc:
        raise EvidenceError(_as_option(exc.message) + _narrative_line(text, exc.line)) from None
    return path, text


# a field `add` writes from an option: the option to name when it is missing
_OPTION_OF = {("source", "title"): "--source-title", ("source", "author"): "--source-author",
              ("source", "organisation"): "--source-organisation", ("source", "url"): "--source-url",
              ("source", "date"): "--source-date", ("consent", "recorded_by"): "--recorded-by",
              ("consent", "wording"): "--consent-wording", ("consent", "date"): "--consent-date"}
_NEEDS = re.compile(r"(\w+) needs '(\w+)'; add a line '\w+: \.\.\.'")


def _as_option(message: str) -> str:
    """A story file's "source needs 'title'; add a line 'title: ...'" as the
    option `add` takes it from ("... pass --source-title TEXT"): the file
    is written by `add`, so its lines are not the curator's to add."""
    m = _NEEDS.fullmatch(message)
    option = _OPTION_OF.get(m.groups()) if m else None
    return f"{m.group(1)} needs '{m.group(2)}'; pass {option} TEXT" if option else message


def _narrative_line(text: str, line: int | None) -> str:
    """' (line N of the narrative)' when a refused story file's line is in
    its narrative: the file is not written, so its own line number would
    point nowhere, and a control character in a long narrative is hard to find."""
    first = text.split("\n").index("---", 1) + 2 if text.count("\n---\n") else None  # the line after the closing '---'
    if line is None or first is None or line < first:
        return ""
    return f" (line {line - first + 1} of the narrative, counted from its first line of text)"


def _approach_by_name(root: Path, name: str) -> str:
    """Accept an approach's display name ('Shared Lives') for its id."""
    wanted = slugify(name)
    for p in (Path(root) / "approaches").glob("*.yml"):
        data = plain_yaml(p.read_text(encoding="utf-8")) or {}
        if slugify(str(data.get("name", ""))) == wanted or p.stem == wanted:
            return p.stem
    return ""


def approach_names(root: Path) -> dict[str, str]:
    """Display name -> approach id, for every approaches/*.yml."""
    out = {}
    for p in (Path(root) / "approaches").glob("*.yml"):
        data = plain_yaml(p.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and data.get("name"):
            out[str(data["name"])] = p.stem
    return out


# ---------------------------------------------------------------------------
# One answer at a time (the interactive add checks each as it is typed)


def check_choice(what: str, value: str, choices, aliases: dict[str, str] | None = None) -> str:
    """`value` as one of `choices` (an alias, e.g. an approach's name, maps to
    its id); else EvidenceError with a did-you-mean when one is close."""
    from evidence.content.suggest import close_match, hint

    value = str(value).strip()
    choices = sorted(choices)
    if value in choices:
        return value
    m = close_match(value, choices, aliases)
    if m and (m.lower() == value.lower() or _slug_eq(m, value) or _slug_eq((aliases or {}).get(value, ""), m)):
        return m  # the same word in another case or spacing, or a display name
    if aliases:
        for alias, target in aliases.items():
            if _slug_eq(alias, value):
                return target
    raise EvidenceError(f"unknown {what} '{value}'{hint(value, choices, aliases)}; use one of: {', '.join(choices)}")


def _slug_eq(a: str, b: str) -> bool:
    return bool(a) and slugify(a) == slugify(b)


def check_date(what: str, value: str, partial: bool = False, not_future: bool = True) -> str:
    """A date as YYYY-MM-DD (`partial`: YYYY or YYYY-MM too), not in the future."""
    value = str(value).strip()
    if partial and re.fullmatch(r"\d{4}(-\d{2})?", value):
        year = int(value[:4])
        if not 1900 <= year <= _dt.date.today().year or (len(value) == 7 and not 1 <= int(value[5:]) <= 12):
            raise EvidenceError(f"{what} '{value}' is not a real year or month; write YYYY, YYYY-MM or YYYY-MM-DD")
        return value
    try:
        day = _dt.date.fromisoformat(value)
    except ValueError:
        forms = "YYYY, YYYY-MM or YYYY-MM-DD" if partial else "YYYY-MM-DD"
        raise EvidenceError(f"{what} '{value}' is not a date; write it as {forms}, e.g. {_dt.date.today().isoformat()}") from None
    if not_future and day > _dt.date.today():
        raise EvidenceError(f"{what} {value} is in the future; give the date it happened")
    return day.isoformat()


def check_person(name: str, role: str) -> tuple[str, str]:
    name, role = str(name).strip(), str(role).strip()
    if not name:
        raise EvidenceError("a person needs a name (or the name to publish for an anonymised story)")
    if not role:
        raise EvidenceError(f"{name} needs a role, e.g. person supported, carer, family member, worker, volunteer")
    return name, role


def check_tombstone(root: Path, story_id: str, override: bool, body: str = "") -> None:
    """Refuse a story that was withdrawn (its id, or its narrative under
    another id), unless `override` (on purpose)."""
    from evidence.content import tombstones

    matcher = tombstones.Matcher(root)
    stone = matcher.find(story_id)
    what = f"story '{story_id}' was withdrawn"
    if stone is None:
        stone = matcher.find_text(body)
        what = "this narrative is a withdrawn story's"
    if stone is not None and not override:
        raise EvidenceError(
            f"{what} (withdrawn on {stone.date}, {stone.reason}); to add it again on purpose "
            "(for example with new consent) pass --override-tombstone")


def add_story(root: Path, inp: StoryInput, db_path=None, public_path=None,
              override_tombstone: bool = False, options: BuildOptions | None = None) -> tuple[Path, BuildSummary]:
    """Validate, write stories/<id>.md atomically, then build incrementally.
    If the build fails the file is removed and the databases stay as they were.
    A story with personal data is added but held back from publication
    (summary.warnings says where)."""
    with curator_lock(root, db_path, public_path):
        path, text = prepare_story(root, inp, override_tombstone=override_tombstone)
        return path, _add_new(root, path, text, db_path, public_path, override_tombstone, options, inp.body)


def add_story_file(root: Path, file: Path, db_path=None, public_path=None,
                   override_tombstone: bool = False, options: BuildOptions | None = None) -> tuple[Path, BuildSummary]:
    """Add a complete story file (front matter and narrative), validated as
    build validates it; refuses an existing id, a duplicate narrative and a
    withdrawn id (unless `override_tombstone`)."""
    from evidence.content.settings import read_bounded, read_limits

    root = Path(root)
    data = read_bounded(file, read_limits(root).max_story_bytes, "story file", "max_story_bytes")
    text = check_body(data)
    from evidence.content.yamldoc import YamlDoc

    front, _, offset = split_front_matter(str(file), text)
    meta = YamlDoc(str(file), front, offset).data
    story_id = str(meta.get("id") or Path(file).stem) if isinstance(meta, dict) else Path(file).stem
    with curator_lock(root, db_path, public_path):
        story = parse_story(f"stories/{story_id}.md", text, vocabulary(root))
        target = root / "stories" / f"{story.id}.md"
        if target.exists():
            raise EvidenceError(f"a story with id '{story.id}' already exists (stories/{story.id}.md); change its id")
        dup = duplicate_of(root, story.body)
        if dup:
            raise EvidenceError(f"this narrative is already in the evidence base as story '{dup}'; edit that story instead")
        check_tombstone(root, story.id, override_tombstone, story.body)
        return target, _add_new(root, target, text, db_path, public_path, override_tombstone, options, story.body)


def _add_new(root: Path, path: Path, text: str, db_path, public_path, override_tombstone: bool,
             options: BuildOptions | None = None, body: str = "") -> BuildSummary:
    from evidence.content import tombstones

    lifted = tombstones.lift(root, path.stem, body) if override_tombstone else None
    try:
        return write_and_build(root, path, text, None, db_path, public_path, options)
    except BaseException:
        if lifted is not None:
            tombstones.restore(root, lifted)
        raise


# ---------------------------------------------------------------------------
# findings


@dataclass
class FindingInput:
    """A new finding, and the study it belongs to."""

    study: str
    statement: str
    id: str = ""
    measure: str = ""
    value: float | None = None
    unit: str = ""
    direction: str = ""
    comparator: str = ""
    sample_size: int | None = None
    population: str = ""
    design: str = ""
    year: int | None = None
    place: str = ""
    approach: str = ""
    source_sentence: str = ""
    # only for a new study
    study_title: str = ""
    study_authors: str = ""
    study_organisation: str = ""
    study_year: int | None = None
    study_url: str = ""
    study_kind: str = ""


FINDING_KEYS = ("id", "statement", "measure", "value", "unit", "direction", "comparator", "sample_size",
                "population", "design", "year", "place", "approach", "source_sentence")


def add_finding(root: Path, inp: FindingInput, db_path=None, public_path=None) -> tuple[Path, BuildSummary]:
    """Append a finding to findings/<study>.yml (creating the study file when
    --study-title is given), validate it as build does, then build."""
    with curator_lock(root, db_path, public_path):
        path, text, old, _ = prepare_finding(Path(root), inp)
        return path, write_and_build(root, path, text, old, db_path, public_path)


def prepare_finding(root: Path, inp: FindingInput, pending: dict[Path, str] | None = None,
                    taken: dict[str, str] | None = None) -> tuple[Path, str, str | None, str]:
    """Validate a new finding exactly as build does; returns (study file, its
    new text, its old text or None when new, the finding id). Writes nothing.
    `pending` holds study files' texts already changed by this batch (an
    import adding several findings to one study), `taken` finding ids and
    normalised statements already added by it (both are updated)."""
    root = Path(root)
    pending = {} if pending is None else pending
    taken = {} if taken is None else taken
    if not inp.statement.strip():
        raise EvidenceError("the finding needs a statement; pass --statement TEXT")
    if not SLUG_RE.match(inp.study or ""):
        raise EvidenceError(f"study id '{inp.study}' is not a slug; pass --study with lower-case letters, digits and hyphens")
    vocab = vocabulary(root)
    if inp.approach and inp.approach not in vocab.approaches:
        from evidence.content.suggest import hint

        raise EvidenceError(f"unknown approach '{inp.approach}'{hint(inp.approach, vocab.approaches)}; known approaches: {', '.join(sorted(vocab.approaches))}")
    fid = inp.id or slugify(f"{inp.study} {inp.statement}")[:60].strip("-")
    item = {k: getattr(inp, k) for k in FINDING_KEYS}
    item["id"] = fid
    item = {k: v for k, v in item.items() if v not in (None, "")}
    path = root / "findings" / f"{inp.study}.yml"
    all_ids, statements = _existing_findings(root)
    if fid in all_ids or f"id:{fid}" in taken:
        where = all_ids.get(fid) or taken.get(f"id:{fid}")
        raise EvidenceError(f"a finding with id '{fid}' already exists in {where}; pass another --id")
    wanted = normalise_text(inp.statement)
    dup = statements.get(wanted) or taken.get(f"statement:{wanted}")
    if dup:
        raise EvidenceError(f"this statement is already in the evidence base as finding '{dup}'; edit that finding instead")
    item_text = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=100)
    item_text = "\n".join("  " + line if line else line for line in item_text.splitlines()) + "\n"
    on_disk = path.read_text(encoding="utf-8") if path.exists() else None
    current = pending.get(path, on_disk)
    if current is not None:
        if not re.search(r"(?m)^findings:\s*$", current):
            raise EvidenceError(f"findings/{inp.study}.yml has no 'findings:' list to add to; add the finding by hand")
        text = current.rstrip("\n") + "\n" + item_text
    else:
        if not inp.study_title:
            raise EvidenceError(f"there is no study '{inp.study}' yet; pass --study-title (and --study-organisation) to create it")
        head = {
            "id": inp.study, "title": inp.study_title, "authors": inp.study_authors,
            "organisation": inp.study_organisation, "year": inp.study_year, "url": inp.study_url,
            "kind": inp.study_kind,
        }
        text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100) + "findings:\n" + item_text
    rel = f"findings/{inp.study}.yml"
    try:
        study = parse_study(rel, text, vocab)
    except ValidationError as exc:
        raise EvidenceError(f"{exc.message}") from None
    if current is not None:
        before = parse_study(rel, current, None)
        if len(study.findings) != len(before.findings) + 1 or study.findings[-1].id != fid:
            raise EvidenceError(f"{rel}: the new finding could not be appended safely (is 'findings:' the last key?); add it by hand")
    pending[path] = text
    taken[f"id:{fid}"] = rel
    taken[f"statement:{normalise_text(inp.statement)}"] = fid
    return path, text, on_disk, fid


def _existing_findings(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({finding id: its file}, {normalised statement: the first finding
    id that states it}) of every findings/*.yml, read in one pass."""
    ids: dict[str, str] = {}
    statements: dict[str, str] = {}
    for p in (Path(root) / "findings").glob("*.yml"):
        data = plain_yaml(p.read_text(encoding="utf-8")) or {}
        for f in data.get("findings") or []:
            if not isinstance(f, dict):
                continue
            if f.get("id"):
                ids[str(f["id"])] = f"findings/{p.name}"
            statements.setdefault(normalise_text(str(f.get("statement", ""))), str(f.get("id")))
    return ids, statements
