"""The SQLite backend: the embedded default store.  Only ``storage`` names it.

``SqliteStore`` (aiosqlite, asyncio) is imported when first asked for (PEP 562): the
page reader (``storage.sqlite.reader``) loads neither."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]


def __getattr__(name: str) -> object:
    if name == "SqliteStore":
        from storage.sqlite.store import SqliteStore

        return SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
