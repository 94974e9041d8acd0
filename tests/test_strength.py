"""Strength of evidence (issue 13): GRADE-style certainty of findings,
CERQual-style confidence in stories, curators' assessments, the gap map's
counts and filters, cell exports, evidence cards, story links and JSON."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from evidence.build import build
from evidence.enrich.certainty import account_of, grade_finding, load_rules, story_confidence

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(ROOT)


def finding(conn, fid: str) -> dict:
    conn.row_factory = sqlite3.Row
    return dict(conn.execute("SELECT * FROM findings WHERE id = ?", [fid]).fetchone())


# ---------------------------------------------------------------------------
# the rules, on the seed findings


@pytest.mark.parametrize("fid, level, words", [
    # co-research interviews of 27 organisations: starts very low, a sample under 30
    ("birmingham-micro-hourly-rates", "very low", ["starts very low", "a sample of 27 is under 30"]),
    # the provider's own records with no sample size: low, down for risk of bias and imprecision
    ("cc-network-entrepreneurs", "very low", ["starts low", "risk of bias", "organisation behind the approach",
                                              "no sample size is given"]),
    # national statistics count a whole population: low, no imprecision for the missing n
    ("national-pb-direct-payment-share", "low", ["starts low: national statistics"]),
    # a survey without a sample size: low, then down for imprecision
    ("poet2-average-improvement", "very low", ["starts low: survey", "no sample size is given"]),
])
def test_certainty_of_seed_findings_follows_the_rules(built_session, fid, level, words):
    conn = sqlite3.connect(built_session / "public.db")
    f = finding(conn, fid)
    assert f["certainty"] == level, f["certainty_reasons"]
    for w in words:
        assert w in f["certainty_reasons"], (w, f["certainty_reasons"])
    assert f["certainty_assessed"] == "computed" and "Computed by the rules in pipelines/certainty.yml" in f["certainty_reasons"]
    if fid.startswith("national-pb"):
        assert "imprecision" not in f["certainty_reasons"]


def test_every_public_finding_has_a_certainty_and_reasons(built_session):
    conn = sqlite3.connect(built_session / "public.db")
    rows = conn.execute("SELECT certainty, certainty_reasons FROM findings").fetchall()
    assert rows and all(c in ("high", "moderate", "low", "very low") and r.startswith("starts ") for c, r in rows)


def test_rules_on_designs_effects_and_intervals():
    base = {"design": "randomised controlled trial", "sample_size": 900, "approach": "x", "value": 1.2,
            "unit": "risk ratio", "comparator": "usual care", "interval_low": 1.1, "interval_high": 1.3}
    g = grade_finding(base, RULES)
    assert g["certainty"] == "high" and g["start"] == "high" and g["design_group"] == "randomised trial"
    # an interval that includes no effect (1 for a ratio) is imprecise
    g = grade_finding({**base, "interval_low": 0.8, "interval_high": 1.6}, RULES)
    assert g["certainty"] == "moderate" and "includes no effect" in g["certainty_reasons"]
    # a large effect moves an observational finding up; a very large one two
    obs = {**base, "design": "matched cohort study", "value": 3.0, "interval_low": 2.5, "interval_high": 3.4}
    assert grade_finding(obs, RULES)["certainty"] == "moderate"
    assert "up one for a large effect" in grade_finding(obs, RULES)["certainty_reasons"]
    assert grade_finding({**obs, "value": 6.0, "interval_low": 5.5, "interval_high": 6.4}, RULES)["certainty"] == "high"
    # ... but not when the study is the provider's own (risk of bias)
    assert grade_finding(obs, RULES, provider=True)["certainty"] == "very low"
    # quasi-experimental starts moderate; no approach named is indirect
    q = grade_finding({"design": "quasi-experimental comparison", "sample_size": 500, "approach": ""}, RULES)
    assert q["start"] == "moderate" and q["certainty"] == "low" and "not a named approach" in q["certainty_reasons"]
    # opposite directions on the same approach and outcome: inconsistency
    inc = grade_finding({"design": "survey", "sample_size": 1000, "approach": "x"}, RULES, opposite=["other-finding"])
    assert inc["certainty"] == "very low" and "other-finding" in inc["certainty_reasons"]
    # an unknown design starts at the rules' default
    assert grade_finding({"design": "", "sample_size": 5000, "approach": "x"}, RULES)["start"] == "very low"


def test_a_curator_assessment_replaces_the_computed_factor():
    f = {"design": "survey", "sample_size": 40, "approach": "x",
         "assessment": {"by": "A Curator", "factors": {
             "imprecision": {"concern": "none", "reason": "40 of the 42 members answered: the whole population"},
             "publication_bias": {"concern": "serious", "reason": "only the positive half of the survey was published"}}}}
    g = grade_finding(f, RULES)
    assert g["assessed"] == "curator" and g["certainty"] == "very low"
    assert "no concern about imprecision (curator): 40 of the 42" in g["certainty_reasons"]
    assert "down one for publication bias (curator): only the positive half" in g["certainty_reasons"]
    assert "A Curator" not in g["certainty_reasons"]  # curators' names stay out of public text


# ---------------------------------------------------------------------------
# curators' assessments in the study file


ASSESSMENT = """    certainty:
      by: Test Curator
      date: 2026-11-29
      risk_of_bias:
        concern: very-serious
        reason: "members who answered were those running the most successful enterprises"
