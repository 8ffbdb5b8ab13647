"""What can go wrong with the store, in words a user can act on.

Callers see these, never a database driver's own exceptions, so the command
line and the dashboard can print one sentence — and a future server-backed
store can raise the same ones.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked; ``str()`` is one sentence for the user."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written (missing folder, permissions, read-only)."""


class StoreCorrupt(StoreError):
    """The file is not a database this program can read (truncated, garbage, a folder)."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full."""


class StoreBusy(StoreError):
    """Other processes held the database for longer than we are willing to wait."""


class SchemaTooNew(StoreError):
    """The database was written by a newer pixverse-tui."""


class DuplicateTask(StoreError):
    """A task id that another generation already holds."""
