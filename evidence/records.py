"""Records: parse and validate content files into dataclasses.

One module holds every record type so that build, add and the tests agree on
what a valid story, finding, study, approach or codebook is. Parsing returns
data or raises ValidationError naming the file and line; nothing here prints.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from .errors import ValidationError

try:  # the C loader is ~10x faster; fall back where libyaml is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CONSENT_BASES = ("given-by-person", "given-by-representative", "published-by-organisation")
CONSENT_SCOPES = ("public", "research", "internal")
IDENTITIES = ("named", "anonymised")
STATUSES = ("draft", "published")
SCALES = ("national", "regional", "local", "growing", "small")
PUBLIC_SCOPE = "public"


def slugify(text: str) -> str:
    """Lower-case ASCII slug of `text` ('Pearl & the kettle' -> 'pearl-the-kettle')."""
    text = text.lower().replace("’", "").replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def content_hash(data: Any) -> str:
    """Stable SHA-256 of a JSON-able value (sorted keys)."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def normalise_text(text: str) -> str:
    """Text reduced for duplicate detection: case, quotes and spacing folded."""
    text = text.lower()
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}))
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# YAML with line numbers (computed only when an error needs one)


class YamlDoc:
    """Parsed YAML plus lazy access to the line of any key path."""

    def __init__(self, path: str, text: str, line_offset: int = 0):
        self.path = path
        self.text = text
        self.line_offset = line_offset
        try:
            self.data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 + line_offset if mark else None
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValidationError(path, line, f"invalid YAML ({problem}); check indentation and quoting") from None
        if "&" in text:
            anchor = _anchor_line(text)
            if anchor:
                raise ValidationError(path, anchor + line_offset, "YAML anchors and aliases (&name, *name) are not "
                                      "allowed in content files (a few can expand to billions of values); write each value out")
        self._node = None

    def line(self, *keys: str | int) -> int | None:
        """1-based line of the value at `keys` (or of its nearest existing parent)."""
        if self._node is None:
            try:
                self._node = yaml.compose(self.text, Loader=yaml.SafeLoader)
            except yaml.YAMLError:  # the C loader accepted what the Python one rejects
                return None
        node = self._node
        best = node.start_mark.line if node is not None else 0
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == key:
                        best = k.start_mark.line
                        nxt = v
                        break
                if nxt is None:
                    break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line
            else:
                break
        return best + 1 + self.line_offset

    def error(self, message: str, *keys: str | int) -> ValidationError:
        return ValidationError(self.path, self.line(*keys) if keys else None, message)


