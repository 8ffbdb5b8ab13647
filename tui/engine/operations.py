"""What a user does to a generation, written once for the command line and the dashboard.

Each operation checks what can be checked here first (and says why not in one
sentence, ``Refused``), then talks to the service and records the answer in the
store.  Submitting and resolving (``tui.engine.submitting``), following
(``tui.engine.following``), downloading (``tui.engine.media``) and forgetting
(``tui.engine.history.trash``) have packages of their own; this one holds the
small operations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import Generation, TaskStore
from tui.dashscope import GenerationRequest
from tui.dashscope.validation import check_request
from tui.engine.following.observe import observation

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient


class Refused(Exception):
    """The operation cannot be done to this generation; ``str()`` is one sentence."""


def read_only_reason(store: TaskStore) -> str:
    """Why nothing can be written to a store that may only be read (``store.read_only``),
    as refusals and notices say it."""
    return ("the database role may only read" if store.shared
            else "this user may not write the history file")


def unrecorded(store: TaskStore) -> str:
    """What a video saved from a store that may only be read lacks, in a few words."""
    where = "the team database" if store.shared else "the history"
    return f"not recorded in {where} ({read_only_reason(store)})"


def cancelable(row: Generation) -> str:
    """The task id to cancel — or ``Refused``: only a PENDING task can be canceled."""
    if not row.task_id:
        raise Refused(f"#{row.id} has no task id ({row.display_status}); nothing to cancel")
    if row.status not in (None, "PENDING"):
        raise Refused(f"only a PENDING task can be canceled; {row.task_id} is "
                      f"{row.display_status}")
    return row.task_id


async def cancel(store: TaskStore, client: DashScopeClient, row: Generation) -> Generation:
    """Cancel a PENDING task, and record what the service says it is now."""
    task_id = cancelable(row)
    await client.cancel(task_id)
    updated, _ = await store.following.apply(row.id, observation(await client.query(task_id)), 3.0)
    return updated


def rerun_request(row: Generation) -> tuple[GenerationRequest, list[str]]:
    """The request that makes a past generation again — same prompt, settings, seed —
    and the warnings it carries."""
    request = GenerationRequest(prompt=row.prompt, size=row.size, duration=row.duration,
                                audio=row.audio, watermark=row.watermark, seed=row.seed,
                                model=row.model)
    verdict = check_request(request)
    if not verdict.ok:
        raise Refused(" ".join(verdict.problems))
    return request, verdict.warnings


async def abandon(store: TaskStore, row: Generation) -> Generation:
    """The user decides an unconfirmed submission created nothing."""
    if row.submission != "unconfirmed":
        raise Refused(f"#{row.id} is not unconfirmed (it is {row.display_status}); "
                      "nothing to abandon")
    return await store.intents.mark_abandoned(row.id, "the user decided no task was created")
