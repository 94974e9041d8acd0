"""Tag review (`evidence tags`, `evidence review`): list an item's outcome tags, and record a curator's decision
(confirm or reject a tag) in the item's content file.

A decision is written into the `tags:` list of the story's front matter, or
of the finding in its study's file, as one line
`- {domain: ascot/occupation, status: confirmed, sentence: "...", by: ..., date: ...}`.
Only that list's lines change; every other byte of the file is kept. The
new text is validated exactly as the build validates, written atomically,
and the databases are rebuilt (incrementally); if that fails the old file
is put back. Because the decision lives in the file, every later build
applies it: a confirmed tag stays, a rejected one is never suggested again.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from evidence.store.paths import default_paths
from evidence.errors import EvidenceError
from evidence.content.parsers import DOMAIN_KEY_RE, parse_framework, parse_story, parse_study
from evidence.content.yamldoc import split_front_matter

DECISIONS = ("confirmed", "rejected")


def _open_db(root: Path, db_path):
    from evidence.store import schema as store

    path, _ = default_paths(root, db_path, None)
    if not Path(path).exists():
        raise EvidenceError(f"{path} not found; run 'evidence build' first")
    return store.open_db(path)


def list_tags(root: Path, item_id: str, db_path=None) -> dict:
    """The item (story or finding) and its tags, best first, rejected last."""
    db = _open_db(root, db_path)
    try:
        kind = _kind(db, item_id)
        tags = list(db.query(
            "SELECT domain, framework, score, status, methods, via_crosswalk, via_domain, sentence, "
            "sentence_start, sentence_end, run_date, model_id, codebook_version FROM tags "
            "WHERE item_type = ? AND item_id = ? ORDER BY status = 'rejected', framework, score DESC",
            [kind, item_id]))
    finally:
        db.close()
    return {"item_type": kind, "item_id": item_id, "tags": tags}


def _kind(db, item_id: str) -> str:
    if db.execute("SELECT 1 FROM stories WHERE id = ?", [item_id]).fetchone():
        return "story"
    if db.execute("SELECT 1 FROM findings WHERE id = ?", [item_id]).fetchone():
        return "finding"
    raise EvidenceError(f"no story or finding has the id '{item_id}'; see 'evidence build' output or the stories/ and findings/ files")


def known_domains(root: Path) -> list[str]:
    """Every <framework>/<domain> key of the codebooks in pipelines/frameworks/."""
    keys = []
    for p in sorted((Path(root) / "pipelines" / "frameworks").glob("*.yml")):
        fw = parse_framework(str(p), p.read_text(encoding="utf-8"))
        keys += [d.key for d in fw.domains]
    return keys


@dataclass
class Decision:
    """One decision on one tag: `status` confirmed, rejected, or cleared (undo:
    the decision is taken out of the file and the tag is a suggestion again)."""

    domain: str
    status: str
    sentence: str | None = None


def check_domain(domain: str, keys: list[str]) -> str:
    """`domain` when it is a known <framework>/<domain> key; else a one-line
    error with a did-you-mean only when one key is close."""
    from evidence.content.suggest import hint

    if DOMAIN_KEY_RE.match(domain) and domain in keys:
        return domain
    raise EvidenceError(f"unknown domain '{domain}'{hint(domain, keys)}; write it as <framework>/<domain-id>, "
                        f"e.g. {keys[0] if keys else 'ascot/occupation'} ('evidence tags ID' lists an item's tags)")


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def check_sentence(sentence: str, texts: list[str], item_id: str) -> str:
    """The sentence, whitespace-normalised, when it occurs in one of `texts`
    (an item's narrative or statement, as written or as published); else
    EvidenceError showing the closest sentence of the text."""
    import difflib

    from evidence.enrich.passages import sentence_bounds

    wanted = _norm(sentence)
    if not wanted:
        raise EvidenceError("--sentence is empty; give a sentence of the item's text, or leave it out")
    if any(wanted in _norm(t) for t in texts if t):
        return wanted
    candidates = [_norm(t[a:b]) for t in texts if t for a, b in sentence_bounds(t)]
    best = max(candidates, key=lambda c: difflib.SequenceMatcher(None, wanted, c).ratio(), default="")
    shown = best if len(best) <= 200 else best[:199] + "…"
    raise EvidenceError(f"the sentence \"{wanted[:80]}{'…' if len(wanted) > 80 else ''}\" is not in the text of '{item_id}'"
                        + (f"; the closest sentence is: \"{shown}\"" if best else "") + "; copy it exactly")


def review(root: Path, item_id: str, domain: str, decision: str, *, sentence: str | None = None,
           by: str = "", note: str = "", db_path=None, public_path=None, rebuild: bool = True) -> tuple[Path, str]:
    """Write a curator's decision on (item, domain) into the item's file and
    rebuild. Returns (file changed, the sentence recorded with it)."""
    path, used = review_many(root, item_id, [Decision(domain, decision, sentence)], by=by, note=note,
                             db_path=db_path, public_path=public_path, rebuild=rebuild)
    return path, used[0]


def review_many(root: Path, item_id: str, decisions: list[Decision], *, by: str = "", note: str = "",
                db_path=None, public_path=None, rebuild: bool = True) -> tuple[Path, list[str]]:
    """Several decisions on one item's tags: every one is checked (domain,
    sentence) before the file is written once and the databases rebuilt once.
    Returns (file changed, the sentence recorded with each decision)."""
    root = Path(root)
    if not decisions:
        raise EvidenceError("no decision given; name a domain and --confirm, --reject or --clear")
    keys = known_domains(root)
    seen = set()
    for d in decisions:
        if d.status not in DECISIONS + ("cleared",):
            raise EvidenceError(f"decision must be one of {', '.join(DECISIONS)} or cleared")
        d.domain = check_domain(d.domain, keys)
        if d.domain in seen:
            raise EvidenceError(f"two decisions on {d.domain} in one call; give each domain once")
        seen.add(d.domain)
    db = _open_db(root, db_path)
    try:
        kind = _kind(db, item_id)
        if kind == "story":
            rel = db.execute("SELECT file FROM stories WHERE id = ?", [item_id]).fetchone()[0]
        else:
            rel = db.execute("SELECT s.file FROM findings f JOIN studies s ON s.id = f.study_id WHERE f.id = ?", [item_id]).fetchone()[0]
        current = {r[0]: r[1] for r in db.execute(
            "SELECT domain, sentence FROM tags WHERE item_type = ? AND item_id = ?", [kind, item_id])}
    finally:
        db.close()
    path = root / rel
    old = path.read_text(encoding="utf-8")
    texts = _item_texts(kind, item_id, old, str(rel))
    today = _dt.date.today().isoformat()
    new, used = old, []
    for d in decisions:
        if d.status == "cleared":
            new = set_decision(new, kind, item_id, {"domain": d.domain}, str(rel), remove=True)
            used.append("")
            continue
        sentence = check_sentence(d.sentence, texts, item_id) if d.sentence is not None else (current.get(d.domain) or "")
        entry = {"domain": d.domain, "status": d.status}
        if sentence:
            entry["sentence"] = sentence
        if by:
            entry["by"] = by
        entry["date"] = today
        if note:
            entry["note"] = note
        new = set_decision(new, kind, item_id, entry, str(rel))
        used.append(sentence or "")
    if kind == "story":
        parse_story(str(rel), new)
    else:
        parse_study(str(rel), new)
    if new == old:
        return path, used
    if not rebuild:
        from evidence.content.tree import write_atomic

        write_atomic(path, new)
        return path, used
    from evidence.curate.write import write_and_build

    write_and_build(root, path, new, old, db_path, public_path)
    return path, used


def _item_texts(kind: str, item_id: str, text: str, rel: str) -> list[str]:
    """The texts a decision's sentence may come from: a story's narrative
    as written and as published (pseudonyms), or a finding's statement and
    source sentence."""
    if kind == "story":
        from evidence.content.privacy import public_texts

        story = parse_story(rel, text)
        return [story.body, public_texts(story)["public_body"]]
    study = parse_study(rel, text)
    f = next((f for f in study.findings if f.id == item_id), None)
    return [f.statement, getattr(f, "source_sentence", "") or ""] if f else []


# ---------------------------------------------------------------------------
# The review queue


def queue(root: Path, db_path=None, limit: int = 0, item_type: str | None = None) -> list[dict]:
    """Suggested tags in the order a curator should see them: first those
    whose confirmation would turn a gap-map cell (approach x domain) from
    "suggested only" into "confirmed", then by score. Each row: item_type,
    item_id, title, approach, domain, label, score, sentence, sentence_start,
    sentence_end, cell_confirmed (bool), file."""
    db = _open_db(Path(root), db_path)
    try:
        rows = [dict(zip([c[0] for c in cur.description], r)) for cur in [db.execute(
            """SELECT t.item_type, t.item_id, COALESCE(s.title, f.statement) AS title,
                      COALESCE(s.approach, f.approach) AS approach, t.domain, d.label, t.score, t.sentence,
                      t.sentence_start, t.sentence_end, COALESCE(s.file, st.file) AS file
                 FROM tags t JOIN domains d ON d.id = t.domain
                 LEFT JOIN stories s ON t.item_type = 'story' AND s.id = t.item_id
                 LEFT JOIN findings f ON t.item_type = 'finding' AND f.id = t.item_id
                 LEFT JOIN studies st ON st.id = f.study_id
                WHERE t.status = 'suggested' AND COALESCE(s.status, 'published') != 'withdrawn'""")]
                for r in cur.fetchall()]
        confirmed = {(r[0], r[1]) for r in db.execute(
            """SELECT COALESCE(s.approach, f.approach), t.domain FROM tags t
                 LEFT JOIN stories s ON t.item_type = 'story' AND s.id = t.item_id
                 LEFT JOIN findings f ON t.item_type = 'finding' AND f.id = t.item_id
                WHERE t.status = 'confirmed'""")}
    finally:
        db.close()
    for r in rows:
        r["cell_confirmed"] = (r["approach"], r["domain"]) in confirmed
    if item_type:
        rows = [r for r in rows if r["item_type"] == item_type]
    rows.sort(key=lambda r: (r["cell_confirmed"], -(r["score"] or 0), r["item_type"], r["item_id"], r["domain"]))
    return rows[:limit] if limit else rows


# ---------------------------------------------------------------------------
# Editing the YAML text in place


def _flow(entry: dict) -> str:
    return yaml.safe_dump(entry, default_flow_style=True, width=1 << 20, allow_unicode=True, sort_keys=False).strip()


def _existing(node) -> list[dict]:
    data = yaml.safe_load(yaml.serialize(node)) if node is not None else None
    return data if isinstance(data, list) else []


def _render(entries: list[dict], indent: str) -> list[str]:
    if not entries:
        return [f"{indent}tags: []"]
    return [f"{indent}tags:"] + [f"{indent}  - {_flow(e)}" for e in entries]


def _merge(entries: list[dict], entry: dict, remove: bool = False) -> list[dict]:
    out = [e for e in entries if not (isinstance(e, dict) and e.get("domain") == entry["domain"])]
    return out if remove else out + [entry]


def _end_line(node) -> int:
    """0-based line of a node's last character (a block collection's end
    mark points past it, at the next token)."""
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        return _end_line(last[1] if isinstance(last, tuple) else last)
    line = node.end_mark.line
    return line - 1 if node.end_mark.column == 0 and line > node.start_mark.line else line


def set_decision(text: str, kind: str, item_id: str, entry: dict, path: str, remove: bool = False) -> str:
    """`text` with the decision `entry` recorded for item_id (replacing an
    earlier decision on the same domain; `remove`: only taking that one
    out); only the tags list's lines change."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if kind == "story":
        fm, _, _ = split_front_matter(path, text.replace("\r\n", "\n"))
        root_node = yaml.compose(fm)
        offset = 1  # the front matter starts on line 2 (index 1)
        mapping, indent = root_node, ""
    else:
        root_node = yaml.compose(text.replace("\r\n", "\n"))
        offset = 0
        mapping = None
        for k, v in root_node.value:
            if k.value == "findings":
                for item in v.value:
                    if any(kk.value == "id" and vv.value == item_id for kk, vv in item.value):
                        mapping = item
        if mapping is None:
            raise EvidenceError(f"{path}: finding '{item_id}' not found in the file; rebuild with 'evidence build'")
        indent = " " * mapping.start_mark.column
    tags_key = next(((k, v) for k, v in mapping.value if k.value == "tags"), None)
    if tags_key is not None:
        k, v = tags_key
        first = k.start_mark.line + offset
        last = _end_line(v) + offset
        new = _render(_merge(_existing(v), entry, remove), indent)
        lines[first:last + 1] = new
    elif remove:
        return text
    else:
        end = _end_line(mapping.value[-1][1]) + offset
        lines[end + 1:end + 1] = _render([entry], indent)
    return newline.join(lines)


def describe(result: dict) -> list[str]:
    """Lines for the terminal: one per tag."""
    out = [f"{result['item_type']} {result['item_id']}: {len(result['tags'])} tags"]
    for t in result["tags"]:
        via = f" via {t['via_domain']}" if t["via_crosswalk"] else ""
        out.append(f"  {t['status']:9s} {t['score']:.2f} {t['domain']}{via} [{t['methods']}]")
        out.append(f"            \"{t['sentence']}\" ({t['sentence_start']}-{t['sentence_end']})")
    return out


def as_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)
