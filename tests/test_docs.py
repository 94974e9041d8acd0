"""The docs keep up with the code: every `evidence` command is documented,
README.md stays short, and its links into docs/ work. Fast: no model."""
from __future__ import annotations

import re
from pathlib import Path

import typer.main

from evidence.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200


def command_names() -> list[str]:
    """Every command of the Typer app as typed after `evidence`, sub-typers
    included ('group sub'), read from the command group Typer builds."""
    names: list[str] = []

    def walk(command, prefix: str) -> None:
        # duck-typed: Typer may ship its own click, so no isinstance checks
        for name, sub in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            names.append(full)
            walk(sub, full)

    walk(typer.main.get_command(app), "")
    return names


def readme_command_table(text: str) -> set[str]:
    """Command names in the first cell of README's command table rows."""
    return set(re.findall(r"^\|\s*`evidence ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)*)[^`]*`\s*\|", text, re.M))


def documented(name: str, readme_table: set[str], docs_text: str) -> bool:
    if name in readme_table:
        return True
    return re.search(rf"`evidence {re.escape(name)}(?![a-z0-9-])", docs_text) is not None


def test_the_app_has_commands():
    names = command_names()
    assert {"build", "search"} <= set(names), names
    assert len(names) >= len(app.registered_commands), names


def test_every_command_is_documented():
    readme = README.read_text(encoding="utf-8")
    table = readme_command_table(readme)
    docs_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))
    missing = [n for n in command_names() if not documented(n, table, docs_text)]
    assert not missing, (
        f"commands with no docs: {missing}; add a row to README.md's command table "
        "or describe them as `evidence NAME` in a docs/*.md file")


def test_documented_check_can_fail():
    assert not documented("no-such-command", {"build"}, "`evidence build` and `evidence search-all`")
    assert not documented("search", set(), "`evidence search-all`")
    assert documented("search", set(), "run `evidence search \"x\"`")


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES}"


def test_readme_links_into_docs_exist():
    readme = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]*)(?:#[^)]*)?\)", readme)
    assert links, "README.md links to nothing in docs/"
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_docs_links_between_docs_exist():
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for link in re.findall(r"\]\(([^)#\s:]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / link).is_file():
                broken.append(f"{page.name} -> {link}")
    assert not broken, f"broken links in docs/: {broken}"