def _anchor_line(text: str) -> int | None:
    """1-based line of the first YAML anchor in `text`, if any."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AnchorToken):
                return token.start_mark.line + 1
    except yaml.YAMLError:
        return None
    return None


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Fields:
    """Typed access to one mapping of a YamlDoc with precise error lines."""

    def __init__(self, doc: YamlDoc, data: Any, keys: tuple, what: str, allowed: tuple[str, ...]):
        self.doc, self.keys, self.what = doc, keys, what
        if not isinstance(data, dict):
            raise doc.error(f"{what} must be a mapping of 'key: value' lines", *keys)
        for k in data:
            if k not in allowed:
                raise doc.error(f"unknown field '{k}' in {what}{_suggest(str(k), allowed)}; allowed: {', '.join(allowed)}", *keys, k)
        self.data = data

    def _err(self, key: str, message: str) -> ValidationError:
        return self.doc.error(message, *self.keys, key)

    def str(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise self._err(key, f"{self.what} needs '{key}'; add a line '{key}: ...'")
            return default
        if isinstance(value, (_dt.date, int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self._err(key, f"'{key}' in {self.what} must be text, not {type(value).__name__}")
        return value.strip()

    def choice(self, key: str, choices: tuple[str, ...], required: bool = True, default: str = "") -> str:
        value = self.str(key, required=required, default=default)
        if value and value not in choices:
            raise self._err(key, f"'{key}' is '{value}'{_suggest(value, choices)}; use one of: {', '.join(choices)}")
        return value

    def slug(self, key: str, required: bool = True) -> str:
        value = self.str(key, required=required)
        if value and not SLUG_RE.match(value):
            raise self._err(key, f"'{key}' is '{value}'; use a lower-case slug such as '{slugify(value) or 'my-id'}'")
        return value

    def date(self, key: str, required: bool = False) -> str:
        value = self.data.get(key)
        if isinstance(value, _dt.date):
            return value.isoformat()
        text = self.str(key, required=required)
        if text:
            try:
                _dt.date.fromisoformat(text)
            except ValueError:
                raise self._err(key, f"'{key}' is '{text}'; write the date as YYYY-MM-DD") from None
        return text

    def number(self, key: str, integer: bool = False) -> float | int | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._err(key, f"'{key}' must be a number (or null), not '{value}'")
        if integer and not float(value).is_integer():
            raise self._err(key, f"'{key}' must be a whole number, not {value}")
        return int(value) if integer else value

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._err(key, f"'{key}' must be a list of text items")
        return [v.strip() for v in value]


# ---------------------------------------------------------------------------
# Record types


@dataclass
class Source:
    title: str = ""
    author: str = ""
    organisation: str = ""
    publisher: str = ""
    url: str = ""
    date: str = ""
    seed: str = ""
    note: str = ""


SOURCE_FIELDS = tuple(Source.__dataclass_fields__)


def _source(doc: YamlDoc, data: Any, keys: tuple, required: bool = True) -> Source:
    if data is None and not required:
        return Source()
    f = _Fields(doc, data if data is not None else {}, keys, "source", SOURCE_FIELDS)
    src = Source(
        title=f.str("title", required=required),
        author=f.str("author"),
        organisation=f.str("organisation"),
        publisher=f.str("publisher"),
        url=f.str("url"),
        date=f.str("date"),
        seed=f.str("seed"),
        note=f.str("note"),
    )
    if required and not (src.author or src.organisation):
        raise doc.error("source needs an 'author' or an 'organisation' so a reader can trace it", *keys)
    if src.url and not re.match(r"^https?://", src.url):
        raise doc.error(f"source url '{src.url}' must start with http:// or https://", *keys, "url")
    return src


@dataclass
class Person:
    name: str
    role: str = ""
    aliases: list[str] = field(default_factory=list)
    pseudonym: str = ""  # overrides consent.pseudonym for this person


@dataclass
class Consent:
    basis: str
    scope: str
    identity: str = "named"
    pseudonym: str = ""
    date: str = ""
    recorded_by: str = ""
    wording: str = ""


CONSENT_FIELDS = tuple(Consent.__dataclass_fields__)


@dataclass
class Story:
    id: str
    title: str
    summary: str
    body: str
    people: list[Person]
    approach: str
    organisation: str
    place: str
    area_of_work: str
    source: Source
    consent: Consent
    status: str
    added: str
    tags: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    curator_notes: str = ""
    path: str = ""
    privacy: dict = field(default_factory=dict)  # a curator's personal-data review: reviewed, by, hash

    @property
    def publishable(self) -> bool:
        """True when consent allows public use and the story is published."""
        return self.status == "published" and self.consent.scope == PUBLIC_SCOPE

    def hash(self) -> str:
        data = asdict(self)
        data.pop("path")
        if not data["privacy"]:  # stories without a review keep the hash they had
            data.pop("privacy")
        return content_hash(data)


STORY_FIELDS = (
    "id", "title", "summary", "people", "approach", "organisation", "place", "area_of_work",
    "source", "consent", "status", "added", "tags", "links", "curator_notes", "privacy",
)
PRIVACY_FIELDS = ("reviewed", "by", "hash")


@dataclass
class Approach:
    id: str
    name: str
    description: str
    area_of_work: str
    also_areas: list[str]
    scale: str
    scale_note: str
    organisation: str
    website: str
    sources: list[Source]
    path: str = ""

    def hash(self) -> str:
        data = asdict(self)
        data.pop("path")
        return content_hash(data)


APPROACH_FIELDS = (
    "id", "name", "description", "area_of_work", "also_areas", "scale", "scale_note",
    "organisation", "website", "sources",
)


@dataclass
class Finding:
    id: str
    study_id: str
    statement: str
    measure: str
    value: float | None
    unit: str
    direction: str
    comparator: str
    sample_size: int | None
    population: str
    design: str
    year: int | None
    place: str
    approach: str
    source_sentence: str
    note: str = ""
    position: int = 0
    tags: list[dict] = field(default_factory=list)  # curator decisions, see parse_tag_decisions

    def hash(self) -> str:
        return content_hash(asdict(self))


FINDING_FIELDS = (
    "id", "statement", "measure", "value", "unit", "direction", "comparator", "sample_size",
    "population", "design", "year", "place", "approach", "source_sentence", "note", "tags",
)


@dataclass
class Study:
    id: str
    title: str
    authors: str
    organisation: str
    year: int | None
    url: str
    kind: str
    source: Source
    findings: list[Finding]
    path: str = ""

    def hash(self) -> str:
        data = asdict(self)
        data.pop("path")
        data.pop("findings")
        return content_hash(data)


STUDY_FIELDS = ("id", "title", "authors", "organisation", "year", "url", "kind", "source", "findings")


@dataclass
class Domain:
    framework: str
    id: str
    label: str
    description: str
    examples: list[str]
    maps_to: list[str]
    position: int

    @property
    def key(self) -> str:
        return f"{self.framework}/{self.id}"


@dataclass
class Framework:
    id: str
    title: str
    version: str
    description: str
    source: Source
    domains: list[Domain]
    path: str = ""

    def hash(self) -> str:
        data = asdict(self)
        data.pop("path")
        return content_hash(data)


@dataclass
class Area:
    id: str
    label: str
    description: str
    position: int


@dataclass
class Vocabulary:
    """What references may point at: known approach and area ids."""

    approaches: set[str] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)


# ---------------------------------------------------------------------------
# Parsers


def split_front_matter(path: str, text: str) -> tuple[str, str, int]:
    """Return (yaml text, body, line of the first YAML line) of a Markdown file."""
    if not text.startswith("---"):
        raise ValidationError(path, 1, "a story starts with '---' then YAML front matter, then '---' and the narrative")
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]).strip("\n"), 1
    raise ValidationError(path, 1, "front matter is not closed; add a line '---' after the YAML fields")


def parse_story(path: str, text: str, vocab: Vocabulary | None = None) -> Story:
    """Parse and validate a story file's text. Raises ValidationError."""
    if "\x00" in text:
        raise ValidationError(path, None, "file is not text (it contains NUL bytes)")
    fm, body, offset = split_front_matter(path, text)
    doc = YamlDoc(path, fm, offset)
    f = _Fields(doc, doc.data, (), "story front matter", STORY_FIELDS)
    if not body.strip():
        raise ValidationError(path, fm.count("\n") + 3, "the story has no narrative; write it below the closing '---'")
    people_raw = doc.data.get("people") or []
    if not isinstance(people_raw, list):
        raise doc.error("'people' must be a list of entries with 'name' and 'role'", "people")
    people = []
    for i, p in enumerate(people_raw):
        if isinstance(p, str):
            p = {"name": p}
        pf = _Fields(doc, p, ("people", i), "a person", ("name", "role", "aliases", "pseudonym"))
        people.append(Person(name=pf.str("name"), role=pf.str("role"), aliases=pf.str_list("aliases"),
                             pseudonym=pf.str("pseudonym")))
    consent_raw = doc.data.get("consent")
    if consent_raw is None:
        raise doc.error(
            "the story has no consent record; add 'consent:' with basis, scope, identity, date, recorded_by and wording",
        )
    cf = _Fields(doc, consent_raw, ("consent",), "consent", CONSENT_FIELDS)
    consent = Consent(
        basis=cf.choice("basis", CONSENT_BASES),
        scope=cf.choice("scope", CONSENT_SCOPES),
        identity=cf.choice("identity", IDENTITIES, required=False, default="named"),
        pseudonym=cf.str("pseudonym"),
        date=cf.date("date", required=True),
        recorded_by=cf.str("recorded_by", required=True),
        wording=cf.str("wording", required=True),
    )
    if consent.identity == "anonymised" and not consent.pseudonym:
        raise doc.error("an anonymised story needs 'pseudonym:' under consent (the name to publish instead)", "consent")
    links = doc.data.get("links") or []
    if not isinstance(links, list):
        raise doc.error("'links' must be a list", "links")
    links = [_link_decision(doc, item, i) for i, item in enumerate(links)]
    tags = parse_tag_decisions(doc, doc.data.get("tags"), ("tags",))
    story = Story(
        id=f.slug("id"),
        title=f.str("title", required=True),
        summary=f.str("summary"),
        body=body,
        people=people,
        approach=f.slug("approach"),
        organisation=f.str("organisation"),
        place=f.str("place"),
        area_of_work=f.str("area_of_work"),
        source=_source(doc, doc.data.get("source"), ("source",)),
        consent=consent,
        status=f.choice("status", STATUSES, required=False, default="published"),
        added=f.date("added"),
        tags=tags,
        links=links,
        curator_notes=f.str("curator_notes"),
        path=path,
        privacy=_privacy(doc, doc.data.get("privacy")),
    )
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if story.id != stem:
        raise doc.error(f"id '{story.id}' does not match the file name; rename the file to {story.id}.md or set id: {stem}", "id")
    if story.consent.identity == "anonymised":
        from .privacy import names_in_published_fields

        for label, name, keys in names_in_published_fields(story):
            raise doc.error(
                f"{label} contains '{name}', a name of a person in this anonymised story, and {label} is published "
                "as it is; take the name out of it (to change the id, rename the file too)", *keys)
    if vocab is not None:
        check_approach(doc, story.approach, vocab, ("approach",))
        if story.area_of_work:
            check_area(doc, story.area_of_work, vocab, ("area_of_work",))
    return story


