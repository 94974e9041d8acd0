"""Records: the types of the content (story, finding, study, approach,
codebook, area) and the fixed vocabularies their fields take.

Types only; content/parsers.py turns files into them.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any



from evidence.content.yamldoc import SLUG_RE, slugify  # noqa: F401  (re-exported: callers name ids here)

CONSENT_BASES = ("given-by-person", "given-by-representative", "published-by-organisation")
CONSENT_SCOPES = ("public", "research", "internal")
IDENTITIES = ("named", "anonymised")
STATUSES = ("draft", "published")
SCALES = ("national", "regional", "local", "growing", "small")
PUBLIC_SCOPE = "public"



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
    aliases: list[str] = field(default_factory=list)  # other ways documents write it ("LAC", "Gig Buddy")
    # curators' confidence overrides per outcome domain (parse_confidence)
    confidence: list[dict] = field(default_factory=list)

    def hash(self) -> str:
        data = asdict(self)
        data.pop("path")
        if not data["aliases"]:  # approaches without aliases keep the hash they had
            data.pop("aliases")
        if not data["confidence"]:  # approaches without overrides keep the hash they had
            data.pop("confidence")
        return content_hash(data)


APPROACH_FIELDS = (
    "id", "name", "description", "area_of_work", "also_areas", "scale", "scale_note",
    "organisation", "website", "sources", "confidence", "aliases",
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
    interval_low: float | None = None   # an interval around the value, when the source gives one
    interval_high: float | None = None
    # a curator's certainty assessment (parse_certainty), the study's merged
    # under the finding's own: {"by", "date", "factors": {factor: {concern, reason}}}
    certainty: dict = field(default_factory=dict)

    def hash(self) -> str:
        data = asdict(self)
        for key in ("interval_low", "interval_high", "certainty"):  # unchanged hash when absent
            if not data[key] and data[key] != 0:
                data.pop(key)
        return content_hash(data)


FINDING_FIELDS = (
    "id", "statement", "measure", "value", "unit", "direction", "comparator", "sample_size",
    "population", "design", "year", "place", "approach", "source_sentence", "note", "tags",
    "interval_low", "interval_high", "certainty",
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


STUDY_FIELDS = ("id", "title", "authors", "organisation", "year", "url", "kind", "source", "findings", "certainty")


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

