"""Help like gh's: every command says what it is for in a paragraph, shows examples to
copy, and every option and argument says what it takes."""

from __future__ import annotations

import argparse
import subprocess

from tests.conftest import CLI
from tui.cli.main import COMMANDS, build_parser, command_named


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_has_a_description_and_examples() -> None:
    commands = subcommands()
    assert {"submit", "list", "show", "config", "simulate"} <= set(commands)
    for name, parser in commands.items():
        assert parser.description and len(parser.description.split()) >= 12, name
        epilog = parser.epilog or ""
        examples = [line for line in epilog.splitlines() if line.strip().startswith("$ ")]
        assert 2 <= len(examples) <= 3, (name, epilog)
        assert all(f"pixverse-tui {name}" in e or "pixverse-tui" in e for e in examples)
        assert f"pixverse-tui {name}" in epilog, name


def test_every_description_is_a_paragraph_of_78_columns() -> None:
    """The paragraphs are written wrapped, as printed (wrapping them when the parser is
    built would load textwrap into every command's start): an edit keeps them wrapped."""
    import textwrap

    from tui.cli.help_text import HELP

    for name, (description, _) in HELP.items():
        assert description == textwrap.fill(description, 78), (
            f"{name}: rewrap its description with textwrap.fill(text, 78)")


def test_every_option_and_argument_has_help() -> None:
    for name, parser in subcommands().items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # hidden on purpose (--time-scale for tests, --model)
            assert action.help and action.help.strip(), (name, action.option_strings
                                                          or action.dest)


def test_help_is_printed_as_written() -> None:
    done = subprocess.run([*CLI, "show", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "FILE.mp4" in done.stdout and "examples:\n  $ pixverse-tui show" in done.stdout
    for option in ("--seed", "--duration", "--variations"):
        assert option in subprocess.run([*CLI, "submit", "--help"], capture_output=True,
                                        text=True, timeout=60).stdout


def test_help_lists_the_pages_of_docs_and_prints_one() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    listed = subprocess.run([*CLI, "help"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and listed.stderr == ""
    for page in docs.glob("*.md"):
        heading = page.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert f"  {page.stem}" in listed.stdout and heading in listed.stdout, page.name
    shown = subprocess.run([*CLI, "help", "configuration"], capture_output=True, text=True,
                           timeout=60)  # not a terminal: no pager, the page as it is
    assert shown.returncode == 0
    assert shown.stdout == (docs / "configuration.md").read_text(encoding="utf-8")
    where = subprocess.run([*CLI, "help", "keys", "--path"], capture_output=True, text=True,
                           timeout=60)
    assert Path(where.stdout.strip()).read_text(encoding="utf-8") == (
        docs / "keys.md").read_text(encoding="utf-8")


def test_help_for_a_command_is_its_help_and_an_unknown_topic_is_one_sentence() -> None:
    command = subprocess.run([*CLI, "help", "forget"], capture_output=True, text=True,
                             timeout=60)
    direct = subprocess.run([*CLI, "forget", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert command.returncode == 0 and command.stdout == direct.stdout
    unknown = subprocess.run([*CLI, "help", "colours"], capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.count("\n") == 1 and "configuration" in unknown.stderr


def test_the_pages_are_installed_with_the_package() -> None:
    """A non-editable install (pipx, uv tool) has the pages too: docs/*.md are the
    ``tui.docs`` package's data (.ci/run prints one from an installed copy)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "tui.docs" in tool["packages"] and tool["package-dir"]["tui.docs"] == "docs"
    assert tool["package-data"]["tui.docs"] == ["*.md"]
    assert not list((root / "docs").glob("*.py")), "a module in docs/ would be installed"


def test_a_command_builds_its_own_parser_only_and_parses_alike() -> None:
    """``list`` builds ``list``'s options only (argparse is slow to build twenty); the
    names the shortcut knows are the parser's, and it parses as the whole parser does;
    ``list --help`` is the same page (the top-level help builds the whole parser)."""
    assert set(subcommands()) - {"help"} == COMMANDS  # help lists every page: the whole parser
    for argv in (["list", "--limit", "3", "--search", "fox"], ["show", "abc", "--json"],
                 ["--demo"], [], ["config", "path"], ["--read-only"]):
        only = command_named(argv)
        assert only is not None
        assert vars(build_parser(only).parse_args(argv)) == vars(build_parser().parse_args(argv))
    assert command_named(["lst"]) is None and command_named(["--help"]) is None
    [alone] = [a for a in build_parser("list")._actions
               if isinstance(a, argparse._SubParsersAction)]
    assert alone.choices["list"].format_help() == subcommands()["list"].format_help()
