"""Curator review: decisions written into the content files, kept on every
build, a rejected tag never back, confirmed tags teaching the classifier."""
import json
import sqlite3
from pathlib import Path

from evidence.build import build
from evidence.curate.tag_review import set_decision
from support.content import one_tag_per_framework


def tags_of(base: Path, item: str) -> dict[str, tuple]:
    conn = sqlite3.connect(base / "evidence.db")
    try:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT domain, status, via_crosswalk, methods, sentence FROM tags WHERE item_id = ?", [item])}
    finally:
        conn.close()


def only_tags_lines_changed(old: str, new: str) -> bool:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    j = 0
    while j < len(a) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    changed = b[i:len(b) - j]
    return all(line.lstrip().startswith(("tags:", "- {domain:")) for line in changed) and a[i:len(a) - j] == []


def test_tags_command_lists_tags_with_sentences(built: Path, cli):
    result = cli(["tags", "debs-creative-minds", "--root", built, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["item_type"] == "story" and data["tags"]
    assert all(t["sentence"] and t["status"] == "suggested" for t in data["tags"])
    text = cli(["tags", "creative-minds-debs-cost", "--root", built]).stdout
    assert text.startswith("finding creative-minds-debs-cost:")
    bad = cli(["tags", "no-such-item", "--root", built])
    assert bad.exit_code == 1 and "no story or finding has the id 'no-such-item'" in bad.output


def test_reject_survives_rebuilds_and_never_comes_back(built: Path, cli):
    story = built / "stories" / "debs-creative-minds.md"
    old = story.read_text(encoding="utf-8")
    suggested = tags_of(built, "debs-creative-minds")
    target = next(d for d, v in suggested.items() if v[1] == 0)  # a direct suggestion
    result = cli(["review", "debs-creative-minds", target, "--reject", "--root", built])
    assert result.exit_code == 0, result.output
    new = story.read_text(encoding="utf-8")
    assert only_tags_lines_changed(old, new)
    assert f"- {{domain: {target}, status: rejected" in new
    for _ in range(2):
        after = tags_of(built, "debs-creative-minds")
        assert after[target][0] == "rejected"
        assert not any(v[0] != "rejected" and d == target for d, v in after.items())
        build(built, options=None)
    from evidence.enrich.tagging import forget_tagging

    forget_tagging(built)  # even when everything is tagged afresh
    build(built)
    assert tags_of(built, "debs-creative-minds")[target][0] == "rejected"
    conn = sqlite3.connect(built / "public.db")
    assert conn.execute("SELECT count(*) FROM tags WHERE item_id = 'debs-creative-minds' AND domain = ?", [target]).fetchone() == (0,)
    conn.close()


def test_rejected_domain_is_not_reached_through_the_crosswalk(built: Path, cli):
    one_tag_per_framework(built)
    build(built)
    conn = sqlite3.connect(built / "evidence.db")
    row = conn.execute("SELECT item_id, domain FROM tags WHERE item_type = 'story' AND via_crosswalk = 1 "
                       "ORDER BY item_id, domain").fetchone()
    conn.close()
    assert row, "the seed build has a crosswalk tag on some story"
    story, domain = row
    assert cli(["review", story, domain, "--reject", "--root", built]).exit_code == 0
    assert tags_of(built, story)[domain][:2] == ("rejected", 0)


def test_confirm_a_new_domain_with_a_sentence_and_on_a_finding(built: Path, cli):
    sentence = "Her daughters, who had been her carers, have both won places at university."
    r = cli(["review", "debs-creative-minds", "ascot/food-and-drink", "--confirm", "--sentence", sentence, "--root", built])
    assert r.exit_code == 0, r.output
    tag = tags_of(built, "debs-creative-minds")["ascot/food-and-drink"]
    assert tag[0] == "confirmed" and tag[2].startswith("curator") and tag[3] == sentence
    findings = built / "findings" / "creative-minds-debs.yml"
    old = findings.read_text(encoding="utf-8")
    r = cli(["review", "creative-minds-debs-cost", "ascot/dignity", "--confirm", "--root", built])
    assert r.exit_code == 0, r.output
    assert only_tags_lines_changed(old, findings.read_text(encoding="utf-8"))
    assert tags_of(built, "creative-minds-debs-cost")["ascot/dignity"][0] == "confirmed"
    build(built)  # and it stays
    assert tags_of(built, "creative-minds-debs-cost")["ascot/dignity"][0] == "confirmed"


def test_review_refuses_bad_input_and_writes_nothing(built: Path, cli):
    story = built / "stories" / "james-and-andy.md"
    old = story.read_bytes()
    for args, message in [
        (["james-and-andy", "ascot/ocupation", "--confirm"], "did you mean 'ascot/occupation'"),
        (["james-and-andy", "occupation", "--confirm"], "did you mean 'ascot/occupation'"),
        (["james-and-andy", "ascot/occupation"], "--confirm or --reject"),
        (["james-and-andy", "ascot/occupation", "--confirm", "--reject"], "--confirm or --reject"),
        (["nobody", "ascot/occupation", "--confirm"], "no story or finding"),
    ]:
        r = cli(["review", *args, "--root", built])
        assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output, r.output
    assert story.read_bytes() == old


def test_confirmed_sentences_train_the_classifier(built: Path, cli, monkeypatch):
    from evidence.enrich import tagger as tagger_mod

    s1 = "Today Debs is an accomplished speaker, a professional artist and a change maker."
    for item, sentence in [("debs-creative-minds", s1),
                           ("pearl-florist-somerset", "Pearl runs a florist's shop in one of the larger villages."),
                           ("nick-shared-lives-ambassador", "He opened the Shared Lives Plus annual conference as co-chair, alongside Margaret Willcox, the incoming President of ADASS.")]:
        r = cli(["review", item, "ascot/occupation", "--confirm", "--sentence", sentence, "--root", built, "--no-build"])
        assert r.exit_code == 0, r.output
    fitted = []
    original = tagger_mod.Tagger.fit
    monkeypatch.setattr(tagger_mod.Tagger, "fit", lambda self, texts, pos, neg=None, **k: fitted.append((list(texts), pos)) or original(self, texts, pos, neg, **k))
    build(built)
    # three re-tagged stories, three new examples: the last classifier is close
    # enough and is kept (no fit); the decisions themselves apply at once
    assert fitted == []
    assert tags_of(built, "debs-creative-minds")["ascot/occupation"][0] == "confirmed"
    # a build that tags every item fits again, on the confirmed sentences too
    from evidence.enrich.tagging import forget_tagging

    forget_tagging(built)
    build(built)
    texts, pos = fitted[-1]
    assert s1 in texts and pos[texts.index(s1)] == ["ascot/occupation"]
    assert tags_of(built, "debs-creative-minds")["ascot/occupation"][0] == "confirmed"
    # and the classifier fitted then is read back by the next build that needs one, not fitted again
    forget_tagging(built)
    build(built)
    assert len(fitted) == 1


def test_set_decision_keeps_crlf_and_other_bytes():
    text = "---\r\nid: x\r\ntitle: T\r\n# a comment\r\nstatus: published\r\n---\r\nBody.\r\n"
    new = set_decision(text, "story", "x", {"domain": "ascot/dignity", "status": "confirmed"}, "stories/x.md")
    assert new == ("---\r\nid: x\r\ntitle: T\r\n# a comment\r\nstatus: published\r\ntags:\r\n"
                   "  - {domain: ascot/dignity, status: confirmed}\r\n---\r\nBody.\r\n")
    again = set_decision(new, "story", "x", {"domain": "ascot/dignity", "status": "rejected"}, "stories/x.md")
    assert again.count("ascot/dignity") == 1 and "status: rejected" in again


def test_review_add_and_extract_read_a_story_saved_with_a_byte_order_mark(built: Path, cli, tmp_path):
    """A story saved by a Windows editor starts with a BOM: the build reads
    it, but review refused it ('a story starts with ---') and add and extract
    (which read every story to find duplicates) failed on it."""
    path = built / "stories" / "james-and-andy.md"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert cli(["build", "--root", built]).exit_code == 0
    r = cli(["review", "james-and-andy", "ascot/occupation", "--confirm", "--root", built])
    assert r.exit_code == 0, r.output
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf---") and b"{domain: ascot/occupation, status: confirmed" in data
    r = cli(["add", "--root", built, "--title", "Bernard and the allotment", "--approach", "homeshare",
             "--source-title", "S", "--source-organisation", "O", "--consent", "given-by-person",
             "--consent-scope", "public", "--consent-wording", "w", "--no-input"],
            input="Bernard, 81, grows beans on the allotment his Homeshare companion helps him keep.\n")
    assert r.exit_code == 0, r.output
    doc = tmp_path / "post.txt"
    doc.write_text("Edna, 88, was matched with a Homeshare companion. Edna now walks to the shops every week.\n",
                   encoding="utf-8")
    r = cli(["extract", doc, "-o", tmp_path / "review.yml", "--root", built])
    assert r.exit_code == 0, r.output
