"""SQL that both backends speak alike: the one definition of a followed task, the word
a row shows before the service gave it a status, and LIKE patterns for typed text."""

from __future__ import annotations

from storage.statuses import TERMINAL

# A followed task: has a task id, is not finished, not given up on (a poll time),
# not in the trash.  The one definition every query uses.
FOLLOWED = ("task_id IS NOT NULL AND forgotten_at IS NULL AND next_poll_at IS NOT NULL"
            " AND (status IS NULL OR status NOT IN ("
            + ", ".join(f"'{status}'" for status in sorted(TERMINAL)) + "))")

# What a row shows before the service gave it a status (``Generation.display_status``).
SHOWN_STATUS = ("CASE submission WHEN 'sending' THEN 'SUBMITTING' ELSE UPPER(submission)"
                " END")


def like_escaped(text: str) -> str:
    """``text`` with LIKE's wildcards (and the escape character) escaped by ``\\``, so
    ``%`` and ``_`` are letters like any other."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def containing(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere (escaped with ``\\``)."""
    return f"%{like_escaped(text)}%"