TAG_STATUSES = ("confirmed", "rejected")
TAG_FIELDS = ("domain", "status", "sentence", "by", "date", "note")
DOMAIN_KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$")


def parse_tag_decisions(doc: YamlDoc, raw: Any, keys: tuple) -> list[dict]:
    """A curator's tag decisions: a list of {domain: <framework>/<domain-id>,
    status: confirmed|rejected, sentence (optional, the supporting sentence
    verbatim), by, date, note (optional)}. Whether the domain exists is
    checked when the item is tagged (the codebooks may change)."""
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list):
        raise doc.error("'tags' must be a list of {domain: <framework>/<domain>, status: confirmed|rejected}", *keys)
    out, seen = [], set()
    for i, item in enumerate(raw):
        tf = _Fields(doc, item, (*keys, i), "a tag decision", TAG_FIELDS)
        domain = tf.str("domain", required=True)
        if not DOMAIN_KEY_RE.match(domain):
            raise doc.error(f"tag domain '{domain}' must be written <framework>/<domain-id>, e.g. ascot/occupation", *keys, i, "domain")
        if domain in seen:
            raise doc.error(f"tag domain '{domain}' appears twice; keep one decision per domain", *keys, i, "domain")
        seen.add(domain)
        decision = {"domain": domain, "status": tf.choice("status", TAG_STATUSES)}
        for k in ("sentence", "by", "note"):
            if tf.str(k):
                decision[k] = tf.str(k)
        if tf.date("date"):
            decision["date"] = tf.date("date")
        out.append(decision)
    return out


