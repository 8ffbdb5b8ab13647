"""Opening a store: the one place that knows which backends there are."""

from __future__ import annotations

import re
from pathlib import Path

from storage.errors import StoreUnavailable
from storage.interface import TaskStore
from storage.records import Who

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")  # a scheme (not a drive letter)


async def open_store(location: str | Path, *, who: Who | None = None) -> TaskStore:
    """The store at ``location``: a SQLite file path (created or upgraded as needed),
    opened for ``who`` (default ``Who.here()``: ``user@host`` on this host).
    Raises ``StoreError`` with a sentence a user can act on."""
    from storage.sqlite import SqliteStore

    if isinstance(location, str) and _URL.match(location):
        scheme = location.split("://", 1)[0]
        raise StoreUnavailable(f"{scheme}:// stores are not supported by this pixverse-tui; "
                               "give the path of a SQLite file")
    return await SqliteStore.open(location, who)
