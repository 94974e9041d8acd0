"""Parsers: content files (story Markdown, study, approach, codebook and area
YAML) -> records, validated, with errors that name the file, line and field.
Nothing here prints.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any


from evidence.errors import ValidationError

from evidence.content.records import (
    APPROACH_FIELDS, CONSENT_BASES, CONSENT_FIELDS, FINDING_FIELDS, STUDY_FIELDS, CONSENT_SCOPES, IDENTITIES, SCALES, SOURCE_FIELDS, STATUSES, STORY_FIELDS, PRIVACY_FIELDS, Approach, Area, Consent, Domain, Finding, Framework, Person, Source, Story, Study, Vocabulary,
)
from evidence.content.yamldoc import CONTROL_RE, SLUG_RE, Fields, YamlDoc, slugify, split_front_matter, suggest

# consent fields written as a reminder to fill them in: they record nothing
_PLACEHOLDER = re.compile(r"(?i)\s*(?:tbc|tbd|todo|to\s*do|to\s+be\s+(?:confirmed|added|done)|n/?a|none|unknown|"
                          r"pending|xxx+|placeholder|fill\s+in|fixme|\?+)\s*[.!]*\s*")


def _source(doc: YamlDoc, data: Any, keys: tuple, required: bool = True) -> Source:
    if data is None and not required:
        return Source()
    f = Fields(doc, data if data is not None else {}, keys, "source", SOURCE_FIELDS)
    src = Source(
        title=f.str("title", required=required),
        author=f.str("author"),
        organisation=f.str("organisation"),
        publisher=f.str("publisher"),
        url=f.url("url"),
        date=f.date("date", partial=True),
        seed=f.str("seed"),
        note=f.str("note"),
    )
    if required and not (src.author or src.organisation):
        raise doc.error("source needs an 'author' or an 'organisation' so a reader can trace it", *keys)
    return src



def parse_story(path: str, text: str, vocab: Vocabulary | None = None) -> Story:
    """Parse and validate a story file's text. Raises ValidationError."""
    if "\x00" in text:
        raise ValidationError(path, None, "file is not text (it contains NUL bytes)")
    fm, body, offset = split_front_matter(path, text)
    doc = YamlDoc(path, fm, offset)
    bad = CONTROL_RE.search(body)
    if bad:
        raise ValidationError(path, _body_line(text, body, bad.start()),
                              f"the narrative holds the control character U+{ord(bad.group(0)):04X}; remove it")
    f = Fields(doc, doc.data, (), "story front matter", STORY_FIELDS)
    if not body.strip():
        raise ValidationError(path, fm.count("\n") + 3, "the story has no narrative; write it below the closing '---'")
    if not _has_prose(body):
        raise ValidationError(path, _body_line(text, body, len(body) - len(body.lstrip())),
                              "the narrative is only headings and list or rule markers, with no text; "
                              "write the story under its headings")
    people_raw = doc.data.get("people") or []
    if not isinstance(people_raw, list):
        raise doc.error("'people' must be a list of entries with 'name' and 'role'", "people")
    people = []
    for i, p in enumerate(people_raw):
        if isinstance(p, str):
            p = {"name": p}
        pf = Fields(doc, p, ("people", i), "a person", ("name", "role", "aliases", "pseudonym"))
        people.append(Person(name=pf.str("name"), role=pf.str("role"), aliases=pf.str_list("aliases"),
                             pseudonym=pf.str("pseudonym")))
    consent_raw = doc.data.get("consent")
    if consent_raw is None:
        raise doc.error(
            "the story has no consent record; add 'consent:' with basis, scope, identity, date, recorded_by and wording",
        )
    cf = Fields(doc, consent_raw, ("consent",), "consent", CONSENT_FIELDS)
    consent = Consent(
        basis=cf.choice("basis", CONSENT_BASES),
        scope=cf.choice("scope", CONSENT_SCOPES),
        # required, as docs/content-formats.md says: a missing identity taken as 'named' published the
        # real names of a story whose curator meant to anonymise it (a pseudonym given, identity forgotten)
        identity=cf.choice("identity", IDENTITIES),
        pseudonym=cf.str("pseudonym"),
        date=cf.date("date", required=True),
        recorded_by=cf.str("recorded_by", required=True),
        wording=cf.str("wording", required=True),
    )
    for key in ("recorded_by", "wording"):
        value = getattr(consent, key)
        if not any(ch.isalnum() for ch in value) or _PLACEHOLDER.fullmatch(value):
            raise doc.error(f"'{key}' under consent is '{value[:20]}', which records nothing; write who recorded the "
                            "consent and the wording or form version agreed to (a story without recorded consent "
                            "is not published)", "consent", key)
    if consent.date > _dt.date.today().isoformat():
        raise doc.error(f"'date' under consent is {consent.date}, a date that has not come yet; write the date the "
                        "consent was recorded", "consent", "date")
    if consent.identity == "anonymised" and not consent.pseudonym:
        raise doc.error("an anonymised story needs 'pseudonym:' under consent (the name to publish instead)", "consent")
    if consent.identity == "named":
        # a pseudonym is ignored for a named story: its real names are published
        given = ([("consent", "pseudonym")] if consent.pseudonym else []) + [
            ("people", i, "pseudonym") for i, p in enumerate(people) if p.pseudonym]
        if given:
            raise doc.error("a pseudonym is given but the consent identity is 'named', so the real names would be "
                            "published; set 'identity: anonymised' to publish the pseudonym, or remove the pseudonym",
                            *given[0])
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
        status=_status(f),
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
        from evidence.content.privacy import names_in_published_fields, pseudonym_clashes

        for i, pseudonym in pseudonym_clashes(story):
            raise doc.error(f"the pseudonym {pseudonym!r} shares a part with a name of a person in this anonymised "
                            "story (or is a pet form or the initials of one), so publishing it would publish the name; choose "
                            "another pseudonym",
                            *(("people", i, "pseudonym") if story.people[i].pseudonym else ("consent", "pseudonym")))

        for label, name, keys in names_in_published_fields(story):
            raise doc.error(
                f"{label} contains {name!r}, a name of a person in this anonymised story, and {label} is published "
                "as it is; take the name out of it (to change the id, rename the file too)", *keys)
    if vocab is not None:
        check_approach(doc, story.approach, vocab, ("approach",))
        if story.area_of_work:
            check_area(doc, story.area_of_work, vocab, ("area_of_work",))
    return story


