"""The one vocabulary of statuses, and the forward-only rule — plain constants, no
records: a command that only needs the words (``--status``'s choices) loads nothing
else.  How long the trash keeps a forgotten generation is here too (``TRASH_DAYS``,
part of ``storage.interface``'s contract): ``list`` checks it without loading the
interface's Protocols."""

from __future__ import annotations

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
LIVE = frozenset({"PENDING", "RUNNING", "SUSPENDED"})  # the service still works on it
# Every word a generation's status can show: the service's, or the submission's before it.
SHOWN_STATUSES = LIVE | TERMINAL | frozenset({"QUEUED", "SUBMITTING", "UNCONFIRMED",
                                              "REJECTED", "ABANDONED", "TRACKED", "ACCEPTED"})
# Higher rank = further along.  SUSPENDED sits beside RUNNING (keep polling).
STATUS_RANK = {"PENDING": 1, "RUNNING": 2, "SUSPENDED": 2,
               "SUCCEEDED": 3, "FAILED": 3, "CANCELED": 3, "UNKNOWN": 3}

# Submission states: how sure we are that the create request produced a task.
SUBMISSION_QUEUED = "queued"          # intent recorded, waiting in the local queue: nothing sent
SUBMISSION_SENDING = "sending"        # intent recorded, request on its way
SUBMISSION_ACCEPTED = "accepted"      # the server gave us a task id
SUBMISSION_REJECTED = "rejected"      # the server said no; nothing was created
SUBMISSION_UNCONFIRMED = "unconfirmed"  # outcome unknown: a task may exist
SUBMISSION_ABANDONED = "abandoned"    # the user decided no task was created
SUBMISSION_TRACKED = "tracked"        # created elsewhere, adopted by id

TRASH_DAYS = 30  # forgotten generations stay restorable this long


def can_advance(current: str | None, new: str) -> bool:
    """Status only moves forward; a terminal status never changes."""
    if current is None:
        return True
    if current in TERMINAL:
        return False
    new_rank = STATUS_RANK.get(new, 1)
    old_rank = STATUS_RANK.get(current, 1)
    return new_rank > old_rank or (new_rank == old_rank and new != current)
