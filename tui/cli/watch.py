"""``pixverse-tui watch``: follow everything, headless — for a tmux pane or a server.

It polls the account when no other process does (and hands over when it stops),
and runs the same follower as the dashboard (``tui.engine.following.follower``):
a line when a task ends (or a create got no clear answer: stopped for ``resolve``),
finished videos downloaded (``--download``, or
``[downloads] auto``) by whichever process polls, videos whose URLs are about to
die rescued, and the terminal signalled — a bell, or a desktop notification
through OSC 9 or 777 (wrapped for tmux), at most once a second.

With ``--json`` each of those is one JSON object on a line of standard output
(``ended``, ``unconfirmed``, ``saved``, ``save_failed``, ``expiring``, ``poller``:
docs/cli.md) for a
script to read as it comes; everything else, the start-up line included, is on
standard error, and so are the signals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

from storage import Generation, StoreError, TaskStore
from storage.clock import now_iso
from storage.history import HistoryFilter
from storage.redact import scrub
from tui import safe_text
from tui.cli import render
from tui.cli.output import err, say
from tui.engine.following import rescue
from tui.engine.following.follower import Ended, Event, Expiring, Follower, Save, Unconfirmed
from tui.engine.following.poller import Health, HealthFeed
from tui.engine.following.signals import NotifySettings
from tui.engine.media.saver import Saver
from tui.engine.submitting.feeder import looked_at_soon
from tui.engine.submitting.queue_state import RESUME_BATCH, RESUME_QUEUE, QueueState
from tui.engine.workspace import Workspace

PAUSES_EVERY = 2.0  # seconds between looks at what is paused

MARKS = {"SUCCEEDED": "✔", "FAILED": "✘", "CANCELED": "⊘", "UNKNOWN": "?"}
IN_DOUBT = ("no clear answer to its create: a task may exist; it is not sent again — "
            "`pixverse-tui resolve` settles it")
RESOLVE = "(`pixverse-tui resolve`)"


def signal_settings(signal: str) -> NotifySettings:
    """``--signal``: the bell, a desktop notification, or nothing (no toasts, no title)."""
    return NotifySettings(toast=False, bell=signal == "bell",
                          desktop=signal if signal in ("osc9", "osc777") else "off", title=False)


def _writer(stream: Callable[[], TextIO]) -> Callable[[str], None]:
    """Signals go to a terminal, never into a file or a pipe (nor into a JSON stream:
    with ``--json`` they go to standard error's terminal)."""
    def write(sequence: str) -> None:
        out = stream()
        if out.isatty():
            out.write(sequence)
            out.flush()
    return write


def emit(event: str, **fields: Any) -> None:
    """One ``--json`` event: one object on one line of standard output."""
    print(safe_text.json_text({"event": event, "at": now_iso(), **fields}, indent=None),
          flush=True)


def line(row: Generation) -> str:
    mark = MARKS.get(row.display_status, "·")
    why = f"  {row.error_code or ''} {row.error_message or ''}".rstrip() \
        if row.status == "FAILED" else ""
    return (f"{mark} {row.display_status:<9} {(row.task_id or '')[:8]}  "
            f"{' '.join(row.prompt.split())[:56]}{why}")  # 78 columns before ``why``


def doubt_line(row: Generation) -> str:
    """A create in doubt: the row (it has no task id), and the way out — on one line of
    an 80-column terminal (what it means is said once, on standard error)."""
    prompt = " ".join(row.prompt.split())
    return (f"! UNCONFIRMED #{row.id}  {prompt[:30]}{'…' if len(prompt) > 30 else ''}  "
            f"{RESOLVE}")


class Printer:
    """What the follower tells, as lines (and downloads) — or, with ``as_json``, as one
    JSON object per event."""

    def __init__(self, saver: Saver | None, *, as_json: bool = False) -> None:
        self.saver = saver
        self.as_json = as_json
        self.explained = False  # what UNCONFIRMED means, said once

    def __call__(self, event: Event) -> None:
        if isinstance(event, Ended) and event.row.terminal:
            if self.as_json:
                emit("ended", task=render.as_json(event.row))
            else:
                say(line(event.row))
        elif isinstance(event, Unconfirmed):
            if self.as_json:
                emit("unconfirmed", task=render.as_json(event.row), message=IN_DOUBT)
            else:
                say(doubt_line(event.row))
                if not self.explained:
                    self.explained = True
                    err(f"UNCONFIRMED: {IN_DOUBT}")
        elif isinstance(event, Save) and self.saver is not None:
            self.saver.start(event.row)
        elif isinstance(event, Expiring):
            sentence = rescue.warning(list(event.rows))
            if self.as_json:
                emit("expiring", tasks=[render.as_json(row) for row in event.rows],
                     message=sentence)
            elif sentence:
                err(sentence)

    def saved(self, row: Generation) -> None:
        if self.as_json:
            emit("saved", task=render.as_json(row), path=row.download_path)
        else:
            say(f"  saved {row.download_path}")

    def failed(self, row: Generation, why: str) -> None:
        if self.as_json:
            emit("save_failed", task=render.as_json(row), error=scrub(why))
        err(why)

    def health(self, health: Health, detail: str) -> None:
        if self.as_json:
            emit("poller", health=health.value, detail=scrub(detail) if detail else None)
        else:
            err(f"poller {health.value}" + (f": {detail}" if detail else ""))


async def _tell_health(feed: HealthFeed, tell: Callable[[Health, str], None]) -> None:
    async for health, detail in feed:
        tell(health, detail)


async def _tell_pauses(store: TaskStore) -> None:
    """A line when the queue (or a batch) is paused or resumed — by anyone: a user, or the
    feeder (a refused key, a quota, a budget)."""
    told: dict[str | None, str | None] = {}
    while True:
        with contextlib.suppress(StoreError):
            pauses = await store.queue.pauses()
            state = QueueState(0, tuple(pauses), None, store.shared)
            now = {p.batch_id: p.reason for p in pauses}
            for pause in pauses:
                batch_id = pause.batch_id
                if batch_id not in told or told[batch_id] != pause.reason:
                    what = f"batch {batch_id}" if batch_id else "queue"
                    how = RESUME_BATCH.replace("BATCH", batch_id) if batch_id else RESUME_QUEUE
                    err(f"{what} {state.why(pause)}; {how} resumes it")
            for batch_id in set(told) - set(now):
                err(f"{f'batch {batch_id}' if batch_id else 'queue'} resumed")
            told = now
        await asyncio.sleep(PAUSES_EVERY)


async def cmd_watch(args: argparse.Namespace, ws: Workspace) -> int:
    download = args.download if args.download is not None else bool(
        ws.settings.get("downloads", "auto"))
    async with await ws.open_store() as store, \
            ws.client(store, time_scale=args.time_scale) as client:
        poller = ws.poller(store, client, time_scale=args.time_scale)
        downloader = ws.downloader(store) if download else None
        printer = Printer(None, as_json=args.json)
        saver = printer.saver = Saver(downloader, saved=printer.saved, failed=printer.failed) \
            if downloader is not None else None
        write = _writer((lambda: sys.stderr) if args.json else (lambda: sys.stdout))
        follower = Follower(store, tell=printer, notify=signal_settings(args.signal),
                            write=write, bell=lambda: write("\a"),
                            polling=lambda: poller.polling, download=lambda: download)
        # Whoever polls the account feeds the queue: this process, while it holds the lease.
        feeder = ws.feeder(store, client, polling=lambda: poller.polling,
                           sent=looked_at_soon(poller), time_scale=args.time_scale)
        in_flight = await follower.begin()  # before the poller runs: nothing ends unseen
        queued = (await store.history.counts("")).queued
        err(f"watching {in_flight} task{'s' if in_flight != 1 else ''} in "
            f"flight{f' and {queued:,} queued' if queued else ''}"
            f"{'; finished videos are downloaded' if download else ''} (ctrl+c stops)")
        doubts = await store.history.count(HistoryFilter(statuses=("UNCONFIRMED",)))
        if doubts:
            err(f"{doubts} unconfirmed: a create got no clear answer and is not sent again "
                "— `pixverse-tui resolve` settles them")
        jobs = [asyncio.create_task(_tell_health(poller.health_changes(), printer.health)),
                asyncio.create_task(poller.run()), asyncio.create_task(feeder.run()),
                asyncio.create_task(_tell_pauses(store))]
        try:
            await follower.run()
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await job
            if saver is not None:
                await saver.stop()  # each download puts its row back before the store closes
            if downloader is not None:
                await downloader.aclose()
    return 0
