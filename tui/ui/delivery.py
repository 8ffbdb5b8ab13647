"""A saved video handed to the browser, when the dashboard runs in one (``pixverse-tui
serve``): the file stays saved on the server, as in a terminal, and the browser gets
a copy as a download (Textual's ``deliver_binary``, streamed by textual-serve).

One call site: ``d`` on the table (``RowActions.action_download``) asks
``offer_saved`` first; in a terminal it declines and ``d`` goes on as always.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual.app import App

from storage import Generation

NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(path: Path) -> str:
    """A plain ASCII file name: textual-serve writes it into Content-Disposition unquoted
    (a space, a quote or a CJK character there would break the header)."""
    stem = NOT_SAFE.sub("_", path.stem).strip("._") or "video"
    suffix = NOT_SAFE.sub("", path.suffix) or ".mp4"
    return stem[:120] + suffix


def offer_saved(app: App[Any], rows: list[Generation]) -> bool:
    """In a browser, ``d`` on one saved video sends it to the browser.  True when this
    handled the key (sent, or said why not); False: ``d`` does what it does in a terminal
    (saves a finished video on the server — ``d`` again then sends it)."""
    if not app.is_web or len(rows) != 1:
        return False
    row = rows[0]
    if row.download_state != "done" or not row.download_path:
        return False
    path = Path(row.download_path)
    if not path.is_file():
        app.notify(f"The saved video is no longer on the server ({path.name}).",
                   severity="warning")
        return True
    name = download_name(path)
    app.deliver_binary(path, save_filename=name, mime_type="video/mp4")
    app.notify(f"Sending {name} to this browser.", title="Download", timeout=4)
    return True
