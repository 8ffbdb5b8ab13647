"""Resumable, verified downloads.

Bytes stream into ``NAME.mp4.part``; an interrupted download continues with a
``Range`` request; the file is renamed into place only once its length matches
what the server promised, and its SHA-256 is recorded.  A stalled body is cut
by the HTTP client's read timeout rather than hanging forever.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from storage import Generation, TaskStore
from tui.engine.filenames import DEFAULT_TEMPLATE, file_name

PROGRESS_EVERY = 0.25  # seconds between progress writes to the store
STALL_TIMEOUT = httpx.Timeout(connect=15.0, read=20.0, write=20.0, pool=30.0)


class DownloadError(Exception):
    pass


Progress = Callable[[Generation, int, int | None], None]


class Downloader:
    def __init__(self, store: TaskStore, folder: Path, *, template: str = DEFAULT_TEMPLATE,
                 http: httpx.AsyncClient | None = None,
                 timeout: httpx.Timeout = STALL_TIMEOUT,
                 on_progress: Progress | None = None) -> None:
        self.store = store
        self.folder = folder
        self.template = template
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self.on_progress = on_progress

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    def target_for(self, row: Generation, folder: Path | None = None) -> Path:
        return (folder or self.folder) / file_name(row, self.template)

    async def download(self, row: Generation, folder: Path | None = None) -> Generation:
        """Fetch the row's video; the store records progress, result or failure."""
        if row.status != "SUCCEEDED" or not row.video_url:
            raise DownloadError(f"task {row.task_id or '#' + str(row.id)} has no video yet "
                                f"(status {row.display_status})")
        if row.download_state == "done" and row.download_path and Path(row.download_path).exists():
            return row
        target = self.target_for(row, folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        await self.store.set_download(row.id, state="downloading", path=str(target),
                                      done=part.stat().st_size if part.exists() else 0)
        try:
            total = await self._fetch(row, part)
            if part.stat().st_size != total:
                raise DownloadError(f"got {part.stat().st_size} of {total} bytes")
            digest = _sha256(part)
            os.replace(part, target)
        except (httpx.HTTPError, OSError, DownloadError) as exc:
            reason = _reason(exc)
            done = part.stat().st_size if part.exists() else 0
            await self.store.set_download(row.id, state="failed", path=str(target), done=done,
                                          error=reason)
            raise DownloadError(f"download of {row.task_id} failed: {reason}; "
                                "run it again to resume") from None
        return await self.store.set_download(row.id, state="done", path=str(target),
                                             done=total, total=total, sha256=digest)

    async def _fetch(self, row: Generation, part: Path) -> int:
        """Stream into ``part`` (resuming), return the full length the server stated."""
        assert row.video_url is not None
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with self.http.stream("GET", row.video_url, headers=headers) as response:
            if response.status_code == 416 and have:
                part.unlink()  # our partial file is longer than the video: start over
                return await self._fetch(row, part)
            if response.status_code not in (200, 206):
                raise DownloadError(f"the video URL answered HTTP {response.status_code}"
                                    + (" (it may have expired)" if response.status_code in
                                       (403, 404, 410) else ""))
            length = response.headers.get("Content-Length")
            if response.status_code == 206:
                total_text = response.headers.get("Content-Range", "").rpartition("/")[2]
                total = int(total_text) if total_text.isdigit() else None
                mode = "ab"
            else:
                total = int(length) if length and length.isdigit() else None
                have, mode = 0, "wb"
            if total is None:
                raise DownloadError("the server did not say how long the video is, so it "
                                    "cannot be verified")
            last = 0.0
            with part.open(mode) as sink:
                async for chunk in response.aiter_raw():
                    sink.write(chunk)
                    have += len(chunk)
                    now = time.monotonic()
                    if now - last >= PROGRESS_EVERY:
                        last = now
                        sink.flush()
                        await self.store.set_download_progress(row.id, have, total)
                        if self.on_progress is not None:
                            self.on_progress(row, have, total)
            return total


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.ReadTimeout):
        return "the server stopped sending (stalled)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed before the whole video arrived"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the video server"
    text = str(exc).strip()
    return text or type(exc).__name__
