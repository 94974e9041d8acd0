"""Build: idempotent, incremental, one transaction, and a public database that
holds only publishable records and columns."""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from evidence.build import build
from evidence.errors import ValidationErrors
from evidence.store.publish import PUBLIC_TABLES

RECORD_TABLES = ("stories", "story_people", "findings", "studies", "approaches", "frameworks", "domains", "crosswalk", "areas_of_work")


def dump(db_path: Path) -> str:
    """A canonical hash of every record table's rows."""
    conn = sqlite3.connect(db_path)
    h = hashlib.sha256()
    for t in RECORD_TABLES:
        for row in conn.execute(f"SELECT * FROM [{t}] ORDER BY 1, 2"):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()


def rows(db_path: Path, sql: str, params=()) -> list:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_second_build_changes_nothing(built):
    work, public = built / "evidence.db", built / "public.db"
    before, stat = dump(work), os.stat(public)
    summary = build(built)
    assert (summary.added, summary.changed, summary.removed) == (0, 0, 0)
    assert summary.unchanged >= 70 and summary.files_parsed == 0
    assert not summary.public_written
    assert dump(work) == before
    assert os.stat(public).st_ino == stat.st_ino and os.stat(public).st_mtime_ns == stat.st_mtime_ns


def test_changed_story_is_the_only_record_rewritten(built):
    p = built / "stories" / "james-and-phil.md"
    p.write_text(p.read_text().replace("greyhound races", "greyhound racing"))
    summary = build(built)
    assert (summary.added, summary.changed, summary.removed) == (0, 1, 0)
    assert summary.changed_ids == {"stories": ["james-and-phil"]}
    assert summary.files_parsed == 1 and summary.public_written
    body = rows(built / "public.db", "SELECT body FROM stories WHERE id = 'james-and-phil'")[0][0]
    assert "greyhound racing" in body
    # the public full-text index follows the change
    assert rows(built / "public.db", "SELECT id FROM stories_fts JOIN stories ON stories.rowid = stories_fts.rowid WHERE stories_fts MATCH 'racing'")


def test_reformatting_a_file_without_changing_data_writes_no_record(built):
    p = built / "approaches" / "homeshare.yml"
    p.write_text(p.read_text() + "\n# a comment\n")
    summary = build(built)
    assert summary.files_parsed == 1 and (summary.added, summary.changed) == (0, 0)
    assert not summary.public_written


def test_deleted_file_removes_its_records_everywhere(built):
    (built / "stories" / "nick-shared-lives-ambassador.md").unlink()
    (built / "findings" / "skills-for-care-workforce.yml").unlink()
    summary = build(built)
    assert summary.removed == 1 + 1 + 3  # story, study, its three findings
    for db in ("evidence.db", "public.db"):
        assert not rows(built / db, "SELECT id FROM stories WHERE id = 'nick-shared-lives-ambassador'")
        assert not rows(built / db, "SELECT story_id FROM story_people WHERE story_id = 'nick-shared-lives-ambassador'")
        assert not rows(built / db, "SELECT id FROM findings WHERE study_id = 'skills-for-care-workforce'")
    assert not rows(built / "public.db", "SELECT rowid FROM stories_fts WHERE stories_fts MATCH 'awesome'")


def test_removed_finding_inside_a_file_is_deleted(built):
    p = built / "findings" / "skills-for-care-workforce.yml"
    text = p.read_text()
    head, *items = text.split("\n  - id: ")
    p.write_text(head + "\n  - id: " + items[0].rstrip() + "\n")
    summary = build(built)
    assert summary.removed == len(items) - 1
    assert rows(built / "evidence.db", "SELECT count(*) FROM findings WHERE study_id = 'skills-for-care-workforce'")[0][0] == 1


def test_failed_build_leaves_both_databases_as_they_were(built):
    work, public = built / "evidence.db", built / "public.db"
    before, public_bytes = dump(work), public.read_bytes()
    good = built / "stories" / "agnes-and-lucia.md"
    good.write_text(good.read_text().replace("Lucia", "Lucia M."))  # a valid change...
    bad = built / "stories" / "debs-creative-minds.md"
    bad.write_text(bad.read_text().replace("scope: public", "scope: everyone"))  # ...and an invalid one
    with pytest.raises(ValidationErrors, match="debs-creative-minds.md:.*scope"):
        build(built)
    assert dump(work) == before and public.read_bytes() == public_bytes


def test_failure_inside_the_transaction_rolls_back(built):
    from evidence.build import BuildOptions

    work = built / "evidence.db"
    before = dump(work)
    p = built / "stories" / "agnes-and-lucia.md"
    p.write_text(p.read_text().replace("more like family", "more like family!"))

    def boom(db, summary, options):
        raise RuntimeError("enrichment failed")

    with pytest.raises(RuntimeError):
        build(built, options=BuildOptions(enrich_steps=(boom,)))
    assert dump(work) == before
    assert build(built, options=BuildOptions(enrich_steps=())).changed == 1  # the change was not half-applied: it is still pending


