"""Full garbage collections that look only at what changes.

Textual lets go of a render cache it clears (``textual.cache.LRUCache.clear``) as a ring
of entries — a reference cycle, which only the garbage collector frees.  The table clears
its caches with every page a keystroke brings and every tick of the elapsed-time clocks,
so CPython's full (generation 2) collection comes every few keystrokes, and it walks
every object the process holds: the modules, classes and widgets made at start-up
(~60,000), 40–90 ms in the middle of a keystroke.  Those objects live as long as the
process does: once the dashboard has started, ``gc.freeze`` puts them out of the
collector's sight, and a full collection walks only what was made since (the garbage
of the last few pages and what is on screen).

Before that, start-up itself runs without collections (``pause_for_startup``): it makes
~60,000 objects that all live on, and each collection the allocations set off walked
more of them for nothing — about a tenth of start-up's CPU.  They resume when the
first page is shown (``freeze_startup``), or after ``STARTUP_GRACE`` whatever happens
(a welcome screen, a store that does not open).
"""

from __future__ import annotations

import gc

STARTUP_GRACE = 10.0  # seconds: collections resume by then even if no page is shown
_paused = False


def pause_for_startup() -> None:
    """No collections until start-up is over (``freeze_startup`` or ``resume``)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collections as usual again, if ``pause_for_startup`` stopped them."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()


def freeze_startup() -> None:
    """Leave what start-up made out of every later collection (it is never garbage:
    modules, classes, the screens' widgets).  Nothing is collected first: a full
    collection here would be the very pause this avoids, just as the first keys come
    (the few thousand objects start-up threw away in cycles stay, ~1 MB)."""
    gc.freeze()
    resume()


def thaw() -> None:
    """The dashboard ends: what start-up made may be garbage now (a process that outlives
    its App — a test run — frees it again)."""
    gc.unfreeze()
