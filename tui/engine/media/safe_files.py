"""Writing, moving and deleting files without being pointed elsewhere.

A downloads folder may be shared (another account, a synced folder), and a path
in the history may come from an import: so a name is never trusted to be the
file the app means.  Files are created so that whatever already sits at the name
is refused (``O_NOFOLLOW``, ``O_EXCL``), temporary files get names nobody can
guess, a file is moved only onto a name that is free (never replacing one), and
a file is moved or deleted only when it is a regular file inside one of the
app's own folders whose SHA-256 is still the one recorded — checked at the
moment of acting.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:  # (``list`` checks a file by its text: no pathlib)
    from pathlib import Path
    from typing import BinaryIO

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
LINK = "is a symbolic link, which pixverse-tui does not follow"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a named pipe planted at a name must not hang us
# errors of a hard link that only mean "this file system has none"
_NO_LINKS = {errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOSYS,
             getattr(errno, "ENOTSUP", errno.EPERM), getattr(errno, "EOPNOTSUPP", errno.EPERM)}


class NotOurs(OSError):
    """A name holds something the app did not make (a link, a pipe, another file);
    ``str()`` is a sentence fragment saying which."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} {why}")
        self.path = path


def is_regular(path: str | Path) -> bool:
    """A regular file at ``path`` itself (a symbolic link there does not count)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def regular_size(path: Path) -> int:
    """The size of the regular file at ``path``; 0 for none, a link or anything else."""
    try:
        found = os.lstat(path)
    except (OSError, ValueError):
        return 0
    return found.st_size if stat.S_ISREG(found.st_mode) else 0


def occupied(path: Path) -> bool:
    """Something (a file, a link — even a dangling one — a folder) has this name."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # cannot tell: not free
    return True


def inside(path: Path, folder: Path) -> bool:
    """``path``, links resolved, lies within ``folder`` (links resolved too)."""
    from pathlib import Path

    try:
        real = Path(os.path.realpath(path))
        return real != Path(os.path.realpath(folder)) and real.is_relative_to(
            os.path.realpath(folder))
    except (OSError, ValueError):
        return False


def _refuse_odd(fd: int, path: Path) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotOurs(path, "is not a regular file")


def _open(path: Path, flags: int) -> int:
    try:
        fd = os.open(path, flags | NOFOLLOW | _NONBLOCK | _FLAGS, 0o666)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise NotOurs(path, LINK) from None
        if exc.errno == errno.ENXIO:  # a pipe or a socket with nobody at the other end
            raise NotOurs(path, "is not a regular file") from None
        raise
    _refuse_odd(fd, path)
    return fd


def open_for_writing(path: Path, *, append: bool = False) -> BinaryIO:
    """``path`` for writing (created if missing, else truncated or appended to) —
    ``NotOurs`` if a link, a pipe or anything but a regular file has the name."""
    mode = os.O_APPEND if append else os.O_TRUNC
    fd = _open(path, os.O_WRONLY | os.O_CREAT | mode)
    return os.fdopen(fd, "ab" if append else "wb")


def open_for_reading(path: Path) -> BinaryIO:
    """A regular file at ``path`` itself, for reading; ``NotOurs`` for a link or a pipe."""
    return os.fdopen(_open(path, os.O_RDONLY), "rb")


def fresh_file(folder: Path, prefix: str, suffix: str = "") -> Path:
    """A new empty file in ``folder`` under a name nobody could guess or plant first."""
    import secrets  # (here and in sha256_of: looking at files loads neither)

    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _FLAGS, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step: written under a fresh name beside it,
    then renamed over it (a link at ``path`` is replaced, never followed)."""
    import contextlib  # (here: ``list`` loads this module, not contextlib)

    temporary = fresh_file(path.parent, f".{path.name[:60]}.", ".tmp")
    try:
        with open_for_writing(temporary) as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def sha256_of(path: Path) -> str:
    """The SHA-256 of the regular file at ``path`` (``NotOurs`` for a link or a pipe)."""
    import hashlib

    digest = hashlib.sha256()
    with open_for_reading(path) as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def move(source: Path, dest: Path) -> None:
    """Move the regular file ``source`` to ``dest``, which must be free:
    ``FileExistsError`` rather than replace anything there (even a link)."""
    if not is_regular(source):
        raise NotOurs(source, "is not a regular file")
    try:
        os.link(source, dest)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # another file system: copy, then place the copy
            _copy_across(source, dest)
            os.unlink(source)
            return
        if exc.errno not in _NO_LINKS:
            raise
        # no hard links here (FAT, some network shares): check, then rename; Windows'
        # rename refuses an existing name by itself
        if occupied(dest):
            raise FileExistsError(errno.EEXIST, "File exists", str(dest)) from None
        os.rename(source, dest)
        return
    os.unlink(source)


def _copy_across(source: Path, dest: Path) -> None:
    import contextlib  # (here: ``list`` loads this module, not contextlib)

    temporary = fresh_file(dest.parent, f".{dest.name[:60]}.", ".tmp")
    try:
        with open_for_reading(source) as src, open_for_writing(temporary) as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
        move(temporary, dest)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
