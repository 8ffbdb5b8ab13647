"""Reading the service's task list page by page — to an end, whatever the service says.

Every walk over the list (``sync``, ``resolve``, the poller's sweeps and audits)
goes through :func:`pages`.  Big pages are asked for first and smaller ones when
a size is refused.  A list is a finite thing, so the walk stops, with one
sentence (``ListRunaway``), when the service claims more pages than one key's
tasks of a day could fill (``total_page = 10**9``), when a page holds only tasks
already seen (a page sent again, forever), or when it has gone on longer than a
walk may take.  Nothing is retried after that: a caller says the list could
not be read and carries on as it does when the list is refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui.dashscope import ApiError, ProtocolError, TaskPage
from tui.dashscope.errors import Failure, Scope

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient

PAGE_SIZES = (100, 50, 20, 10)  # the largest page size is not documented: try big first
# One key runs 5 tasks at a time, 1–5 minutes each: a day's list holds a few thousand.
MAX_LISTED = 50_000
LIST_SECONDS = 600.0


@dataclass(frozen=True)
class Limits:
    """How far one walk may go: tasks listed (so pages, for a page size) and seconds."""

    tasks: int = MAX_LISTED
    seconds: float = LIST_SECONDS

    def pages(self, page_size: int) -> int:
        return max(1, math.ceil(self.tasks / max(1, page_size)))


class ListRunaway(ProtocolError):
    """The task list does not end as a list does; ``str()`` is one sentence.  Final, and
    about the list only: the tasks can still be asked about one by one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, failure=Failure.FINAL, scope=Scope.TASK)


async def pages(client: DashScopeClient, *, limits: Limits = Limits(),
                sizes: Sequence[int] = PAGE_SIZES,
                before_each: Callable[[], Awaitable[None]] | None = None,
                clock: Callable[[], float] = time.monotonic,
                status: str | None = None, start: datetime | None = None,
                end: datetime | None = None) -> AsyncIterator[TaskPage]:
    """Each page of the list (``status``, ``start``–``end``) until the last one.

    ``before_each`` is awaited before every request (a request budget).  Raises
    ``ListRunaway`` instead of a page that cannot be believed, and any error of the
    client as it comes."""
    left = list(sizes)
    seen: set[str] = set()
    page_no = 1
    deadline = clock() + limits.seconds
    while True:
        if page_no > 1 and clock() > deadline:
            raise ListRunaway(f"the task list was still going after {limits.seconds:g} s "
                              f"({page_no - 1} pages); it was not read further")
        if before_each is not None:
            await before_each()
        try:
            page = await client.list_tasks(status=status, start=start, end=end,
                                           page_no=page_no, page_size=left[0])
        except ApiError as exc:
            if exc.status == 400 and page_no == 1 and len(left) > 1:
                left.pop(0)  # a smaller page, then
                continue
            raise
        if page.total_page > limits.pages(left[0]):
            read = f"read up to page {page_no - 1}" if page_no > 1 else "not read"
            raise ListRunaway(f"the service claims its task list has {page.total_page:,} "
                              f"pages of {left[0]}, more than one key's tasks of a day could "
                              f"fill ({limits.tasks:,} at most); the list was {read}")
        found = {task.task_id for task in page.tasks}
        if found and found <= seen:
            raise ListRunaway(f"the service sent the same tasks again on page {page_no} of "
                              "its task list; it was not read further")
        seen |= found
        yield page
        if page_no >= page.total_page or not page.tasks:
            return
        page_no += 1
