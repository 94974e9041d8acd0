"""Interactive `evidence add` in a real terminal (pexpect): each answer
checked as it is typed (a wrong approach is asked again with a did-you-mean;
a consent basis of 'yes' is refused with the choices), every required field
prompted for including the consent wording, people as name and role,
recorded_by defaulting to git's user.name and shown, and a Ctrl-C after the
narrative saving a draft that `evidence add --resume` completes."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

# each test drives `evidence add` in a real terminal: fresh interpreters that
# load spaCy, several seconds apiece; `make test` runs them, test-fast does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NARRATIVE = ["Bronwen, 84, moved in with a young nurse, Kofi, through a Homeshare scheme in Cardiff.",
             "He cooks with her twice a week and she no longer dreads the long evenings."]


def spawn(base: Path, *args: str, home: Path) -> pexpect.spawn:
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVIDENCE_EMBEDDER="fake", HOME=str(home), COLUMNS="200",
               TERM="dumb")
    env.pop("GIT_CONFIG_GLOBAL", None)
    # a terminal's Ctrl-C interrupts: when pytest itself runs as a background job of a
    # non-interactive shell, SIGINT is inherited as ignored and Python then installs no
    # KeyboardInterrupt handler, so the child gets SIGINT's default back, as in a terminal
    child = pexpect.spawn(sys.executable, ["-m", "evidence", "add", "--root", str(base), *args], env=env,
                          encoding="utf-8", timeout=120, dimensions=(50, 200),
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return child


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    (h / ".gitconfig").write_text("[user]\n\tname = Gwen Curator\n", encoding="utf-8")
    return h


def answer(child: pexpect.spawn, prompt: str, text: str) -> None:
    child.expect(prompt)
    child.sendline(text)


def test_wrong_answers_are_asked_again_and_ctrl_c_keeps_a_draft_that_resume_finishes(built: Path, home: Path):
    child = spawn(built, home=home)
    answer(child, "Title", "Bronwen and Kofi")
    child.expect("Narrative")
    for line in NARRATIVE:
        child.sendline(line)
    child.sendline(".")
    answer(child, "Summary", "")
    answer(child, r"Approach \(", "home share")           # not an id: asked again, with the close one offered
    child.expect("unknown approach 'home share' \\(did you mean 'homeshare'\\?\\)")
    answer(child, r"Approach .*\[homeshare\]", "")          # Enter takes the suggestion
    child.expect("People in the story")
    answer(child, "Name", "Bronwen")
    answer(child, "Role of Bronwen", "")                   # a person without a role is not accepted
    child.expect("Bronwen needs a role")
    answer(child, "Role of Bronwen", "householder")
    answer(child, "Name", "Kofi")
    answer(child, "Role of Kofi", "homesharer")
    answer(child, "Name", "")
    answer(child, "Organisation", "Homeshare Cymru")
    answer(child, "Place", "Cardiff")
    answer(child, "Source title", "Interview notes")
    answer(child, "Source author", "")
    answer(child, "Source organisation", "Homeshare Cymru")
    answer(child, "Source URL", "")
    answer(child, "Source date", "2025-13-40")              # not a date
    child.expect("source date '2025-13-40' is not a date")
    answer(child, "Source date", "2025-06")
    answer(child, r"Consent basis \(", "yes")              # not a basis, and nothing close: the choices
    child.expect("unknown consent basis 'yes'; use one of: given-by-person")
    answer(child, r"Consent basis \(", "given by person")  # the same words: accepted
    answer(child, r"Consent scope \(", "publc")
    child.expect("did you mean 'public'")
    child.expect(r"Consent scope .*\[public\]")
    child.sendintr()                                       # Ctrl-C after the narrative was typed
    child.expect("your answers are saved in (.+?)\\. Continue with: evidence add --resume")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    drafts = sorted((built / ".evidence-drafts").glob("add-*.yml"))
    assert len(drafts) == 1
    saved = yaml.safe_load(drafts[0].read_text(encoding="utf-8"))
    assert saved["story"]["body"].startswith(NARRATIVE[0]) and saved["story"]["approach"] == "homeshare"
    assert saved["story"]["people"] == [{"name": "Bronwen", "role": "householder"}, {"name": "Kofi", "role": "homesharer"}]
    assert saved["story"]["consent"] == "given-by-person"
    assert not (built / "stories" / "bronwen-and-kofi.md").exists()

    child = spawn(built, "--resume", home=home)
    child.expect("resuming")
    answer(child, r"Consent scope \(", "public")           # continues where it stopped
    answer(child, r"Identity .*\[named\]", "")
    answer(child, r"Date consent was recorded .*\[\d{4}-\d\d-\d\d\]", "")
    answer(child, "Consent wording", "")                   # required: asked again
    child.expect("Consent wording or form version the person agreed to is needed")
    answer(child, "Consent wording", "Homeshare Cymru story consent form v3")
    child.expect(r"Consent recorded by \[Gwen Curator\]")  # git's user.name, shown
    child.sendline("")
    child.expect("added stories/bronwen-and-kofi.md")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    text = (built / "stories" / "bronwen-and-kofi.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["consent"]["recorded_by"] == "Gwen Curator"
    assert front["consent"]["wording"] == "Homeshare Cymru story consent form v3"
    assert front["source"]["date"] == "2025-06" and front["approach"] == "homeshare"
    assert NARRATIVE[1] in text
    assert not list((built / ".evidence-drafts").glob("add-*.yml")), "the draft is removed once added"


def test_a_refusal_at_the_end_asks_again_instead_of_losing_the_story(built: Path, home: Path):
    child = spawn(built, "--approach", "homeshare", "--consent", "given-by-person", "--consent-scope", "public",
                  "--identity", "named", "--consent-wording", "form v1", "--source-title", "Notes",
                  "--source-organisation", "Homeshare Cymru", "--person", "Pearl:florist", home=home)
    answer(child, "Title", "James and Andy")               # that id exists already
    child.expect("Narrative")
    child.sendline("A second, different narrative about a man called Idris who shares his home in Bangor.")
    child.sendline(".")
    for prompt in ("Summary", "Organisation", "Place", "Source author", "Source URL", "Source date"):
        answer(child, prompt, "")
    answer(child, "Date consent was recorded", "")
    answer(child, "Consent recorded by", "")
    child.expect("a story with id 'james-and-andy' already exists")
    answer(child, "Another id for this story", "idris-in-bangor")  # asked again; the narrative is kept
    child.expect("added stories/idris-in-bangor.md")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    text = (built / "stories" / "idris-in-bangor.md").read_text(encoding="utf-8")
    assert "Idris who shares his home in Bangor" in text
