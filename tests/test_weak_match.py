"""Search that says when it has no good answer: the weak-match flag
(evidence.search.query.weak_match, threshold measured by
tests/benchmarks/bench_weak_match.py) on off-topic questions, in the
library, /-/search(.json) and `evidence search`."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import copy_base
from evidence.search.query import WEAK_BELOW

WEAK = WEAK_BELOW["all-MiniLM-L6-v2"]

ROOT = Path(__file__).resolve().parent.parent
UNANSWERABLE = [c["query"] for c in yaml.safe_load((ROOT / "tests" / "unanswerable.yml").read_text())["cases"]]
# questions of the relevance set whose item is in the repository's own content (the
# rest expect stories of tests/corpus/stories/, which the seed-only base below lacks)
_SEED_IDS = {p.stem for p in (ROOT / "stories").glob("*.md")} | {
    f["id"] for p in (ROOT / "findings").glob("*.yml") for f in (yaml.safe_load(p.read_text()) or {}).get("findings") or []}
ANSWERABLE = [c["query"] for c in yaml.safe_load((ROOT / "tests" / "relevance.yml").read_text())["cases"]
              if c["expect"] in _SEED_IDS]


@pytest.fixture(scope="module")
def real_base(tmp_path_factory):
    from evidence.build import BuildOptions, build
    from evidence.models.embedder import get_embedder

    base = copy_base(tmp_path_factory.mktemp("weak") / "base")
    build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
    return base


def http(base: Path, *paths: str):
    from datasette.app import Datasette

    async def go():
        ds = Datasette(immutables=[str(base / "public.db")])
        return [await ds.client.get(p) for p in paths]

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


@pytest.mark.model
def test_off_topic_questions_are_flagged_weak_and_answerable_ones_are_not(real_base):
    from evidence.search.query import weak_match

    db = real_base / "public.db"
    off = [weak_match(db, q) for q in UNANSWERABLE]
    on = [weak_match(db, q) for q in ANSWERABLE]
    assert all(w is not None for w, _ in off + on) and len(on) >= 40
    # measured on seeds + corpus: 23 of 30 flagged, 0 of 121 answerable; the
    # seed-only base here holds fewer items, so no off-topic score is higher
    assert sum(w for w, _ in off) / len(off) >= 0.7
    assert sum(w for w, _ in on) / len(on) <= 0.1
    # filters narrow what counts as close: a question about a story is weak among findings only
    from evidence.search.query import Filters

    q = "adult with a learning disability whose life with his carer is about angling and dog racing"
    assert weak_match(db, q)[0] is False
    assert weak_match(db, q, filters=Filters(type="finding"))[1] < weak_match(db, q)[1]


@pytest.mark.model
def test_search_json_and_page_say_nothing_close_was_found(real_base, monkeypatch):
    monkeypatch.setenv("EVIDENCE_EMBEDDER", "")
    off = "how to train a puppy not to bite"
    on = "an older woman isolated after her bus route closed"
    js_off, js_on, page_off, page_on = http(real_base, f"/-/search.json?q={off}", f"/-/search.json?q={on}",
                                            f"/-/search?q={off}", f"/-/search?q={on}")
    d = js_off.json()
    assert d["ok"] and d["weak"] is True and d["results"] and d["best_score"] < WEAK + 1e-6
    assert js_on.json()["weak"] is False and js_on.json()["best_score"] >= WEAK
    assert "Nothing close was found" in page_off.text
    assert page_off.text.index("Nothing close was found") < page_off.text.index('<ol class="results')
    assert "Nothing close was found" not in page_on.text


@pytest.mark.model
def test_cli_search_warns_on_stderr(real_base, monkeypatch):
    from typer.testing import CliRunner

    from evidence.cli import app

    monkeypatch.setenv("EVIDENCE_EMBEDDER", "")
    result = CliRunner().invoke(app, ["search", "how to train a puppy not to bite", "--root", str(real_base)])
    assert result.exit_code == 0 and "nothing close was found" in result.stderr and result.stdout.strip()
    result = CliRunner().invoke(app, ["search", "a village florist who helps older neighbours",
                                                      "--root", str(real_base)])
    assert result.exit_code == 0 and "nothing close was found" not in result.stderr


def test_an_unmeasured_model_gives_no_flag(built_session):
    from evidence.search.query import weak_match

    weak, best = weak_match(built_session / "public.db", "how to train a puppy not to bite")
    assert weak is None and best is None  # the fake model has no measured threshold
    weak, best = weak_match(built_session / "public.db", "how to train a puppy not to bite", threshold=2.0)
    assert weak is True and -1.0 <= best <= 1.0
    (js,) = http(built_session, "/-/search.json?q=puppy")
    assert js.json()["weak"] is None
