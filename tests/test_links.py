"""Links between stories and findings (evidence/links.py): kinds, reasons,
curator decisions that survive rebuilds, incremental relinking, privacy."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evidence.build import build


def links(path: Path, story: str) -> dict[tuple[str, str], dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {(r["finding_id"], r["kind"]): dict(r) for r in conn.execute(
            "SELECT * FROM links WHERE story_id = ?", [story])}
    finally:
        conn.close()


def add_decisions(root: Path, story: str, yaml_items: str) -> None:
    path = root / "stories" / f"{story}.md"
    text = path.read_text(encoding="utf-8")
    head, rest = text.split("\n---\n", 1)
    path.write_text(head + "\nlinks:\n" + yaml_items + "---\n" + rest, encoding="utf-8")


def test_pearl_links_to_community_catalysts_and_micro_enterprise_findings(built_session):
    got = links(built_session / "public.db", "pearl-florist-somerset")
    approach = {f for f, k in got if k == "same-approach"}
    assert {"birmingham-micro-organisations", "birmingham-micro-value-for-money", "cc-network-entrepreneurs",
            "slp-micro-enterprise-members"} <= approach
    assert not {f for f in approach if f.startswith("creative-minds")}
    row = got[("birmingham-micro-organisations", "same-approach")]
    assert row["score"] == 1.0 and row["status"] == "suggested"
    assert row["reason"].startswith("about the story's own approach, Community Catalysts")


def test_debs_links_to_the_creative_minds_cost_finding(built_session):
    got = links(built_session / "public.db", "debs-creative-minds")
    assert ("creative-minds-debs-cost", "same-approach") in got
    assert all(not f.startswith("birmingham") for f, k in got if k == "same-approach")


def test_other_approach_links_need_the_same_outcome_and_meaning_above_the_threshold(built_session):
    """A finding about another approach is linked only when it shares an
    outcome domain with the story AND one of the story's passages is at
    least similar_threshold close to it; the reason says both."""
    import numpy as np

    from evidence.enrich.embeddings import from_blob
    from evidence.enrich.links import load_settings

    s = load_settings(built_session)
    conn = sqlite3.connect(built_session / "evidence.db")
    rows = conn.execute("SELECT l.story_id, l.finding_id, l.score, l.reason, st.approach, f.approach FROM links l "
                        "JOIN stories st ON st.id = l.story_id JOIN findings f ON f.id = l.finding_id "
                        "WHERE l.kind = 'same-outcome'").fetchall()
    per_story: dict[str, int] = {}
    for sid, fid, score, reason, s_app, f_app in rows:
        assert f_app != s_app, (sid, fid)
        shared = conn.execute("SELECT count(*) FROM tags a JOIN tags b ON a.domain = b.domain WHERE a.story_id = ? "
                              "AND b.finding_id = ? AND a.status != 'rejected' AND b.status != 'rejected'",
                              [sid, fid]).fetchone()[0]
        assert shared, (sid, fid)
        sv = np.stack([from_blob(b) for b, in conn.execute(
            "SELECT vector FROM embeddings WHERE item_type = 'story' AND item_id = ?", [sid])])
        fv = np.stack([from_blob(b) for b, in conn.execute(
            "SELECT vector FROM embeddings WHERE item_type = 'finding' AND item_id = ?", [fid])])
        sv /= np.linalg.norm(sv, axis=1, keepdims=True)
        fv /= np.linalg.norm(fv, axis=1, keepdims=True)
        assert (sv @ fv.T).max() >= s.similar_threshold - 1e-4 and score >= s.similar_threshold - 1e-4
        assert reason.startswith("another approach (") and "both evidence " in reason and "close in meaning" in reason
        per_story[sid] = per_story.get(sid, 0) + 1
    assert all(n <= s.similar_per_story for n in per_story.values())
    # nothing links to another approach by a shared outcome alone, and no kind 'similar' is left
    assert not conn.execute("SELECT count(*) FROM links WHERE kind = 'similar'").fetchone()[0]


def test_every_link_says_why(built_session):
    conn = sqlite3.connect(built_session / "public.db")
    reasons = conn.execute("SELECT kind, reason FROM links").fetchall()
    assert reasons and all(r and len(r) > 15 for _, r in reasons)


def test_removed_link_never_comes_back_and_confirmed_is_kept(built):
    add_decisions(built, "debs-creative-minds",
                  "  - finding: creative-minds-debs-off-medication\n    status: removed\n"
                  "  - finding: cc-network-entrepreneurs\n    status: confirmed\n    note: both about enterprise\n")
    build(built)
    for _ in range(2):
        got = links(built / "public.db", "debs-creative-minds")
        assert not [k for k in got if k[0] == "creative-minds-debs-off-medication"]
        assert got[("cc-network-entrepreneurs", "curator")]["status"] == "confirmed"
        assert got[("creative-minds-debs-cost", "same-approach")]["status"] == "suggested"
        # a finding change relinks every story: the decisions still hold
        f = built / "findings" / "creative-minds-debs.yml"
        f.write_text(f.read_text(encoding="utf-8").replace("sample_size: 1\n", "sample_size: 2\n", 1), encoding="utf-8")
        build(built)
    assert "note" not in links(built / "public.db", "debs-creative-minds")[("cc-network-entrepreneurs", "curator")]


def test_unchanged_build_relinks_nothing_and_a_changed_story_only_itself(built):
    s = build(built)
    assert s.enriched.get("links") == 0
    p = built / "stories" / "james-and-phil.md"
    p.write_text(p.read_text(encoding="utf-8") + "\nThey went to the football together every week.\n", encoding="utf-8")
    conn = sqlite3.connect(built / "evidence.db")
    before = dict(conn.execute("SELECT story_id, fingerprint FROM linked_stories").fetchall())
    conn.close()
    s = build(built)
    assert s.enriched.get("links", 0) > 0
    conn = sqlite3.connect(built / "evidence.db")
    after = dict(conn.execute("SELECT story_id, fingerprint FROM linked_stories").fetchall())
    assert {k for k in after if after[k] != before.get(k)} == {"james-and-phil"}


@pytest.mark.parametrize("items, message", [
    ("  - finding: no-such-finding\n    status: removed\n", "unknown finding 'no-such-finding'"),
    ("  - finding: creative-minds-debs-cost\n    status: maybe\n", "must be confirmed or removed"),
    ("  - creative-minds-debs-cost\n", "each item of 'links' must be a mapping"),
])
def test_bad_link_decisions_are_one_line_errors_and_change_nothing(built, cli, items, message):
    before = (built / "public.db").read_bytes()
    add_decisions(built, "debs-creative-minds", items)
    result = cli(["build", "--root", built])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert (built / "public.db").read_bytes() == before


def test_unpublishable_stories_have_no_public_links(built):
    p = built / "stories" / "james-and-andy.md"
    p.write_text(p.read_text(encoding="utf-8").replace("scope: public", "scope: research", 1), encoding="utf-8")
    build(built)
    assert links(built / "evidence.db", "james-and-andy")
    assert not links(built / "public.db", "james-and-andy")
    (built / "stories" / "james-and-andy.md").unlink()
    build(built)
    assert not links(built / "evidence.db", "james-and-andy")
