"""The SQLite backend: the embedded default store.  Only ``storage`` names it."""

from storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
