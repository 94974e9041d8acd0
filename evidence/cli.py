"""The `evidence` command line. Thin commands that call plain functions; the
only module that prints or exits. Heavy stages (spaCy, torch) are imported
inside the commands that need them, so `evidence --help` starts fast."""
from __future__ import annotations

import functools
import getpass
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from evidence.errors import EvidenceError

class _Commands(TyperGroup):
    """The command group, with command-line mistakes (an unknown option, an
    option value of the wrong type, a missing argument) reported as every
    other bad input is: one line on stderr, exit status 1 (not Click's boxed
    usage text and status 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:  # Click's own exceptions (typer may bundle its own copy of Click)
            kinds = {c.__name__ for c in type(exc).__mro__}
            if not standalone_mode or not kinds & {"ClickException", "Abort"}:
                raise
            if "NoArgsIsHelpError" in kinds:  # bare `evidence`: the help, as Typer shows it
                return super().main(args, prog_name, complete_var, standalone_mode=True, **extra)
            if "Abort" in kinds:
                _err("Error: aborted; nothing was written")
            else:
                message = " ".join(exc.format_message().split()).rstrip(".")
                ctx = getattr(exc, "ctx", None)
                hint = f"; see '{ctx.command_path} --help'" if "UsageError" in kinds and ctx is not None else ""
                _err(f"Error: {message}{hint}")
            sys.exit(1)
        if standalone_mode:  # super() returned a typer.Exit's code, or the command's value (None)
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


app = typer.Typer(
    cls=_Commands,
    help="An open evidence base for community-centred social care: stories and findings, "
         "tagged by outcome, published with Datasette.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

RootOpt = Annotated[Path, typer.Option("--root", help="The evidence base folder (holds stories/, findings/, approaches/).")]
DbOpt = Annotated[Optional[Path], typer.Option("--db", help="Working database [default: ROOT/evidence.db].")]
PublicOpt = Annotated[Optional[Path], typer.Option("--public", help="Public database [default: ROOT/public.db].")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")]


def _err(message: str) -> None:
    typer.echo(message, err=True)


def friendly(fn):
    """Turn EvidenceError (and a few OS errors) into one-line messages, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EvidenceError as exc:
            for line in str(exc).splitlines():
                _err(f"Error: {line}")
            raise typer.Exit(1)
        except PermissionError as exc:
            _err(f"Error: permission denied: {exc.filename}; check the file's permissions")
            raise typer.Exit(1)
        except BrokenPipeError:
            # the reader went away (`evidence search ... | head -1`): nothing to report to it
            sys.stdout = None
            raise typer.Exit(1)
        except OSError as exc:
            if getattr(exc, "filename", None):
                _err(f"Error: {exc.strerror}: {exc.filename}")
            else:
                _err(f"Error: {exc.strerror or exc}; check free disk space and permissions, then run the command again")
            raise typer.Exit(1)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "malformed" in str(exc):
                _err(f"Error: a database file is damaged ('{exc}'); evidence.db and public.db are build products: "
                     "delete it and run 'evidence build' to make it again from the content files")
            else:
                _err(f"Error: the database reported '{exc}'; its last transaction was rolled back, so nothing stored "
                     "was lost; check free disk space and that no other program holds the database, then run the command again")
            raise typer.Exit(1)

    return wrapper