def test_public_database_holds_only_publishable_stories_and_columns(base):
    src = (base / "stories" / "james-and-andy.md").read_text()
    for scope, status in [("research", "published"), ("internal", "published"), ("public", "draft")]:
        sid = f"hidden-{scope}-{status}"
        text = (src.replace("id: james-and-andy", f"id: {sid}").replace("scope: public", f"scope: {scope}")
                .replace("status: published", f"status: {status}").replace("James", f"Canary{scope.title()}{status.title()}"))
        (base / "stories" / f"{sid}.md").write_text(text)
    build(base)
    work, public = base / "evidence.db", base / "public.db"
    assert rows(work, "SELECT count(*) FROM stories WHERE id LIKE 'hidden-%'")[0][0] == 3
    assert not rows(public, "SELECT id FROM stories WHERE id LIKE 'hidden-%'")
    assert not rows(public, "SELECT story_id FROM story_people WHERE story_id LIKE 'hidden-%'")
    raw = public.read_bytes()
    for marker in (b"CanaryResearch", b"CanaryInternal", b"CanaryPublicDraft"):
        assert marker not in raw
    # only allow-listed tables and columns
    conn = sqlite3.connect(public)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if name.endswith(("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")):
            continue
        assert name in PUBLIC_TABLES, name
        cols = {r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")}
        assert cols == {c for c, _ in PUBLIC_TABLES[name][1]}
        forbidden = {"file", "curator_notes", "review", "aliases", "body_hash", "content_hash"}
        assert not any(c.startswith("consent") or c in forbidden for c in cols), (name, cols)
    conn.close()


def test_build_refuses_a_folder_that_is_not_an_evidence_base(tmp_path, cli):
    result = cli(["build", "--root", tmp_path])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "no stories/ or approaches/" in result.stderr


def test_cli_build_prints_one_summary_line(base, cli):
    result = cli(["build", "--root", base])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith("build: ") and "added" in result.stderr and "unchanged" in result.stderr
    again = cli(["build", "--root", base])
    assert "0 added, 0 changed" in again.stderr and "0 removed" in again.stderr


def test_cli_build_errors_are_one_line_each_without_traceback(base, cli):
    p = base / "stories" / "pearl-florist-somerset.md"
    p.write_bytes(b"\x00\x01binary")
    result = cli(["build", "--root", base])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: stories/pearl-florist-somerset.md: file is not text (it contains NUL bytes); remove it or replace it with a UTF-8 text file"
    assert "Traceback" not in result.output


def test_patched_public_database_keeps_no_trace_of_removed_or_edited_text(built):
    """The public file is patched, not rebuilt, when little changed: removed
    and edited text must still leave no bytes behind (FTS pages included)."""
    public = built / "public.db"
    src = (built / "stories" / "james-and-andy.md").read_text()
    (built / "stories" / "canary.md").write_text(src.replace("id: james-and-andy", "id: canary").replace("James", "Zqxcanary"))
    build(built)
    assert b"Zqxcanary" in public.read_bytes()
    (built / "stories" / "canary.md").unlink()
    p = built / "stories" / "james-and-phil.md"
    p.write_text(p.read_text().replace("greyhound races", "Zqxedited races"))
    build(built)
    p.write_text(p.read_text().replace("Zqxedited races", "greyhound races"))
    summary = build(built)
    assert summary.public_written
    raw = public.read_bytes().lower()
    assert b"zqxcanar" not in raw and b"zqxedit" not in raw
    conn = sqlite3.connect(public)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'greyhound'").fetchone()[0] == 1
    conn.close()


def _public_rows(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in PUBLIC_TABLES}
    finally:
        conn.close()


def test_patched_public_database_equals_a_full_rebuild(built: Path, tmp_path: Path):
    """A build patches public.db row by row (matched on each table's key);
    after an anonymised story is added, one edited and one taken back to
    draft, every public table must hold exactly what a rebuild from
    nothing writes: no stale row, none missing, no column left old."""
    import sqlite_utils

    from evidence.store.publish import publish

    stories = built / "stories"
    src = (stories / "james-and-andy.md").read_text()
    assert "identity: named" in src
    (stories / "zz-new.md").write_text(src.replace("id: james-and-andy", "id: zz-new").replace("James", "Jim")
                                       .replace("identity: named", "identity: anonymised\n  pseudonym: Rowan", 1))
    p = stories / "james-and-phil.md"
    p.write_text(p.read_text().replace("greyhound races", "greyhound racing"))
    d = stories / "agnes-and-lucia.md"
    d.write_text(d.read_text().replace("status: published", "status: draft"))
    before = _public_rows(built / "public.db")
    summary = build(built)
    assert summary.public_written
    patched = _public_rows(built / "public.db")
    db = sqlite_utils.Database(built / "evidence.db")
    try:
        publish(db, tmp_path / "full.db", full=True)
    finally:
        db.close()
    full = _public_rows(tmp_path / "full.db")
    assert patched != before
    for table in PUBLIC_TABLES:
        assert patched[table] == full[table], table
    assert not any(r[0] == "agnes-and-lucia" for r in patched["stories"])
    assert any(r[0] == "zz-new" for r in patched["stories"])
    assert "Jim" not in repr(patched["stories"]) and "Rowan" in repr(patched["stories"])


def test_build_runs_with_standard_error_closed(built: Path):
    """`evidence build 2>&-` (a cron line): sys.stderr is None, and the
    progress check on it stopped the build with exit 1 before it ran."""
    import subprocess
    import sys

    path = built / "stories" / "james-and-andy.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nHe still visits Andy on Sundays.\n", encoding="utf-8")
    checkout = Path(__file__).resolve().parent.parent  # `-m evidence` from here runs this checkout's code
    r = subprocess.run([sys.executable, "-m", "evidence", "build", "--root", str(built)], cwd=checkout,
                       capture_output=True, timeout=300, preexec_fn=lambda: os.close(2))
    assert r.returncode == 0
    assert "visits Andy on Sundays" in rows(built / "public.db", "SELECT body FROM stories WHERE id = 'james-and-andy'")[0][0]
