"""`evidence review` at the speed of reading: --by and --note recorded,
a --sentence that must be in the text (else the closest one is shown),
several decisions in one call, undo, did-you-mean only when close, and
`evidence queue` in the order a curator should see it."""
import json
import sqlite3
from pathlib import Path

import yaml

from evidence.content.suggest import close_match


def tags_of(base: Path, item: str) -> dict[str, tuple]:
    conn = sqlite3.connect(base / "evidence.db")
    try:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT domain, status, score, sentence FROM tags WHERE item_id = ?", [item])}
    finally:
        conn.close()


def decisions_in(path: Path) -> dict[str, dict]:
    front = path.read_text(encoding="utf-8").split("---\n")[1]
    return {d["domain"]: d for d in yaml.safe_load(front).get("tags") or []}


def test_by_and_note_are_recorded_and_by_defaults_to_git_user_name(built: Path, cli, monkeypatch):
    story = built / "stories" / "debs-creative-minds.md"
    target = next(d for d, v in tags_of(built, "debs-creative-minds").items() if v[0] == "suggested")
    r = cli(["review", "debs-creative-minds", target, "--confirm", "--by", "Priya Shah", "--note", "clear in para 2",
             "--root", built])
    assert r.exit_code == 0, r.output
    d = decisions_in(story)[target]
    assert d["by"] == "Priya Shah" and d["note"] == "clear in para 2" and d["status"] == "confirmed"
    assert "by Priya Shah" in r.output
    # without --by: git's user.name
    home = built.parent / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Morag Ellis\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    other = next(d for d, v in tags_of(built, "debs-creative-minds").items() if v[0] == "suggested")
    assert cli(["review", "debs-creative-minds", other, "--reject", "--root", built]).exit_code == 0
    assert decisions_in(story)[other]["by"] == "Morag Ellis"


def test_a_sentence_not_in_the_text_is_refused_with_the_closest_sentence(built: Path, cli):
    story = built / "stories" / "debs-creative-minds.md"
    old = story.read_bytes()
    body = story.read_text(encoding="utf-8").split("---\n", 2)[2]
    real = next(s.strip() + "." for s in body.split(".") if len(s.split()) > 8)
    typo = real.replace(" ", "  ", 1)[:-1].replace("a", "e", 1)  # a copied sentence, mistyped
    r = cli(["review", "debs-creative-minds", "ascot/occupation", "--confirm", "--sentence", typo, "--root", built])
    assert r.exit_code == 1 and "is not in the text of 'debs-creative-minds'" in r.output
    assert "closest sentence is" in r.output and " ".join(real.split())[:40] in r.output
    assert story.read_bytes() == old
    # the exact sentence, with other spacing, is accepted
    r = cli(["review", "debs-creative-minds", "ascot/occupation", "--confirm", "--sentence", "  " + real.replace(" ", "\n", 1),
             "--root", built])
    assert r.exit_code == 0, r.output
    assert decisions_in(story)["ascot/occupation"]["sentence"] == " ".join(real.split())


def test_several_decisions_in_one_call_and_undo(built: Path, cli):
    story = built / "stories" / "pearl-florist-somerset.md"
    suggested = [d for d, v in tags_of(built, "pearl-florist-somerset").items() if v[0] == "suggested"]
    assert len(suggested) >= 2
    a, b = suggested[:2]
    r = cli(["review", "pearl-florist-somerset", "--yes", a, "--no", b, "--by", "T", "--root", built])
    assert r.exit_code == 0, r.output
    after = tags_of(built, "pearl-florist-somerset")
    assert after[a][0] == "confirmed" and after[b][0] == "rejected"
    assert set(decisions_in(story)) >= {a, b}
    # one bad decision among good ones: nothing is written
    old = story.read_bytes()
    r = cli(["review", "pearl-florist-somerset", "--yes", a, "--no", "ascot/no-such-domain", "--root", built])
    assert r.exit_code == 1 and story.read_bytes() == old
    # undo
    r = cli(["review", "pearl-florist-somerset", a, b, "--clear", "--root", built])
    assert r.exit_code == 0, r.output
    assert not set(decisions_in(story)) & {a, b}
    again = tags_of(built, "pearl-florist-somerset")
    assert again[a][0] == "suggested" and again[b][0] == "suggested"