def _progress(quiet: bool):
    if quiet or sys.stderr is None or not sys.stderr.isatty():  # None: run with stderr closed (2>&-)
        return None

    def report(stage: str, done: int, total: int) -> None:
        filled = 30 * done // total if total else 30
        sys.stderr.write(f"\r{stage}: [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


@app.command("build")
@friendly
def build_cmd(
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rewrite the public database even if nothing changed.")] = False,
    no_tune: Annotated[bool, typer.Option("--no-tune", help="Do not train the search model now, even if it is due "
                                          "(it is trained when there are enough stories; see docs/search.md).")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Parse and validate every content file, update the working database
    (only what changed) and write the public database."""
    from evidence.build import BuildOptions, build

    summary = build(root, db, public, options=BuildOptions(progress=_progress(quiet), force_publish=force,
                                                           tune_search=not no_tune))
    _warn(summary)
    if not quiet:
        _err(summary.line())


def _warn(summary) -> None:
    """Warnings of a build (personal data holding stories back), one per line."""
    for line in getattr(summary, "warnings", []):
        _err(f"warning: {line}")


@app.command("add")
@friendly
def add_cmd(
    title: Annotated[str, typer.Option(help="Title of the story.")] = "",
    body_file: Annotated[Optional[Path], typer.Option("--body-file", help="File with the narrative (Markdown); '-' or omitted reads stdin.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Add a complete story file (front matter and narrative) instead of fields.")] = None,
    from_review: Annotated[Optional[Path], typer.Option("--from-review", help="Add the kept candidates of an 'evidence extract' candidates file.")] = None,
    id: Annotated[str, typer.Option("--id", help="Story id (slug) [default: from the title].")] = "",
    summary: Annotated[str, typer.Option(help="One or two sentences.")] = "",
    person: Annotated[Optional[list[str]], typer.Option("--person", help="A person in the story as 'Name:role' (repeat).")] = None,
    approach: Annotated[str, typer.Option(help="Approach id or name (see approaches/).")] = "",
    organisation: Annotated[str, typer.Option(help="Organisation providing the support.")] = "",
    place: Annotated[str, typer.Option(help="Place, as the source gives it.")] = "",
    area_of_work: Annotated[str, typer.Option("--area-of-work", help="Area of work [default: the approach's].")] = "",
    source_title: Annotated[str, typer.Option("--source-title", help="Title of the source (blog post, report).")] = "",
    source_author: Annotated[str, typer.Option("--source-author", help="Author of the source.")] = "",
    source_organisation: Annotated[str, typer.Option("--source-organisation", help="Organisation that published the source.")] = "",
    source_url: Annotated[str, typer.Option("--source-url", help="URL of the source.")] = "",
    source_date: Annotated[str, typer.Option("--source-date", help="Date of the source (YYYY-MM-DD).")] = "",
    consent: Annotated[str, typer.Option("--consent", help="Consent basis: given-by-person, given-by-representative or published-by-organisation.")] = "",
    consent_scope: Annotated[str, typer.Option("--consent-scope", help="What the consent allows: public, research or internal.")] = "",
    identity: Annotated[str, typer.Option("--identity", help="named or anonymised [default: named].")] = "",
    pseudonym: Annotated[str, typer.Option("--pseudonym", help="Name to publish instead (anonymised stories).")] = "",
    consent_date: Annotated[str, typer.Option("--consent-date", help="When consent was recorded [default: today].")] = "",
    recorded_by: Annotated[str, typer.Option("--recorded-by", help="Who recorded the consent [default: your user name].")] = "",
    consent_wording: Annotated[str, typer.Option("--consent-wording", help="The wording or version consented to.")] = "",
    draft: Annotated[bool, typer.Option("--draft", help="Add as a draft (not published).")] = False,
    override_tombstone: Annotated[bool, typer.Option("--override-tombstone", help="Add a story whose id was withdrawn, on purpose (lifts its tombstone).")] = False,
    interactive: Annotated[Optional[bool], typer.Option("--interactive/--no-input", help="Prompt for missing fields [default: when stdin is a terminal].")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last interactive add that was interrupted or refused (its draft in ROOT/.evidence-drafts/).")] = False,
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Add a story: writes stories/<id>.md, validates it exactly as build
    does, and updates both databases. Refuses (exit 1, nothing written) an
    unknown approach, a missing consent basis, an existing id or narrative,
    a withdrawn id, and an empty or non-text body. A story holding personal
    data (e-mail, phone, postcode, NHS number; in an anonymised story, a name
    its people list lacks) is added but held back from publication until
    reviewed (see 'evidence review-pii')."""
    from evidence.curate import add as adding

    if from_review is not None:
        from evidence.curate.import_candidates import add_from_review

        added = add_from_review(root, from_review, db, public, recorded_by=recorded_by or _user())
        if added.summary is not None:
            _warn(added.summary)
        if not quiet:
            _err(f"added {len(added.stories)} story(ies) ({', '.join(added.stories) or 'none'}) and "
                 f"{len(added.findings)} finding(s) ({', '.join(added.findings) or 'none'}) from {from_review}"
                 + (f"; {len(added.skipped)} kept candidate(s) were added by an earlier run" if added.skipped else "")
                 + "; each is marked 'added: <id>' in the file")
            if added.summary is not None:
                _err(added.summary.line())
        return
    if file is not None:
        path, result = adding.add_story_file(root, file, db, public, override_tombstone=override_tombstone)
    else:
        prompt = (_stdin_is_terminal() if interactive is None else interactive) or resume
        if prompt and sys.stdin is None:
            raise EvidenceError("cannot ask for the fields: standard input is closed; pass them as options "
                                "with --no-input (and --body-file FILE)")
        inp = adding.StoryInput(
            title=title, id=id, summary=summary, people=[adding.parse_person(p) for p in person or []],
            approach=approach, organisation=organisation, place=place, area_of_work=area_of_work,
            source_title=source_title, source_author=source_author, source_organisation=source_organisation,
            source_url=source_url, source_date=source_date, consent=consent, consent_scope=consent_scope,
            identity=identity, pseudonym=pseudonym, consent_date=consent_date,
            recorded_by=recorded_by, consent_wording=consent_wording,
            status="draft" if draft else "published",
        )
        if body_file is not None and str(body_file) != "-":
            inp.body = adding.read_body(body_file, root)
        if prompt:
            path, result = _interactive_add(inp, root, db, public, override_tombstone, resume)
        else:
            inp.recorded_by = inp.recorded_by or _user()
            inp.identity = inp.identity or "named"
            if not inp.body:
                if sys.stdin is None:
                    raise EvidenceError("no narrative given and standard input is closed; pass --body-file FILE")
                if _stdin_is_terminal():
                    raise EvidenceError("no narrative given; pass --body-file FILE or pipe the text on stdin")
                inp.body = adding.read_body(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin, root)
            path, result = adding.add_story(root, inp, db, public, override_tombstone=override_tombstone)
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    _warn(result)
    # held for personal data (the warning names the story's file) or for a
    # finding that names a person of the anonymised story (it names the story)
    held = any(line.startswith(f"{Path(rel).as_posix()}:") or f"story '{path.stem}'" in line for line in result.warnings)
    if not quiet:
        _err(f"added {rel}" + (" (held back from publication, see the warnings above)" if held else ""))
        _err(result.line())


def _stdin_is_terminal() -> bool:
    """True when a person types on standard input (False when it is a pipe,
    a file, or closed: `evidence add ... <&-` has sys.stdin None)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file object
        return False


def _user() -> str:
    """git's user.name (who the curator says they are), else the login name."""
    from evidence.curate.add import git_user

    name = git_user()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        return "curator"


# fields named by the shared validation's messages ("pass --consent-scope ...")
_FLAG_FIELD = {"--title": "title", "--id": "id", "--approach": "approach", "--consent": "consent",
               "--consent-scope": "consent_scope", "--consent-wording": "consent_wording", "--identity": "identity",
               "--pseudonym": "pseudonym", "--body-file": "body"}


def _interactive_add(inp, root: Path, db, public, override_tombstone: bool, resume: bool):
    """Ask for every field on the terminal, checking each answer as it is
    typed (asked again, with a did-you-mean when one is close). Every answer
    is saved in a draft (evidence/curate/drafts.py), so a refusal or Ctrl-C
    loses nothing: 'evidence add --resume' continues it."""

    from evidence.curate import add as adding
    from evidence.curate import drafts

    if resume:
        path = drafts.latest(root)
        if path is None:
            raise EvidenceError(f"no draft to resume in {drafts.folder(root)}; start with 'evidence add'")
        inp, answered = drafts.load(path, adding.StoryInput)
        _err(f"resuming {path} ({len(answered)} answers kept)")
    else:
        path, answered = drafts.new_path(root), []
    try:
        _ask_story(inp, root, path, answered)
        while True:
            try:
                result = adding.add_story(root, adding.StoryInput(**vars(inp)), db, public,
                                          override_tombstone=override_tombstone)
            except EvidenceError as exc:
                field = next((f for flag, f in sorted(_FLAG_FIELD.items(), key=lambda kv: -len(kv[0]))
                              if flag in str(exc)), None)
                if field is None or field == "body":
                    drafts.save(path, inp, answered)
                    raise EvidenceError(f"{exc}. Your answers are saved in {path}; fix this, then run "
                                        "'evidence add --resume'") from None
                _err(f"  {str(exc).split('; pass')[0]}")
                answered[:] = [a for a in answered if a != field]
                if field == "id":  # the id comes from the title unless given: ask for one
                    inp.id = typer.prompt("Another id for this story (lower-case letters, digits and hyphens)").strip()
                    continue
                setattr(inp, field, "")
                _ask_story(inp, root, path, answered)
                continue
            drafts.remove(path)
            return result
    except (KeyboardInterrupt, typer.Abort, EOFError):
        if answered:
            drafts.save(path, inp, answered)
            _err(f"\nstopped; your answers are saved in {path}. Continue with: evidence add --resume")
        else:
            _err("\nstopped; nothing was typed, nothing saved")
        raise typer.Exit(1)


def _ask_story(inp, root: Path, draft_path: Path, answered: list[str]) -> None:
    """Prompt for each field not answered yet, in the order a curator has them."""
    import datetime as _dt

    from evidence.content.records import CONSENT_BASES, CONSENT_SCOPES, IDENTITIES
    from evidence.curate import add as adding
    from evidence.curate import drafts
    from evidence.content.suggest import close_match

    approaches = sorted(adding.vocabulary(root).approaches)
    names = adding.approach_names(root)

    def done(field: str) -> None:
        if field not in answered:
            answered.append(field)
        drafts.save(draft_path, inp, answered)

    def ask(field: str, label: str, check=None, required: bool = True, default: str = "",
            choices=None, aliases=None) -> None:
        if field in answered:
            return
        value = str(getattr(inp, field) or "")  # given as an option: checked too
        while True:
            if not value:
                value = typer.prompt(label, default=default, show_default=bool(default)).strip()
            if not value:
                if not required:
                    break
                _err(f"  {label.split(' (')[0]} is needed")
                continue
            try:
                value = check(value) if check else value
                break
            except EvidenceError as exc:
                _err(f"  {exc}")
                default = (close_match(value, choices, aliases) or "") if choices else ""
                value = ""
        setattr(inp, field, value)
        done(field)

    ask("title", "Title")
    if "body" not in answered:
        if inp.body:
            done("body")
        else:
            while True:
                _err("Narrative (Markdown); end with a line containing only '.':")
                lines = []
                for line in sys.stdin:
                    if line.rstrip("\r\n") == ".":
                        break
                    lines.append(line)
                try:
                    inp.body = adding.check_body("".join(lines))
                    break
                except EvidenceError as exc:
                    _err(f"  {exc.args[0].split(';')[0]}; type it again")
            done("body")
    ask("summary", "Summary (one or two sentences; Enter to skip)", required=False)
    ask("approach", f"Approach ({', '.join(approaches)})",
        check=lambda v: adding.check_choice("approach", v, approaches, names), choices=approaches, aliases=names)
    if "people" not in answered:
        if not inp.people:
            _err("People in the story, one at a time (Enter on an empty name when done):")
            while True:
                name = typer.prompt("  Name", default="", show_default=False).strip()
                if not name:
                    break
                while True:
                    role = typer.prompt(f"  Role of {name} (e.g. person supported, carer, worker)", default="",
                                        show_default=False).strip()
                    try:
                        inp.people.append(adding.check_person(name, role))
                        break
                    except EvidenceError as exc:
                        _err(f"  {exc}")
                drafts.save(draft_path, inp, answered)
        done("people")
    ask("organisation", "Organisation giving the support (Enter to skip)", required=False)
    ask("place", "Place (Enter to skip)", required=False)
    ask("source_title", "Source title (the blog post, report or interview)")
    ask("source_author", "Source author (Enter to skip)", required=False)
    ask("source_organisation", "Source organisation" + ("" if inp.source_author else " (needed when there is no author)"),
        required=not inp.source_author)
    ask("source_url", "Source URL (Enter to skip)", required=False)
    ask("source_date", "Source date, YYYY-MM-DD (or YYYY, YYYY-MM; Enter to skip)", required=False,
        check=lambda v: adding.check_date("source date", v, partial=True))
    ask("consent", f"Consent basis ({', '.join(CONSENT_BASES)})",
        check=lambda v: adding.check_choice("consent basis", v, CONSENT_BASES), choices=CONSENT_BASES)
    ask("consent_scope", f"Consent scope ({', '.join(CONSENT_SCOPES)})",
        check=lambda v: adding.check_choice("consent scope", v, CONSENT_SCOPES), choices=CONSENT_SCOPES)
    ask("identity", f"Identity ({', '.join(IDENTITIES)})", default="named",
        check=lambda v: adding.check_choice("identity", v, IDENTITIES), choices=IDENTITIES)
    if inp.identity == "anonymised":
        ask("pseudonym", "Name to publish instead of the person's (pseudonym)")
    ask("consent_date", "Date consent was recorded (YYYY-MM-DD)", default=_dt.date.today().isoformat(),
        check=lambda v: adding.check_date("consent date", v))
    auto = ""
    if inp.consent == "published-by-organisation":
        where = inp.source_organisation or inp.organisation or "the organisation"
        auto = f"Account published by {where}" + (f" in \"{inp.source_title}\"" if inp.source_title else "") + "; reproduced with attribution."
    ask("consent_wording", "Consent wording or form version the person agreed to", default=auto)
    ask("recorded_by", "Consent recorded by", default=inp.recorded_by or _user())


@app.command("add-finding")
@friendly
def add_finding_cmd(
    study: Annotated[str, typer.Option(help="Study id: findings/<study>.yml (created if --study-title is given).")],
    statement: Annotated[str, typer.Option(help="What was found, in one sentence.")],
    id: Annotated[str, typer.Option("--id", help="Finding id [default: from the statement].")] = "",
    measure: Annotated[str, typer.Option(help="What is measured.")] = "",
    value: Annotated[Optional[float], typer.Option(help="The number, if any.")] = None,
    unit: Annotated[str, typer.Option(help="Unit of the value.")] = "",
    direction: Annotated[str, typer.Option(help="better, worse, increase, decrease, no-change, mixed.")] = "",
    comparator: Annotated[str, typer.Option(help="Compared with what.")] = "",
    sample_size: Annotated[Optional[int], typer.Option("--sample-size", help="Number of participants or units.")] = None,
    population: Annotated[str, typer.Option(help="Who or what was studied.")] = "",
    design: Annotated[str, typer.Option(help="survey, evaluation, qualitative interviews, ...")] = "",
    year: Annotated[Optional[int], typer.Option(help="Year of the finding.")] = None,
    place: Annotated[str, typer.Option(help="Place.")] = "",
    approach: Annotated[str, typer.Option(help="Approach id.")] = "",
    source_sentence: Annotated[str, typer.Option("--source-sentence", help="The source's sentence, verbatim.")] = "",
    study_title: Annotated[str, typer.Option("--study-title", help="Title of a new study.")] = "",
    study_authors: Annotated[str, typer.Option("--study-authors", help="Authors of a new study.")] = "",
    study_organisation: Annotated[str, typer.Option("--study-organisation", help="Organisation of a new study.")] = "",
    study_year: Annotated[Optional[int], typer.Option("--study-year", help="Year of a new study.")] = None,
    study_url: Annotated[str, typer.Option("--study-url", help="URL of a new study.")] = "",
    study_kind: Annotated[str, typer.Option("--study-kind", help="Kind of a new study (survey, research report, ...).")] = "",
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Add a finding to a study's file (findings/<study>.yml) and update both databases."""
    from evidence.curate.add import FindingInput, add_finding

    inp = FindingInput(
        study=study, statement=statement, id=id, measure=measure, value=value, unit=unit,
        direction=direction, comparator=comparator, sample_size=sample_size, population=population,
        design=design, year=year, place=place, approach=approach, source_sentence=source_sentence,
        study_title=study_title, study_authors=study_authors, study_organisation=study_organisation,
        study_year=study_year, study_url=study_url, study_kind=study_kind,
    )
    path, result = add_finding(root, inp, db, public)
    if not quiet:
        _err(f"added a finding to {path.relative_to(root) if path.is_relative_to(root) else path}")
        _err(result.line())


@app.command("serve")
@friendly
def serve_cmd(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8001,
    root: RootOpt = Path("."),
    public: PublicOpt = None,
    metadata: Annotated[Optional[Path], typer.Option(help="Datasette metadata [default: ROOT/metadata.yml].")] = None,
    allow_robots: Annotated[bool, typer.Option("--allow-robots", help="Let search engines index the site.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the datasette command instead of running it.")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (1: plain datasette serve; 2 or more: the same app under uvicorn, one per core).")] = 1,
) -> None:
    """Serve the public database read-only (immutable) with Datasette on 127.0.0.1."""
    from evidence.web.serve import datasette_args, uvicorn_args

    if workers == 1:
        args = datasette_args(root, public, metadata, port)
    else:
        args, env = uvicorn_args(root, public, metadata, port, workers)
        os.environ.update(env)
    # read by the plugin's /robots.txt
    os.environ["EVIDENCE_ALLOW_ROBOTS"] = "1" if allow_robots else "0"
    # one malloc arena: the search index is loaded in a start-up thread and
    # served from several; per-thread arenas kept ~20 MB of freed memory
    os.environ.setdefault("MALLOC_ARENA_MAX", "1")
    if dry_run:
        typer.echo(" ".join(args))
        return
    _err(f"serving http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(args[0], args)


@app.command("tags")
@friendly
def tags_cmd(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A story or finding id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    root: RootOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """List a story's or finding's outcome tags: domain, score, status, the
    methods behind it and the supporting sentence (--json: every supporting
    sentence, best first, with offsets and scores)."""
    from evidence.curate.tag_review import as_json as to_json, describe, list_tags

    result = list_tags(root, item_id, db)
    if as_json:
        typer.echo(to_json(result))
    else:
        for line in describe(result):
            typer.echo(line)


@app.command("review")
@friendly
def review_cmd(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A story or finding id.")],
    domains: Annotated[Optional[list[str]], typer.Argument(metavar="DOMAIN...", help="One or more domains as <framework>/<domain-id>, e.g. ascot/occupation; all get the decision given.")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="Confirm the DOMAINs (the tags stay, and teach the tagger).")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the DOMAINs (never suggested again).")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Undo: take the decisions on the DOMAINs out of the file (suggestions again).")] = False,
    yes: Annotated[Optional[list[str]], typer.Option("--yes", "-y", help="A domain to confirm (repeat); mixes with --no in one call.")] = None,
    no: Annotated[Optional[list[str]], typer.Option("--no", "-n", help="A domain to reject (repeat).")] = None,
    sentence: Annotated[Optional[str], typer.Option("--sentence", help="The supporting sentence; must occur in the item's text [default: the tag's current one].")] = None,
    by: Annotated[str, typer.Option("--by", help="Who decided [default: git config user.name].")] = "",
    note: Annotated[str, typer.Option("--note", help="A note kept with the decision(s).")] = "",
    no_build: Annotated[bool, typer.Option("--no-build", help="Only write the file; apply it at the next build.")] = False,
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Confirm or reject tags: the decisions are written into the item's file
    (lines in its 'tags:' list; the rest of the file is kept byte for byte)
    and applied on this and every later build. Several decisions in one
    call are checked together, written once and built once."""
    from evidence.curate.tag_review import Decision, review_many

    flags = [name for name, on in (("confirmed", confirm), ("rejected", reject), ("cleared", clear)) if on]
    if len(flags) > 1:
        raise EvidenceError("say what to do with the DOMAINs: one of --confirm or --reject (or --clear to undo), not several")
    if domains and not flags:
        raise EvidenceError("say what to do with the tag: --confirm or --reject (or --clear to undo)")
    if flags and not domains:
        raise EvidenceError(f"name the domain(s) to {flags[0][:-2] if flags[0] != 'cleared' else 'clear'} after the id, e.g. ascot/occupation")
    decisions = [Decision(d, flags[0], sentence) for d in domains or []]
    decisions += [Decision(d, "confirmed", sentence) for d in yes or []]
    decisions += [Decision(d, "rejected", sentence) for d in no or []]
    if not decisions:
        raise EvidenceError("say what to do with the tag: DOMAIN --confirm or --reject, or --yes/--no DOMAIN")
    if sentence is not None and len(decisions) > 1:
        raise EvidenceError("--sentence goes with one decision; give several decisions without it, or one at a time")
    who = by or _user()
    path, used = review_many(root, item_id, decisions, by=who, note=note, db_path=db, public_path=public,
                             rebuild=not no_build)
    if not quiet:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        for d, s in zip(decisions, used):
            _err(f"{d.status} {d.domain} for {item_id} in {rel} (by {who})" + (f": \"{s}\"" if s else ""))


@app.command("queue")
@friendly
def queue_cmd(
    limit: Annotated[int, typer.Option("--limit", help="How many (0: all).")] = 20,
    type: Annotated[Optional[str], typer.Option("--type", help="Only stories or only findings: story or finding.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="A JSON array on stdout.")] = False,
    root: RootOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """Suggested tags in the order to review them: first those whose
    confirmation would turn a gap-map cell (approach x domain) from
    "suggested only" into "confirmed", then by score. Review them with
    'evidence review' or in the browser with 'evidence curate'."""
    import json

    from evidence.curate.tag_review import queue

    if type not in (None, "story", "finding"):
        raise EvidenceError(f"--type must be story or finding, not '{type}'")
    rows = queue(root, db, limit=limit, item_type=type)
    if json_out:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        _err("the queue is empty: no suggested tag waits for review")
        return
    for n, r in enumerate(rows, start=1):
        cell = "confirmed cell" if r["cell_confirmed"] else "NEW CELL"
        typer.echo(f"{n}. {r['item_type']} {r['item_id']}  {r['domain']}  score {r['score']:.2f}  ({r['approach']}: {cell})\n"
                   f"   \"{r['sentence']}\"")


@app.command("curate")
@friendly
def curate_cmd(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8002,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but 127.0.0.1/localhost/::1 needs a password.")] = "127.0.0.1",
    password_env: Annotated[str, typer.Option("--password-env", help="Name of an environment variable holding a password (HTTP Basic, user 'curator').")] = "",
    by: Annotated[str, typer.Option("--by", help="Who decides [default: git config user.name].")] = "",
    limit: Annotated[int, typer.Option("--limit", help="Items shown per page.")] = 30,
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
) -> None:
    """The review queue in the browser: serves the WORKING database (never the
    public one) on 127.0.0.1 with each item's suggested tags, their sentences
    highlighted, and confirm/reject buttons (keys j/k, y/n, u to undo).
    Decisions go through 'evidence review' into the content files."""
    from evidence.curate.workbench import Workbench, check_host, make_server
    from evidence.store.paths import default_paths

    password = os.environ.get(password_env, "") if password_env else ""
    if password_env and not password:
        raise EvidenceError(f"--password-env {password_env}: that environment variable is empty or not set")
    check_host(host, password)
    db_path, _ = default_paths(root, db, public)
    if not Path(db_path).exists():
        raise EvidenceError(f"{db_path} not found; run 'evidence build' first")
    bench = Workbench(root=root, db_path=db, public_path=public, by=by or _user(), password=password, limit=limit)
    server = make_server(bench, host, port)
    shown = f"[{host}]" if ":" in host else host
    _err(f"evidence curate: http://{shown}:{port}/ (the working database; decisions by {bench.by}; Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        _err("stopped")
    finally:
        server.server_close()


@app.command("retag")
@friendly
def retag_cmd(
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Tag every story and finding again (e.g. after many confirmations, so
    the classifier's new training reaches items that did not change)."""
    from evidence.build import build
    from evidence.enrich.tagging import forget_tagging

    forget_tagging(root, db)
    summary = build(root, db, public, progress=_progress(quiet))
    if not quiet:
        _err(summary.line())


@app.command("eval")
@friendly
def eval_cmd(
    codebook: Annotated[list[Path], typer.Option("--codebook", help="Codebook YAML (name, domains with label, optional id, description, examples); repeat to combine several.")],
    test: Annotated[Path, typer.Option("--test", help="Test CSV with columns text and labels ('|'-separated).")],
    train: Annotated[Optional[Path], typer.Option("--train", help="Training CSV, same columns [default: the training CSVs of ROOT/pipelines/tagging.yml, as the build trains on them, when they label this codebook's domains; else the codebook alone].")] = None,
    codebook_only: Annotated[bool, typer.Option("--codebook-only", help="Train on nothing: the codebook's labels, descriptions and examples alone.")] = False,
    min_labels: Annotated[Optional[int], typer.Option("--min-labels", help="Labels every text gets at least [default: 1, or 0 when some training texts have none].")] = None,
    max_labels: Annotated[Optional[int], typer.Option("--max-labels", help="Labels every text gets at most, 0 for no limit [default: 1 when every training text has one label, else 0].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    root: RootOpt = Path("."),
    quiet: QuietOpt = False,
) -> None:
    """Measure the tagger on labelled data: per-label precision, recall and
    F1, macro and micro F1, and a TF-IDF + linear SVM baseline on the same
    split in the same run."""
    import json as _json

    from evidence.enrich.evaluate import evaluate

    if (min_labels is not None and min_labels < 0) or (max_labels is not None and max_labels < 0):
        raise EvidenceError("--min-labels and --max-labels must be 0 or more")
    if min_labels is not None and max_labels and min_labels > max_labels:
        raise EvidenceError(f"--min-labels {min_labels} is greater than --max-labels {max_labels}; "
                            "give a minimum no larger than the maximum (or --max-labels 0 for no limit)")
    if train and codebook_only:
        raise EvidenceError("--train and --codebook-only contradict each other; give one of them")
    result = evaluate(codebook, test, train, root=root, min_labels=min_labels, max_labels=max_labels,
                      progress=None if quiet else (lambda m: _err(m)), codebook_only=codebook_only)
    for note in [] if quiet else result.get("notes", []):
        _err(f"note: {note}")
    if as_json:
        typer.echo(_json.dumps(result, ensure_ascii=False))
        return
    width = max([len(k) for k in result["per_label"]] + [5])
    typer.echo(f"{'label':{width}s}  precision  recall     f1  support")
    for label, m in result["per_label"].items():
        typer.echo(f"{label:{width}s}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}  {m['support']:7d}")
    b = result["baseline"]
    typer.echo(f"tagger:   macro F1 {result['macro_f1']:.3f}  micro F1 {result['micro_f1']:.3f}")
    typer.echo(f"baseline: macro F1 {b['macro_f1']:.3f}  micro F1 {b['micro_f1']:.3f}  ({b['name']}, same split)")
    setup = result["setup"]
    trained_on = setup["training"]
    if isinstance(trained_on, list):
        trained_on = "the build's " + ", ".join(trained_on)
    typer.echo(f"({setup['test_texts']} test texts, {setup['train_texts']} training texts"
               f"{' (' + trained_on + ')' if trained_on else ''}, {setup['labels']} labels, "
               f"model {setup['model']}, weights {setup['weights']}, threshold {setup['threshold']})")


SearchDbOpt = Annotated[Optional[Path], typer.Option("--db", help="Database to search (default: ROOT/public.db, the one 'evidence serve' serves).")]
TypeOpt = Annotated[Optional[str], typer.Option("--type", help="Only stories or only findings: story or finding.")]
ApproachOpt = Annotated[Optional[str], typer.Option("--approach", help="Only this community approach (id or name).")]
DomainOpt = Annotated[Optional[str], typer.Option("--domain", help="Only items tagged with this outcome domain (framework/domain-id).")]
AreaOpt = Annotated[Optional[str], typer.Option("--area", help="Only this area of work (id or label).")]
PlaceOpt = Annotated[Optional[str], typer.Option("--place", help="Only this place.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="How many results.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="A JSON array on stdout, best first.")]


BaseUrlOpt = Annotated[Optional[str], typer.Option(
    "--base-url", help="Site address for absolute result URLs, e.g. https://evidence.example.org [default: $EVIDENCE_BASE_URL].")]


def _print_hits(hits: list, as_json: bool, db_name: str = "public", base: str | None = None) -> None:
    import json

    from evidence.web.urls import absolute, base_url, item_path, with_url

    prefix = base_url(base)
    if as_json:
        typer.echo(json.dumps([with_url(h, absolute(item_path(db_name, h.type, h.id), prefix)) for h in hits],
                              ensure_ascii=False, indent=2))
        return
    if not hits:
        _err("no results")
        return
    for n, h in enumerate(hits, start=1):
        snippet = " ".join(h.snippet.split())
        snippet = snippet if len(snippet) <= 240 else snippet[:239] + "…"
        typer.echo(f"{n}. {h.title}\n   {h.type} {h.id}  score {h.score:.3f}  {absolute(item_path(db_name, h.type, h.id), prefix)}\n   “{snippet}”")


@app.command("search")
@friendly
def search_cmd(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")] = "",
    type: TypeOpt = None,
    approach: ApproachOpt = None,
    domain: DomainOpt = None,
    area: AreaOpt = None,
    place: PlaceOpt = None,
    limit: LimitOpt = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid (meaning and words, the default), vector (meaning) or fts (words).")] = "hybrid",
    json_out: JsonOpt = False,
    root: RootOpt = Path("."),
    db: SearchDbOpt = None,
    base: BaseUrlOpt = None,
) -> None:
    """Search stories and findings by meaning; each result shows the passage
    that matched. Filters apply before ranking."""
    from evidence.search.query import Filters, search, weak_match

    filters = Filters(type=type, approach=approach, domain=domain, area=area, place=place)
    hits = search(db or root / "public.db", query, limit=limit, mode=mode, filters=filters)
    if hits and mode != "fts":
        weak, best = weak_match(db or root / "public.db", query, filters=filters)
        if weak:
            _err(f"nothing close was found (the best match is only {best:.2f} close in meaning); "
                 "the evidence base may not cover this, and these results are probably not about it")
    _print_hits(hits, json_out, Path(db or root / "public.db").stem, base)


@app.command("export")
@friendly
def export_cmd(
    dest: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write into (created if missing).")],
    root: RootOpt = Path("."),
    public: PublicOpt = None,
    metadata: Annotated[Optional[Path], typer.Option(help="Datasette metadata with the column descriptions [default: ROOT/metadata.yml].")] = None,
    base: BaseUrlOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Export the public data: a Frictionless data package (datapackage.json
    and CSVs), the sources as RIS and CSL-JSON, and a REFI-QDA project
    (.qdpx) and codebook (.qdc) for qualitative analysis tools."""
    from evidence.web.exports import export
    from evidence.web.urls import base_url

    counts = export(public or root / "public.db", dest, base=base_url(base), metadata=metadata or root / "metadata.yml")
    if not quiet:
        _err(f"export: {counts['tables']} tables ({counts['rows']} rows), {counts['sources']} sources, "
             f"{counts['qda_sources']} stories with {counts['coded_segments']} coded segments and {counts['codes']} codes "
             f"in {dest}")


@app.command("similar")
@friendly
def similar_cmd(
    id: Annotated[str, typer.Argument(help="Id of a story or finding (story:ID or finding:ID when both exist).")] = "",
    type: TypeOpt = None,
    approach: ApproachOpt = None,
    domain: DomainOpt = None,
    area: AreaOpt = None,
    place: PlaceOpt = None,
    limit: LimitOpt = 10,
    json_out: JsonOpt = False,
    root: RootOpt = Path("."),
    db: SearchDbOpt = None,
    base: BaseUrlOpt = None,
) -> None:
    """Stories and findings most like a given one (no model needed)."""
    from evidence.search.query import Filters, similar

    if not id.strip():
        raise EvidenceError("no id given; pass the id of a story or finding, e.g. evidence similar james-and-andy")
    hits = similar(db or root / "public.db", id, limit=limit, filters=Filters(
        type=type, approach=approach, domain=domain, area=area, place=place))
    _print_hits(hits, json_out, Path(db or root / "public.db").stem, base)
@app.command("withdraw")
@friendly
def withdraw_cmd(
    story_id: Annotated[str, typer.Argument(metavar="ID", help="The story's id (its file name without .md).")],
    reason: Annotated[str, typer.Option("--reason", help="Reason code: consent-withdrawn, person-request, safeguarding, legal, inaccurate, duplicate or other.")] = "consent-withdrawn",
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Withdraw a story everywhere: its file, both databases, full-text
    indexes and everything derived from it; keep a tombstone (no personal
    content) so it cannot come back by accident. Run it again to finish an
    interrupted withdrawal."""
    from dataclasses import asdict

    from evidence.curate.withdraw import withdraw

    result = withdraw(root, story_id, reason, db, public)
    if as_json:
        data = asdict(result)
        typer.echo(__import__("json").dumps(data, indent=2))
    if not quiet:
        for line in result.lines():
            _err(line)


@app.command("review-pii")
@friendly
def review_pii_cmd(
    story_id: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="The story to mark reviewed; omit to list held stories.")] = None,
    by: Annotated[str, typer.Option("--by", help="Who reviewed it [default: your user name].")] = "",
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Personal data review. Without ID: list the stories held back from
    publication (file, line and kind of each finding). With ID: record in its
    front matter that you checked the personal data found and it may be
    published; a later edit that changes that data needs a new review."""
    from evidence.curate import pii_review

    if story_id is None:
        from evidence.store import schema as store
        from evidence.store.paths import default_paths

        db_path, _ = default_paths(root, db, public)
        if not db_path.exists():
            raise EvidenceError(f"{db_path} does not exist; run 'evidence build' first")
        conn = store.open_db(db_path)
        try:
            lines = pii_review.held_messages(conn)
        finally:
            conn.close()
        for line in lines:
            typer.echo(line)
        if not quiet:
            _err(f"{len(lines)} finding(s) hold stories back" if lines else "no story is held back for personal data")
        return
    hits, result = pii_review.review(root, story_id, by or _user(), db, public)
    if result is None:
        _err(f"no personal data found in stories/{story_id}.md; nothing to review")
        return
    _warn(result)
    if not quiet:
        kinds = ", ".join(sorted({h.kind for h in hits}))
        _err(f"reviewed stories/{story_id}.md: {len(hits)} finding(s) ({kinds}) may be published as they are")
        _err(result.line())


@app.command("extract")
@friendly
def extract_cmd(
    files: Annotated[list[Path], typer.Argument(help="Documents to read: plain text, Markdown or HTML.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Candidates file to write (YAML).")] = Path("review.yml"),
    max_mb: Annotated[float, typer.Option("--max-mb", help="Refuse a document larger than this many MB.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout.")] = False,
    root: RootOpt = Path("."),
    quiet: QuietOpt = False,
) -> None:
    """Propose candidate stories and findings from documents: writes a review
    file (every candidate keep: false, with duplicate_of naming an existing
    story/finding or the merged copies). Changes nothing in the evidence base;
    mark what to keep and run 'evidence add --from-review FILE'."""
    import json

    from evidence.models.embedder import get_embedder
    from evidence.curate.extract import check_output, extract, write_review

    check_output(root, output)  # before the work: a path that would lose something is refused at once
    result = extract(root, files, get_embedder(root), max_mb=max_mb, progress=_progress(quiet))
    write_review(result, output, root)
    counts = {"files": len(result.files), "words": result.words, "seconds": round(result.seconds, 2),
              "stories": len(result.stories), "findings": len(result.findings), "merged": result.merged,
              "duplicates_of_existing": sum(1 for c in result.stories + result.findings if c.duplicate_of),
              "review_file": str(output)}
    if as_json:
        print(json.dumps(counts))
    elif not quiet:
        _err(f"wrote {output}: {counts['stories']} candidate stories, {counts['findings']} candidate findings "
             f"({counts['merged']} duplicate candidates merged, {counts['duplicates_of_existing']} already in the evidence base)")


def main() -> None:
    """Console-script entry point. An unexpected failure is reported in one
    line too (EVIDENCE_DEBUG=1 shows the traceback)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("EVIDENCE_DEBUG"):
            raise
        _err(f"Error: unexpected {type(exc).__name__}: {exc}; nothing was left half-written. "
             "Run with EVIDENCE_DEBUG=1 for details and report it.")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
