"""SQLite's errors as the sentences of ``storage.errors``: what the store (aiosqlite) and
the page reader (sqlite3) both raise.  No driver but the standard library's here."""

from __future__ import annotations

import sqlite3

from storage.errors import (
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
    disk_is_full,
    full_disk,
)

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    code = _code(exc)
    if code is not None:
        return code in (_BUSY, _LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """One sentence a user can act on, for a driver error."""
    code, reason = _code(exc), str(exc)
    if code in (_CORRUPT, _NOTADB) or "not a database" in reason or "malformed" in reason:
        return StoreCorrupt(f"{path} is not a pixverse-tui database or is damaged ({reason}); "
                            "move it aside to start a new history")
    if code == _FULL or "disk is full" in reason or (code == _IOERR and disk_is_full(path)):
        return StoreFull(f"{full_disk(path)} (nothing was lost)")
    if code == _READONLY or "readonly" in reason:
        return StoreUnavailable(f"{path} is read-only; make it writable or set "
                                "PIXVERSE_TUI_HOME to a writable folder")
    if code == _CANTOPEN or "unable to open" in reason:
        return StoreUnavailable(f"cannot open {path} ({reason}); check that its folder exists "
                                "and is writable, or set PIXVERSE_TUI_HOME")
    if code == _IOERR:
        return StoreUnavailable(f"could not read or write {path} ({reason})")
    if is_busy(exc):
        return StoreBusy(f"{path} stayed locked by other processes; try again")
    if isinstance(exc, sqlite3.ProgrammingError):  # closed under us while shutting down
        return StoreUnavailable(f"the database {path} is closed")
    return StoreError(f"the database {path} failed: {reason}")
