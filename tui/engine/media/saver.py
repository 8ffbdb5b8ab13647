"""Saving videos for a command-line run (``wait``, ``watch``): each video in a task of
its own, tried once per run; a failure is said once and remembered, so that the
exit status can tell it.  (The dashboard saves through its own download jobs, which
report in toasts.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from storage import Generation, StoreError
from tui.engine.media.download import Downloader, DownloadError


class Saver:
    def __init__(self, downloader: Downloader, *, saved: Callable[[Generation], None],
                 failed: Callable[[Generation, str], None], wait: bool = False,
                 wanted: set[int] | None = None) -> None:
        self.downloader = downloader
        self.wanted = wanted  # None: every video it is given
        self._saved = saved
        self._failed = failed
        self._wait = wait  # wait for another process's download of the same video
        self.tasks: list[asyncio.Task[Generation | None]] = []
        self.tried: set[int] = set()
        self.failed: set[int] = set()

    def wants(self, row: Generation) -> bool:
        return row.id not in self.tried and (self.wanted is None or row.id in self.wanted)

    def start(self, row: Generation) -> None:
        """Save this video in the background (nothing if it was tried already)."""
        if self.wants(row):
            self.tried.add(row.id)  # now: two starts before the task runs are one
            self.tasks.append(asyncio.create_task(self._save(row)))

    async def save(self, row: Generation) -> Generation | None:
        """Save this video now (nothing if it was tried already)."""
        if not self.wants(row):
            return None
        self.tried.add(row.id)
        return await self._save(row)

    async def _save(self, row: Generation) -> Generation | None:
        try:
            done = await self.downloader.download(row, wait=self._wait)
        except (DownloadError, StoreError) as exc:
            self.failed.add(row.id)
            self._failed(row, str(exc))
            return None
        if done.download_state == "done":
            self._saved(done)
        return done

    async def settle(self) -> None:
        """Let the downloads under way end."""
        await asyncio.gather(*self.tasks)

    async def stop(self) -> None:
        """Stop the downloads still running and let each put its row back, before the
        downloader and the store close under it."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
