"""Resumable, verified downloads that a broken or lying server cannot fool.

Bytes stream to disk in bounded chunks (memory stays flat) into
``NAME.mp4.part``; an interrupted download resumes with ``Range``, and only an
answer that starts exactly where we asked is appended.  The file is renamed
into place only when it has the promised length and is a whole MP4
(``mp4check``); its SHA-256 is recorded.  With ``metadata``, the verified
file is first remuxed beside it with its provenance in the MP4's own tags
(``provenance``), verified again, and that copy is what is put in place and
hashed; if the remux fails the downloaded file is kept as it came and the row's
``download_error`` says why (the state is still ``done``).  With ``sidecar``, a
``NAME.json`` with the row's export record is written beside it.  A lock file per
generation (``filelock``) keeps two downloads of one video — two processes, or two
tasks of one — from running at once.  Every URL, and every redirect hop, passes
``media_url``'s policy before anything connects.  The HTTP client is our own,
so the API key's ``Authorization`` header never reaches the media host.  Caps:
``max_bytes``; a body slower than ``min_rate`` over ``stall_seconds``, or
silent for ``stall_seconds``, counts as stalled.

Two generations never share a file: the name the template gives is taken when a
file (or a link, or a ``.part``) already has it or another row records it, and the
next name (``NAME-TASKID8``…) is tried; a lock file per name makes that choice
atomic, and recording the name in the store (``downloading``) reserves it.  A
re-download of the same generation reuses its own name.  Nothing is written
through a link: the ``.part`` is opened with ``O_NOFOLLOW``, the remux's copy gets
a fresh unguessable name, the video is moved into place only onto a free name
(never replacing one) and must then be a regular file (``safe_files``).

Store states: ``downloading``, ``done``, ``failed`` (retry may help),
``expired`` (403/404/410) and ``refused`` (our policy), which cannot be retried.

On a store this process may only read (a viewer's role on a team database) the video
is still saved here, the same way, but recorded nowhere (``records`` is False): the
caller says so.  A video saved so before is found by the task id in its file's own
tags (``[downloads] metadata``), so asking again does not save a second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from storage import Generation, TaskStore
from storage.errors import disk_is_full, full_disk
from tui import __version__
from tui.engine.history.transfer import record_of
from tui.engine.media import provenance
from tui.engine.media.filelock import FileLock
from tui.engine.media.filenames import DEFAULT_TEMPLATE, file_name, file_names, slugify
from tui.engine.media.media_url import HostNotFound, MediaUrl, UrlPolicy, UrlRefused
from tui.engine.media.mp4check import Mp4Problem, check_mp4, looks_like_mp4
from tui.engine.media.safe_files import (
    LINK,
    NotOurs,
    fresh_file,
    is_regular,
    move,
    occupied,
    open_for_writing,
    regular_size,
    sha256_of,
)

PROGRESS_EVERY = 0.25  # seconds between progress writes to the store
GIB = 1 << 30
MAX_REDIRECTS = 5
MAX_ROUNDS = 16  # requests for one download, when a server hands out short ranges
REDIRECTS = (301, 302, 303, 307, 308)
EXPIRED = ("the video URL has expired — PixVerse URLs last about 24 hours; the video can no "
           "longer be downloaded")
_CONTENT_RANGE = re.compile(r"bytes (\d{1,19})-(\d{1,19})/(\d{1,19}|\*)")
_PAGE_TYPES = ("application/json", "application/xml", "application/xhtml+xml")

Progress = Callable[[Generation, int, int | None], None]


class DownloadError(Exception):
    """One sentence for the user.

    ``retryable`` says whether trying again can help (the UI offers "retry"
    only then); ``state`` is what the store now records for the row.
    """

    def __init__(self, message: str, *, retryable: bool = True, state: str = "failed") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.state = state


class DownloadBusy(DownloadError):
    """Another process, or another task of this one, is downloading this video right now."""


class _Stop(Exception):
    """Why a download stopped, and what that means for the row and the ``.part``."""

    def __init__(self, reason: str, *, state: str = "failed", retryable: bool = True,
                 discard: bool | None = None) -> None:
        super().__init__(reason)
        self.reason, self.state, self.retryable = reason, state, retryable
        # a part nobody can resume is litter (unless it is not ours to remove)
        self.discard = (not retryable) if discard is None else discard


@dataclass(frozen=True)
class _Plan:
    """What an answer promises: its body starts at ``start``, holds ``length`` bytes."""

    start: int
    length: int | None
    total: int | None


class Downloader:
    """Downloads finished tasks' videos into ``folder``; the store records each step.

    ``allowed_origins``: loopback origins (``http://127.0.0.1:8470``) that may
    be fetched over plain http — the simulator's; everything else must be https.
    """

    def __init__(self, store: TaskStore, folder: Path, *, template: str = DEFAULT_TEMPLATE,
                 allowed_origins: Iterable[str] = (), max_bytes: int = 2 * GIB,
                 min_rate: float = 1024.0, stall_seconds: float = 30.0,
                 timeout: httpx.Timeout | None = None,
                 on_progress: Progress | None = None,
                 on_wait: Callable[[Generation], None] | None = None,
                 metadata: bool = False, sidecar: bool = False) -> None:
        self.store = store
        self.metadata = metadata  # the config's default is on; see Workspace.downloader
        self.sidecar = sidecar
        self.folder = folder
        self.template = template
        self.policy = UrlPolicy(allowed_origins)
        self.max_bytes = max_bytes
        self.min_rate = min_rate
        self.stall_seconds = stall_seconds
        self.on_progress = on_progress
        self.on_wait = on_wait
        self.http = httpx.AsyncClient(
            timeout=timeout or httpx.Timeout(connect=15.0, read=stall_seconds, write=20.0,
                                             pool=30.0),
            follow_redirects=False,  # each hop passes the URL policy first
            headers={"User-Agent": f"pixverse-tui/{__version__}",
                     "Accept-Encoding": "identity"})

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def records(self) -> bool:
        """Whether the store records what is saved here (not on a store this process may
        only read: a viewer's role on a team database)."""
        return not self.store.read_only

    async def _note(self, row: Generation, *, state: str, path: str | None = None,
                    done: int | None = None, total: int | None = None,
                    sha256: str | None = None, error: str | None = None) -> Generation:
        """This machine's download as the store records it — or, where it may not be
        recorded, the row as it would read."""
        if self.records:
            return await self.store.downloads.set(row.id, state=state, path=path, done=done,
                                                  total=total, sha256=sha256, error=error)
        return row._replace(download_state=state, download_path=path, download_bytes=done,
                            download_total=total, download_sha256=sha256, download_error=error)

    def _kept_here(self, row: Generation, place: Path) -> Generation | None:
        """A video saved unrecorded before (see ``records``): the file under one of the
        row's names, in ``place``, whose tags carry its task id."""
        if row.task_id is None:
            return None
        for name in file_names(row, self.template):
            target = place / name
            if not occupied(target):
                return None  # the names are taken in order: none further on is its
            found = provenance.read(target) if is_regular(target) else None
            if found is not None and found.task_id == row.task_id:
                size = regular_size(target)
                return row._replace(download_state="done", download_path=str(target),
                                    download_bytes=size, download_total=size,
                                    download_sha256=None, download_error=None)
        return None

    def target_for(self, row: Generation, folder: Path | None = None) -> Path:
        """Where the video goes if no other generation has that name already."""
        return (folder or self.folder) / file_name(row, self.template)

    async def download(self, row: Generation, folder: Path | None = None, *,
                       wait: bool = False) -> Generation:
        """Fetch the row's video; the store records progress, result or failure.

        If another download of this video into this folder is under way,
        ``wait=True`` waits for it and returns its result (the CLI);
        ``wait=False``, the default, raises ``DownloadBusy`` at once, so no
        caller hangs behind a process that may be suspended (the dashboard).
        """
        label = row.task_id or f"#{row.id}"
        if row.status != "SUCCEEDED" or not row.video_url:
            raise DownloadError(f"task {label} has no video yet (status {row.display_status})",
                                retryable=False, state=row.download_state)
        place = folder or self.folder
        if place.exists() and not place.is_dir():
            raise DownloadError(f"{place} is a file, not a folder; choose a folder to save "
                                "the video in", retryable=False, state=row.download_state)
        if _already_done(row):
            return row
        try:
            media = self.policy.check(row.video_url)
        except UrlRefused as exc:
            await self._note(row, state="refused", error=str(exc))
            raise DownloadError(f"download of {label} refused: {exc}", retryable=False,
                                state="refused") from None
        mine = FileLock(place / f".{slugify(row.task_id or f'local{row.id}', 80)}.download.lock")
        try:
            place.mkdir(parents=True, exist_ok=True)
            if not mine.try_acquire():
                if not wait:
                    raise DownloadBusy(f"the video of {label} is already being downloaded by "
                                       "another process", state="downloading")
                if self.on_wait is not None:
                    self.on_wait(row)
                await mine.acquire()
        except OSError as exc:
            reason = _os_reason(exc, place)
            await self._note(row, state="failed", error=reason)
            raise DownloadError(f"download of {label} failed: {reason}") from None
        try:
            current = await self.store.generations.get(row.id) or row
            if _already_done(current):
                return current  # the download we waited for succeeded
            if not self.records and (kept := await asyncio.to_thread(
                    self._kept_here, current, place)) is not None:
                return kept
            target, name_lock = await self._claim_name(current, place, label)
            try:
                return await self._download_locked(current, media, target, label)
            finally:
                name_lock.release()
        finally:
            mine.release()

    async def _claim_name(self, row: Generation, place: Path,
                          label: str) -> tuple[Path, FileLock]:
        """The first of the row's names no other generation has, with its lock held.

        Holding a name's lock, nobody else decides about that name; the download
        then records it in the store, which reserves it for good.
        """
        for name in file_names(row, self.template):
            target = place / name
            lock = FileLock(target.with_name(name + ".lock"))
            try:
                if not lock.try_acquire():
                    continue  # another generation is being saved under this name now
            except NotOurs:
                continue  # a link or a pipe sits at the lock's name: not ours to use
            except OSError as exc:
                reason = _os_reason(exc, place)
                await self._note(row, state="failed", error=reason)
                raise DownloadError(f"download of {label} failed: {reason}") from None
            try:
                free = await self._free_for(row, target)
            except BaseException:
                lock.release()
                raise
            if free:
                return target, lock
            lock.release()
        reason = f"every name for this video in {place} is taken by other files"
        await self._note(row, state="failed", error=reason)
        raise DownloadError(f"download of {label} failed: {reason}", retryable=False)

    async def _free_for(self, row: Generation, target: Path) -> bool:
        """No file has this name and no other row records it — or it is this row's own
        unfinished download (its ``.part`` resumes, its sidecar is rewritten)."""
        if occupied(target):
            return False  # a video already there is never replaced, whoever's it is
        own = row.download_path == str(target)
        beside = [target.with_name(target.name + ".part")]
        if self.sidecar:
            beside.append(provenance.sidecar_path(target))
        if not own and any(occupied(path) for path in beside):
            return False
        return all(other.id == row.id
                   for other in await self.store.generations.by_download_path(str(target)))

    async def _download_locked(self, row: Generation, media: MediaUrl, target: Path,
                               label: str) -> Generation:
        part = target.with_name(target.name + ".part")
        await self._note(row, state="downloading", path=str(target), done=_size(part))
        final = part
        try:
            if occupied(part) and not is_regular(part):
                raise NotOurs(part, LINK if os.path.islink(part) else "is not a regular file")
            total = await self._fetch(row, media, part)
            size = _size(part)
            if total is not None and size != total:
                raise _Stop(f"got {size} of {total} bytes")
            try:
                check_mp4(part)
            except Mp4Problem as exc:
                raise _Stop(str(exc), discard=True) from None
            note = None
            if self.metadata:
                final, note = await self._with_provenance(row, part, target)
            digest = await asyncio.to_thread(sha256_of, final)
            size = _size(final)
            await asyncio.to_thread(_put_in_place, final, target)
            if final != part:
                with contextlib.suppress(OSError):
                    part.unlink(missing_ok=True)
        except asyncio.CancelledError:
            if final != part:
                with contextlib.suppress(OSError):
                    final.unlink(missing_ok=True)
            if not self.records and is_regular(part):  # unrecorded: nothing could resume it
                with contextlib.suppress(OSError):
                    part.unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._note(
                    row, state="failed", path=str(target), done=_size(part),
                    error="the download was interrupted"))
            raise
        except (_Stop, UrlRefused, HostNotFound, httpx.HTTPError, httpx.InvalidURL,
                httpx.StreamError, OSError) as exc:
            stop = _as_stop(exc, target.parent)
            if final != part:
                with contextlib.suppress(OSError):
                    final.unlink(missing_ok=True)
            unrecorded = not self.records and is_regular(part)  # nothing could resume it
            if stop.discard or unrecorded:
                with contextlib.suppress(OSError):
                    part.unlink(missing_ok=True)
            await self._note(row, state=stop.state, path=str(target), done=_size(part),
                             error=stop.reason)
            raise DownloadError(_message(label, stop, resumable=_size(part) > 0),
                                retryable=stop.retryable, state=stop.state) from None
        done = await self._note(row, state="done", path=str(target), done=size, total=size,
                                sha256=digest, error=note)
        if self.sidecar:
            problem = await self._write_sidecar(done, target)
            if problem is not None:
                done = await self._note(
                    row, state="done", path=str(target), done=size, total=size,
                    sha256=digest, error="; ".join(filter(None, (note, problem))))
        return done

    async def _with_provenance(self, row: Generation, part: Path,
                               target: Path) -> tuple[Path, str | None]:
        """The file to put in place: a remuxed copy of ``part`` that carries the row's
        provenance, verified — or ``part`` itself and why it carries none."""
        try:
            tagged = fresh_file(target.parent, f".{target.name[:60]}.", ".tagging")
        except OSError as exc:
            return part, f"saved without its metadata: {_os_reason(exc, target.parent)}"
        try:
            await asyncio.to_thread(provenance.write_tagged, part, tagged,
                                    provenance.Provenance.of(row))
            check_mp4(tagged)
            return tagged, None
        except (provenance.ProvenanceError, Mp4Problem) as exc:
            reason = str(exc)
        except OSError as exc:
            reason = _os_reason(exc, target.parent)
        except Exception as exc:  # an optional step: whatever breaks it, the video is kept
            reason = f"the video could not be remuxed ({type(exc).__name__})"
        except asyncio.CancelledError:
            with contextlib.suppress(OSError):
                tagged.unlink(missing_ok=True)
            raise
        with contextlib.suppress(OSError):
            tagged.unlink(missing_ok=True)
        return part, f"saved without its metadata: {reason}"

    async def _write_sidecar(self, row: Generation, video: Path) -> str | None:
        """Write ``NAME.json`` beside the video; why not, if it could not be written."""
        try:
            record = await record_of(self.store, row)
            await asyncio.to_thread(provenance.write_sidecar, video, record)
        except OSError as exc:
            return f"no sidecar written: {_os_reason(exc, video.parent)}"
        except UnicodeError:
            return "no sidecar written: a field cannot be written as UTF-8"
        return None

    async def _fetch(self, row: Generation, media: MediaUrl, part: Path) -> int | None:
        """Stream into ``part`` (resuming); the full length the server stated, if it did."""
        restarted = False
        for _ in range(MAX_ROUNDS):
            have = _size(part)
            response = await self._open(media, have)
            try:
                plan = self._plan(response, have)
                if plan is None:  # an answer we cannot append: start again from byte 0
                    if restarted:
                        raise _Stop("the server keeps sending the wrong part of the video",
                                    discard=True)
                    restarted = True
                    part.unlink(missing_ok=True)
                    continue
                await self._receive(row, response, part, plan)
            finally:
                await response.aclose()
            size = _size(part)
            if plan.total is None or size >= plan.total:
                return plan.total
            if size == have:
                raise _Stop("the server sent none of the missing bytes")
        raise _Stop("the server sent the video in too many pieces")

    async def _open(self, media: MediaUrl, have: int) -> httpx.Response:
        """GET the URL, following at most ``MAX_REDIRECTS`` redirects, each hop vetted."""
        headers = {"Range": f"bytes={have}-"} if have else {}
        for _ in range(MAX_REDIRECTS + 1):
            await self.policy.vet(media)
            request = self.http.build_request("GET", media.url, headers=headers)
            response = await self.http.send(request, stream=True)
            if response.status_code not in REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            await response.aclose()
            if not location:
                raise _Stop("the video server redirected without saying where to")
            media = self.policy.check(urljoin(media.url, location))
        raise _Stop(f"the video URL redirected more than {MAX_REDIRECTS} times")

    def _plan(self, response: httpx.Response, have: int) -> _Plan | None:
        """What this answer will deliver, ``None`` if it cannot follow what we have."""
        status = response.status_code
        if status in (403, 404, 410):
            raise _Stop(EXPIRED, state="expired", retryable=False)
        if status == 416 and have:
            return None  # our partial file is longer than the video
        if status not in (200, 206):
            raise _Stop(f"the video server answered HTTP {status}")
        kind = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if kind.startswith("text/") or kind in _PAGE_TYPES:
            raise _Stop("the server sent a web page instead of the video")
        length = _number(response.headers.get("Content-Length"))
        if status == 200:  # to a Range request: the server ignored it, so start from 0
            plan = _Plan(0, length, length)
        else:
            found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if found is None or found[3] == "*":
                return None
            start, end, total = int(found[1]), int(found[2]), int(found[3])
            if start != have or end < start or end >= total or (
                    length is not None and length != end - start + 1):
                return None  # not the bytes we asked for: never append them
            plan = _Plan(start, end - start + 1, total)
        if plan.total is not None and plan.total > self.max_bytes:
            raise _Stop(self._too_big(), state="refused", retryable=False)
        return plan

    async def _receive(self, row: Generation, response: httpx.Response, part: Path,
                       plan: _Plan) -> None:
        have = plan.start
        end = None if plan.length is None else plan.start + plan.length
        pace = _Pace(self.min_rate, self.stall_seconds, time.monotonic())
        head = b""
        last = 0.0
        with open_for_writing(part, append=plan.start != 0) as sink:
            async for chunk in response.aiter_raw():
                have += len(chunk)
                if have > self.max_bytes:
                    raise _Stop(self._too_big(), state="refused", retryable=False)
                if end is not None and have > end:
                    raise _Stop("the server sent more than it said it would", discard=True)
                if plan.start == 0 and len(head) < 8:
                    head += chunk[: 8 - len(head)]
                    if len(head) == 8 and not looks_like_mp4(head):
                        raise _Stop("the server sent something that is not an MP4 video",
                                    discard=True)
                sink.write(chunk)
                now = time.monotonic()
                pace.feed(len(chunk), now)
                if now - last >= PROGRESS_EVERY:
                    last = now
                    sink.flush()
                    if self.records:
                        await self.store.downloads.progress(row.id, have, plan.total)
                    if self.on_progress is not None:
                        self.on_progress(row, have, plan.total)

    def _too_big(self) -> str:
        return f"the video is larger than the {_bytes_text(self.max_bytes)} download limit"


class _Pace:
    """Stalled: fewer than ``min_rate`` bytes a second over a whole window."""

    def __init__(self, min_rate: float, window: float, now: float) -> None:
        self.min_rate, self.window = min_rate, window
        self.since, self.got = now, 0

    def feed(self, count: int, now: float) -> None:
        self.got += count
        elapsed = now - self.since
        if elapsed >= self.window:
            if self.got < self.min_rate * elapsed:
                raise _Stop(f"the server stalled (under {_bytes_text(int(self.min_rate))} a "
                            f"second for {self.window:g} s)")
            self.since, self.got = now, 0


def _already_done(row: Generation) -> bool:
    """The row's video is saved: a regular file (not a link to one) of its size."""
    if row.download_state != "done" or not row.download_path:
        return False
    path = Path(row.download_path)
    return is_regular(path) and (row.download_bytes is None
                                 or _size(path) == row.download_bytes)


def _put_in_place(final: Path, target: Path) -> None:
    """Move the verified video to its name — never over a file that appeared there
    meanwhile — and make sure what now has the name is that regular file."""
    before = os.lstat(final)
    try:
        move(final, target)
    except FileExistsError:
        raise _Stop(f"another file appeared at {target} while the video was downloading; "
                    "run it again to save it under another name", discard=True) from None
    after = os.lstat(target)
    if not is_regular(target) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        raise _Stop(f"{target} was replaced while the video was being saved", discard=True)


def _as_stop(exc: Exception, folder: Path) -> _Stop:
    if isinstance(exc, _Stop):
        return exc
    if isinstance(exc, NotOurs):  # never removed by us: it is not ours
        return _Stop(f"{exc}; remove it and try again", retryable=False, discard=False)
    if isinstance(exc, UrlRefused):
        return _Stop(str(exc), state="refused", retryable=False)
    if isinstance(exc, HostNotFound):
        return _Stop(str(exc))
    if isinstance(exc, httpx.ReadTimeout):
        return _Stop("the server stopped sending (stalled)")
    if isinstance(exc, httpx.TimeoutException):
        return _Stop("the video server did not answer in time")
    if isinstance(exc, httpx.RemoteProtocolError):
        return _Stop("the connection closed before the whole video arrived")
    if isinstance(exc, httpx.ConnectError):
        return _Stop("could not connect to the video server")
    if isinstance(exc, OSError):
        return _Stop(_os_reason(exc, folder))
    return _Stop(f"the video server's answer could not be read ({type(exc).__name__})")


def _message(label: str, stop: _Stop, *, resumable: bool) -> str:
    if stop.state == "refused":
        return f"download of {label} refused: {stop.reason}"
    if not stop.retryable:
        return f"download of {label} failed: {stop.reason}"
    again = "resume" if resumable else "start over"
    return f"download of {label} failed: {stop.reason}; run it again to {again}"


def _os_reason(exc: OSError, folder: Path) -> str:
    if isinstance(exc, NotOurs):
        return str(exc)
    if exc.errno == errno.ENOSPC or (exc.errno == errno.EFBIG and disk_is_full(folder)):
        return full_disk(folder)
    if exc.errno in (errno.ELOOP, errno.EMLINK) and exc.filename:
        return f"{exc.filename} {LINK}"
    why = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
    return f"cannot write to {folder}: {why[:1].lower() + why[1:]}"


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 20 else None


def _size(path: Path) -> int:
    return regular_size(path)


def _bytes_text(count: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"

