"""Which process wrote a row, and whether it still lives (any backend records it)."""

from __future__ import annotations

import os


def process_tag() -> str:
    """Identifies this process, so other processes can tell whether it still lives."""
    import socket  # (when first asked: a reader that writes nothing never loads it)

    return f"{socket.gethostname()}:{os.getpid()}"


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
