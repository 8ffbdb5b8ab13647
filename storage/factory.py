"""Opening a store: the one place that knows which backends there are."""

from __future__ import annotations

import re
from pathlib import Path

from storage.errors import StoreUnavailable
from storage.interface import PageReader, TaskStore

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")  # a scheme (not a drive letter)


async def open_store(location: str | Path) -> TaskStore:
    """The store at ``location``: a SQLite file path (created or upgraded as needed).
    Raises ``StoreError`` with a sentence a user can act on."""
    from storage.sqlite import SqliteStore

    if isinstance(location, str) and _URL.match(location):
        scheme = location.split("://", 1)[0]
        raise StoreUnavailable(f"{scheme}:// stores are not supported by this pixverse-tui; "
                               "give the path of a SQLite file")
    return await SqliteStore.open(location)


def open_page_reader(location: str | Path) -> PageReader | None:
    """A synchronous reader of the store at ``location`` (``PageReader``), or None where
    there is none to offer — a backend without one, a store not made or not upgraded
    yet, a file that cannot be read: the caller opens the store (``open_store``)."""
    if isinstance(location, str) and _URL.match(location):
        return None
    from storage.sqlite.reader import SqlitePageReader

    return SqlitePageReader.open(Path(location))
