"""Settle 'unconfirmed' submissions by asking the service what it has.

A create whose answer was lost may or may not have made a task.  The list
endpoint shows every task of the key in a time window, with its model, status
and creation time; a finished task's query adds its prompt and usage.  A task
can be the one an intent made only if no other row holds it, its model is the
intent's, it was created while that intent's request was on its way, and
nothing the service reports contradicts the intent (prompt, size, duration,
audio).  A task plausible for exactly one intent, and that intent's only
plausible task, is adopted; anything less certain is shown to the user as
ambiguous.  "Nothing was created" is said only when the whole window was
listed and no plausible task is in it — telling someone to submit again when a
task exists would bill them twice.

Every unconfirmed row is settled from the same few list pages (windows that
overlap are listed once), and only finished candidates are queried, once each.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from storage import DuplicateTask, Generation, TaskStore
from storage.clock import parse_iso, utc_now
from tui.dashscope import DashScopeError, ListedTask, TaskInfo
from tui.dashscope.sizes import PROMPT_LIMITS
from tui.dashscope.task_ids import task_id_problem
from tui.engine.following import listing

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient

SKEW = timedelta(seconds=90)  # our clock against the service's
LONGEST_SEND = timedelta(minutes=3)  # a create request cannot take longer than this
LISTABLE = timedelta(hours=24)  # the service lists (and answers about) the last 24 hours
# PixVerse's quirk: a 1808*1808 video of 8 s comes out as 1440*1440.
SIZE_QUIRKS = {("1808*1808", 8): "1440*1440"}

Progress = Callable[[str], None]


class Outcome(enum.Enum):
    FOUND = "found"  # adopted: this row made that task
    NONE = "none"  # the service has no task this row could have made
    AMBIGUOUS = "ambiguous"  # several tasks (or rows) fit: the user picks
    UNCHECKED = "unchecked"  # part of the window could not be listed: try again
    TOO_OLD = "too old"  # older than what the service lists


@dataclass(frozen=True)
class Verdict:
    row: Generation
    outcome: Outcome
    task: ListedTask | None = None
    candidates: list[ListedTask] = field(default_factory=list)
    evidence: str = ""
    problem: str = ""


@dataclass
class _Window:
    start: datetime
    end: datetime
    rows: list[Generation]
    tasks: list[ListedTask] = field(default_factory=list)
    unreadable: int = 0  # listed tasks we cannot judge (an unusable id, no creation time)
    problem: str = ""


def send_window(row: Generation, events_at: str | None) -> tuple[datetime, datetime]:
    """When the service could have received this row's create request."""
    sent = parse_iso(row.sending_since) or parse_iso(row.created_at) or utc_now()
    gave_up = parse_iso(events_at) or sent + LONGEST_SEND
    return sent - SKEW, max(gave_up, sent) + SKEW


def contradiction(row: Generation, info: TaskInfo) -> str | None:
    """What the service says about a task that this row cannot have made, if anything."""
    if info.orig_prompt is not None:
        limit = PROMPT_LIMITS.get(row.model, 2048)
        if info.orig_prompt.strip() != row.prompt[:limit].strip():
            return "its prompt differs"
    usage = info.usage
    if usage is not None:
        expected = {row.size, SIZE_QUIRKS.get((row.size, row.duration), row.size)}
        if usage.size is not None and usage.size not in expected:
            return f"its size is {usage.size}, not {row.size}"
        if usage.duration is not None and round(usage.duration) != row.duration:
            return f"it lasts {usage.duration:g} s, not {row.duration} s"
        if usage.audio is not None and usage.audio != row.audio:
            return "its audio setting differs"
    return None


def _agreement(info: TaskInfo | None) -> str:
    if info is None or info.orig_prompt is None:
        return "same model, created while the request was on its way"
    return "same prompt" + (", size and duration" if info.usage is not None else "")


async def _list_window(client: DashScopeClient, window: _Window, say: Progress) -> None:
    """Every task created in the window, page by page (``listing.pages``: smaller pages
    if big ones are refused, and an end however the service answers).  A failure is
    recorded on the window, not raised — and then nothing listed counts."""
    listed: dict[str, ListedTask] = {}
    unreadable = number = 0
    try:
        async for page in listing.pages(client, start=window.start, end=window.end):
            number += 1
            listed.update((t.task_id, t) for t in page.tasks if t.created is not None)
            unreadable += page.refused + sum(1 for t in page.tasks if t.created is None)
            say(f"listed page {number} of {page.total_page} "
                f"({page.total} task{'s' if page.total != 1 else ''} in the window)")
    except listing.ListRunaway as exc:
        window.problem = str(exc)
        return
    except DashScopeError as exc:
        window.problem = f"the task list did not load ({exc})"
        return
    window.tasks += listed.values()  # each task once, however often it was listed
    window.unreadable += unreadable


def _windows(spans: Sequence[tuple[Generation, datetime, datetime]]) -> list[_Window]:
    """Overlapping send windows merged, each at most what the service lists at once."""
    merged: list[_Window] = []
    for row, start, end in sorted(spans, key=lambda s: s[1]):
        last = merged[-1] if merged else None
        if last is not None and start <= last.end and max(end, last.end) - last.start < LISTABLE:
            last.end = max(last.end, end)
            last.rows.append(row)
        else:
            merged.append(_Window(start, end, [row]))
    return merged


