"""Forgetting that can be undone.

A forgotten generation goes to the store's trash (hidden everywhere, restorable
for ``TRASH_DAYS``).  "Forget and delete the file" does not delete at once
either: the file is moved into the trash folder, so undo brings both back; it
is deleted only when the trash is emptied.

A path in a row may come from an import, a sidecar or a video's metadata, so it
is never enough to act on: a file is moved or deleted only when it is a
regular file inside the app's own folder (the downloads folder, or the trash
folder for a video set aside) and its SHA-256 is still the one recorded —
checked at the moment of acting.  Undo puts a video back only into the
downloads folder, under a name that is free.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from storage import TRASH_DAYS, Generation, TaskStore
from tui.engine.media import safe_files
from tui.engine.media.safe_files import NotOurs

TRASHED = "trashed"  # download_state of a video set aside with its forgotten row
MOVED_FROM = "moved to the trash from "  # download_error of a trashed row: where it was


@dataclass(frozen=True)
class Folders:
    """The app's own folders: the only places it moves files out of or into."""

    downloads: Path
    trash: Path


def own_video(row: Generation, downloads: Path) -> Path | None:
    """The row's video if it looks like the one this app saved (cheap: for offering to
    delete it; ``forget`` checks its SHA-256 before it moves it)."""
    if row.download_state != "done" or not row.download_path or not row.download_sha256:
        return None
    path = Path(row.download_path)
    if path.suffix.lower() != ".mp4" or not _in_folder(path, downloads):
        return None
    if row.download_bytes is not None and safe_files.regular_size(path) != row.download_bytes:
        return None
    return path


def _in_folder(path: Path, folder: Path) -> bool:
    return safe_files.is_regular(path) and safe_files.inside(path, folder)


async def _unchanged(path: Path, folder: Path, sha256: str | None) -> bool:
    """``path`` is a regular file in ``folder`` whose content is still ``sha256``."""
    if not sha256 or not _in_folder(path, folder):
        return False
    try:
        return await asyncio.to_thread(safe_files.sha256_of, path) == sha256
    except OSError:
        return False


async def forget(store: TaskStore, row: Generation, folders: Folders, *,
                 with_file: bool = False) -> Generation | None:
    """Move the row (and, if asked, its video) to the trash.

    ``NotOurs`` (an ``OSError``) if the video is no longer the file this app saved:
    then nothing is moved and the row is not forgotten.
    """
    video = own_video(row, folders.downloads) if with_file else None
    if video is not None:
        if not await _unchanged(video, folders.downloads, row.download_sha256):
            raise NotOurs(video, "is no longer the video pixverse-tui saved (its SHA-256 "
                                 "changed), so it is not moved")
        folders.trash.mkdir(parents=True, exist_ok=True)
        kept = await asyncio.to_thread(_move_to_free_name, video, folders.trash,
                                       f"{row.id}-{video.name}")
        await store.downloads.set(row.id, state=TRASHED, path=str(kept),
                                  done=row.download_bytes, total=row.download_total,
                                  sha256=row.download_sha256, error=f"{MOVED_FROM}{video}")
    return await store.trash.forget(row.id)


async def restore(store: TaskStore, generation_id: int, folders: Folders) -> Generation | None:
    """Undo ``forget``: the row comes back, and its video goes back to the downloads
    folder (under its old name if that is free)."""
    row = await store.trash.restore(generation_id)
    if row is None or row.download_state != TRASHED or not row.download_path:
        return row
    kept = Path(row.download_path)
    if not await _unchanged(kept, folders.trash, row.download_sha256):
        return await store.downloads.set(row.id, state="none", error=None)
    name = Path((row.download_error or "").removeprefix(MOVED_FROM)).name
    if not name.lower().endswith(".mp4") or name.startswith("."):
        name = f"pixverse-{row.id}.mp4"
    folders.downloads.mkdir(parents=True, exist_ok=True)
    back = await asyncio.to_thread(_move_to_free_name, kept, folders.downloads, name)
    return await store.downloads.set(row.id, state="done", path=str(back),
                                     done=row.download_bytes, total=row.download_total,
                                     sha256=row.download_sha256)


async def empty(store: TaskStore, trash: Path, days: float = TRASH_DAYS) -> int:
    """Delete for good what has been in the trash longer than ``days``: the rows, and
    the videos set aside with them — each only if it is still, in the trash folder,
    the file that was put there."""
    gone = await store.trash.purge(days)
    for row in gone:
        if row.download_state == TRASHED and row.download_path:
            path = Path(row.download_path)
            if await _unchanged(path, trash, row.download_sha256):
                with contextlib.suppress(OSError):
                    path.unlink()
    return len(gone)


def _move_to_free_name(source: Path, folder: Path, name: str) -> Path:
    """Move ``source`` into ``folder`` as ``name`` — or ``STEM-2.mp4``… if that is taken."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for number in range(1, 1000):
        dest = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            safe_files.move(source, dest)
        except FileExistsError:
            continue
        return dest
    raise FileExistsError(f"no free name for {name} in {folder}")
