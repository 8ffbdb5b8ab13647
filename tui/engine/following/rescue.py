"""Videos saved before their URLs die.

A finished task's video URL is the vendor's, not for keeping: it stops working
about 24 hours after the task ended.  Whoever polls the account downloads
finished videos as they finish when ``[downloads] auto`` is on; and everyone
is warned about finished videos not saved yet whose URL dies within two hours.
"""

from __future__ import annotations

from datetime import timedelta

from storage import Generation
from storage.clock import iso, utc_now

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:  # (the interface's Protocols: ``list`` never loads them)
    from storage import PageReader, TaskStore

URL_LIFETIME = timedelta(hours=24)  # from the task's end (protocol: queryable 24 h)
WARN_BEFORE = timedelta(hours=2)
RESCUE_AT_MOST = 1000  # videos looked at per check, the soonest to expire first
SHOWN = 10  # references a warning names (the soonest to expire)


async def expiring(store: TaskStore, within: timedelta = WARN_BEFORE) -> list[Generation]:
    """Finished, not downloaded, and the URL dies within ``within`` (still alive now)."""
    after, before = _dying(within)
    return await store.downloads.unsaved(ended_after=after, ended_before=before,
                                         limit=RESCUE_AT_MOST)


def warning_now(reader: PageReader, within: timedelta = WARN_BEFORE) -> str | None:
    """``warning(expiring(…))``, read through a page reader (``list``, without an event
    loop): how many, and the first few, in one look at the index — no record made."""
    after, before = _dying(within)
    count, first = reader.unsaved_tally(ended_after=after, ended_before=before,
                                        at_most=RESCUE_AT_MOST, first=SHOWN)
    return _sentence(count, [task_id or f"#{id_}" for id_, task_id in first])


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
    return _sentence(len(rows), [r.task_id or f"#{r.id}" for r in rows[:SHOWN]])


def _sentence(count: int, first: list[str]) -> str | None:
    """``warning``'s sentence: ``count`` videos, the references of the first ones."""
    if not count:
        return None
    ids = " ".join(ref[:8] for ref in first[:SHOWN])
    more = " …" if count > SHOWN else ""
    return (f"{count} finished video{'s are' if count != 1 else ' is'} not downloaded "
            f"and {'their URLs expire' if count != 1 else 'its URL expires'} within "
            f"{int(WARN_BEFORE.total_seconds() // 3600)} hours: pixverse-tui download {ids}{more}")
