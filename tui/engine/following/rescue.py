"""Videos saved before their URLs die.

A finished task's video URL is the vendor's, not for keeping: it stops working
about 24 hours after the task ended.  Whoever polls the account downloads
finished videos as they finish when ``[downloads] auto`` is on; and everyone
is warned about finished videos not saved yet whose URL dies within two hours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from storage import Generation
from storage.clock import iso, utc_now

if TYPE_CHECKING:  # (the interface's Protocols: ``list`` never loads them)
    from storage import PageReader, TaskStore

URL_LIFETIME = timedelta(hours=24)  # from the task's end (protocol: queryable 24 h)
WARN_BEFORE = timedelta(hours=2)
RESCUE_AT_MOST = 1000  # videos looked at per check, the soonest to expire first


async def expiring(store: TaskStore, within: timedelta = WARN_BEFORE) -> list[Generation]:
    """Finished, not downloaded, and the URL dies within ``within`` (still alive now)."""
    after, before = _dying(within)
    return await store.downloads.unsaved(ended_after=after, ended_before=before,
                                         limit=RESCUE_AT_MOST)


def expiring_now(reader: PageReader, within: timedelta = WARN_BEFORE) -> list[Generation]:
    """``expiring``, read through a page reader (``list``, without an event loop)."""
    after, before = _dying(within)
    return reader.unsaved(ended_after=after, ended_before=before, limit=RESCUE_AT_MOST)


def _dying(within: timedelta) -> tuple[str, str]:
    """Ended after the first, at or before the second: their URLs die within ``within``."""
    now = utc_now()
    return iso(now - URL_LIFETIME), iso(now - URL_LIFETIME + within)


async def to_rescue(store: TaskStore) -> list[Generation]:
    """Every finished video whose URL still works and that is not saved yet."""
    return await store.downloads.unsaved(ended_after=iso(utc_now() - URL_LIFETIME),
                                         limit=RESCUE_AT_MOST)


def warning(rows: list[Generation]) -> str | None:
    """One sentence about videos about to be lost, or None."""
    if not rows:
        return None
    ids = " ".join((r.task_id or f"#{r.id}")[:8] for r in rows[:10])
    more = " …" if len(rows) > 10 else ""
    return (f"{len(rows)} finished video{'s are' if len(rows) != 1 else ' is'} not downloaded "
            f"and {'their URLs expire' if len(rows) != 1 else 'its URL expires'} within "
            f"{int(WARN_BEFORE.total_seconds() // 3600)} hours: pixverse-tui download {ids}{more}")
