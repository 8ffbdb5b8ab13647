"""The README is short and in a newcomer's order; the rest is in docs/, whose links all
lead somewhere; the README's test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
QUICK_START = """\
```sh
# 1. install and launch the demo (a built-in simulator, no key, no cost)
python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pixverse-tui --demo

# 2. install and run the whole test suite
python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest
```"""
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def test_the_readme_is_short_and_in_a_newcomers_order() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text) < 10_000
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections == ["Quick start", "The demo", "Using it for real", "From the command line",
                        "Team mode", "Learn more"]
    quick = text.split("## Quick start\n", 1)[1]
    first = quick[quick.index("```"):]
    assert first.startswith(QUICK_START)  # the two commands, exactly, before anything else
    assert "pipx install" in quick and "uv tool install" in quick
    assert text.index("docs/dashboard.svg") < text.index("## Quick start")


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # (the editable install as a path — ``editable_mode=compat`` — installs the same)
    assert re.search(r"pip\" install --quiet (--config-settings editable_mode=compat )?"
                     r"-e '\.\[test\]'\n", ci)
    assert re.search(r"/bin/python\" -m pytest( -q)?\n", ci)


def test_every_page_is_linked_from_the_readme() -> None:
    linked = {m.group(1) for m in LINK.finditer(README.read_text(encoding="utf-8"))}
    for page in PAGES:
        if page.name != "floors.md" and page.name != "store.md":  # linked from development
            assert f"docs/{page.name}" in linked, page.name


def test_every_link_leads_somewhere() -> None:
    for page in [README, *PAGES]:
        for match in LINK.finditer(page.read_text(encoding="utf-8")):
            target = match.group(1)
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            where = (page.parent / path).resolve() if path else page
            assert where.exists(), f"{page.name}: {target}"
            if anchor and where.suffix == ".md":
                assert anchor in anchors(where), f"{page.name}: {target}"