def _privacy(doc: YamlDoc, raw: Any) -> dict:
    """The `privacy:` review entry (written by `evidence review-pii`)."""
    if raw is None:
        return {}
    f = _Fields(doc, raw, ("privacy",), "privacy", PRIVACY_FIELDS)
    return {"reviewed": f.date("reviewed", required=True), "by": f.str("by", required=True),
            "hash": f.str("hash", required=True)}


def check_approach(doc: YamlDoc, approach: str, vocab: Vocabulary, keys: tuple) -> None:
    if approach and approach not in vocab.approaches:
        known = sorted(vocab.approaches)
        raise doc.error(
            f"unknown approach '{approach}'{_suggest(approach, known)}; known approaches: {', '.join(known)} "
            "(or add approaches/<id>.yml)",
            *keys,
        )


def check_area(doc: YamlDoc, area: str, vocab: Vocabulary, keys: tuple) -> None:
    if area not in vocab.areas:
        known = sorted(vocab.areas)
        raise doc.error(f"unknown area of work '{area}'{_suggest(area, known)}; use one of: {', '.join(known)}", *keys)


def parse_approach(path: str, text: str, vocab: Vocabulary | None = None) -> Approach:
    """Parse and validate an approach file."""
    doc = YamlDoc(path, text)
    f = _Fields(doc, doc.data, (), "approach", APPROACH_FIELDS)
    sources_raw = doc.data.get("sources") or []
    if not isinstance(sources_raw, list) or not sources_raw:
        raise doc.error("an approach needs 'sources:', a list of at least one source", "sources")
    approach = Approach(
        id=f.slug("id"),
        name=f.str("name", required=True),
        description=f.str("description", required=True),
        area_of_work=f.str("area_of_work", required=True),
        also_areas=f.str_list("also_areas"),
        scale=f.choice("scale", SCALES, required=False),
        scale_note=f.str("scale_note"),
        organisation=f.str("organisation"),
        website=f.str("website"),
        sources=[_source(doc, s, ("sources", i)) for i, s in enumerate(sources_raw)],
        path=path,
    )
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if approach.id != stem:
        raise doc.error(f"id '{approach.id}' does not match the file name; rename the file to {approach.id}.yml", "id")
    if vocab is not None:
        check_area(doc, approach.area_of_work, vocab, ("area_of_work",))
        for i, a in enumerate(approach.also_areas):
            check_area(doc, a, vocab, ("also_areas", i))
    return approach


