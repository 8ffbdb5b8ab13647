"""The command line's commands by name, where each one's code is, and the forms of a
command read without building a parser.

``pixverse-tui list`` and ``pixverse-tui list --json`` — what a script or a
status line runs over and over — are read here: argparse, with ``gettext`` and ``locale``
and the making of ``list``'s parser, cost a tenth of such a run (issue 15).
Anything else goes to the parser (``tui.cli.parser``), which takes its
defaults for ``list`` from here, so both read those two forms alike (a test
compares them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    # What a command is given: the parser's namespace, or the same attributes read here.
    Arguments = argparse.Namespace | SimpleNamespace

COMMANDS = frozenset({
    "submit", "list", "show", "wait", "download", "cancel", "track", "resolve", "export",
    "import", "sync", "stats", "forget", "watch", "locate", "config", "completion", "simulate",
    "serve", "store", "queue"})

LIST_LIMIT = 50  # generations ``list`` shows by default
# ``list``'s code: the synchronous page read first, the store's way when that cannot serve.
LIST_RUN = {"run": "tui.cli.history:cmd_list", "run_first": "tui.cli.history:list_quickly"}


def command_named(argv: Sequence[str]) -> str | None:
    """The command these arguments run ("" for the dashboard), or None when the whole
    parser is needed: help, the version, a word that is no command (to say so)."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return ""


def command(name: str | Callable[..., Any]) -> Callable[..., Any]:
    """A command's function, from its ``"module:function"`` (imported now, when it runs)."""
    if callable(name):
        return name
    module, _, function = name.partition(":")
    __import__(module)  # (not ``importlib``, which loads ``warnings`` for nothing)
    found: Callable[..., Any] = getattr(sys.modules[module], function)
    return found


def quick_arguments(argv: Sequence[str]) -> SimpleNamespace | None:
    """What the parser makes of ``list`` or ``list --json`` — every attribute, with the
    same values — or None for any other arguments (the parser reads those)."""
    if list(argv) not in (["list"], ["list", "--json"]):
        return None
    return SimpleNamespace(demo=False, read_only=False, dashboard_time_scale=1.0,
                           version=None, command="list", status=None, search=None, limit=LIST_LIMIT,
                           json=len(argv) == 2, **LIST_RUN)
