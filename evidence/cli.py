"""The `evidence` command line. Thin commands that call plain functions; the
only module that prints or exits. Heavy stages (spaCy, torch) are imported
inside the commands that need them, so `evidence --help` starts fast."""
from __future__ import annotations

import functools
import getpass
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import EvidenceError

app = typer.Typer(
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
        except OSError as exc:
            if getattr(exc, "filename", None):
                _err(f"Error: {exc.strerror}: {exc.filename}")
                raise typer.Exit(1)
            raise

    return wrapper


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
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
    quiet: QuietOpt = False,
) -> None:
    """Parse and validate every content file, update the working database
    (only what changed) and write the public database."""
    from .build import build

    summary = build(root, db, public, progress=_progress(quiet), force_publish=force)
    if not quiet:
        _err(summary.line())


@app.command("add")
@friendly
def add_cmd(
    title: Annotated[str, typer.Option(help="Title of the story.")] = "",
    body_file: Annotated[Optional[Path], typer.Option("--body-file", help="File with the narrative (Markdown); '-' or omitted reads stdin.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Add a complete story file (front matter and narrative) instead of fields.")] = None,
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
    identity: Annotated[str, typer.Option("--identity", help="named or anonymised.")] = "named",
    pseudonym: Annotated[str, typer.Option("--pseudonym", help="Name to publish instead (anonymised stories).")] = "",
    consent_date: Annotated[str, typer.Option("--consent-date", help="When consent was recorded [default: today].")] = "",
    recorded_by: Annotated[str, typer.Option("--recorded-by", help="Who recorded the consent [default: your user name].")] = "",
    consent_wording: Annotated[str, typer.Option("--consent-wording", help="The wording or version consented to.")] = "",
    draft: Annotated[bool, typer.Option("--draft", help="Add as a draft (not published).")] = False,
    interactive: Annotated[Optional[bool], typer.Option("--interactive/--no-input", help="Prompt for missing fields [default: when stdin is a terminal].")] = None,
    root: RootOpt = Path("."),
    db: DbOpt = None,
    public: PublicOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Add a story: writes stories/<id>.md, validates it exactly as build
    does, and updates both databases. Refuses (exit 1, nothing written) an
    unknown approach, a missing consent basis, an existing id or narrative,
    and an empty or non-text body."""
    from . import add as adding

    if file is not None:
        path, result = _add_story_file(root, file, db, public)
    else:
        prompt = sys.stdin.isatty() if interactive is None else interactive
        inp = adding.StoryInput(
            title=title, id=id, summary=summary, people=[adding.parse_person(p) for p in person or []],
            approach=approach, organisation=organisation, place=place, area_of_work=area_of_work,
            source_title=source_title, source_author=source_author, source_organisation=source_organisation,
            source_url=source_url, source_date=source_date, consent=consent, consent_scope=consent_scope,
            identity=identity, pseudonym=pseudonym, consent_date=consent_date,
            recorded_by=recorded_by or _user(), consent_wording=consent_wording,
            status="draft" if draft else "published",
        )
        if prompt:
            _prompt_story(inp, root)
        if body_file is not None and str(body_file) != "-":
            try:
                inp.body = adding.check_body(body_file.read_bytes())
            except FileNotFoundError:
                raise EvidenceError(f"body file not found: {body_file}; check the path") from None
        elif not inp.body:
            if sys.stdin.isatty() and not prompt:
                raise EvidenceError("no narrative given; pass --body-file FILE or pipe the text on stdin")
            inp.body = adding.check_body(sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read())
        path, result = adding.add_story(root, inp, db, public)
    if not quiet:
        _err(f"added {path.relative_to(root) if path.is_relative_to(root) else path}")
        _err(result.line())


def _add_story_file(root: Path, file: Path, db, public):
    from .add import _write_and_build, existing_bodies, vocabulary
    from .records import content_hash, normalise_text, parse_story

    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"file not found: {file}; check the path") from None
    from .add import check_body

    text = check_body(data)
    story = parse_story(f"stories/{file.stem}.md", text, vocabulary(root))
    target = Path(root) / "stories" / f"{story.id}.md"
    if target.exists():
        raise EvidenceError(f"a story with id '{story.id}' already exists (stories/{story.id}.md); change its id")
    dup = existing_bodies(root).get(content_hash(normalise_text(story.body)))
    if dup:
        raise EvidenceError(f"this narrative is already in the evidence base as story '{dup}'; edit that story instead")
    return target, _write_and_build(root, target, text, None, db, public)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        return "curator"


def _prompt_story(inp, root: Path) -> None:
    """Ask for each missing field on the terminal."""
    from .add import parse_person, vocabulary
    from .records import CONSENT_BASES, CONSENT_SCOPES

    known = sorted(vocabulary(root).approaches)
    inp.title = inp.title or typer.prompt("Title")
    inp.summary = inp.summary or typer.prompt("Summary (one or two sentences)", default="", show_default=False)
    if not inp.people:
        raw = typer.prompt("People, as Name:role separated by ';' (blank for none)", default="", show_default=False)
        inp.people = [parse_person(p) for p in raw.split(";") if p.strip()]
    inp.approach = inp.approach or typer.prompt(f"Approach ({', '.join(known)})")
    inp.organisation = inp.organisation or typer.prompt("Organisation", default="", show_default=False)
    inp.place = inp.place or typer.prompt("Place", default="", show_default=False)
    inp.source_title = inp.source_title or typer.prompt("Source title", default="", show_default=False)
    inp.source_author = inp.source_author or typer.prompt("Source author", default="", show_default=False)
    inp.source_organisation = inp.source_organisation or typer.prompt("Source organisation", default="", show_default=False)
    inp.source_url = inp.source_url or typer.prompt("Source URL", default="", show_default=False)
    inp.consent = inp.consent or typer.prompt(f"Consent basis ({', '.join(CONSENT_BASES)})")
    inp.consent_scope = inp.consent_scope or typer.prompt(f"Consent scope ({', '.join(CONSENT_SCOPES)})")
    if not inp.body:
        typer.echo("Narrative (Markdown); end with a line containing only '.':", err=True)
        lines = []
        for line in sys.stdin:
            if line.rstrip("\n") == ".":
                break
            lines.append(line)
        inp.body = "".join(lines)


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
    from .add import FindingInput, add_finding

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
) -> None:
    """Serve the public database read-only (immutable) with Datasette on 127.0.0.1."""
    from .serve import datasette_args

    args = datasette_args(root, public, metadata, port)
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


SearchDbOpt = Annotated[Optional[Path], typer.Option("--db", help="Database to search (default: ROOT/public.db, the one 'evidence serve' serves).")]
TypeOpt = Annotated[Optional[str], typer.Option("--type", help="Only stories or only findings: story or finding.")]
ApproachOpt = Annotated[Optional[str], typer.Option("--approach", help="Only this community approach (id or name).")]
DomainOpt = Annotated[Optional[str], typer.Option("--domain", help="Only items tagged with this outcome domain (framework/domain-id).")]
AreaOpt = Annotated[Optional[str], typer.Option("--area", help="Only this area of work (id or label).")]
PlaceOpt = Annotated[Optional[str], typer.Option("--place", help="Only this place.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="How many results.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="A JSON array on stdout, best first.")]


def _print_hits(hits: list, as_json: bool) -> None:
    import json

    if as_json:
        typer.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        _err("no results")
        return
    for n, h in enumerate(hits, start=1):
        snippet = " ".join(h.snippet.split())
        snippet = snippet if len(snippet) <= 240 else snippet[:239] + "…"
        typer.echo(f"{n}. {h.title}\n   {h.type} {h.id}  score {h.score:.3f}  {h.url}\n   “{snippet}”")


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
    mode: Annotated[str, typer.Option("--mode", help="vector (meaning), fts (words) or hybrid (both, rank-fused).")] = "vector",
    json_out: JsonOpt = False,
    root: RootOpt = Path("."),
    db: SearchDbOpt = None,
) -> None:
    """Search stories and findings by meaning; each result shows the passage
    that matched. Filters apply before ranking."""
    from .search import Filters, search

    hits = search(db or root / "public.db", query, limit=limit, mode=mode, filters=Filters(
        type=type, approach=approach, domain=domain, area=area, place=place))
    _print_hits(hits, json_out)


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
) -> None:
    """Stories and findings most like a given one (no model needed)."""
    from .search import Filters, similar

    if not id.strip():
        raise EvidenceError("no id given; pass the id of a story or finding, e.g. evidence similar james-and-andy")
    hits = similar(db or root / "public.db", id, limit=limit, filters=Filters(
        type=type, approach=approach, domain=domain, area=area, place=place))
    _print_hits(hits, json_out)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