def parse_study(path: str, text: str, vocab: Vocabulary | None = None) -> Study:
    """Parse and validate a findings file (one study with its findings)."""
    doc = YamlDoc(path, text)
    f = _Fields(doc, doc.data, (), "findings file", STUDY_FIELDS)
    findings_raw = doc.data.get("findings")
    if not isinstance(findings_raw, list) or not findings_raw:
        raise doc.error("a findings file needs 'findings:', a list of at least one finding", "findings")
    study_id = f.slug("id")
    findings = []
    seen: set[str] = set()
    for i, raw in enumerate(findings_raw):
        ff = _Fields(doc, raw, ("findings", i), "a finding", FINDING_FIELDS)
        finding = Finding(
            id=ff.slug("id"),
            study_id=study_id,
            statement=ff.str("statement", required=True),
            measure=ff.str("measure"),
            value=ff.number("value"),
            unit=ff.str("unit"),
            direction=ff.str("direction"),
            comparator=ff.str("comparator"),
            sample_size=ff.number("sample_size", integer=True),
            population=ff.str("population"),
            design=ff.str("design"),
            year=ff.number("year", integer=True),
            place=ff.str("place"),
            approach=ff.str("approach"),
            source_sentence=ff.str("source_sentence"),
            note=ff.str("note"),
            position=i,
            tags=parse_tag_decisions(doc, raw.get("tags"), ("findings", i, "tags")),
        )
        if finding.value is not None and not finding.unit:
            raise doc.error(f"finding '{finding.id}' has a value but no unit; add 'unit: ...'", "findings", i, "value")
        if finding.id in seen:
            raise doc.error(f"finding id '{finding.id}' appears twice in this file; give each finding its own id", "findings", i, "id")
        seen.add(finding.id)
        if vocab is not None and finding.approach:
            check_approach(doc, finding.approach, vocab, ("findings", i, "approach"))
        findings.append(finding)
    study = Study(
        id=study_id,
        title=f.str("title", required=True),
        authors=f.str("authors"),
        organisation=f.str("organisation"),
        year=f.number("year", integer=True),
        url=f.str("url"),
        kind=f.str("kind"),
        source=_source(doc, doc.data.get("source"), ("source",), required=False),
        findings=findings,
        path=path,
    )
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if study.id != stem:
        raise doc.error(f"id '{study.id}' does not match the file name; rename the file to {study.id}.yml", "id")
    return study


