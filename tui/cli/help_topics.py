"""``pixverse-tui help [TOPIC]``: the pages of ``docs/`` in the terminal, so the long
stories are there wherever the program is installed.

The pages ship inside the package (``docs/*.md`` install as the ``tui.docs`` package
data, see pyproject.toml), so a non-editable install, a pipx or uv tool install
included, prints the same text as a clone.  ``help COMMAND`` is ``COMMAND --help``.
A page longer than the terminal goes through ``$PAGER`` (``less`` by default), as
git's and gh's help do.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from tui.cli.output import err, say
from tui.safe_text import printable

PACKAGE = "tui.docs"
UNKNOWN_STATUS = 2  # a usage mistake, as argparse's


def _folder() -> Traversable | None:
    """``docs/`` in a source tree (a clone, installed editable or not); else the pages
    installed as the package's data; None if neither is there."""
    top = Path(__file__).resolve().parents[2]
    if (top / "pyproject.toml").is_file() and (top / "docs").is_dir():
        return top / "docs"  # an editable install does not map tui.docs: read the tree
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        return None


def pages() -> dict[str, Traversable]:
    """Each topic's page, by name (``configuration`` for ``configuration.md``)."""
    folder = _folder()
    if folder is None:
        return {}
    found = {entry.name.removesuffix(".md"): entry for entry in folder.iterdir()
             if entry.name.endswith(".md") and entry.is_file()}
    return dict(sorted(found.items()))


def title(page: Traversable) -> str:
    """The page's first heading, as its one-line description."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def run(args: argparse.Namespace, commands: dict[str, argparse.ArgumentParser]) -> int:
    topics = pages()
    if not topics:
        err("the help pages are not installed with this copy of pixverse-tui; they are the "
            "docs/ folder of its source")
        return 1
    if args.topic is None:
        say(_listing(topics, commands))
        return 0
    name = args.topic.lower().removesuffix(".md")
    if name in topics:
        page = topics[name]
        if args.path:
            say(str(page))
        else:
            _show(page.read_text(encoding="utf-8"))
        return 0
    if args.topic in commands:
        if args.path:
            err(f"{args.topic} is a command, not a page: `pixverse-tui {args.topic} --help`")
            return UNKNOWN_STATUS
        _show(commands[args.topic].format_help())
        return 0
    err(f"there is no help topic {args.topic!r}; the topics are {', '.join(topics)} "
        "(and every command's name)")
    return UNKNOWN_STATUS


def _listing(topics: dict[str, Traversable], commands: dict[str, argparse.ArgumentParser]) -> str:
    width = max(len(name) for name in topics)
    lines = ["Topics — pixverse-tui help TOPIC prints one (the same pages as docs/):", ""]
    lines += [f"  {name:<{width}}  {title(page)}" for name, page in topics.items()]
    lines += ["", "Commands — pixverse-tui help COMMAND (or COMMAND --help):", ""]
    lines += textwrap.wrap(" ".join(sorted(commands)), 76, initial_indent="  ",
                           subsequent_indent="  ")
    return "\n".join(lines)


def _show(text: str) -> None:
    """The text on standard output — through a pager when it is longer than the terminal."""
    text = printable(text, multiline=True)
    if sys.stdout.isatty() and text.count("\n") + 1 > shutil.get_terminal_size().lines:
        pager = os.environ.get("PAGER") or "less"
        try:
            command = shlex.split(pager)
        except ValueError:
            command = []
        if command and shutil.which(command[0]):
            env = dict(os.environ)
            env.setdefault("LESS", "FRX")  # quit if it fits, keep colours, leave it on screen
            try:
                subprocess.run(command, input=text, text=True, env=env, check=False)
                return
            except OSError:
                pass
    print(text, end="" if text.endswith("\n") else "\n", flush=True)
