"""Which process wrote a row, and whether it still lives (any backend records it)."""

from __future__ import annotations

import getpass
import os


def process_tag() -> str:
    """Identifies this process, so other processes can tell whether it still lives."""
    import socket  # (when first asked: a reader that writes nothing never loads it)

    return f"{socket.gethostname()}:{os.getpid()}"


def person() -> str:
    """Who this process acts for, as other machines show it: ``user@host`` (the status
    bar's "polled by alice@studio-2")."""
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "someone"
    return f"{user}@{socket.gethostname()}"


def poller_tag(instance: int) -> str:
    """Names one poller of this process as a lease holder: ``user@host:pid:instance``."""
    return f"{person()}:{os.getpid()}:{instance:x}"


def holder_name(owner: str) -> str:
    """The person and machine in a lease holder's tag (``poller_tag``): what to show."""
    if "@" in owner.partition(":")[0]:
        return owner.partition(":")[0]
    return owner.rpartition(":")[0].rpartition(":")[0] or owner  # an older host:pid:n tag


def process_alive(tag: str | None) -> bool:
    """Whether the process ``tag`` names may still run (another host's: cannot tell, yes)."""
    if not tag or ":" not in tag:
        return False
    import socket

    host, _, pid = tag.rpartition(":")
    if host != socket.gethostname():
        return True  # cannot tell; rely on the age check
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def holder_gone(tag: str | None) -> bool:
    """Whether the lease holder ``tag`` names is a process of this machine that no longer
    runs (killed with -9: it could not give its lease back).  Tags: ``host:pid``,
    ``host:pid:what`` and ``user@host:pid:instance``.  Another machine's, or one that
    cannot be told: False — its lease runs out by itself."""
    if not tag:
        return False
    import socket

    host, _, rest = tag.partition(":")
    pid = rest.partition(":")[0]
    if host.rpartition("@")[2] != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):  # another user's (it runs), or no such number
        return False
    return False