def parse_framework(path: str, text: str) -> Framework:
    """Parse an outcome codebook: `name` (or `id`) and `domains` with `label`,
    optional `id`, `description`, `examples`, `maps_to`. Extra keys are kept out."""
    doc = YamlDoc(path, text)
    if not isinstance(doc.data, dict):
        raise doc.error("a codebook is a mapping with 'name' and 'domains'")
    fid = str(doc.data.get("id") or doc.data.get("name") or "").strip()
    if not fid:
        raise doc.error("a codebook needs 'name' (its id); add a line 'name: my-framework'")
    if not SLUG_RE.match(fid):
        fid = slugify(fid)
    domains_raw = doc.data.get("domains")
    if not isinstance(domains_raw, list) or not domains_raw:
        raise doc.error("a codebook needs 'domains:', a list with a 'label' for each", "domains")
    domains: list[Domain] = []
    seen: set[str] = set()
    for i, raw in enumerate(domains_raw):
        if not isinstance(raw, dict) or not str(raw.get("label") or "").strip():
            raise doc.error("each domain needs a 'label'", "domains", i)
        label = str(raw["label"]).strip()
        did = str(raw.get("id") or slugify(label) or f"domain-{i + 1}")
        if did in seen:
            raise doc.error(f"domain id '{did}' appears twice; give each domain a distinct id", "domains", i)
        seen.add(did)
        examples = raw.get("examples") or []
        maps_to = raw.get("maps_to") or []
        if not isinstance(examples, list) or not isinstance(maps_to, list):
            raise doc.error("'examples' and 'maps_to' must be lists", "domains", i)
        domains.append(Domain(
            framework=fid, id=did, label=label, description=str(raw.get("description") or "").strip(),
            examples=[str(e) for e in examples], maps_to=[str(m) for m in maps_to], position=i,
        ))
    return Framework(
        id=fid,
        title=str(doc.data.get("title") or fid),
        version=str(doc.data.get("version") or "1"),
        description=str(doc.data.get("description") or "").strip(),
        source=_source(doc, doc.data.get("source"), ("source",), required=False) if isinstance(doc.data.get("source"), dict) else Source(),
        domains=domains,
        path=path,
    )


def parse_areas(path: str, text: str) -> list[Area]:
    """Parse pipelines/areas_of_work.yml."""
    doc = YamlDoc(path, text)
    raw = doc.data.get("areas") if isinstance(doc.data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise doc.error("areas_of_work.yml needs 'areas:', a list with id and label", "areas")
    areas = []
    for i, a in enumerate(raw):
        if not isinstance(a, dict) or not a.get("id") or not a.get("label"):
            raise doc.error("each area needs 'id' and 'label'", "areas", i)
        areas.append(Area(id=str(a["id"]), label=str(a["label"]), description=str(a.get("description") or ""), position=i))
    return areas


LINK_STATUSES = ("confirmed", "removed")


def _link_decision(doc, item, i: int) -> dict:
    """One curator decision on a story-finding link: {finding, status, note?}."""
    if not isinstance(item, dict) or set(item) - {"finding", "status", "note"}:
        raise doc.error("each item of 'links' must be a mapping with 'finding:', 'status:' "
                        "(confirmed or removed) and optionally 'note:'", "links")
    finding = item.get("finding")
    if not isinstance(finding, str) or not SLUG_RE.match(finding):
        raise doc.error(f"links item {i + 1}: 'finding:' must be a finding id (lower-case words joined by '-')", "links")
    status = item.get("status")
    if status not in LINK_STATUSES:
        raise doc.error(f"links item {i + 1}: 'status:' must be confirmed or removed, not {status!r}", "links")
    note = item.get("note") or ""
    if not isinstance(note, str):
        raise doc.error(f"links item {i + 1}: 'note:' must be text", "links")
    return {"finding": finding, "status": status, "note": note}
