"""Row shapes: how each record is laid out in the working database's tables."""
from __future__ import annotations

import json
from dataclasses import asdict

from evidence.content.records import Approach, Area, Finding, Framework, Story, Study


def _source_cols(src) -> dict:
    return {f"source_{k}": v for k, v in asdict(src).items()}


def area_row(a: Area) -> dict:
    return asdict(a)


def framework_rows(fw: Framework) -> tuple[dict, list[dict], list[dict]]:
    """(framework row, domain rows, crosswalk rows)."""
    row = {
        "id": fw.id, "title": fw.title, "version": fw.version, "description": fw.description,
        "domain_count": len(fw.domains), **_source_cols(fw.source), "file": fw.path, "content_hash": fw.hash(),
    }
    domains = [{
        "id": d.key, "framework_id": fw.id, "domain_id": d.id, "label": d.label,
        "description": d.description, "examples": json.dumps(d.examples, ensure_ascii=False),
        "position": d.position,
    } for d in fw.domains]
    cross = [{"from_domain": d.key, "to_domain": target} for d in fw.domains for target in d.maps_to]
    return row, domains, cross


def approach_row(a: Approach) -> dict:
    return {
        "id": a.id, "name": a.name, "description": a.description, "area_of_work": a.area_of_work,
        "also_areas": json.dumps(a.also_areas), "scale": a.scale, "scale_note": a.scale_note,
        "organisation": a.organisation, "website": a.website,
        "sources": json.dumps([asdict(s) for s in a.sources], ensure_ascii=False),
        "confidence": json.dumps(a.confidence, ensure_ascii=False),
        "file": a.path, "content_hash": a.hash(),
    }


def study_row(s: Study) -> dict:
    return {
        "id": s.id, "title": s.title, "authors": s.authors, "organisation": s.organisation,
        "year": s.year, "url": s.url, "kind": s.kind, **_source_cols(s.source), "file": s.path,
        "content_hash": s.hash(),
    }


def finding_row(f: Finding) -> dict:
    row = asdict(f)
    row["review_tags"] = json.dumps(row.pop("tags"), ensure_ascii=False)
    row["assessment"] = json.dumps(row.pop("certainty"), ensure_ascii=False)
    row["approach"] = f.approach or None
    row["content_hash"] = f.hash()
    return row


def story_row(s: Story) -> dict:
    from evidence.content.privacy import (ANONYMISER_VERSION, PSEUDONYMISED_FIELDS, public_field, public_people,
                                          public_texts)
    from evidence.content.records import content_hash, normalise_text

    # free-text fields published as stored: an anonymised story's are stored
    # with its people's names replaced (the file keeps the original)
    public = {k.replace(".", "_"): public_field(s, k) for k in PSEUDONYMISED_FIELDS}
    return {
        "id": s.id, "title": s.title, "summary": s.summary, "body": s.body, **public_texts(s),
        "public_people": json.dumps(public_people(s), ensure_ascii=False),
        "approach": s.approach,
        "area_of_work": s.area_of_work, **_source_cols(s.source), **public,
        "people": json.dumps([{"name": p.name, "role": p.role} for p in s.people], ensure_ascii=False),
        "status": s.status, "added": s.added,
        "consent_basis": s.consent.basis, "consent_scope": s.consent.scope,
        "consent_identity": s.consent.identity, "consent_pseudonym": s.consent.pseudonym,
        "consent_date": s.consent.date, "consent_recorded_by": s.consent.recorded_by,
        "consent_wording": s.consent.wording, "curator_notes": s.curator_notes,
        "review": json.dumps({"tags": s.tags, "links": s.links}, ensure_ascii=False, default=str),
        # an anonymised story's public texts depend on the anonymiser too: a new
        # one changes the hash, so the story and what derives from it are redone
        "file": s.path, "body_hash": content_hash(normalise_text(s.body)),
        "content_hash": s.hash() + ("+" + ANONYMISER_VERSION if s.consent.identity == "anonymised" else ""),
    }


def people_rows(s: Story) -> list[dict]:
    from evidence.content.privacy import public_people

    public = public_people(s)
    return [{
        "story_id": s.id, "position": i, "name": p.name, "role": public[i]["role"],
        "aliases": json.dumps(p.aliases, ensure_ascii=False), "public_name": public[i]["name"],
    } for i, p in enumerate(s.people)]
