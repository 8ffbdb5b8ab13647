"""Forgetting that can be undone.

A forgotten generation goes to the store's trash (hidden everywhere, restorable
for ``TRASH_DAYS``).  "Forget and delete the file" does not delete at once
either: the file is moved into the trash folder, so undo brings both back; it
is deleted only when the trash is emptied.  A file is offered for deletion
only when it is the video this history downloaded (an MP4 of the recorded
size) — an imported row cannot make the dashboard delete an arbitrary file.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from storage import TRASH_DAYS, Generation, TaskStore

TRASHED = "trashed"  # download_state of a video set aside with its forgotten row


def own_video(row: Generation) -> Path | None:
    """The row's downloaded video, if it is still where and what the history says."""
    if row.download_state != "done" or not row.download_path:
        return None
    path = Path(row.download_path)
    try:
        if path.suffix.lower() != ".mp4" or not path.is_file() or path.is_symlink():
            return None
        if row.download_bytes is not None and path.stat().st_size != row.download_bytes:
            return None
    except OSError:
        return None
    return path


async def forget(store: TaskStore, row: Generation, trash_dir: Path, *,
                 with_file: bool = False) -> Generation | None:
    """Move the row (and, if asked, its video) to the trash."""
    video = own_video(row) if with_file else None
    if video is not None:
        trash_dir.mkdir(parents=True, exist_ok=True)
        kept = trash_dir / f"{row.id}-{video.name}"
        shutil.move(video, kept)
        await store.downloads.set(row.id, state=TRASHED, path=str(kept),
                                  done=row.download_bytes, total=row.download_total,
                                  sha256=row.download_sha256,
                                  error=f"moved to the trash from {video}")
    return await store.trash.forget(row.id)


async def restore(store: TaskStore, generation_id: int) -> Generation | None:
    """Undo ``forget``: the row comes back, and its video goes back where it was."""
    row = await store.trash.restore(generation_id)
    if row is None or row.download_state != TRASHED or not row.download_path:
        return row
    original = Path((row.download_error or "").removeprefix("moved to the trash from "))
    kept = Path(row.download_path)
    if not original.name or original.exists() or not kept.exists():
        return await store.downloads.set(row.id, state="none", error=None)
    original.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(kept, original)
    return await store.downloads.set(row.id, state="done", path=str(original),
                                     done=row.download_bytes, total=row.download_total,
                                     sha256=row.download_sha256)


async def empty(store: TaskStore, days: float = TRASH_DAYS) -> int:
    """Delete for good what has been in the trash longer than ``days``, files included."""
    gone = await store.trash.purge(days)
    for row in gone:
        if row.download_state == TRASHED and row.download_path:
            with contextlib.suppress(OSError):
                Path(row.download_path).unlink(missing_ok=True)
    return len(gone)
