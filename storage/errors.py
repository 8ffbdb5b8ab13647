"""What can go wrong with the store, in words a user can act on.

Callers see these, never a database driver's own exceptions, so the command
line and the dashboard can print one sentence — and a future server-backed
store can raise the same ones.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path

# Below this much room, a write that fails is taken to have failed for want of room:
# SQLite then often says only "disk I/O error" (its shared-memory file or its
# write-ahead log could not grow), and a file write may say "File too large".
FULL_BELOW = 1 << 20


class StoreError(Exception):
    """The store could not do what was asked; ``str()`` is one sentence for the user."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written (missing folder, permissions, read-only)."""


class StoreCorrupt(StoreError):
    """The file is not a database this program can read (truncated, garbage, a folder)."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full."""


def disk_is_full(path: Path) -> bool:
    """The file system holding ``path`` (or its nearest existing folder) has (almost)
    no room left for us."""
    for folder in (path, *path.parents):
        try:
            found = os.statvfs(folder)
        except FileNotFoundError:
            continue
        except (OSError, ValueError, AttributeError):  # AttributeError: no statvfs (Windows)
            return False
        return found.f_bavail * found.f_frsize < FULL_BELOW
    return False


def full_disk(path: Path) -> str:
    """The sentence every command says when the disk holding ``path`` is full."""
    return f"the disk holding {path} is full; free some space and try again"


class StoreBusy(StoreError):
    """Other processes held the database for longer than we are willing to wait."""


class SchemaTooNew(StoreError):
    """The database was written by a newer pixverse-tui."""


class DuplicateTask(StoreError):
    """A task id that another generation already holds."""
