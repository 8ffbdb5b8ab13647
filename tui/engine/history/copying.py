"""Moving a whole history from one store to another (``pixverse-tui store copy``):
SQLite to a team's PostgreSQL database, or back to a SQLite file.

Generic over the store interface: pages of whole rows (``History.copy_out``: every
generation, the trash included, with its tags, status history and downloads per machine)
go into the target in one transaction each (``History.copy_in``, which a backend makes
fast its own way), inside ``History.bulk`` when more than a batch is to come (PostgreSQL
then builds an empty history's indexes once, at the end). Each transaction also records
how far it came, so a copy killed at any moment — kill -9 included — and run again adds
exactly what is missing, and a copy run twice adds nothing. Poll leases, the request
budget and the account's foreign tasks are not copied: they are re-learned within
minutes. Nor is the local queue (issue 17): a row still queued in the source arrives
ABANDONED, as an import has it — the source's feeder may still send it, so it is never
sent from the target as well (a batch file run there queues its line again, knowingly).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storage import TaskStore
from storage.history import HistoryFilter
from storage.records import SUBMISSION_ABANDONED, SUBMISSION_QUEUED

COPY_BATCH = 2000  # rows per transaction in the target
NOT_FROM_HERE = "queued in the store it was copied from; not sent from here"


class SameStore(ValueError):
    """The source and the target are one store."""


@dataclass
class CopyReport:
    source: str
    target: str
    rows: int = 0  # in the source, the trash included
    added: int = 0  # this run
    present: int = 0  # this run: found in the target already (merged), not added
    before: int = 0  # taken by earlier runs (a copy resumed or run again)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        """Source rows dealt with, by this run and earlier ones."""
        return self.before + self.added + self.present

    def summary(self) -> str:
        text = (f"copied {self.added:,} generation{'s' if self.added != 1 else ''} from "
                f"{self.source} to {self.target}")
        if self.present:
            text += f"; {self.present:,} were there already"
        if self.before:
            text += f"; {self.before:,} copied before"
        return text + f" ({self.seconds:.1f} s)"

    def as_json(self) -> dict[str, object]:
        return {"from": self.source, "to": self.target, "rows": self.rows,
                "added": self.added, "already_there": self.present,
                "copied_before": self.before, "seconds": round(self.seconds, 3)}


async def copy_history(source: TaskStore, target: TaskStore, *, batch: int = COPY_BATCH,
                       progress: Callable[[CopyReport], None] | None = None) -> CopyReport:
    """Copy every row of ``source`` that ``target`` lacks; ``progress`` hears after each
    transaction.  Raises ``SameStore`` when both are one store, ``StoreError`` as
    either does."""
    if source.location == target.location:
        raise SameStore(f"{source.location} is both the source and the target; "
                        "give another --to")
    started = time.monotonic()
    report = CopyReport(source.location, target.location)
    report.rows = (await source.history.count()
                   + await source.history.count(HistoryFilter(trash=True)))
    mark = await target.history.copied_from(source.location)
    report.before, after = mark.seen, mark.up_to
    if progress is not None:
        progress(report)
    async with contextlib.AsyncExitStack() as loading:
        if report.rows - report.before > batch:  # a long copy: the target may prepare
            await loading.enter_async_context(target.history.bulk())
        while records := await source.history.copy_out(after, batch):
            added = await target.history.copy_in(source.location, _unqueued(records))
            report.added += added
            report.present += len(records) - added
            after = int(records[-1]["id"])
            report.seconds = time.monotonic() - started
            if progress is not None:
                progress(report)
    report.seconds = time.monotonic() - started
    return report


def _unqueued(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The source's queue stays the source's: a queued row is copied ABANDONED."""
    for record in records:
        if record.get("submission") == SUBMISSION_QUEUED:
            record.update(submission=SUBMISSION_ABANDONED, submission_note=NOT_FROM_HERE)
    return records
