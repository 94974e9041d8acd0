"""Consent decides what is published: build and add refuse a story without a
complete consent record; the public database holds exactly the allow-listed
tables and columns, and nothing of a story that may not be published."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from support.integrity import digest
from storyfiles import CONSENT, find_in_tables, fts_vocab_terms, porter_terms, raw_contains, story_text, write_story

# (what is missing, consent mapping or None for no consent at all, a word the error must contain)
MISSING = [
    ("no consent record", None, "consent"),
    ("no basis", {k: v for k, v in CONSENT.items() if k != "basis"}, "basis"),
    ("no scope", {k: v for k, v in CONSENT.items() if k != "scope"}, "scope"),
    ("no date", {k: v for k, v in CONSENT.items() if k != "date"}, "date"),
    ("no recorded_by", {k: v for k, v in CONSENT.items() if k != "recorded_by"}, "recorded_by"),
    ("no wording", {k: v for k, v in CONSENT.items() if k != "wording"}, "wording"),
    ("no identity", {k: v for k, v in CONSENT.items() if k != "identity"}, "identity"),
    # a pseudonym given but identity forgotten: was published as 'named', with the real names
    ("pseudonym without identity", {**{k: v for k, v in CONSENT.items() if k != "identity"}, "pseudonym": "Kit"}, "identity"),
    ("anonymised without pseudonym", {**CONSENT, "identity": "anonymised"}, "pseudonym"),
    # a pseudonym with identity 'named' was ignored: the real names were published
    ("named with a pseudonym", {**CONSENT, "pseudonym": "Kit"}, "set 'identity: anonymised'"),
    ("unknown scope", {**CONSENT, "scope": "everyone"}, "scope"),
    ("unknown basis", {**CONSENT, "basis": "assumed"}, "basis"),
    ("date not a date", {**CONSENT, "date": "last spring"}, "date"),
]


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("label,consent,word", MISSING, ids=[m[0] for m in MISSING])
def test_build_refuses_story_without_complete_consent(built: Path, cli, label, consent, word):
    before_db, before_public = digest(built / "evidence.db"), (built / "public.db").read_bytes()
    write_story(built, "no-consent-story", consent=consent if consent is not None else None)
    result = cli(["build", "--root", built])
    assert result.exit_code == 1
    lines = _errors(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: stories/no-consent-story.md"), lines
    assert word in lines[0]
    assert "Traceback" not in result.output
    assert digest(built / "evidence.db") == before_db
    assert (built / "public.db").read_bytes() == before_public


@pytest.mark.parametrize("label,consent,word", MISSING, ids=[m[0] for m in MISSING])
def test_add_file_refuses_story_without_complete_consent(built: Path, cli, tmp_path: Path, label, consent, word):
    before_db = digest(built / "evidence.db")
    src = tmp_path / "incoming" / "no-consent-story.md"
    src.parent.mkdir()
    src.write_text(story_text("no-consent-story", consent=consent if consent is not None else None), encoding="utf-8")
    result = cli(["add", "--root", built, "--file", src])
    assert result.exit_code == 1
    lines = _errors(result)
    assert len(lines) == 1 and word in lines[0], lines
    assert not (built / "stories" / "no-consent-story.md").exists()
    assert digest(built / "evidence.db") == before_db


FIELDS = ["--title", "A walk to the shops", "--approach", "shared-lives", "--no-input",
          "--body-file", "BODY"]


@pytest.mark.parametrize("args,word", [
    ([], "consent basis"),
    (["--consent", "given-by-person"], "consent scope"),
    (["--consent", "given-by-person", "--consent-scope", "public"], "wording"),
    (["--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "v2",
      "--identity", "hidden"], "identity"),
    (["--consent", "given-by-person", "--consent-scope", "public", "--consent-wording", "v2",
      "--identity", "anonymised", "--person", "Zed:person supported"], "pseudonym"),
    (["--consent", "friendly-chat", "--consent-scope", "public"], "basis"),
], ids=["no-basis", "no-scope", "no-wording", "bad-identity", "anonymised-no-pseudonym", "bad-basis"])
def test_add_fields_refuse_missing_consent(built: Path, cli, tmp_path: Path, args, word):
    body = tmp_path / "body.md"
    body.write_text("A narrative about a walk to the shops with a neighbour.\n")
    before = sorted(p.name for p in (built / "stories").iterdir())
    before_db = digest(built / "evidence.db")
    result = cli(["add", "--root", built, *[str(body) if a == "BODY" else a for a in FIELDS], *args])
    assert result.exit_code == 1
    lines = _errors(result)
    assert len(lines) == 1 and word in lines[0], lines
    assert sorted(p.name for p in (built / "stories").iterdir()) == before
    assert digest(built / "evidence.db") == before_db


# ---------------------------------------------------------------------------
# The allow-list: exactly these tables, views and columns (a new public table
# or column needs a deliberate update here).

FTS_SHADOW = {"config": ["k", "v"], "data": ["id", "block"], "docsize": ["id", "sz"], "idx": ["segid", "term", "pgno"]}
EXPECTED = {
    ("table", "areas_of_work"): ["id", "label", "description", "position"],
    ("table", "approaches"): ["id", "name", "description", "area_of_work", "also_areas", "scale", "scale_note",
                              "organisation", "website", "sources"],
    ("table", "frameworks"): ["id", "title", "version", "description", "domain_count", "source_title",
                              "source_author", "source_organisation", "source_url"],
    ("table", "domains"): ["id", "framework_id", "domain_id", "label", "description", "examples", "position"],
    ("table", "crosswalk"): ["from_domain", "to_domain"],
    ("table", "studies"): ["id", "title", "authors", "organisation", "year", "url", "kind", "source_title",
                           "source_author", "source_organisation", "source_publisher", "source_url", "source_date"],
    ("table", "findings"): ["id", "study_id", "statement", "measure", "value", "unit", "direction", "comparator",
                            "sample_size", "population", "design", "year", "place", "approach", "area_of_work",
                            "source_sentence", "note", "interval_low", "interval_high", "design_group", "certainty",
                            "certainty_reasons", "certainty_assessed"],
    ("table", "stories"): ["id", "title", "summary", "body", "approach", "organisation", "place", "area_of_work",
                           "people", "source_title", "source_author", "source_organisation", "source_publisher",
                           "source_url", "source_date", "added"],
    ("table", "story_people"): ["story_id", "position", "name", "role"],
    ("table", "stories_fts"): ["title", "summary", "body"],
    ("table", "findings_fts"): ["statement", "measure", "population"],
    **{("table", f"{t}_fts_{s}"): cols for t in ("stories", "findings") for s, cols in FTS_SHADOW.items()},
    ("view", "evidence"): ["kind", "id", "title", "detail", "approach", "area_of_work", "place", "year", "design",
                           "value", "unit", "sample_size", "source_title", "source_organisation", "path"],
    ("view", "evidence_by_approach"): ["approach", "name", "area_of_work", "scale", "stories", "findings"],
    # outcome tags and entities (issue 3): computed from the public text
    ("table", "tags"): ["item_type", "item_id", "story_id", "finding_id", "framework", "domain", "score", "methods",
                        "sentence", "sentence_start", "sentence_end", "status", "via_crosswalk", "via_domain",
                        "rule_score", "embedding_score", "classifier_score", "run_date", "model_id", "codebook_version"],
    # every supporting sentence of a published tag (issue 12)
    ("table", "tag_sentences"): ["item_type", "item_id", "story_id", "finding_id", "domain", "rank", "sentence", "start",
                                 "end", "score", "role"],
    ("table", "entities"): ["item_type", "item_id", "story_id", "finding_id", "start", "end", "label", "text", "norm",
                            "value", "unit", "qualifier"],
    ("view", "evidence_by_domain"): None,
    ("view", "stories_by_domain"): None,
    # passages and vectors (issue 4): computed from the public text
    ("table", "passages"): ["item_type", "item_id", "passage", "field", "start_char", "end_char", "text"],
    ("table", "embeddings"): ["model", "item_type", "item_id", "passage", "vector"],
    # story-finding links (issue 6): only publishable stories'; a curator's note stays private
    ("table", "links"): ["story_id", "finding_id", "kind", "score", "reason", "status"],
    ("view", "story_findings"): None,
    # strength of evidence (issue 13): confidence computed from publishable stories only; no curator names
    ("table", "confidence"): ["approach", "domain", "framework", "confidence", "confidence_reasons", "assessed",
                              "stories", "stories_confirmed", "components"],
    # the glossary search expands (issue 17): settings, no story content
    ("table", "abbreviations"): ["abbreviation", "expansion"],
}
# never public, whatever table they would sit in
FORBIDDEN_COLUMNS = {"consent_basis", "consent_scope", "consent_identity", "consent_pseudonym", "consent_date",
                     "consent_recorded_by", "consent_wording", "curator_notes", "review", "file", "content_hash",
                     "body_hash", "source_seed", "source_note", "aliases", "public_name", "public_title",
                     "public_body", "public_summary", "public_people", "privacy", "sha256"}


def test_public_database_holds_exactly_the_allow_list(built_session: Path):
    conn = sqlite3.connect(built_session / "public.db")
    try:
        found = {(t, n): [r[1] for r in conn.execute(f"PRAGMA table_info([{n}])")]
                 for t, n in conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')")}
        kinds = {r[0] for r in conn.execute("SELECT type FROM sqlite_master")}
    finally:
        conn.close()
    assert set(found) == set(EXPECTED), f"unexpected: {set(found) - set(EXPECTED)}; missing: {set(EXPECTED) - set(found)}"
    for key, cols in EXPECTED.items():
        if cols is not None:  # views over allow-listed tables: their columns are checked through those tables
            assert found[key] == cols, key
    assert kinds <= {"table", "view", "index"}  # no triggers
    assert not FORBIDDEN_COLUMNS & {c for cols in found.values() for c in cols}
    # a tag's review status (suggested or confirmed) is public; a story's publication status is not
    assert "status" not in found[("table", "stories")]


CANARIES = {
    "research": "qzxresearchcanary",
    "internal": "qzxinternalcanary",
    "draft": "qzxdraftcanary",
    "pii": "qzxpiiheldcanary",
    "notes": "qzxcuratornotecanary",
    "wording": "qzxconsentwordcanary",
    "recorder": "qzxrecorderscanary",
    "seed": "qzxsourceseedcanary",
}


def _canary_story(root: Path, story_id: str, canary: str, **fields) -> None:
    write_story(
        root, story_id,
        body=f"The narrative says {canary} twice: {canary}. Support in the community made a difference.",
        title=f"Title {canary}", summary=f"Summary {canary}.",
        people=[{"name": f"{canary.capitalize()}", "role": f"role {canary}"}],
        place=f"Place{canary}", organisation=f"Org {canary}",
        source={"title": f"Source {canary}", "organisation": "Test Organisation"},
        **fields)


def test_nothing_of_a_story_that_may_not_be_published_reaches_the_public_db(base: Path):
    from evidence.build import build

    _canary_story(base, "research-only-story", CANARIES["research"], consent={**CONSENT, "scope": "research"})
    _canary_story(base, "internal-only-story", CANARIES["internal"], consent={**CONSENT, "scope": "internal"})
    _canary_story(base, "draft-story", CANARIES["draft"], status="draft")
    write_story(base, "held-story", body=f"Ring 07911 123456 to reach {CANARIES['pii']}; {CANARIES['pii']} again.",
                title=f"Held {CANARIES['pii']}")
    write_story(base, "public-story", body="A published narrative about a community garden and its volunteers.",
                title="The community garden",
                curator_notes=f"note {CANARIES['notes']}",
                consent={**CONSENT, "wording": f"form {CANARIES['wording']}", "recorded_by": f"{CANARIES['recorder']}"},
                source={"title": "Garden source", "organisation": "Test Organisation", "seed": f"{CANARIES['seed']}.txt"})
    summary = build(base)
    work, public = base / "evidence.db", base / "public.db"
    vocab = fts_vocab_terms(public)
    for name, canary in CANARIES.items():
        assert find_in_tables(work, canary), f"{name}: the canary should be in the working db"
        assert find_in_tables(public, canary) == [], name
        assert not raw_contains(public, canary), name
        assert not porter_terms(canary) & vocab, name
    # the public story itself is published, and the held one is named in a warning without its data
    conn = sqlite3.connect(public)
    try:
        ids = {r[0] for r in conn.execute("SELECT id FROM stories")}
    finally:
        conn.close()
    assert "public-story" in ids
    assert not ids & {"research-only-story", "internal-only-story", "draft-story", "held-story"}
    assert any(w.startswith("stories/held-story.md:") and "UK phone number" in w for w in summary.warnings)
    assert not any("07911" in w for w in summary.warnings)


def test_a_persons_pseudonym_in_a_named_story_is_refused(built: Path, cli):
    write_story(built, "named-pseudo", people=[{"name": "Mavis", "role": "person supported", "pseudonym": "Kit"}])
    result = cli(["build", "--root", built])
    lines = _errors(result)
    assert result.exit_code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("Error: stories/named-pseudo.md:") and "identity: anonymised" in lines[0]
    text = (built / "stories" / "named-pseudo.md").read_text(encoding="utf-8").split("\n")
    assert text[int(lines[0].split(":")[2]) - 1].strip() == "pseudonym: Kit"  # the line of the pseudonym
