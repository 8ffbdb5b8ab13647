"""Persistence for generations, behind one interface (``storage.interface.TaskStore``).

Imports neither Textual nor httpx.  Open a store with ``open_store`` (or, to print a
page and leave, a synchronous ``open_page_reader``); nothing outside this package names
a backend.  The change feed (``Change``, ``ChangeFeed``: asyncio) is imported when first
asked for, so a page reader's user never loads asyncio.
"""

from typing import TYPE_CHECKING

from storage.errors import (
    DuplicateTask,
    SchemaTooNew,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from storage.factory import open_page_reader, open_store, store_location
from storage.interface import TRASH_DAYS, PageReader, TaskStore
from storage.processes import process_tag
from storage.records import STATUS_RANK, Generation, Observation, StatusEvent, can_advance

if TYPE_CHECKING:
    from storage.changes import Change, ChangeFeed

__all__ = ["STATUS_RANK", "TRASH_DAYS", "Change", "ChangeFeed", "DuplicateTask", "Generation",
           "Observation", "PageReader", "SchemaTooNew", "StatusEvent", "StoreBusy",
           "StoreCorrupt", "StoreError", "StoreFull", "StoreUnavailable", "TaskStore",
           "can_advance", "open_page_reader", "open_store", "process_tag", "store_location"]


def __getattr__(name: str) -> object:
    if name in ("Change", "ChangeFeed"):
        from storage import changes

        return getattr(changes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
