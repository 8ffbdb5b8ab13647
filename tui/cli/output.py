"""What the command line writes: results on stdout, one-sentence problems on stderr.

Everything goes through ``printable`` on its way out, so no server answer,
prompt or imported text can drive the user's terminal; problems also go through
``scrub``, so an error that quotes a request's headers never shows the key.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from storage.redact import scrub
from tui.cli import render
from tui.safe_text import printable

# Annotations only: a command that succeeds never loads the client's errors, and ``list``
# never loads the store's Protocol.
TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from storage import Generation, TaskStore
    from tui.dashscope import DashScopeError

class Problem(Exception):
    """A user-facing failure: printed as one sentence, exit status 1."""


def say(text: str) -> None:
    """A result line (or lines) on standard output."""
    print(printable(text, multiline=True), flush=True)


def err(message: str) -> None:
    """One sentence on standard error."""
    print(f"pixverse-tui: {printable(scrub(message))}", file=sys.stderr, flush=True)


def describe(exc: DashScopeError) -> str:
    """The error, and for a known code what it means and what to do."""
    text = str(exc)
    if exc.code:
        from tui.dashscope.explain import explain

        meaning, action = explain(exc.code)
        text += f" — {meaning} {action}"
    return text


def print_json(value: object) -> None:
    """A ``--json`` result on standard output (the data; everything else is on stderr)."""
    print(render.dumps(value), flush=True)


def print_rows(rows: Sequence[Generation], as_json: bool) -> None:
    if as_json:
        print(render.dumps([render.as_json(r) for r in rows]), flush=True)
    else:
        print(render.table(list(rows)), flush=True)


async def find_one(store: TaskStore, ref: str) -> Generation:
    """The one row a user's reference (task id, prefix, #ID) means — or a Problem."""
    rows = await store.generations.find(ref)
    if not rows:
        raise Problem(f"no task matches {ref!r} in {store.location}; see `pixverse-tui list`")
    if len(rows) > 1:
        raise Problem(f"{ref!r} matches several tasks ({', '.join(r.task_id or '?' for r in rows)}"
                      "); give more of the task id")
    return rows[0]