"""


def add_assessment(root: Path, fid: str, text: str) -> Path:
    path = root / "findings" / "shared-lives-plus-micro-enterprise-members.yml"
    src = path.read_text(encoding="utf-8")
    marker = f"  - id: {fid}\n"
    assert marker in src
    path.write_text(src.replace(marker, marker + text, 1), encoding="utf-8")
    return path


def test_curator_assessment_survives_rebuilds(built):
    conn = sqlite3.connect(built / "public.db")
    fid = conn.execute("SELECT id FROM findings WHERE study_id = 'shared-lives-plus-micro-enterprise-members' "
                       "ORDER BY id LIMIT 1").fetchone()[0]
    before = finding(conn, fid)
    conn.close()
    add_assessment(built, fid, ASSESSMENT)
    build(built)
    for _ in range(2):  # a plain rebuild and a forced full republish keep it
        conn = sqlite3.connect(built / "public.db")
        after = finding(conn, fid)
        conn.close()
        assert after["certainty_assessed"] == "curator"
        assert "down two for risk of bias (curator): members who answered" in after["certainty_reasons"]
        assert "Test Curator" not in after["certainty_reasons"]
        assert after["certainty"] == "very low" and after["certainty_reasons"] != before["certainty_reasons"]
        build(built, force_publish=True)


@pytest.mark.parametrize("text, message", [
    ("    certainty:\n      risk_of_bias:\n        concern: serious\n",
     "certainty factor 'risk_of_bias' has concern 'serious' but no reason"),
    ("    certainty:\n      imprecision:\n        concern: dreadful\n        reason: small\n", "'concern' is 'dreadful'"),
    ("    certainty:\n      luck:\n        concern: serious\n        reason: x\n", "unknown field 'luck'"),
])
def test_an_assessment_without_a_reason_is_refused_in_one_line(built, cli, text, message):
    before = (built / "public.db").read_bytes()
    path = add_assessment(built, "slp-micro-enterprise-members", text)
    result = cli(["build", "--root", built])
    assert result.exit_code == 1
    out = result.output.strip()
    assert message in out and "Traceback" not in out and len(out.splitlines()) == 1
    assert out.startswith(str(path)) or "shared-lives-plus-micro-enterprise-members.yml:" in out
    line = int(out.split(".yml:")[1].split(":")[0])
    assert line > 1  # the line of the factor, not the top of the file
    assert (built / "public.db").read_bytes() == before


# ---------------------------------------------------------------------------
# confidence in the stories (CERQual-style)


def story(**kw) -> dict:
    return {"confirmed": False, "sentences": ["It helped."], "account": "independent", "place": "Leeds",
            "other_area": False, "crosswalk_only": False, **kw}


def test_story_confidence_components():
    many = [story(confirmed=True), story(confirmed=True), story(confirmed=True, account="own words")]
    c = story_confidence(many, RULES)
    assert c["confidence"] == "high" and c["assessed"] == "computed"
    one = story_confidence([story()], RULES)
    assert one["confidence"] in ("very low", "low") and "suggestions only" in one["confidence_reasons"]
    mixed = story_confidence(many + [story(confirmed=True, sentences=["It made no difference to her at all."])], RULES)
    assert mixed["components"]["coherence"]["concern"] != "none" and "3 of 4 point the same way" in mixed["confidence_reasons"]
    provider = story_confidence([story(confirmed=True, account="provider") for _ in range(3)], RULES)
    assert provider["components"]["methodological limitations"]["concern"] == "serious"
    assert LEVELS.index(provider["confidence"]) < LEVELS.index(c["confidence"])
    over = story_confidence([story()], RULES, {"level": "moderate", "reason": "three more interviews on file"})
    assert over["confidence"] == "moderate" and over["assessed"] == "curator" and "three more interviews" in over["confidence_reasons"]


LEVELS = ["very low", "low", "moderate", "high"]


def test_whose_account():
    s = {"people_names": ["Rita"], "source_author": "Rita", "consent_basis": "published-by-organisation"}
    assert account_of(s, "Homeshare UK", RULES) == "own words"
    s = {"people_names": ["Rita"], "source_author": "Alex", "source_organisation": "Shared Lives Plus",
         "organisation": "Shared Lives Plus", "consent_basis": "published-by-organisation"}
    assert account_of(s, "", RULES) == "provider"
    s["source_organisation"] = "University of Kent"
    assert account_of(s, "Shared Lives Plus", RULES) == "independent"


def test_confidence_override_in_the_approach_file_and_its_refusal(built, cli):
    path = built / "approaches" / "shared-lives.yml"
    text = path.read_text(encoding="utf-8")
    conn = sqlite3.connect(built / "public.db")
    dom = conn.execute("SELECT domain FROM confidence WHERE approach = 'shared-lives' ORDER BY domain LIMIT 1").fetchone()[0]
    conn.close()
    path.write_text(text + f"confidence:\n  - domain: {dom}\n    level: moderate\n", encoding="utf-8")
    result = cli(["build", "--root", built])
    assert result.exit_code == 1 and "has no reason" in result.output and "shared-lives.yml:" in result.output
    path.write_text(text + f"confidence:\n  - domain: {dom}\n    level: moderate\n    reason: \"two more carers' accounts agree\"\n",
                    encoding="utf-8")
    build(built)
    conn = sqlite3.connect(built / "public.db")
    level, reasons, assessed = conn.execute("SELECT confidence, confidence_reasons, assessed FROM confidence "
                                            "WHERE approach = 'shared-lives' AND domain = ?", [dom]).fetchone()
    assert (level, assessed) == ("moderate", "curator") and "two more carers" in reasons and "computed:" in reasons


def test_confidence_counts_only_publishable_stories(built):
    p = built / "stories" / "james-and-andy.md"
    p.write_text(p.read_text(encoding="utf-8").replace("scope: public", "scope: research", 1), encoding="utf-8")
    build(built)
    conn = sqlite3.connect(built / "public.db")
    for appr, dom, n in conn.execute("SELECT approach, domain, stories FROM confidence"):
        have = conn.execute("SELECT count(DISTINCT t.story_id) FROM tags t JOIN stories s ON s.id = t.story_id "
                            "WHERE s.approach = ? AND t.domain = ?", [appr, dom]).fetchone()[0]
        assert n == have, (appr, dom)


# ---------------------------------------------------------------------------
# pages: gap map, cells, exports, cards, story links


def get(base: Path, *paths: str):
    from test_pages import get as _get

    return _get(base, *paths)


def sql_cells(conn, framework: str, confirmed_only: bool = False, design: str | None = None) -> dict:
    status = " AND t.status = 'confirmed'" if confirmed_only else ""
    out: dict = {}
    for a, d, st in conn.execute("SELECT s.approach, t.domain, t.status FROM tags t JOIN stories s ON s.id = t.story_id "
                                 f"WHERE t.framework = ?{status}", [framework]):
        c = out.setdefault((a, d), [0, 0, 0])
        c[0 if st == "confirmed" else 1] += 1
    q = "SELECT f.approach, t.domain FROM tags t JOIN findings f ON f.id = t.finding_id WHERE t.framework = ?" + status
    params = [framework]
    if design:
        q += " AND f.design_group = ?"
        params.append(design)
    for a, d in conn.execute(q, params):
        out.setdefault((a, d), [0, 0, 0])[2] += 1
    return out


@pytest.mark.parametrize("query, confirmed, design", [
    ("framework=ascot", False, None),
    ("framework=community-outcomes", False, None),
    ("framework=ascot&confirmed=1", True, None),
    ("framework=ascot&design=case+study+or+qualitative", False, "case study or qualitative"),
])
def test_gap_map_json_counts_equal_sql_counts(built_session, query, confirmed, design):
    conn = sqlite3.connect(built_session / "public.db")
    fw = query.split("&")[0].split("=")[1]
    if not conn.execute("SELECT 1 FROM frameworks WHERE id = ?", [fw]).fetchone():
        pytest.skip(f"no framework {fw} in this base")
    (js,) = get(built_session, f"/-/gaps.json?{query}")
    assert js.status_code == 200, js.text
    data = js.json()
    want = sql_cells(conn, fw, confirmed, design)
    approaches = {r[0] for r in conn.execute("SELECT id FROM approaches")}
    domains = {r[0] for r in conn.execute("SELECT id FROM domains WHERE framework_id = ?", [fw])}
    assert len(data["cells"]) == len(approaches) * len(domains)
    for c in data["cells"]:
        assert {"approach", "domain", "stories_confirmed", "stories_suggested", "findings", "certainty"} <= set(c)
        got = [c["stories_confirmed"], c["stories_suggested"], c["findings"]]
        assert got == want.get((c["approach"], c["domain"]), [0, 0, 0]), c
        if sum(got) == 0:
            assert c["state"] == "empty" and c["certainty"] is None
        else:
            assert c["certainty"] in LEVELS
    assert confirmed or any(sum(v) for v in want.values())


def test_gap_map_filters_area_and_certainty(built_session):
    conn = sqlite3.connect(built_session / "public.db")
    area = conn.execute("SELECT area_of_work FROM approaches WHERE id = 'shared-lives'").fetchone()[0]
    (js,) = get(built_session, f"/-/gaps.json?framework=ascot&area={area}")
    rows = js.json()["rows"]
    names = {r["approach"]["id"] for r in rows}
    want = {a for a, main, also in conn.execute("SELECT id, area_of_work, also_areas FROM approaches")
            if main == area or area in json.loads(also or "[]")}
    assert names == want and "shared-lives" in names
    (js,) = get(built_session, "/-/gaps.json?framework=ascot&certainty=moderate")
    for c in js.json()["cells"]:
        assert c["shown"] == (c["certainty"] in ("moderate", "high"))
    (bad,) = get(built_session, "/-/gaps.json?certainty=excellent")
    assert bad.status_code == 404 and "certainty level" in bad.json()["error"]


def test_gap_map_page_has_legend_and_the_three_kinds_of_gap(built_session):
    (page,) = get(built_session, "/-/gaps?framework=ascot")
    t = page.text
    assert "no evidence" in t and "no numbers" in t and "no stories" in t
    for level in LEVELS:
        assert f"ev-c-{level.replace(' ', '-')}" in t
    for name in ("framework", "area", "design", "certainty", "confirmed"):
        assert f'name="{name}"' in t
    assert 'src="http' not in t and "cdn" not in t.lower()


def test_cell_exports_csv_and_ris_with_every_record(built_session):
    conn = sqlite3.connect(built_session / "public.db")
    a, d = conn.execute("SELECT f.approach, t.domain FROM tags t JOIN findings f ON f.id = t.finding_id "
                        "WHERE f.approach IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1").fetchone()
    page, csv_r, ris_r = get(built_session, f"/-/gaps/{a}/{d}", f"/-/gaps/{a}/{d}.csv", f"/-/gaps/{a}/{d}.ris")
    stories = {r[0] for r in conn.execute("SELECT t.story_id FROM tags t JOIN stories s ON s.id = t.story_id "
                                          "WHERE s.approach = ? AND t.domain = ?", [a, d])}
    findings = {r[0] for r in conn.execute("SELECT t.finding_id FROM tags t JOIN findings f ON f.id = t.finding_id "
                                           "WHERE f.approach = ? AND t.domain = ?", [a, d])}
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert {r["id"] for r in rows if r["type"] == "story"} == stories
    assert {r["id"] for r in rows if r["type"] == "finding"} == findings
    assert all(r["citation"] for r in rows if r["type"] == "finding")
    assert all(r["certainty"] in LEVELS for r in rows if r["type"] == "finding")
    assert ris_r.status_code == 200
    records = [b for b in ris_r.text.split("ER  - ") if b.strip()]
    assert len(records) == len(stories) + len(findings)
    assert all(r.strip().startswith("TY  - ") and "TI  - " in r for r in records)
    assert f'.csv"' in page.text and f'.ris"' in page.text and "ev-record-cite" in page.text


def test_james_and_andy_lists_no_other_approach_among_its_own(built_session):
    page, js = get(built_session, "/-/story/james-and-andy", "/-/story/james-and-andy.json")
    assert page.status_code == 200 and js.status_code == 200
    data = js.json()
    conn = sqlite3.connect(built_session / "public.db")
    approach = {r[0]: r[1] for r in conn.execute("SELECT id, approach FROM findings")}
    own = [l for l in data["links"] if l["group"] == "own approach"]
    assert all(approach[l["finding"]] == "shared-lives" for l in own)
    for l in data["links"]:
        assert {"kind", "score", "reason"} <= set(l) and l["reason"]
        if l["group"] != "own approach":
            assert l["kind"] in ("same-outcome", "curator") and approach[l["finding"]] != "shared-lives"
    # the page: the own-approach section holds no finding of another approach
    own_html = page.text.split('id="h-findings"', 1)[1].split('id="h-other"', 1)[0]
    for fid, appr in approach.items():
        if appr != "shared-lives":
            assert f"/findings/{fid}\"" not in own_html, fid
    assert "Other evidence on the same outcome" in page.text
    # tags with their sentences
    assert data["tags"] and all("sentence" in t and "status" in t for t in data["tags"])
    assert data["story"]["id"] == "james-and-andy" and "consent_wording" not in data["story"]


def test_evidence_card_has_strength_quotes_and_graded_findings(built):
    # confirm one tag of a Community Catalysts story, so it may be quoted
    conn = sqlite3.connect(built / "public.db")
    sid, dom, sentence = conn.execute("SELECT t.story_id, t.domain, t.sentence FROM tags t JOIN stories s ON s.id = t.story_id "
                                      "WHERE s.approach = 'community-catalysts' AND t.sentence != '' LIMIT 1").fetchone()
    conn.close()
    p = built / "stories" / f"{sid}.md"
    head, rest = p.read_text(encoding="utf-8").split("\n---\n", 1)
    p.write_text(head + f"\ntags:\n  - domain: {dom}\n    status: confirmed\n---\n" + rest, encoding="utf-8")
    build(built)
    page, js = get(built, "/-/approach/community-catalysts", "/-/approach/community-catalysts.json")
    data = js.json()
    assert data["findings"] and all(f["certainty"] in LEVELS and f["certainty_reasons"] for f in data["findings"])
    assert all("sample_size" in f and "unit" in f and "design" in f and "study" in f for f in data["findings"])
    assert data["domains"] and all(d["strength"] for d in data["domains"])
    quoted = [q for q in data["quotes"] if q["story_id"] == sid]
    assert quoted and quoted[0]["domain"] == dom
    conn = sqlite3.connect(built / "public.db")
    assert {q["sentence"] for q in data["quotes"]} <= {r[0] for r in conn.execute(
        "SELECT sentence FROM tags WHERE status = 'confirmed'")}
    assert "What people say" in page.text and "Strength of evidence by outcome" in page.text
    assert "Certainty" in page.text
