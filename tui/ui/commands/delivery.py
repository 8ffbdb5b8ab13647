"""A saved video handed to the browser, when the dashboard runs in one (``pixverse-tui
serve``): the file stays saved on the server, as in a terminal, and the browser gets
a copy as a download (Textual's ``deliver_binary``, streamed by textual-serve).

``d`` on the table (``RowCommands.download``) asks ``to_browser`` first when the
dashboard runs in a browser; in a terminal ``d`` goes on as always.
"""

from __future__ import annotations

import re
from pathlib import Path

from storage import Generation
from tui.ui.commands.plans import Deliver, Outlet

NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(path: Path) -> str:
    """A plain ASCII file name: textual-serve writes it into Content-Disposition unquoted
    (a space, a quote or a CJK character there would break the header)."""
    stem = NOT_SAFE.sub("_", path.stem).strip("._") or "video"
    suffix = NOT_SAFE.sub("", path.suffix) or ".mp4"
    return stem[:120] + suffix


def to_browser(rows: list[Generation], outlet: Outlet) -> Deliver | bool:
    """``d`` on one saved video, in a browser: the plan that sends it there, or True when
    this said why not; False: ``d`` does what it does in a terminal (saves a finished
    video on the server — ``d`` again then sends it)."""
    if len(rows) != 1:
        return False
    row = rows[0]
    if row.download_state != "done" or not row.download_path:
        return False
    path = Path(row.download_path)
    if not path.is_file():
        outlet.notify(f"The saved video is no longer on the server ({path.name}).",
                      severity="warning")
        return True
    return Deliver(path, download_name(path))
