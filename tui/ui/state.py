"""What the app remembers by itself (last theme, composer settings), via tomli-w.

Kept apart from the user's ``config.toml``, which is never rewritten.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from tui.engine.media.safe_files import write_atomically

SHAPE: dict[str, type] = {"theme": str, "config_theme": str, "composer": dict}


def read_state(path: Path) -> dict[str, Any]:
    """What was remembered; a value of the wrong kind (a hand-edited or damaged file)
    is forgotten rather than trusted."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError):
        return {}  # state is only a convenience: a broken file means a fresh start
    return {key: value for key, value in data.items()
            if key not in SHAPE or isinstance(value, SHAPE[key])}


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace the state file (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in state.items() if v is not None}
    write_atomically(path, tomli_w.dumps(clean).encode("utf-8"))
