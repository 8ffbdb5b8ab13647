"""SQLite persistence for generations.  Imports neither Textual nor httpx."""

from storage.records import STATUS_RANK, Generation, Observation, StatusEvent, can_advance
from storage.store import TaskStore

__all__ = ["STATUS_RANK", "Generation", "Observation", "StatusEvent", "TaskStore", "can_advance"]
