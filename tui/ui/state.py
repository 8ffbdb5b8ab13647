"""What the app remembers by itself (last theme, composer settings), via tomli-w.

Kept apart from the user's ``config.toml``, which is never rewritten.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from tui.engine.safe_files import write_atomically


def read_state(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError):
        return {}  # state is only a convenience: a broken file means a fresh start


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace the state file (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in state.items() if v is not None}
    write_atomically(path, tomli_w.dumps(clean).encode("utf-8"))
