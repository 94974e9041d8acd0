"""How strong is the evidence: the build step `evidence.enrich.certainty.assess`.

Two judgements, both from the rules in pipelines/certainty.yml and both
overridable by a curator with a reason in words:

- the certainty of each finding, GRADE-style: a starting level from its
  design (randomised trials high, quasi-experimental moderate,
  observational, survey and administrative figures low, case studies and
  qualitative work very low as quantitative evidence), down for risk of
  bias, inconsistency, indirectness, imprecision (sample size, and the
  interval when given) and publication bias, up for large effects. A
  curator's assessment in the study file (`certainty:`, per factor: concern
  and reason) takes the place of the computed factor; `certainty_assessed`
  says 'curator' or 'computed', and `certainty_reasons` says why in words.
- the confidence in what the stories say about an approach and an outcome
  domain, GRADE-CERQual-style: adequacy (how many stories, how many
  confirmed tags), coherence (do they point the same way), methodological
  limitations (whose account: the person's own words, an independent
  source, or the provider's own publication) and relevance (place and
  population). A curator's override sits in the approach file
  (`confidence:` with domain, level and reason). Only stories that may be
  published count, so the public figures never reveal a private story.

The step runs after the personal-data check (it needs to know which stories
may be published), costs a few aggregate queries, and rewrites only values
that changed.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from evidence.content.parsers import CERTAINTY_LEVELS
from evidence.errors import EvidenceError
from evidence.store.publish import PUBLISHABLE_STORY
from evidence.store.writes import upsert

STEP = "certainty"
RULES_FILE = ("pipelines", "certainty.yml")
FACTOR_WORDS = {"risk_of_bias": "risk of bias", "inconsistency": "inconsistency", "indirectness": "indirectness",
                "imprecision": "imprecision", "publication_bias": "publication bias", "large_effect": "a large effect"}
CONCERN_STEPS = {"none": 0, "serious": -1, "very-serious": -2, "large": 1, "very-large": 2}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}


# ---------------------------------------------------------------------------
# the rules


def load_rules(root: Path) -> dict | None:
    """pipelines/certainty.yml under root (None when there is none), with
    its levels checked. Invalid YAML or unknown keys: one-line errors."""
    from evidence.content.settings import read_settings

    path = Path(root).joinpath(*RULES_FILE)
    if not path.exists():
        return None
    rules = read_settings(path, ("levels", "findings", "stories"))
    levels = rules.get("levels")
    if list(levels or []) != list(CERTAINTY_LEVELS):
        raise EvidenceError(f"{path}: 'levels' must be [{', '.join(CERTAINTY_LEVELS)}], weakest first")
    for section in ("findings", "stories"):
        if not isinstance(rules.get(section), dict):
            raise EvidenceError(f"{path}: '{section}' must be a mapping of rules (see docs/certainty.md)")
    for i, d in enumerate(rules["findings"].get("designs") or []):
        if not isinstance(d, dict) or d.get("start") not in CERTAINTY_LEVELS or not d.get("words"):
            raise EvidenceError(f"{path}: findings.designs item {i + 1} needs 'group', 'start' (one of "
                                f"{', '.join(CERTAINTY_LEVELS)}) and 'words'")
    rules["_path"] = str(path)
    return rules


def design_start(design: str, rules: dict) -> tuple[str, str]:
    """(starting level, design group) of a design as written."""
    fr = rules["findings"]
    text = " ".join((design or "").lower().split())
    if text:
        for d in fr.get("designs") or []:
            if any(str(w).lower() in text for w in d["words"]):
                return d["start"], str(d.get("group") or d["start"])
    return fr.get("unknown_design", "very low"), fr.get("unknown_group", "design not stated")


def _num(x: float) -> str:
    return f"{x:,g}"


def _steps_words(n: int) -> str:
    return NUMBER_WORDS.get(abs(n), str(abs(n)))


# ---------------------------------------------------------------------------
# GRADE for one finding


def grade_finding(f: dict, rules: dict, *, provider: bool = False, opposite: list[str] | None = None) -> dict:
    """The certainty of one finding: {certainty, reasons (list of phrases),
    certainty_reasons (one line), assessed ('curator'|'computed'), start,
    design_group, factors}. `f` has the finding's fields (design,
    sample_size, value, unit, comparator, approach, interval_low,
    interval_high) and `assessment` (a curator's, or {}); `provider` says
    the study comes from the approach's own organisation; `opposite` lists
    findings on the same approach and outcome pointing the other way."""
    fr = rules["findings"]
    levels = list(CERTAINTY_LEVELS)
    start, group = design_start(f.get("design") or "", rules)
    computed: dict[str, tuple[int, str]] = {}
    if provider and fr.get("provider_publication", "serious") != "none":
        computed["risk_of_bias"] = (CONCERN_STEPS[fr.get("provider_publication", "serious")],
                                    "the study was published by the organisation behind the approach (its own account)")
    if opposite:
        computed["inconsistency"] = (-1, "other findings on the same approach and outcome point the other way ("
                                     + ", ".join(opposite[:3]) + ")")
    if not f.get("approach") and fr.get("no_approach", "serious") != "none":
        computed["indirectness"] = (CONCERN_STEPS[fr.get("no_approach", "serious")],
                                    "it is about social care in general, not a named approach")
    imp = fr.get("imprecision") or {}
    n = f.get("sample_size")
    notes, down = [], 0
    whole = any(str(w).lower() in (f.get("design") or "").lower() for w in imp.get("whole_population_words") or [])
    if n is None:
        if whole:
            pass  # a count of a whole population: no sampling error
        elif imp.get("missing_sample", "serious") != "none":
            down += -CONCERN_STEPS[imp.get("missing_sample", "serious")]
            notes.append("no sample size is given")
    elif n < float(imp.get("very_serious_below", 30)):
        down += 2
        notes.append(f"a sample of {_num(n)} is under {_num(imp.get('very_serious_below', 30))}")
    elif n < float(imp.get("serious_below", 200)):
        down += 1
        notes.append(f"a sample of {_num(n)} is under {_num(imp.get('serious_below', 200))}")
    lo, hi, value = f.get("interval_low"), f.get("interval_high"), f.get("value")
    ratio_units = [str(u).lower() for u in fr.get("ratio_units") or []]
    is_ratio = (f.get("unit") or "").strip().lower() in ratio_units
    if lo is not None and hi is not None:
        null = 1.0 if is_ratio else 0.0
        if (f.get("comparator") or is_ratio) and lo <= null <= hi:
            down += 1
            notes.append(f"the interval {_num(lo)} to {_num(hi)} includes no effect ({_num(null)})")
        elif value not in (None, 0) and (hi - lo) > float(imp.get("max_relative_width", 0.5)) * abs(value):
            down += 1
            notes.append(f"the interval {_num(lo)} to {_num(hi)} is wide for a value of {_num(value)}")
    if down:
        computed["imprecision"] = (-min(down, 2), " and ".join(notes))
    if (f.get("comparator") and is_ratio and value is not None and "risk_of_bias" not in computed):
        if value >= float(fr.get("very_large_effect", 5.0)):
            computed["large_effect"] = (2, f"a ratio of {_num(value)} against {f['comparator']} is very large")
        elif value >= float(fr.get("large_effect", 2.0)):
            computed["large_effect"] = (1, f"a ratio of {_num(value)} against {f['comparator']} is large")

    assessment = f.get("assessment") or {}
    curator = assessment.get("factors") or {}
    reasons = [f"starts {start}: {f.get('design') or 'no design given'} ({group})"]
    total = 0
    factors = {}
    for factor in FACTOR_WORDS:
        if factor in curator:
            step = CONCERN_STEPS[curator[factor]["concern"]]
            why = curator[factor].get("reason") or "no concern"
            source = "curator"
        elif factor in computed:
            step, why = computed[factor]
            source = "computed"
        else:
            factors[factor] = {"step": 0, "source": "computed"}
            continue
        factors[factor] = {"step": step, "reason": why, "source": source}
        total += step
        if step < 0:
            reasons.append(f"down {_steps_words(step)} for {FACTOR_WORDS[factor]} ({source}): {why}")
        elif step > 0:
            reasons.append(f"up {_steps_words(step)} for {FACTOR_WORDS[factor]} ({source}): {why}")
        else:
            reasons.append(f"no concern about {FACTOR_WORDS[factor]} ({source}): {why}")
    if "publication_bias" not in curator:
        reasons.append("publication bias not assessed (computed default: no concern)")
    level = levels[max(0, min(len(levels) - 1, levels.index(start) + total))]
    assessed = "curator" if curator else "computed"
    line = "; ".join(reasons)
    line += ". Assessed by a curator." if assessed == "curator" else ". Computed by the rules in pipelines/certainty.yml."
    return {"certainty": level, "reasons": reasons, "certainty_reasons": line, "assessed": assessed,
            "start": start, "design_group": group, "factors": factors}


# ---------------------------------------------------------------------------
# CERQual for one approach x outcome domain


def _norm_org(text: str, suffixes: list[str]) -> str:
    words = re.findall(r"[a-z0-9]+", (text or "").lower().replace("’", "'"))
    return " ".join(w for w in words if w not in suffixes)


def account_of(story: dict, approach_org: str, rules: dict) -> str:
    """Whose account a story is: 'own words' (the person told it, or wrote
    it), 'provider' (published by the organisation that runs the approach)
    or 'independent'."""
    suffixes = [str(s).lower() for s in (rules["stories"].get("methodological_limitations") or {}).get("legal_suffixes") or []]
    names = {_norm_org(n, []) for n in story.get("people_names") or [] if n}
    author = _norm_org(story.get("source_author") or "", [])
    if story.get("consent_basis") == "given-by-person" or (author and author in names):
        return "own words"
    providers = {_norm_org(o, suffixes) for o in (approach_org, story.get("organisation")) if o}
    providers.discard("")
    for src in (story.get("source_organisation"), story.get("source_publisher")):
        s = _norm_org(src or "", suffixes)
        if s and any(s == p or s in p or p in s for p in providers):
            return "provider"
    return "independent"


def _concern(share: float, cuts: list[tuple[str, float]]) -> str:
    """The worst concern whose cut the share reaches (cuts worst first)."""
    for level, cut in cuts:
        if cut is not None and share >= cut and share > 0:
            return level
    return "none"


def story_confidence(stories: list[dict], rules: dict, override: dict | None = None) -> dict:
    """Confidence in what these stories say about one approach and outcome
    domain. Each story: {confirmed, sentences, account, place, other_area,
    crosswalk_only}. Returns {confidence, reasons, confidence_reasons,
    assessed, components}."""
    sr = rules["stories"]
    steps = {k: float(v) for k, v in (sr.get("concern_steps") or {"none": 0, "minor": 0.5, "moderate": 1, "serious": 2}).items()}
    n = len(stories)
    confirmed = sum(1 for s in stories if s["confirmed"])
    comps: dict[str, tuple[str, str]] = {}
    # adequacy
    ad = sr.get("adequacy") or {}
    level = "serious"
    for name in ("none", "minor", "moderate"):
        need = ad.get(f"{name}_at_least") or {}
        if n >= int(need.get("stories", 1)) and confirmed >= int(need.get("confirmed", 0)):
            level = name
            break
    comps["adequacy"] = (level, f"{n} {'story' if n == 1 else 'stories'}, {confirmed} with a confirmed tag"
                         + ("" if confirmed else " (the tagger's suggestions only)"))
    # coherence
    co = sr.get("coherence") or {}
    cues = [str(c).lower() for c in co.get("against_cues") or []]
    against = sum(1 for s in stories if any(c in " ".join(s["sentences"]).lower() for c in cues))
    if n <= 1:
        comps["coherence"] = (co.get("single_story", "minor"), "one story alone cannot show that accounts agree")
    else:
        share = against / n
        lvl = _concern(share, [("serious", co.get("serious_share_against")), ("moderate", co.get("moderate_share_against")),
                               ("minor", co.get("minor_share_against", 0.0))])
        comps["coherence"] = (lvl, f"{n - against} of {n} point the same way" if against else f"all {n} point the same way")
    # methodological limitations
    ml = sr.get("methodological_limitations") or {}
    counts = {k: sum(1 for s in stories if s["account"] == k) for k in ("own words", "independent", "provider")}
    share = counts["provider"] / n if n else 0
    lvl = _concern(share, [("serious", ml.get("serious_share_provider", 1.0)), ("moderate", ml.get("moderate_share_provider", 0.5)),
                           ("minor", ml.get("minor_share_provider", 0.01))])
    parts = [f"{v} {k if k != 'provider' else 'from the provider’s own publication'}" for k, v in counts.items() if v]
    comps["methodological limitations"] = (lvl, "whose account: " + ", ".join(parts) if parts else "no stories")
    # relevance
    rel = sr.get("relevance") or {}
    outside = [str(p).lower() for p in rel.get("outside_places") or []]
    unplaced = sum(1 for s in stories if not (s.get("place") or "").strip())
    away = sum(1 for s in stories if any(o in (s.get("place") or "").lower() for o in outside))
    other_area = sum(1 for s in stories if s.get("other_area"))
    indirect = sum(1 for s in stories if s.get("crosswalk_only"))
    lvl, notes = "none", []
    order = ["none", "minor", "moderate", "serious"]

    def worse(a: str, b: str) -> str:
        return a if order.index(a) >= order.index(b) else b

    if n and away / n > float(rel.get("moderate_share_outside", 0.5)):
        lvl = worse(lvl, "moderate")
    elif away:
        lvl = worse(lvl, "minor")
    if away:
        notes.append(f"{away} of {n} told outside the UK")
    if n and unplaced / n > float(rel.get("minor_share_unplaced", 0.5)):
        lvl = worse(lvl, "minor")
        notes.append(f"{unplaced} of {n} with no place recorded")
    if n and other_area / n > float(rel.get("minor_share_other_area", 0.5)):
        lvl = worse(lvl, "minor")
        notes.append(f"{other_area} of {n} from another area of work than the approach's")
    if n and indirect / n > float(rel.get("moderate_share_indirect", 0.5)):
        lvl = worse(lvl, "moderate")
        notes.append(f"{indirect} of {n} reach this outcome only through the crosswalk")
    comps["relevance"] = (lvl, "; ".join(notes) if notes else "told in the UK context, about the approach's own people")

    total = sum(steps.get(level, 0) for level, _ in comps.values())
    levels = list(CERTAINTY_LEVELS)
    computed = levels[max(0, len(levels) - 1 - int(math.floor(total + 1e-9)))]
    reasons = [f"{name}: {'no or very minor' if lvl == 'none' else lvl} concerns ({why})" for name, (lvl, why) in comps.items()]
    if override:
        line = (f"set to {override['level']} by a curator: {override['reason']} "
                f"(computed: {computed}; " + "; ".join(reasons) + ")")
        return {"confidence": override["level"], "reasons": [f"curator: {override['reason']}"] + reasons,
                "confidence_reasons": line, "assessed": "curator", "computed": computed,
                "components": {k: {"concern": v[0], "reason": v[1]} for k, v in comps.items()}}
    return {"confidence": computed, "reasons": reasons,
            "confidence_reasons": "; ".join(reasons) + ". Computed by the rules in pipelines/certainty.yml.",
            "assessed": "computed", "computed": computed,
            "components": {k: {"concern": v[0], "reason": v[1]} for k, v in comps.items()}}


# ---------------------------------------------------------------------------
# the build step


def _finding_inputs(db) -> list[dict]:
    return [dict(zip(("id", "design", "sample_size", "value", "unit", "comparator", "direction", "approach",
                      "interval_low", "interval_high", "assessment", "study_org", "approach_org"), r))
            for r in db.execute("""
SELECT f.id, f.design, f.sample_size, f.value, f.unit, f.comparator, f.direction, f.approach, f.interval_low,
       f.interval_high, f.assessment, st.organisation, a.organisation
  FROM findings f LEFT JOIN studies st ON st.id = f.study_id LEFT JOIN approaches a ON a.id = f.approach
 ORDER BY f.id""").fetchall()]


def grade_all(db, rules: dict) -> dict[str, dict]:
    """finding id -> grade_finding(...) for every finding in the database."""
    fr = rules["findings"]
    suffixes = [str(s).lower() for s in (rules["stories"].get("methodological_limitations") or {}).get("legal_suffixes") or []]
    rows = _finding_inputs(db)
    opposite_words = {k: [str(w).lower() for w in v] for k, v in (fr.get("opposite_directions") or {}).items()}
    by_cell: dict[tuple[str, str], list[tuple[str, str]]] = {}
    direction = {r["id"]: (r["direction"] or "").strip().lower() for r in rows}
    approach = {r["id"]: r["approach"] for r in rows}
    for fid, dom in db.execute("SELECT finding_id, domain FROM tags WHERE item_type = 'finding' AND status != 'rejected'"):
        if approach.get(fid) and direction.get(fid):
            by_cell.setdefault((approach[fid], dom), []).append((fid, direction[fid]))
    out = {}
    for r in rows:
        opp = set()
        mine = direction[r["id"]]
        if mine and r["approach"]:
            against = opposite_words.get(mine, [])
            for (appr, _dom), items in by_cell.items():
                if appr != r["approach"] or (r["id"], mine) not in items:
                    continue
                opp.update(fid for fid, d in items if fid != r["id"] and d in against)
        so, ao = _norm_org(r["study_org"] or "", suffixes), _norm_org(r["approach_org"] or "", suffixes)
        provider = bool(so and ao and (so == ao or so in ao or ao in so))
        r["assessment"] = json.loads(r["assessment"] or "{}")
        out[r["id"]] = grade_finding(r, rules, provider=provider, opposite=sorted(opp))
    return out


def confidence_all(db, rules: dict) -> list[dict]:
    """Rows of the `confidence` table: one per approach and outcome domain
    with at least one publishable story tagged (not rejected) there."""
    from evidence.errors import ValidationError

    approaches = {r[0]: {"org": r[1] or "", "area": r[2] or "", "file": r[4],
                         "overrides": {o["domain"]: o for o in json.loads(r[3] or "[]")}}
                  for r in db.execute("SELECT id, organisation, area_of_work, confidence, file FROM approaches")}
    domains = {r[0]: r[1] for r in db.execute("SELECT id, framework_id FROM domains")}
    for aid, a in approaches.items():
        for dom in a["overrides"]:
            if dom not in domains:
                import difflib

                close = difflib.get_close_matches(dom, sorted(domains), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValidationError(a["file"] or f"approaches/{aid}.yml", None,
                                      f"confidence: unknown outcome domain '{dom}'{hint}; use <framework>/<domain> "
                                      "from pipelines/frameworks/")
    stories = {}
    for r in db.execute(f"""
SELECT s.id, s.approach, s.organisation, s.place, s.area_of_work, s.source_author, s.source_organisation,
       s.source_publisher, s.consent_basis, s.people FROM stories s WHERE {PUBLISHABLE_STORY} AND s.approach != ''"""):
        d = dict(zip(("id", "approach", "organisation", "place", "area_of_work", "source_author", "source_organisation",
                      "source_publisher", "consent_basis", "people"), r))
        d["people_names"] = [p.get("name") for p in json.loads(d["people"] or "[]")]
        a = approaches.get(d["approach"]) or {"org": "", "area": ""}
        d["account"] = account_of(d, a["org"], rules)
        d["other_area"] = bool(d["area_of_work"] and a["area"] and d["area_of_work"] != a["area"])
        stories[d["id"]] = d
    cells: dict[tuple[str, str], dict[str, dict]] = {}
    for sid, dom, status, sentence, via in db.execute(
            "SELECT story_id, domain, status, sentence, via_crosswalk FROM tags WHERE item_type = 'story' "
            "AND status != 'rejected' ORDER BY story_id, domain"):
        s = stories.get(sid)
        if s is None:
            continue
        entry = cells.setdefault((s["approach"], dom), {}).setdefault(sid, {
            "confirmed": False, "sentences": [], "account": s["account"], "place": s["place"],
            "other_area": s["other_area"], "crosswalk_only": True})
        entry["confirmed"] |= status == "confirmed"
        entry["crosswalk_only"] &= bool(via)
        if sentence:
            entry["sentences"].append(sentence)
    rows = []
    keys = set(cells) | {(aid, dom) for aid, a in approaches.items() for dom in a["overrides"]}
    for appr, dom in sorted(keys):
        members = list(cells.get((appr, dom), {}).values())
        override = (approaches.get(appr) or {}).get("overrides", {}).get(dom)
        c = story_confidence(members, rules, override)
        rows.append({"approach": appr, "domain": dom, "framework": domains.get(dom, dom.split("/")[0]),
                     "confidence": c["confidence"], "confidence_reasons": c["confidence_reasons"],
                     "assessed": c["assessed"], "stories": len(members),
                     "stories_confirmed": sum(1 for m in members if m["confirmed"]),
                     "components": json.dumps(c["components"], ensure_ascii=False)})
    return rows


def assess(db, summary, options) -> None:
    """Build step: bring findings' certainty and the confidence table up to
    date; counts what changed in summary.enriched['certainty']."""
    rules = load_rules(Path(getattr(options, "root", ".")))
    changed = 0
    have = {r[0]: r[1:] for r in db.execute(
        "SELECT id, certainty, certainty_reasons, certainty_assessed, certainty_start, design_group FROM findings")}
    grades = grade_all(db, rules) if rules else {}
    updates = []
    for fid, old in have.items():
        g = grades.get(fid)
        new = (g["certainty"], g["certainty_reasons"], g["assessed"], g["start"], g["design_group"]) if g else (None,) * 5
        if tuple(old) != new:
            updates.append(dict(zip(("certainty", "certainty_reasons", "certainty_assessed", "certainty_start",
                                     "design_group", "id"), (*new, fid))))
    upsert(db, "findings", updates, pk="id")
    changed += len(updates)
    want = {(r["approach"], r["domain"]): r for r in confidence_all(db, rules)} if rules else {}
    old_rows = {(r["approach"], r["domain"]): r for r in db.query("SELECT * FROM confidence")}
    gone = [k for k in old_rows if k not in want]
    for appr, dom in gone:
        db.execute("DELETE FROM confidence WHERE approach = ? AND domain = ?", [appr, dom])
    fresh = [r for k, r in want.items() if old_rows.get(k) != r]
    upsert(db, "confidence", fresh, pk=("approach", "domain"))
    changed += len(gone) + len(fresh)
    summary.enriched[STEP] = changed
