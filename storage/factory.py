"""Opening a store: the one place that knows which backends there are."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from storage.errors import StoreUnavailable
from storage.location import chosen_url, is_postgres_url

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path

    from storage.interface import PageReader, TaskStore
    from storage.records import Who

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")  # a scheme (not a drive letter)


def store_location(config_url: str | None, default: str | Path,
                   environ: Mapping[str, str] = os.environ) -> str | Path:
    """Where this run's store is: the team database's URL (``PIXVERSE_TUI_DATABASE_URL``,
    else ``[store] url`` in config.toml), or the SQLite file ``default`` (a ``Path``, or
    its text)."""
    return chosen_url(config_url, environ) or default


async def open_store(location: str | Path, *, who: Who | None = None) -> TaskStore:
    """The store at ``location``: a SQLite file path (created or upgraded as needed), or a
    ``postgresql://`` URL (team mode: the schema created or upgraded as needed), opened
    for ``who`` (default ``Who.here()``: ``user@host`` on this host).
    Raises ``StoreError`` with a sentence a user can act on."""
    if isinstance(location, str) and _URL.match(location):
        if is_postgres_url(location):
            from storage.postgres.connect import INSTALL_HINT

            try:
                from storage.postgres.store import PostgresStore
            except ImportError:
                raise StoreUnavailable(INSTALL_HINT) from None
            return await PostgresStore.open(location, who)
        scheme = location.split("://", 1)[0]
        raise StoreUnavailable(f"{scheme}:// stores are not supported; give a postgresql:// "
                               "URL or the path of a SQLite file")
    from storage.sqlite import SqliteStore

    return await SqliteStore.open(location, who)


def open_page_reader(location: str | Path, *, who: Who | None = None) -> PageReader | None:
    """A synchronous reader of the store at ``location`` (``PageReader``) for ``who`` (as
    ``open_store``'s: whose ``by:me``, which machine's downloads), or None where there is
    none to offer — a backend without one (a server's store), a store not made or not
    upgraded yet, a file that cannot be read: the caller opens the store (``open_store``)."""
    if isinstance(location, str) and _URL.match(location):
        return None
    from storage.sqlite.reader import SqlitePageReader

    return SqlitePageReader.open(location, who)
