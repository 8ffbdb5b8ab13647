"""Settle 'unconfirmed' submissions by asking the service what it has.

The list endpoint shows every task of the key in a time window.  A candidate
is a task of the same model, created near the moment of the intent, that no
row of ours knows.  A succeeded task's ``orig_prompt`` must match our prompt.
If exactly one candidate remains it is adopted; several are shown to the user;
none means the request never created a task, and the user may abandon it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from storage import Generation, TaskStore
from storage.clock import parse_iso, utc_now
from tui.dashscope import DashScopeClient, ListedTask

BEFORE = timedelta(minutes=2)
AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Candidates:
    generation: Generation
    tasks: list[ListedTask]  # possible matches, not known to the store
    confirmed: list[ListedTask]  # those whose orig_prompt equals our prompt

    @property
    def match(self) -> ListedTask | None:
        """The one task this intent certainly or only possibly created, if there is one."""
        if len(self.confirmed) == 1:
            return self.confirmed[0]
        if len(self.tasks) == 1 and not self.confirmed:
            return self.tasks[0]
        return None


async def candidates(store: TaskStore, client: DashScopeClient, row: Generation) -> Candidates:
    created = parse_iso(row.created_at) or utc_now()
    start, end = created - BEFORE, min(created + AFTER, utc_now())
    known = await store.task_ids()
    found: list[ListedTask] = []
    page_no = 1
    while True:
        page = await client.list_tasks(start=start, end=end, model=row.model, page_no=page_no,
                                       page_size=50)
        found += [t for t in page.tasks if t.task_id not in known]
        if page_no >= page.total_page or not page.tasks:
            break
        page_no += 1
    possible, confirmed = [], []
    ours = row.prompt.strip()
    for task in found:
        info = await client.query(task.task_id)
        if info.orig_prompt is None:
            possible.append(task)
        elif ours.startswith(info.orig_prompt.strip()):  # the service may truncate
            possible.append(task)
            confirmed.append(task)
    return Candidates(row, possible, confirmed)


async def adopt(store: TaskStore, row: Generation, task_id: str) -> Generation:
    return await store.adopt_for(row.id, task_id)