def _status(f: Fields) -> str:
    """'status' is required: a missing or null status never means published."""
    if f.data.get("status") is None:
        raise f.doc.error("the story needs 'status:' (published or draft); a missing status is not taken to mean "
                          "published", *(("status",) if "status" in f.data else ()))
    return f.choice("status", STATUSES)


_HEADING_OR_MARKER = re.compile(r"\s*(?:#{1,6}(?:\s.*)?|(?:[-*+>]|\d+[.)])?\s*|[-*_=]{3,}\s*)")


def _has_prose(body: str) -> bool:
    """True when the narrative has text besides headings and bare list,
    quote or rule markers: a template's '## What changed' with nothing under
    it would be published as a story that tells nothing."""
    return any(not _HEADING_OR_MARKER.fullmatch(line) and re.search(r"\w", line) for line in body.split("\n"))


def _body_line(text: str, body: str, offset: int) -> int | None:
    """1-based line in the file of character `offset` of the narrative."""
    start = text.find(body)
    return text.count("\n", 0, start + offset) + 1 if start >= 0 else None


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
        tf = Fields(doc, item, (*keys, i), "a tag decision", TAG_FIELDS)
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
    f = Fields(doc, raw, ("privacy",), "privacy", PRIVACY_FIELDS)
    return {"reviewed": f.date("reviewed", required=True), "by": f.str("by", required=True),
            "hash": f.str("hash", required=True)}


def check_approach(doc: YamlDoc, approach: str, vocab: Vocabulary, keys: tuple) -> None:
    if approach and approach not in vocab.approaches:
        known = sorted(vocab.approaches)
        raise doc.error(
            f"unknown approach '{approach}'{suggest(approach, known)}; known approaches: {', '.join(known)} "
            "(or add approaches/<id>.yml)",
            *keys,
        )


def check_area(doc: YamlDoc, area: str, vocab: Vocabulary, keys: tuple) -> None:
    if area not in vocab.areas:
        known = sorted(vocab.areas)
        raise doc.error(f"unknown area of work '{area}'{suggest(area, known)}; use one of: {', '.join(known)}", *keys)


