"""An exclusive lock between processes (and between tasks of one process) on a lock file.

Two downloads of one video into one folder must not write the same ``.part``.
POSIX uses ``flock``: it conflicts between two open files even within one
process, and the kernel drops it when its holder dies (kill -9 leaves no stale
lock).  Windows uses ``msvcrt.locking`` on the first byte, which behaves alike.

The holder removes the lock file on release (POSIX); a waiter that then wins
a lock on the removed file notices the path changed and locks the new one.
A lock file is opened without following a link (``O_NOFOLLOW``): a link planted
at its name in a shared folder cannot make us create or lock a file elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from pathlib import Path

from tui.engine.media.safe_files import LINK, NOFOLLOW, NotOurs

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """``try_acquire`` / ``acquire`` (waits without blocking the event loop) / ``release``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free.  Raises ``OSError`` if the file cannot be made."""
        if self._fd is not None:
            raise RuntimeError("lock already held")
        for _ in range(10):  # each retry means a holder removed the file just now
            fd = _open(self.path)
            if not _try_lock(fd):
                os.close(fd)
                return False
            if sys.platform == "win32" or _same_file(fd, self.path):
                self._fd = fd
                return True
            _unlock(fd)
            os.close(fd)
        return False

    async def acquire(self, *, poll: float = 0.05, max_poll: float = 0.5) -> None:
        """Wait for the lock, checking again with a growing pause."""
        while not self.try_acquire():
            await asyncio.sleep(poll)
            poll = min(poll * 1.5, max_poll)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if sys.platform != "win32":
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still holding it: see the module docstring
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise NotOurs(path, LINK) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotOurs(path, "is not a regular file")
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.lstat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)