async def settle(store: TaskStore, client: DashScopeClient, rows: Iterable[Generation], *,
                 progress: Progress | None = None) -> list[Verdict]:
    """Decide (and record) what each unconfirmed row made.  Never raises for a failed
    list call: the rows it concerns come back ``UNCHECKED``."""
    say = progress or (lambda _text: None)
    now = utc_now()
    verdicts: dict[int, Verdict] = {}
    spans = []
    for row in rows:
        start, end = send_window(row, await _gave_up_at(store, row))
        if start < now - LISTABLE:
            verdicts[row.id] = Verdict(row, Outcome.TOO_OLD, problem=(
                "it is older than 24 hours, and the service forgets tasks after that"))
        else:
            spans.append((row, start, min(end, now)))
    windows = _windows(spans)
    for number, window in enumerate(windows, 1):
        say(f"window {number} of {len(windows)}: "
            f"{window.start.astimezone():%H:%M:%S}–{window.end.astimezone():%H:%M:%S}")
        await _list_window(client, window, say)

    known = await store.generations.known_task_ids(
        task.task_id for window in windows for task in window.tasks)
    plausible: dict[int, list[ListedTask]] = {}
    details: dict[str, TaskInfo | None] = {}
    for window in windows:
        for row in window.rows:
            start, end = next((s, e) for r, s, e in spans if r.id == row.id)
            if window.problem:
                verdicts[row.id] = Verdict(row, Outcome.UNCHECKED, problem=window.problem)
                continue
            fits = [t for t in window.tasks if t.task_id not in known
                    and (t.model_name is None or t.model_name == row.model)
                    and t.created is not None and start <= t.created <= end]
            plausible[row.id] = []
            for task in fits:
                info = await _details(client, task, details, say)
                if info is None or contradiction(row, info) is None:
                    plausible[row.id].append(task)

    by_id = {row.id: row for window in windows for row in window.rows}
    doubtful = {row.id: window.unreadable for window in windows for row in window.rows}
    for row_id, task in _forced_pairs(plausible):
        row = by_id[row_id]
        if doubtful[row_id] and not _confirmed(row, details.get(task.task_id)):
            continue  # a task we could not read may be this row's: only proof will do
        try:
            await store.intents.adopt_for(row.id, task.task_id)
        except DuplicateTask as exc:  # another process adopted it meanwhile
            verdicts[row.id] = Verdict(row, Outcome.UNCHECKED, problem=str(exc))
            continue
        verdicts[row.id] = Verdict(row, Outcome.FOUND, task=task,
                                   evidence=_agreement(details.get(task.task_id)))
    for row_id, tasks in plausible.items():
        if row_id in verdicts:
            continue
        row = by_id[row_id]
        if tasks:
            verdicts[row_id] = Verdict(row, Outcome.AMBIGUOUS, candidates=tasks)
        elif doubtful[row_id]:
            verdicts[row_id] = Verdict(row, Outcome.UNCHECKED, problem=(
                f"the service listed {doubtful[row_id]} task(s) from that moment that cannot "
                "be read (an unusable id or no creation time), one of which may be this one"))
        else:
            verdicts[row_id] = Verdict(row, Outcome.NONE)
    return [verdicts[row_id] for row_id in sorted(verdicts)]


def _confirmed(row: Generation, info: TaskInfo | None) -> bool:
    """The service's own report of the task (its prompt) matches the row."""
    return info is not None and info.orig_prompt is not None and contradiction(row, info) is None


def _forced_pairs(plausible: dict[int, list[ListedTask]]) -> list[tuple[int, ListedTask]]:
    """(row, task) pairs where each is the other's only possibility."""
    pairs = []
    for row_id, tasks in plausible.items():
        if len(tasks) != 1:
            continue
        task = tasks[0]
        holders = [r for r, ts in plausible.items() if any(t.task_id == task.task_id
                                                              for t in ts)]
        if holders == [row_id]:
            pairs.append((row_id, task))
    return pairs


async def _details(client: DashScopeClient, task: ListedTask,
                   cache: dict[str, TaskInfo | None], say: Progress) -> TaskInfo | None:
    """What a finished candidate says of itself (once per task); None if nothing to learn."""
    if task.task_id not in cache:
        cache[task.task_id] = None
        if task.status == "SUCCEEDED":
            try:
                cache[task.task_id] = await client.query(task.task_id)
            except DashScopeError as exc:
                say(f"could not read {task.task_id} ({exc}); judging it by time alone")
    return cache[task.task_id]


async def _gave_up_at(store: TaskStore, row: Generation) -> str | None:
    """When this row was marked unconfirmed (the end of its send window)."""
    for event in reversed(await store.generations.events(row.id)):
        if event.status == "UNCONFIRMED":
            return event.at
    return None


class NotThatTask(Exception):
    """The user named a task that cannot be this row's; ``str()`` says why."""


async def adopt_named(store: TaskStore, client: DashScopeClient, row: Generation,
                      task_id: str) -> Generation:
    """``resolve N --task ID``: check the user's pick against the service, then adopt it."""
    problem = task_id_problem(task_id)
    if problem is not None:
        raise NotThatTask(f"{task_id!r} is not a task id: {problem}")
    holder = await store.generations.by_task_id(task_id)
    if holder is not None:
        raise NotThatTask(f"{task_id} already belongs to #{holder.id}; a task can belong to "
                          "one generation only")
    info = await client.query(task_id)
    if info.status == "UNKNOWN":
        raise NotThatTask(f"the service does not know {task_id} (or it is older than 24 "
                          "hours); check the id and the API key")
    why = contradiction(row, info)
    if why is not None:
        raise NotThatTask(f"{task_id} cannot be #{row.id}'s task: {why}")
    return await store.intents.adopt_for(row.id, task_id)