def parse_approach(path: str, text: str, vocab: Vocabulary | None = None) -> Approach:
    """Parse and validate an approach file."""
    doc = YamlDoc(path, text)
    f = Fields(doc, doc.data, (), "approach", APPROACH_FIELDS)
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
        website=f.url("website"),
        sources=[_source(doc, s, ("sources", i)) for i, s in enumerate(sources_raw)],
        path=path,
        aliases=f.str_list("aliases"),
        confidence=parse_confidence(doc, doc.data.get("confidence"), ("confidence",)),
    )
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if approach.id != stem:
        raise doc.error(f"id '{approach.id}' does not match the file name; rename the file to {approach.id}.yml", "id")
    if vocab is not None:
        check_area(doc, approach.area_of_work, vocab, ("area_of_work",))
        for i, a in enumerate(approach.also_areas):
            check_area(doc, a, vocab, ("also_areas", i))
    return approach


def parse_study(path: str, text: str, vocab: Vocabulary | None = None, max_findings: int | None = None) -> Study:
    """Parse and validate a findings file (one study with its findings)."""
    doc = YamlDoc(path, text)
    f = Fields(doc, doc.data, (), "findings file", STUDY_FIELDS)
    findings_raw = doc.data.get("findings")
    if not isinstance(findings_raw, list) or not findings_raw:
        raise doc.error("a findings file needs 'findings:', a list of at least one finding", "findings")
    if max_findings is not None and len(findings_raw) > max_findings:
        at = re.search(r"(?m)^findings\s*:", text)  # not doc.line(): composing a huge file again is slow
        raise ValidationError(path, text.count("\n", 0, at.start()) + 1 if at else None,
                              f"'findings' holds {len(findings_raw):,} findings, over the limit of {max_findings:,}; "
                              "split the study into several files, or raise 'max_findings_per_file' in pipelines/limits.yml")
    study_id = f.slug("id")
    study_certainty = parse_certainty(doc, doc.data.get("certainty"), ("certainty",))
    findings = []
    seen: set[str] = set()
    for i, raw in enumerate(findings_raw):
        ff = Fields(doc, raw, ("findings", i), "a finding", FINDING_FIELDS)
        finding = Finding(
            id=ff.slug("id"),
            study_id=study_id,
            statement=ff.str("statement", required=True),
            measure=ff.str("measure"),
            value=ff.number("value"),
            unit=ff.str("unit"),
            direction=ff.str("direction"),
            comparator=ff.str("comparator"),
            sample_size=ff.number("sample_size", integer=True, low=0, high=1e10),
            population=ff.str("population"),
            design=ff.str("design"),
            year=ff.number("year", integer=True, low=1000, high=2999),
            place=ff.str("place"),
            approach=ff.str("approach"),
            source_sentence=ff.str("source_sentence"),
            note=ff.str("note"),
            position=i,
            tags=parse_tag_decisions(doc, raw.get("tags"), ("findings", i, "tags")),
            interval_low=ff.number("interval_low"),
            interval_high=ff.number("interval_high"),
            certainty=merge_certainty(study_certainty,
                                      parse_certainty(doc, raw.get("certainty"), ("findings", i, "certainty"))),
        )
        if (finding.interval_low is None) != (finding.interval_high is None):
            raise doc.error(f"finding '{finding.id}' gives one end of its interval; give both 'interval_low' and "
                            "'interval_high' (or neither)", "findings", i,
                            "interval_low" if finding.interval_low is not None else "interval_high")
        if finding.interval_low is not None and finding.interval_low > finding.interval_high:
            raise doc.error(f"finding '{finding.id}': interval_low is above interval_high; swap them",
                            "findings", i, "interval_low")
        if finding.interval_low is not None and finding.value is None:
            raise doc.error(f"finding '{finding.id}' gives an interval but no 'value' for it to be around; give the "
                            "value (or take the interval out)", "findings", i, "interval_low")
        if finding.interval_low is not None and not finding.interval_low <= finding.value <= finding.interval_high:
            raise doc.error(f"finding '{finding.id}': its value {finding.value:g} is outside its own interval "
                            f"{finding.interval_low:g} to {finding.interval_high:g}; check the three numbers",
                            "findings", i, "value")
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
        year=f.number("year", integer=True, low=1000, high=2999),
        url=f.url("url"),
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
    optional `id`, `description`, `examples`, `maps_to`. Other keys are kept
    out (a codebook brought from elsewhere may carry its own), but one that
    is a near miss of a known field ('exmaples') is an error, as is a value
    of the wrong kind and a domain id no `<framework>/<domain-id>` key can
    hold."""
    doc = YamlDoc(path, text)
    if not isinstance(doc.data, dict):
        raise doc.error("a codebook is a mapping with 'name' and 'domains'")
    _near_misses(doc, doc.data, FRAMEWORK_FIELDS, ())
    raw_id = doc.data.get("id") or doc.data.get("name") or ""
    fid = str(raw_id).strip()
    if not fid:
        raise doc.error("a codebook needs 'name' (its id); add a line 'name: my-framework'")
    if not SLUG_RE.match(fid):
        fid = slugify(fid)
    if not fid:
        raise doc.error(f"the codebook's name {str(raw_id).strip()!r} gives no id (an id is lower-case letters and digits "
                        "joined by '-'); add 'id:' with one, e.g. 'id: my-framework'", "id" if "id" in doc.data else "name")
    domains_raw = doc.data.get("domains")
    if not isinstance(domains_raw, list) or not domains_raw:
        raise doc.error("a codebook needs 'domains:', a list with a 'label' for each", "domains")
    domains: list[Domain] = []
    seen: set[str] = set()
    for i, raw in enumerate(domains_raw):
        if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) and str(raw).strip():
            raise doc.error(f"each domain needs a 'label': write '- label: {str(raw).strip()}'", "domains", i)
        if isinstance(raw, dict):
            _near_misses(doc, raw, DOMAIN_FIELDS, ("domains", i))
        if not isinstance(raw, dict) or not str(raw.get("label") or "").strip():
            raise doc.error("each domain needs a 'label'", "domains", i)
        for key in ("label", "id", "description"):
            if isinstance(raw.get(key), (list, dict)):
                raise doc.error(f"'{key}' must be text, not a {'list' if isinstance(raw[key], list) else 'mapping'}"
                                + ("; write the description as one paragraph" if key == "description" else ""),
                                "domains", i, key)
        label = str(raw["label"]).strip()
        if raw.get("id") is not None and str(raw["id"]).strip():
            did = str(raw["id"]).strip()
            if not SLUG_RE.match(did):
                fix = slugify(did)
                raise doc.error(f"domain id '{did}' must be lower-case letters and digits joined by '-'; "
                                + (f"write 'id: {fix}'" if fix else "write one, e.g. 'id: domain-" + str(i + 1) + "'")
                                + " (it is how curators and CSVs name the domain: <framework>/<domain-id>)",
                                "domains", i, "id")
        else:
            did = slugify(label) or f"domain-{i + 1}"
        if did in seen:
            made = "" if raw.get("id") else f" (made from its label '{label}'; give it an 'id:')"
            raise doc.error(f"domain id '{did}' appears twice{made}; give each domain a distinct id", "domains", i)
        seen.add(did)
        examples = raw.get("examples") or []
        maps_to = raw.get("maps_to") or []
        for key, value in (("examples", examples), ("maps_to", maps_to)):
            if not isinstance(value, list):
                raise doc.error(f"'{key}' must be a list, one item a line after '- '", "domains", i, key)
            for j, item in enumerate(value):
                if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                    raise doc.error(f"each of '{key}' must be text; write the item as a phrase in quotes",
                                    "domains", i, key, j)
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


FRAMEWORK_FIELDS = ("id", "name", "title", "version", "description", "source", "domains")
DOMAIN_FIELDS = ("id", "label", "description", "examples", "maps_to")


def _near_misses(doc: YamlDoc, data: dict, known: tuple[str, ...], keys: tuple) -> None:
    """A key that is not a field but nearly one ('exmaples', 'maps-to',
    'Label') is a typo that would drop the field without a word: an error at
    its line. Other keys are a codebook's own and are kept out, as is a list
    under the plural of a field ('sources:', 'labels:'), which a codebook
    brought from elsewhere may well carry."""
    import difflib

    for key in data:
        name = str(key)
        if name in known:
            continue
        if isinstance(data[key], list) and name.endswith("s") and name[:-1] in known:
            continue  # 'sources: [...]' beside no 'source': a list of the codebook's own, not a typo
        close = difflib.get_close_matches(name.lower().replace("-", "_").strip(), known, n=1, cutoff=0.8)
        if close:
            raise doc.error(f"unknown field '{name}' (did you mean '{close[0]}'?); a codebook's fields are: "
                            f"{', '.join(known)}", *keys, key)


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


# ---------------------------------------------------------------------------
# Strength of evidence: curators' assessments (evidence/enrich/certainty.py
# computes a default from pipelines/certainty.yml where there is none)

CERTAINTY_LEVELS = ("very low", "low", "moderate", "high")
DOWN_FACTORS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
UP_FACTORS = ("large_effect",)
CERTAINTY_FACTORS = DOWN_FACTORS + UP_FACTORS
DOWN_CONCERNS = ("none", "serious", "very-serious")
UP_CONCERNS = ("none", "large", "very-large")


def parse_certainty(doc: YamlDoc, raw: Any, keys: tuple) -> dict:
    """A curator's GRADE assessment: `by`, `date`, `note` and any of the
    factors risk_of_bias, inconsistency, indirectness, imprecision,
    publication_bias (concern none|serious|very-serious) and large_effect
    (none|large|very-large), each `{concern, reason}`. A concern other than
    none without a written reason is refused."""
    if raw is None:
        return {}
    f = Fields(doc, raw, keys, "a certainty assessment", CERTAINTY_FACTORS + ("by", "date", "note"))
    factors = {}
    for factor in CERTAINTY_FACTORS:
        if factor not in raw:
            continue
        ff = Fields(doc, raw[factor], (*keys, factor), f"certainty factor '{factor}'", ("concern", "reason"))
        concern = ff.choice("concern", UP_CONCERNS if factor in UP_FACTORS else DOWN_CONCERNS)
        reason = ff.str("reason")
        if concern != "none" and not reason:
            raise doc.error(f"certainty factor '{factor}' has concern '{concern}' but no reason; add "
                            "'reason: ...' saying in words why (a concern without a reason is refused)",
                            *keys, factor, "concern")
        factors[factor] = {"concern": concern, "reason": reason}
    if not factors:
        raise doc.error("a certainty assessment needs at least one factor ("
                        + ", ".join(CERTAINTY_FACTORS) + "), each with 'concern:' and 'reason:'", *keys)
    out = {"factors": factors}
    for k in ("by", "note"):
        if f.str(k):
            out[k] = f.str(k)
    if f.date("date"):
        out["date"] = f.date("date")
    return out


def merge_certainty(study: dict, finding: dict) -> dict:
    """A finding's effective assessment: the study's factors, with the
    finding's own in their place where it gives them."""
    if not study:
        return finding
    if not finding:
        return study
    merged = {**{k: v for k, v in study.items() if k != "factors"}, **{k: v for k, v in finding.items() if k != "factors"}}
    merged["factors"] = {**study["factors"], **finding["factors"]}
    return merged


