"""Persistence for generations, behind one interface (``storage.interface.TaskStore``).

Imports neither Textual nor httpx.  Open a store with ``open_store``; nothing
outside this package names a backend.
"""

from storage.changes import Change, ChangeFeed
from storage.errors import (
    DuplicateTask,
    SchemaTooNew,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from storage.factory import open_store, store_location
from storage.interface import TRASH_DAYS, TaskStore
from storage.processes import process_tag
from storage.records import STATUS_RANK, Generation, Observation, StatusEvent, can_advance

__all__ = ["STATUS_RANK", "TRASH_DAYS", "Change", "ChangeFeed", "DuplicateTask", "Generation",
           "Observation", "SchemaTooNew", "StatusEvent", "StoreBusy", "StoreCorrupt",
           "StoreError", "StoreFull", "StoreUnavailable", "TaskStore", "can_advance",
           "open_store", "process_tag", "store_location"]
