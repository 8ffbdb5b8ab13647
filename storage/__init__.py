"""SQLite persistence for generations.  Imports neither Textual nor httpx."""

from storage.errors import (
    DuplicateTask,
    SchemaTooNew,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from storage.records import STATUS_RANK, Generation, Observation, StatusEvent, can_advance
from storage.store import TaskStore

__all__ = ["STATUS_RANK", "DuplicateTask", "Generation", "Observation", "SchemaTooNew",
           "StatusEvent", "StoreBusy", "StoreCorrupt", "StoreError", "StoreFull",
           "StoreUnavailable", "TaskStore", "can_advance"]
