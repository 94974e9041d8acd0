"""Links between stories and findings, the build's enrichment step
`evidence.enrich.links.enrich` (it runs after tagging and embedding).

A story is linked to a finding in two ways, each a row of `links` with a
score and the reason in words:

- same-approach (score 1.0): the finding is about the story's own approach;
  these come first on the story page;
- same-outcome: the finding is about another approach (or none), and it is
  linked only when both carry a tag (not rejected) for the same outcome
  domain AND one of the story's passages is close in meaning to the finding
  (cosine of their vectors for the current model) at or above
  `similar_threshold`, a threshold measured by
  tests/benchmarks/bench_link_threshold.py; only the best
  `similar_per_story` of them. The story page lists them apart, as "other
  evidence on the same outcome".

Sharing an outcome domain alone links nothing: a national figure about
personal budgets shares "control over daily life" with half the stories,
and says nothing about them.

Curators decide in the story's front matter (`links:` items with `finding:`
and `status: confirmed|removed`): a removed link never comes back, a
confirmed one is kept (and added if nothing suggested it). A story is linked
again only when its own inputs changed (text, tags, decisions: a fingerprint
in `linked_stories`); every story is linked again when anything about the
findings, the settings or the model changed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils.utils import chunks

from evidence.enrich.checks import anonymised_names
from evidence.errors import EvidenceError, ValidationError
from evidence.store.writes import CHUNK, delete_in

STEP = "links"  # its key in BuildSummary.enriched
KINDS = ("same-approach", "same-outcome", "curator")


@dataclass
class LinkSettings:
    similar_threshold: float = 0.477   # measured: see pipelines/linking.yml
    similar_per_story: int = 3

    def version(self) -> str:
        return f"{self.similar_threshold}:{self.similar_per_story}"


def load_settings(root: Path) -> LinkSettings:
    """Settings from ROOT/pipelines/linking.yml (defaults where absent)."""
    from evidence.content.settings import read_settings

    s = LinkSettings()
    path = Path(root) / "pipelines" / "linking.yml"
    data = read_settings(path, tuple(LinkSettings.__dataclass_fields__))
    try:
        for key, value in data.items():
            setattr(s, key, type(getattr(s, key))(value))
    except (TypeError, ValueError):
        raise EvidenceError(f"{path}: similar_threshold must be a number and similar_per_story a whole number") from None
    return s


LIVE_STORY = "COALESCE(s.status, '') != 'withdrawn'"


def _story_fingerprints(db) -> dict[str, str]:
    rows = db.execute(f"""
SELECT s.id, s.content_hash || '|' || COALESCE(s.approach, '') || '|' || COALESCE(s.review, '') || '|' ||
       COALESCE((SELECT group_concat(t.domain || ':' || t.status || ':' || t.score, ',')
                   FROM (SELECT * FROM tags t WHERE t.story_id = s.id ORDER BY t.domain) t), '')
  FROM stories s WHERE {LIVE_STORY}""").fetchall()
    return {r[0]: hashlib.sha256(r[1].encode()).hexdigest()[:16] for r in rows}


def _global_version(db, settings: LinkSettings) -> str:
    """Everything that bears on every story's links: the findings, their
    tags, approaches and domains' names, the settings, the model."""
    from evidence.store.schema import get_meta

    # v2: same-outcome needs meaning too; v3: a curator's note is published without
    # an anonymised story's names or personal data (existing links are made again)
    h = hashlib.sha256(("links-v3:" + settings.version()).encode())
    h.update(get_meta(db, "embedding_model").encode())
    for sql in ("SELECT id, content_hash, approach FROM findings ORDER BY id",
                "SELECT finding_id, domain, status, score FROM tags WHERE item_type = 'finding' ORDER BY finding_id, domain",
                "SELECT id, name FROM approaches ORDER BY id",
                "SELECT d.id, d.label, f.title FROM domains d JOIN frameworks f ON f.id = d.framework_id ORDER BY d.id"):
        h.update(json.dumps(db.execute(sql).fetchall()).encode())
    return h.hexdigest()[:16]


