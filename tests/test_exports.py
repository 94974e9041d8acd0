"""`evidence export DIR`: each format read back by its own reader
(frictionless, rispy, citeproc-py, pyrefiqda), public data only, bad input."""
from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from conftest import build_from_template, copy_base


def export_confirmed(built: Path, cli, out: Path) -> tuple[Path, Path]:
    """Confirm two story tags in the built copy, then export it into out."""
    conn = sqlite3.connect(built / "public.db")
    picks = conn.execute("SELECT story_id, domain FROM tags WHERE item_type = 'story' AND via_crosswalk = 0 "
                         "GROUP BY story_id ORDER BY story_id LIMIT 2").fetchall()
    conn.close()
    assert len(picks) == 2
    for story_id, domain in picks:
        r = cli(["review", story_id, domain, "--confirm", "--root", built])
        assert r.exit_code == 0, r.output
    r = cli(["export", out, "--root", built, "--base-url", "https://evidence.example.org"])
    assert r.exit_code == 0, r.output
    assert "export:" in r.stderr and "coded segments" in r.stderr
    return built, out


@pytest.fixture(scope="module")
def exported(tmp_path_factory, _built_template):
    """A built copy with two curator-confirmed story tags, exported: once for
    the module, which only reads it (a test that changes a file or the copy
    works on its own)."""
    from typer.testing import CliRunner

    from evidence.cli import app

    def cli(args):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    tmp = tmp_path_factory.mktemp("exported")
    return export_confirmed(build_from_template(copy_base(tmp / "base"), _built_template), cli, tmp / "export")


def test_frictionless_validates_the_data_package(exported):
    from frictionless import validate

    built, out = exported
    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
    pkg = json.loads((out / "datapackage.json").read_text())
    assert pkg["licenses"][0]["name"] == "CC-BY-4.0" and pkg["sources"]
    assert pkg["homepage"] == "https://evidence.example.org/-/evidence"
    resources = {r["name"]: r for r in pkg["resources"]}
    assert {"stories", "findings", "studies", "approaches", "tags"} <= set(resources)
    assert "embeddings" not in resources and "passages" not in resources
    findings = resources["findings"]["schema"]
    assert findings["primaryKey"] == ["id"]
    assert {"fields": ["study_id"], "reference": {"resource": "studies", "fields": ["id"]}} in findings["foreignKeys"]
    assert all(f.get("description") for f in findings["fields"])  # from metadata.yml
    conn = sqlite3.connect(built / "public.db")
    n = conn.execute("SELECT count(*) FROM stories").fetchone()[0]
    assert len((out / "data" / "stories.csv").read_text().strip().splitlines()) >= n + 1


def test_frictionless_rejects_a_broken_package(exported, tmp_path):
    """The check can fail: a wrong type in a CSV is reported."""
    import shutil

    from frictionless import validate

    out = shutil.copytree(exported[1], tmp_path / "export")  # the module's export stays whole
    import csv

    path = out / "data" / "findings.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["sample_size"] = "many"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report = validate(str(out / "datapackage.json"))
    assert not report.valid and "type-error" in str(report.flatten(["type"]))


def test_sources_read_back_by_rispy_and_citeproc(exported):
    import rispy
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source.json import CiteProcJSON

    built, out = exported
    with open(out / "sources.ris", encoding="utf-8") as fh:
        ris = rispy.load(fh)
    csl = json.loads((out / "sources.csl.json").read_text())
    assert len(ris) == len(csl) > 0
    conn = sqlite3.connect(built / "public.db")
    titles = {r[0] for r in conn.execute("SELECT title FROM studies UNION SELECT source_title FROM stories")}
    assert titles <= {e["title"] for e in ris}
    assert {e["type_of_reference"] for e in ris} <= {"RPRT", "BLOG"}
    assert any(e.get("urls") for e in ris)
    source = CiteProcJSON(csl)
    bib = CitationStylesBibliography(CitationStylesStyle("harvard-cite-them-right", validate=False), source, formatter.plain)
    for item in csl:
        bib.register(Citation([CitationItem(item["id"])]))
    rendered = [str(b) for b in bib.bibliography()]
    assert len(rendered) == len(csl)
    for item in csl:
        assert any(item["title"][:30] in line for line in rendered), item["title"]


def test_refi_qda_project_and_codebook_read_back_with_codes_and_offsets(exported, tmp_path):
    from pyrefiqda import RefiCodebook, RefiProject

    built, out = exported
    conn = sqlite3.connect(built / "public.db")
    project = RefiProject.load(out / "evidence.qdpx", extract_dir=str(tmp_path / "qdpx"))
    codes = {c.guid: c.name for fw in project.code_book.codes.code for c in fw.code}
    labels = dict(conn.execute("SELECT id, label FROM domains"))
    assert sorted(codes.values()) == sorted(labels.values())
    stories = {s.name: s for s in project.sources.text_source}
    published = dict(conn.execute("SELECT title, id FROM stories"))
    assert set(stories) == set(published)
    confirmed = conn.execute("SELECT s.title, d.label, t.sentence_start, t.sentence_end, s.body FROM tags t "
                             "JOIN stories s ON s.id = t.story_id JOIN domains d ON d.id = t.domain "
                             "WHERE t.status = 'confirmed'").fetchall()
    assert len(confirmed) >= 2
    got = {(name, codes[sel.coding[0].code_ref.target_guid], sel.start_position, sel.end_position)
           for name, src in stories.items() for sel in src.plain_text_selection}
    assert got == {(t, label, s, e) for t, label, s, e, _ in confirmed}
    # offsets point at the same characters in the exported text
    for title, label, s, e, body in confirmed:
        text = RefiProject.resolve_source_path(stories[title].plain_text_path, tmp_path / "qdpx").read_text(encoding="utf-8")
        assert text == body and text[s:e]
    codebook = RefiCodebook.load(out / "codebooks.qdc")
    qdc_codes = {c.guid: c.name for fw in codebook.codes.code for c in fw.code}
    assert qdc_codes == codes


def test_export_holds_public_data_only(built, cli, tmp_path):
    built, out = export_confirmed(built, cli, tmp_path / "export")  # its own: it withdraws a story
    header = (out / "data" / "stories.csv").read_text().splitlines()[0]
    for col in ("consent", "consent_scope", "curator", "file", "path"):
        assert col not in header.split(","), col
    with zipfile.ZipFile(out / "evidence.qdpx") as z:
        names = z.namelist()
    assert "project.qde" in names
    # a withdrawn story leaves the next export
    r = cli(["withdraw", "james-and-phil", "--reason", "consent-withdrawn", "--root", built])
    assert r.exit_code == 0, r.output
    again = out.parent / "again"
    assert cli(["export", again, "--root", built]).exit_code == 0
    for path in [again / "data" / "stories.csv", again / "data" / "tags.csv", again / "data" / "links.csv"]:
        assert "james-and-phil" not in path.read_text(), path
    with zipfile.ZipFile(again / "evidence.qdpx") as z:
        assert "James and Phil" not in z.read("project.qde").decode()


def test_export_refuses_bad_destinations(built, cli, tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    r = cli(["export", f, "--root", built])
    assert r.exit_code == 1 and "is a file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    d = tmp_path / "busy"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    r = cli(["export", d, "--root", built])
    assert r.exit_code == 1 and "not empty" in r.stderr and (d / "notes.txt").read_text() == "keep me"
    r = cli(["export", tmp_path / "out", "--root", tmp_path / "nowhere"])
    assert r.exit_code == 1 and "evidence build" in r.stderr
