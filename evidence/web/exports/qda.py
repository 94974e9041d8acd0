"""REFI-QDA exchange files (the standard of NVivo, MAXQDA, ATLAS.ti,
QualCoder and others; https://www.qdasoftware.org):

- evidence.qdpx: a zip of project.qde (XML) and sources/<guid>.txt, with each
  published story as a text source, its curator-confirmed outcome tags as
  coded segments (PlainTextSelection at the tag's sentence offsets, counted in
  characters of the narrative, as REFI-QDA counts them) and the codebooks;
- codebooks.qdc: the codebooks alone, one parent code per framework with a
  code per outcome domain.

GUIDs are derived from ids (uuid5), so exporting twice gives the same codes."""
from __future__ import annotations

import datetime as dt
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NAMESPACE = uuid.UUID("6f1c7a62-3d0e-5b8e-9a53-2f6d1e0c4b71")
PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
COLOURS = ["#1d4ed8", "#b91c1c", "#15803d", "#a16207", "#7e22ce", "#0e7490", "#be185d", "#4b5563"]


def guid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def codebook(conn) -> list[dict]:
    """[{id, title, description, guid, domains: [{id, label, description, guid, colour}]}]"""
    out = []
    for fw in conn.execute("SELECT id, title, description FROM frameworks ORDER BY id").fetchall():
        domains = [{"id": d["id"], "label": d["label"], "description": d["description"] or "", "guid": guid("code", d["id"]),
                    "colour": COLOURS[i % len(COLOURS)]}
                   for i, d in enumerate(conn.execute("SELECT id, label, description FROM domains WHERE framework_id = ? "
                                                      "ORDER BY position", [fw["id"]]).fetchall())]
        out.append({"id": fw["id"], "title": fw["title"] or fw["id"], "description": fw["description"] or "",
                    "guid": guid("framework", fw["id"]), "domains": domains})
    return out


def _codes_xml(frameworks: list[dict], indent: str = "    ") -> list[str]:
    lines = []
    for fw in frameworks:
        lines.append(f'{indent}<Code guid="{fw["guid"]}" name={quoteattr(fw["title"])} isCodable="false">')
        if fw["description"]:
            lines.append(f"{indent}  <Description>{escape(fw['description'])}</Description>")
        for d in fw["domains"]:
            lines.append(f'{indent}  <Code guid="{d["guid"]}" name={quoteattr(d["label"])} isCodable="true" color="{d["colour"]}">')
            lines.append(f"{indent}    <Description>{escape(d['id'] + ': ' + d['description'])}</Description>")
            lines.append(f"{indent}  </Code>")
        lines.append(f"{indent}</Code>")
    return lines


def codebook_xml(frameworks: list[dict]) -> str:
    return "\n".join(['<?xml version="1.0" encoding="utf-8"?>',
                      f'<CodeBook xmlns="{CODEBOOK_NS}" origin="evidence">', "  <Codes>",
                      *_codes_xml(frameworks), "  </Codes>", "</CodeBook>"]) + "\n"


def stories(conn) -> list[dict]:
    """Published stories with their confirmed tags (offsets into the body)."""
    out = []
    for s in conn.execute("SELECT id, title, summary, body, approach, added FROM stories ORDER BY id").fetchall():
        body = s["body"] or ""
        segments = []
        for t in conn.execute("SELECT domain, sentence_start, sentence_end, sentence FROM tags WHERE story_id = ? "
                              "AND status = 'confirmed' ORDER BY sentence_start, domain", [s["id"]]).fetchall():
            start, end = t["sentence_start"], t["sentence_end"]
            if start is None or end is None or not (0 <= start < end <= len(body)):
                continue
            segments.append({"domain": t["domain"], "start": start, "end": end, "text": body[start:end],
                             "guid": guid("selection", f"{s['id']}:{t['domain']}:{start}:{end}")})
        out.append({"id": s["id"], "title": s["title"] or s["id"], "summary": s["summary"] or "", "body": body,
                    "approach": s["approach"] or "", "guid": guid("source", s["id"]), "segments": segments})
    return out


def project_xml(frameworks: list[dict], items: list[dict], user: str, now: str) -> str:
    codes = {d["id"]: d["guid"] for fw in frameworks for d in fw["domains"]}
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<Project xmlns="{PROJECT_NS}" name="Evidence for community-centred social care" origin="evidence" '
             f'creatingUserGUID="{user}" creationDateTime="{now}">',
             "  <Users>", f'    <User guid="{user}" name="evidence curators"/>', "  </Users>",
             "  <CodeBook>", "    <Codes>", *_codes_xml(frameworks, "      "), "    </Codes>", "  </CodeBook>",
             "  <Sources>"]
    for s in items:
        lines.append(f'    <TextSource guid="{s["guid"]}" name={quoteattr(s["title"])} '
                     f'plainTextPath="internal://{s["guid"]}.txt" creatingUser="{user}" creationDateTime="{now}">')
        desc = f"story {s['id']}" + (f" ({s['approach']})" if s["approach"] else "") + (f": {s['summary']}" if s["summary"] else "")
        lines.append(f"      <Description>{escape(desc)}</Description>")
        for seg in s["segments"]:
            if seg["domain"] not in codes:
                continue
            lines.append(f'      <PlainTextSelection guid="{seg["guid"]}" name={quoteattr(seg["text"][:60])} '
                         f'startPosition="{seg["start"]}" endPosition="{seg["end"]}" creatingUser="{user}" creationDateTime="{now}">')
            lines.append(f'        <Coding guid="{guid("coding", seg["guid"])}" creatingUser="{user}" creationDateTime="{now}">')
            lines.append(f'          <CodeRef targetGUID="{codes[seg["domain"]]}"/>')
            lines.append("        </Coding>")
            lines.append("      </PlainTextSelection>")
        lines.append("    </TextSource>")
    lines += ["  </Sources>", "</Project>"]
    return "\n".join(lines) + "\n"


def write(conn, qdpx: Path, qdc: Path) -> dict:
    frameworks = codebook(conn)
    items = stories(conn)
    user = guid("user", "evidence")
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    qdc.write_text(codebook_xml(frameworks), encoding="utf-8")
    with zipfile.ZipFile(qdpx, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", project_xml(frameworks, items, user, now))
        for s in items:
            z.writestr(f"sources/{s['guid']}.txt", s["body"])
    return {"qda_sources": len(items), "coded_segments": sum(len(s["segments"]) for s in items),
            "codes": sum(len(fw["domains"]) for fw in frameworks)}