def enrich(db, summary, options) -> None:
    """Bring `links` up to date (see the module docstring)."""
    from evidence.store.schema import get_meta, set_meta

    settings = load_settings(Path(options.root))
    db.execute("DELETE FROM linked_stories WHERE story_id NOT IN (SELECT id FROM stories s WHERE "
               + LIVE_STORY + ")")
    version = _global_version(db, settings)
    prints = _story_fingerprints(db)
    if get_meta(db, "links_version") != version:
        todo = sorted(prints)
    else:
        stored = dict(db.execute("SELECT story_id, fingerprint FROM linked_stories").fetchall())
        todo = sorted(i for i, fp in prints.items() if stored.get(i) != fp)
    if not todo:
        summary.enriched[STEP] = 0
        return
    rows = link_rows(db, todo, settings)
    delete_in(db, "links", "story_id", todo)
    if rows:
        db["links"].insert_all(rows, pk=("story_id", "finding_id", "kind"), batch_size=500)
    db["linked_stories"].upsert_all([{"story_id": i, "fingerprint": prints[i]} for i in todo], pk="story_id")
    set_meta(db, "links_version", version)
    if options.progress:
        options.progress("linking stories to findings", len(todo), len(todo))
    summary.enriched[STEP] = len(rows) or len(todo)


def _names(db) -> tuple[dict, dict]:
    approaches = dict(db.execute("SELECT id, name FROM approaches").fetchall())
    domains = {r[0]: f"{r[1]} ({r[2]})" for r in db.execute(
        "SELECT d.id, d.label, upper(d.framework_id) FROM domains d").fetchall()}
    return approaches, domains


