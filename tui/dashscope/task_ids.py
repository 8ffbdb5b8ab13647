"""Which task ids the client can put in a URL path, wherever an id comes from.

A task id enters from a create answer, a list page, the command line
(``track``, ``resolve --task``), an imported history or a sync.  The service's
ids are UUIDs, but the protocol does not promise that, so the rule is what is
safe rather than what is usual: a short run of printable ASCII without
anything that could change the request's path or query.
"""

from __future__ import annotations

MAX_LENGTH = 128
_FORBIDDEN = set("/\\?#%&;")


def task_id_problem(value: object) -> str | None:
    """Why ``value`` is not a usable task id, as part of a sentence; None when it is."""
    if not isinstance(value, str):
        return f"a task id must be text, not {type(value).__name__}"
    if not value:
        return "the task id is empty"
    if len(value) > MAX_LENGTH:
        return f"the task id is {len(value)} characters long (at most {MAX_LENGTH})"
    if value in {".", ".."}:
        return "'.' and '..' are not task ids"
    # printable ASCII without the space is 0x21-0x7E: a good id is passed at C speed
    if value.isascii() and value.isprintable() and " " not in value \
            and _FORBIDDEN.isdisjoint(value):
        return None
    for ch in value:
        if not (0x21 <= ord(ch) <= 0x7E):
            return "the task id holds a space, a control character or non-ASCII text"
        if ch in _FORBIDDEN:
            return f"the task id holds {ch!r}, which would change the request's URL"
    return None


def is_task_id(value: object) -> bool:
    return task_id_problem(value) is None
