"""Opening a store: the one place that knows which backends there are."""

from __future__ import annotations

import os
from collections.abc import Mapping

from storage.errors import StoreUnavailable
from storage.location import chosen_url, is_postgres_url

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import TypeGuard

    from storage.interface import PageReader, TaskStore
    from storage.records import Who



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
    if _is_url(location):
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
    if _is_url(location):
        return None
    from storage.sqlite.reader import SqlitePageReader

    return SqlitePageReader.open(location, who)


def _is_url(location: str | Path) -> TypeGuard[str]:
    """``location`` starts with a scheme and ``://`` (``postgresql://…``), as no path
    does — nor a Windows drive letter (``C:\\…``): ``[A-Za-z][A-Za-z0-9+.-]+://``."""
    if not isinstance(location, str):
        return False
    scheme, found, _ = location.partition("://")
    return (bool(found) and len(scheme) >= 2 and scheme.isascii() and scheme[0].isalpha()
            and all(char.isalnum() or char in "+.-" for char in scheme))