def link_rows(db, story_ids: list[str], settings: LinkSettings) -> list[dict]:
    """The links rows of these stories, curators' decisions applied."""
    approaches, domain_names = _names(db)
    findings = db.execute("SELECT id, approach FROM findings ORDER BY id").fetchall()
    known = {f[0] for f in findings}
    finding_approach = dict(findings)
    by_approach: dict[str, list[str]] = {}
    for fid, appr in findings:
        if appr:
            by_approach.setdefault(appr, []).append(fid)
    finding_tags: dict[str, dict[str, float]] = {}
    for fid, dom, score in db.execute("SELECT finding_id, domain, score FROM tags WHERE item_type = 'finding' "
                                      "AND status != 'rejected'").fetchall():
        finding_tags.setdefault(dom, {})[fid] = score or 0.0
    similar = _similar(db, story_ids, settings)
    out: list[dict] = []
    for part in map(list, chunks(story_ids, CHUNK)):
        marks = ",".join("?" * len(part))
        stories = db.execute(f"SELECT id, approach, review, file FROM stories WHERE id IN ({marks})", part).fetchall()
        hidden = anonymised_names(db, part)
        tags: dict[str, list[tuple[str, float]]] = {}
        for sid, dom, score in db.execute(f"SELECT story_id, domain, score FROM tags WHERE item_type = 'story' AND "
                                          f"status != 'rejected' AND story_id IN ({marks}) ORDER BY domain", part):
            tags.setdefault(sid, []).append((dom, score or 0.0))
        for sid, approach, review, file in stories:
            rows: dict[tuple[str, str], dict] = {}

            def add(fid: str, kind: str, score: float, reason: str) -> None:
                rows[(fid, kind)] = {"story_id": sid, "finding_id": fid, "kind": kind, "score": round(float(score), 4),
                                     "reason": reason, "status": "suggested", "note": None}

            own_domains = {dom for dom, _ in tags.get(sid, [])}
            for fid in by_approach.get(approach or "", []):
                shared_here = sorted(d for d in own_domains if fid in finding_tags.get(d, {}))
                why = f"about the story's own approach, {approaches.get(approach, approach)}"
                if shared_here:
                    why += "; both evidence " + " and ".join(domain_names.get(d, d) for d in shared_here[:3])
                add(fid, "same-approach", 1.0, why)
            mine = set(by_approach.get(approach or "", []))
            shared: dict[str, list[tuple[str, float]]] = {}
            for dom, s_score in tags.get(sid, []):
                for fid, f_score in finding_tags.get(dom, {}).items():
                    if fid not in mine:
                        shared.setdefault(fid, []).append((dom, min(s_score, f_score)))
            kept = 0
            for fid, score, passage in similar.get(sid, []):
                if fid not in shared or kept >= settings.similar_per_story:
                    continue
                kept += 1
                doms = sorted(shared[fid], key=lambda d: -d[1])
                other = approaches.get(finding_approach.get(fid) or "", "") or "no named approach"
                add(fid, "same-outcome", score,
                    f"another approach ({other}), but both evidence "
                    + " and ".join(domain_names.get(d, d) for d, _ in doms[:3])
                    + f", and the passage '{_clip(passage)}' is close in meaning ({score:.2f}, threshold "
                    f"{settings.similar_threshold:.2f})")
            decisions = json.loads(review or "{}").get("links") or []
            for d in decisions:
                fid = d.get("finding")
                if fid not in known:
                    import difflib

                    close = difflib.get_close_matches(str(fid), sorted(known), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise ValidationError(file, None, f"link decision for unknown finding '{fid}'{hint} on story '{sid}'; "
                                                      "use a finding id from findings/*.yml")
                mine = [k for k in rows if k[0] == fid]
                if d.get("status") == "removed":
                    for k in mine:
                        del rows[k]
                    continue
                if not mine:
                    add(fid, "curator", 1.0, _public_note(d.get("note"), hidden.get(sid, {})) or "linked by a curator")
                    mine = [(fid, "curator")]
                for k in mine:
                    rows[k]["status"] = "confirmed"
                    rows[k]["note"] = d.get("note") or None
            out += rows.values()
    return out


def _public_note(note, names: dict[str, str]) -> str:
    """A curator's note as the public reason of a link: with an anonymised
    story's names replaced by their pseudonyms, and nothing at all when it
    holds personal data (a phone number, an address): the note is the
    curators' text, written in the story's file, and is published here only."""
    from evidence.content.pii import scan_text
    from evidence.content.privacy import pseudonymise

    note = str(note or "").strip()
    if not note or scan_text(note):
        return ""
    return pseudonymise(note, names)


def _clip(text: str, n: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def _similar(db, story_ids: list[str], settings: LinkSettings) -> dict[str, list[tuple[str, float, str]]]:
    """story -> [(finding, cosine, passage text)], best first, each at or
    above the threshold (the caller caps how many it keeps)."""
    import numpy as np

    from evidence.enrich.embeddings import from_blob
    from evidence.store.schema import get_meta

    model = get_meta(db, "embedding_model")
    if not model or settings.similar_per_story <= 0:
        return {}
    frows = db.execute("SELECT item_id, vector FROM embeddings WHERE model = ? AND item_type = 'finding' "
                       "ORDER BY item_id, passage", [model]).fetchall()
    if not frows:
        return {}
    fids = [r[0] for r in frows]
    fmat = _normed(np.stack([from_blob(r[1]) for r in frows]))
    out: dict[str, list[tuple[str, float, str]]] = {}
    for part in map(list, chunks(story_ids, CHUNK)):
        marks = ",".join("?" * len(part))
        srows = db.execute(f"SELECT e.item_id, e.vector, p.text FROM embeddings e LEFT JOIN passages p ON "
                           f"p.item_type = 'story' AND p.item_id = e.item_id AND p.passage = e.passage "
                           f"WHERE e.model = ? AND e.item_type = 'story' AND e.item_id IN ({marks}) "
                           f"ORDER BY e.item_id, e.passage", [model, *part]).fetchall()
        if not srows:
            continue
        smat = _normed(np.stack([from_blob(r[1]) for r in srows]))
        sims = smat @ fmat.T
        best: dict[tuple[str, str], tuple[float, str]] = {}
        for i, (sid, _, text) in enumerate(srows):
            for j in np.nonzero(sims[i] >= settings.similar_threshold)[0]:
                key, score = (sid, fids[j]), float(sims[i, j])
                if key not in best or score > best[key][0]:
                    best[key] = (score, text or "")
        for (sid, fid), (score, text) in best.items():
            out.setdefault(sid, []).append((fid, score, text))
    for sid in out:
        out[sid] = sorted(out[sid], key=lambda x: (-x[1], x[0]))
    return out


def _normed(m):
    import numpy as np

    n = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(n == 0, 1, n)
