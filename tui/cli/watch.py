"""``pixverse-tui watch``: follow everything, headless — for a tmux pane or a server.

It polls the account when no other process does (and hands over when it stops),
prints a line when a task ends, downloads finished videos (``--download``, or
``[downloads] auto``), rescues videos whose URLs are about to die, and signals
the terminal: a bell, or a desktop notification through OSC 9.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from storage import Change, ChangeFeed, Generation, StoreError, TaskStore
from storage.clock import now_iso
from tui.cli.output import err, say
from tui.engine.following import rescue
from tui.engine.following.poller import PollScheduler
from tui.engine.media.download import Downloader, DownloadError
from tui.engine.workspace import Workspace
from tui.safe_text import printable

LOOK_EVERY = 1.0  # seconds at most between looks (for the signal gap and the rescue check)
RESCUE_EVERY = 600.0  # seconds between checks for videos about to expire
SIGNAL_GAP = 1.0  # never more than one signal per second
MARKS = {"SUCCEEDED": "✔", "FAILED": "✘", "CANCELED": "⊘", "UNKNOWN": "?"}


class Watcher:
    """What the watch loop keeps: what it last saw, and what it is downloading."""

    def __init__(self, store: TaskStore, poller: PollScheduler, downloader: Downloader | None,
                 signal: str) -> None:
        self.store = store
        self.poller = poller
        self.downloader = downloader
        self.signal = signal
        self.seen: dict[int, str] = {}
        self.saving: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._signalled = 0.0
        self._pending_signal: str | None = None
        self.since = now_iso()

    async def look(self, change: Change | None) -> None:
        """Report what the store's change feed says changed (a task that ended)."""
        if change:
            await self._report(await self._changed_rows(change))
        self.flush_signal()

    async def _changed_rows(self, change: Change) -> list[Generation]:
        ids: set[int] = set(change.rows)
        if change.everything:  # which is not known: every task watched or in flight
            ids |= set(self.seen) | {r.id for r in await self.store.following.unfinished()}
        return await self.store.generations.get_many(ids)

    async def _report(self, rows: list[Generation]) -> None:
        for row in rows:
            status = row.display_status
            if self.seen.get(row.id) == status:
                continue
            new_end = row.terminal and (row.id in self.seen or await self._ended_lately(row))
            self.seen[row.id] = status
            if new_end:
                self.ended(row)
                if row.status == "SUCCEEDED" and self.downloader is not None:
                    self.save(row)

    async def _ended_lately(self, row: Generation) -> bool:
        """A row first seen finished: did it finish while we watched (fast tasks do)?"""
        return any(event.at >= self.since and event.status == row.status
                   for event in await self.store.generations.events(row.id))

    def ended(self, row: Generation) -> None:
        mark = MARKS.get(row.display_status, "·")
        why = f"  {row.error_code or ''} {row.error_message or ''}".rstrip() \
            if row.status == "FAILED" else ""
        say(f"{mark} {row.display_status:<9} {(row.task_id or '')[:8]}  "
            f"{' '.join(row.prompt.split())[:60]}{why}")
        self._pending_signal = f"{row.display_status}: {' '.join(row.prompt.split())[:60]}"

    def flush_signal(self) -> None:
        """At most one signal a second; several ends in that second make one."""
        if self._pending_signal is None or self.signal == "none":
            return
        now = time.monotonic()
        if now - self._signalled < SIGNAL_GAP:
            return
        self._signalled = now
        text, self._pending_signal = self._pending_signal, None
        if not sys.stdout.isatty():
            return
        if self.signal == "osc9":
            sys.stdout.write(f"\x1b]9;pixverse-tui: {printable(text)}\x07")
        else:
            sys.stdout.write("\a")
        sys.stdout.flush()

    def save(self, row: Generation) -> None:
        if row.id in self.saving or self.downloader is None or not self.poller.polling:
            return  # the process that polls the account downloads
        self.saving.add(row.id)
        task = asyncio.create_task(self._save(row))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _save(self, row: Generation) -> None:
        assert self.downloader is not None
        try:
            done = await self.downloader.download(row)
            if done.download_state == "done":
                say(f"  saved {done.download_path}")
        except DownloadError as exc:
            err(str(exc))
        except StoreError as exc:
            err(str(exc))
        finally:
            self.saving.discard(row.id)

    async def rescue(self) -> None:
        """Videos about to be lost: download them (when downloading), or say so."""
        if self.downloader is not None and self.poller.polling:
            for row in await rescue.to_rescue(self.store):
                self.save(row)
            return
        sentence = rescue.warning(await rescue.expiring(self.store))
        if sentence:
            err(sentence)


async def cmd_watch(args: argparse.Namespace, ws: Workspace) -> int:
    download = args.download if args.download is not None else bool(
        ws.settings.get("downloads", "auto"))
    async with await ws.open_store() as store, \
            ws.client(store, time_scale=args.time_scale) as client:
        poller = ws.poller(store, client, time_scale=args.time_scale,
                           on_health=lambda health, detail: err(
                               f"poller {health.value}" + (f": {detail}" if detail else "")))
        downloader = ws.downloader(store) if download else None
        watcher = Watcher(store, poller, downloader, args.signal)
        changes = store.changes()  # before reading what is in flight: nothing ends unseen
        for row in await store.following.unfinished():
            watcher.seen[row.id] = row.display_status
        say(f"watching {len(watcher.seen)} task{'s' if len(watcher.seen) != 1 else ''} in "
            f"flight{'; finished videos are downloaded' if download else ''} "
            "(ctrl+c stops)")
        polling = asyncio.create_task(poller.run())
        change: Change | None = None
        next_rescue = 0.0
        try:
            while True:
                with contextlib.suppress(StoreError):  # the change is looked at again
                    await watcher.look(change)
                    change = None
                    if time.monotonic() >= next_rescue:
                        next_rescue = time.monotonic() + RESCUE_EVERY
                        await watcher.rescue()
                change = _merged(change, await _next_change(changes))
        finally:
            await changes.aclose()
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await polling
            saving = list(watcher.tasks)
            for task in saving:
                task.cancel()
            # Each download puts its row back before the store closes under it.
            await asyncio.gather(*saving, return_exceptions=True)
            if downloader is not None:
                await downloader.aclose()


async def _next_change(changes: ChangeFeed) -> Change | None:
    """What the store says changed next — or None after ``LOOK_EVERY`` of quiet."""
    try:
        return await asyncio.wait_for(anext(changes), LOOK_EVERY)
    except TimeoutError:
        return None


def _merged(first: Change | None, then: Change | None) -> Change | None:
    if first is None or then is None:
        return first or then
    return first | then
