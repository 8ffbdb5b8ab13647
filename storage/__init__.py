"""Persistence for generations, behind one interface (``storage.interface.TaskStore``).

Imports neither Textual nor httpx.  Open a store with ``open_store`` (or, to print a
page and leave, a synchronous ``open_page_reader``); nothing outside this package names
a backend.  Each name here is imported from its module when first asked for (PEP 562):
a page reader's user never loads asyncio (the change feed) or the team store's connection
rules, and importing ``storage.records`` loads no other part of the package.
"""

from storage.lazy import lazy_names

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
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
    from storage.factory import open_page_reader, open_store, store_location
    from storage.interface import PageReader, TaskStore
    from storage.processes import process_tag
    from storage.records import Generation, Observation, StatusEvent
    from storage.statuses import STATUS_RANK, TRASH_DAYS, can_advance

# Where each name lives.
_MODULES = {
    **dict.fromkeys(("Change", "ChangeFeed"), "storage.changes"),
    **dict.fromkeys(("DuplicateTask", "SchemaTooNew", "StoreBusy", "StoreCorrupt", "StoreError",
                     "StoreFull", "StoreUnavailable"), "storage.errors"),
    **dict.fromkeys(("open_page_reader", "open_store", "store_location"), "storage.factory"),
    **dict.fromkeys(("PageReader", "TaskStore"), "storage.interface"),
    "process_tag": "storage.processes",
    **dict.fromkeys(("Generation", "Observation", "StatusEvent"), "storage.records"),
    **dict.fromkeys(("STATUS_RANK", "TRASH_DAYS", "can_advance"), "storage.statuses"),
}

__all__ = ["STATUS_RANK", "TRASH_DAYS", "Change", "ChangeFeed", "DuplicateTask", "Generation",
           "Observation", "PageReader", "SchemaTooNew", "StatusEvent", "StoreBusy",
           "StoreCorrupt", "StoreError", "StoreFull", "StoreUnavailable", "TaskStore",
           "can_advance", "open_page_reader", "open_store", "process_tag", "store_location"]


__getattr__ = lazy_names(__name__, _MODULES, globals())
