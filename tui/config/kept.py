"""The checked settings, kept beside the history between runs, so that a command whose
config.toml has not changed since the last run reads neither TOML nor the rules.

Parsing config.toml costs every run 8–10 ms (``tomllib`` loads ``typing`` and
``string`` and compiles its patterns; the rules load the sizes, the limits and the file
names they check) — a quarter of ``pixverse-tui list``.  What the last run made of the
file (the values, the problems, where each key is) is written to ``settings.cache`` in
the data folder, stamped with what it was made from: the text of config.toml's path, and
the size, inode and modification and change times of config.toml, templates.toml beside
it, and of every module whose rules checked it.  Any difference — an edit, a file put in
place by a rename, a touch, an upgrade of pixverse-tui — and the files are read and
checked again.  Not kept: what a file that could not be read (now) made, what a file
changed in the last two seconds made (a coarse clock could give its next edit the same
stamp), and settings holding a password (the store's URL).  The cache is ``marshal``'s
format (no import, a tenth of a millisecond); one that cannot be read — damaged, not a
regular file, larger than any this code writes, written by another Python — is ignored
and replaced.  Without a config file the defaults are kept alike (making them loads the
rules).
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
import time

from tui.config.loaded import LineIndex, Settings

FILE = "settings.cache"
FORMAT = 1
TEMPLATES_FILE = "templates.toml"  # (``tui.config.settings.TEMPLATES_FILE``, checked by a test)
# The modules whose rules decide what a file's settings become: ``tui.config.settings``
# and every module of this package it imports (a test keeps the list whole).
RULES = ("tui/config/settings.py", "tui/config/loaded.py", "tui/dashscope/endpoints.py",
         "tui/dashscope/sizes.py", "tui/engine/media/filenames.py",
         "tui/engine/submitting/limits.py", "tui/text_input.py", "storage/tuples.py",
         "storage/clock.py", "storage/lazy.py", "storage/records.py", "storage/statuses.py",
         # (imported by a rule when it runs: a template's, a store URL's)
         "tui/engine/submitting/templates.py", "storage/postgres/connect.py",
         "storage/errors.py", "storage/location.py")
LARGEST = 1 << 20  # bytes: a cache larger than this is not ours (a settings cache is ~2 KB)
SETTLED = 2_000_000_000  # ns: a file changed more recently may change again unseen
# (a file system whose clock ticks in seconds gives an edit within the same second the
# same stamp: what was read from a file this fresh is not kept — git's "racy" rule)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def settings(config: str, cache: str) -> Settings:
    """The settings of the config file at ``config``: as kept at ``cache`` when it was
    made from the files as they are now, else read, checked and kept there."""
    stamp = _stamp(config)
    kept = _kept(cache, stamp, config)
    if kept is not None:
        return kept
    from tui.config import settings as rules

    made = rules.load(config)
    if _lasting(made, stamp):
        _keep(cache, stamp, made)
    return made


def _lasting(made: Settings, stamp: tuple[object, ...]) -> bool:
    """Whether ``made`` is the files' lasting answer, worth keeping: not when a file there
    could not be read (that may pass), nor when one changed within the last two seconds,
    nor when the settings hold a password (``[store] url``: one copy is one too many)."""
    if made.unread:
        return False
    now = time.time_ns()
    for seen in stamp[3:5]:
        if isinstance(seen, tuple) and now - max(seen[2], seen[3]) < SETTLED:
            return False
    url = made.get("store", "url")
    if isinstance(url, str) and url:
        from storage.postgres.connect import has_password

        return not has_password(url)
    return True


def _stamp(config: str) -> tuple[object, ...]:
    """What the settings are made from, as ``os.stat`` sees it (no config file is a
    stamp too: the defaults are the rules')."""
    rules = tuple(_seen(os.path.join(_ROOT, module)) for module in RULES)
    return (FORMAT, sys.version_info[:2], config, _seen(config),
            _seen(os.path.join(os.path.dirname(config), TEMPLATES_FILE)), rules)


def _seen(path: str) -> tuple[int, ...] | None:
    try:
        found = os.stat(path)
    except (OSError, ValueError):  # missing, unreadable, a name with a NUL
        return None
    return (found.st_size, found.st_ino, found.st_mtime_ns, found.st_ctime_ns)


def _kept(cache: str, stamp: tuple[object, ...], config: str) -> Settings | None:
    """The settings kept at ``cache`` if they were made from ``stamp``; None otherwise
    (no cache, another stamp, a file this code did not write)."""
    try:  # (never through a link, never a pipe or a device, never a large file)
        fd = os.open(cache, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_size > LARGEST:
            return None
        data = os.read(fd, LARGEST + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        kept = marshal.loads(data)
    except Exception:  # (a damaged file: marshal raises what it meets, MemoryError too)
        return None
    if not (isinstance(kept, tuple) and len(kept) == 5 and kept[0] == stamp):
        return None
    _, values, problems, headers, keys = kept
    if not (isinstance(values, dict) and isinstance(problems, list)
            and isinstance(headers, dict) and isinstance(keys, dict)):
        return None
    return Settings(values, problems, source=config, lines=LineIndex.made(headers, keys))


def _keep(cache: str, stamp: tuple[object, ...], made: Settings) -> None:
    """Write ``made`` to ``cache`` (whole or not at all); nothing when it cannot be: a
    value TOML has and ``marshal`` has not (a date in ``[keys]``), no data folder yet,
    a read-only one."""
    lines = made.lines
    try:
        data = marshal.dumps((stamp, made.values, made.problems,  # type: ignore[arg-type]
                              {} if lines is None else lines.headers,
                              {} if lines is None else lines.keys))
    except ValueError:
        return
    temporary = f"{cache}.{os.getpid()}.tmp"
    try:  # (a fresh file, never through a link: the data folder's own rule)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        with open(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, cache)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(temporary)