CONFIDENCE_FIELDS = ("domain", "level", "reason", "by", "date")


def parse_confidence(doc: YamlDoc, raw: Any, keys: tuple) -> list[dict]:
    """Curators' overrides of the confidence in what the stories say about
    this approach and an outcome domain: a list of {domain, level (high,
    moderate, low, very low), reason, by, date}. A reason is required."""
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list):
        raise doc.error("'confidence' must be a list of {domain: <framework>/<domain>, level: ..., reason: ...}", *keys)
    out, seen = [], set()
    for i, item in enumerate(raw):
        cf = Fields(doc, item, (*keys, i), "a confidence override", CONFIDENCE_FIELDS)
        domain = cf.str("domain", required=True)
        if not DOMAIN_KEY_RE.match(domain):
            raise doc.error(f"confidence domain '{domain}' must be written <framework>/<domain-id>, e.g. ascot/occupation",
                            *keys, i, "domain")
        if domain in seen:
            raise doc.error(f"confidence domain '{domain}' appears twice; keep one override per domain", *keys, i, "domain")
        seen.add(domain)
        level = cf.choice("level", CERTAINTY_LEVELS)
        reason = cf.str("reason")
        if not reason:
            raise doc.error(f"the confidence override for '{domain}' has no reason; add 'reason: ...' saying in words "
                            "why (an override without a reason is refused)", *keys, i, "level")
        entry = {"domain": domain, "level": level, "reason": reason}
        if cf.str("by"):
            entry["by"] = cf.str("by")
        if cf.date("date"):
            entry["date"] = cf.date("date")
        out.append(entry)
    return out