def test_did_you_mean_only_when_close(built: Path, cli):
    keys = [r[0] for r in sqlite3.connect(built / "evidence.db").execute("SELECT id FROM domains")]
    assert close_match("accomodation", keys) == "ascot/accommodation-cleanliness-and-comfort"
    assert close_match("accommodation", keys) == "ascot/accommodation-cleanliness-and-comfort"
    assert close_match("ascot/ocupation", keys) == "ascot/occupation"
    assert close_match("wellbeing-of-the-moon", keys) is None
    assert close_match("xyz", keys) is None
    r = cli(["review", "james-and-andy", "accomodation", "--confirm", "--root", built])
    assert r.exit_code == 1 and "did you mean 'ascot/accommodation-cleanliness-and-comfort'" in r.output
    assert "occupation" not in r.output.split("did you mean")[1].split(";")[0]
    r = cli(["review", "james-and-andy", "ascot/zzzz", "--confirm", "--root", built])
    assert r.exit_code == 1 and "did you mean" not in r.output


def _cells(base: Path) -> set[tuple[str, str]]:
    """Gap-map cells (approach, domain) with a confirmed tag, computed
    independently of the queue code."""
    conn = sqlite3.connect(base / "evidence.db")
    try:
        return {tuple(r) for r in conn.execute(
            "SELECT s.approach, t.domain FROM tags t JOIN stories s ON s.id = t.item_id AND t.item_type = 'story' "
            "WHERE t.status = 'confirmed' UNION SELECT f.approach, t.domain FROM tags t JOIN findings f "
            "ON f.id = t.item_id AND t.item_type = 'finding' WHERE t.status = 'confirmed'")}
    finally:
        conn.close()


def test_queue_puts_new_cells_first_then_score(built: Path, cli):
    first = json.loads(cli(["queue", "--json", "--limit", "0", "--root", built]).stdout)
    assert first and all(r["domain"] and r["sentence"] is not None for r in first)
    top = first[0]
    # confirm the top suggestion: its cell becomes confirmed
    assert cli(["review", top["item_id"], top["domain"], "--confirm", "--root", built]).exit_code == 0
    rows = json.loads(cli(["queue", "--json", "--limit", "0", "--root", built]).stdout)
    confirmed = _cells(built)
    assert (top["approach"], top["domain"]) in confirmed
    flags = [(r["approach"], r["domain"]) in confirmed for r in rows]
    assert flags == [r["cell_confirmed"] for r in rows]
    assert flags == sorted(flags), "every suggestion that opens a new cell comes before the others"
    for group in (False, True):
        scores = [r["score"] for r, f in zip(rows, flags) if f == group]
        assert scores == sorted(scores, reverse=True)
    assert not any(r["item_id"] == top["item_id"] and r["domain"] == top["domain"] for r in rows)
    same_cell = [r for r in rows if (r["approach"], r["domain"]) == (top["approach"], top["domain"])]
    if same_cell:  # the rest of that cell went behind every new-cell suggestion
        assert rows.index(same_cell[0]) >= flags.count(False)
    text = cli(["queue", "--limit", "3", "--root", built])
    assert text.exit_code == 0 and text.stdout.startswith("1. ")


def test_the_curate_server_answers_a_malformed_post_with_400_and_keeps_serving(built: Path):
    """A body that is not JSON, JSON that is not an object, or a Content-Length
    that is not a number made the request handler raise: a traceback in the
    curator's terminal and the connection dropped without an answer."""
    import http.client
    import threading

    from evidence.curate.workbench import Workbench, make_server

    bench = Workbench(root=built, by="Tester")
    server = make_server(bench, "127.0.0.1", 0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    before = {p.name: p.read_bytes() for p in (built / "stories").glob("*.md")}

    def post(body: bytes, length: str, ctype: str = "application/json") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest("POST", "/decide")
            for key, value in (("Content-Type", ctype), ("Content-Length", length), ("X-CSRF-Token", bench.csrf)):
                conn.putheader(key, value)
            conn.endheaders()
            conn.send(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    try:
        for body, length in ((b"{not json", "9"), (b"[1, 2]", "6"), (b"\xff\xfe", "2"), (b"x", "abc"), (b"x", "-5")):
            status, text = post(body, length)
            assert status == 400, (body, length, status, text)
        status, _ = post(b"item=james-and-andy&domain=ascot/occupation&status=confirmed", "60",
                         "application/x-www-form-urlencoded")
        assert status == 303  # still serving, and a good decision goes through
    finally:
        server.shutdown()
        server.server_close()
    after = {p.name: p.read_bytes() for p in (built / "stories").glob("*.md")}
    assert {k for k in after if after[k] != before.get(k)} == {"james-and-andy.md"}
