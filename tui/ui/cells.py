"""Table cells for a generation: literal ``Text`` (never markup, never a control
character) that also sorts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text

from storage import Generation
from storage.clock import parse_iso
from storage.records import LIVE, BatchSummary
from tui.engine.history import timeline
from tui.safe_text import printable

ICONS = {"QUEUED": "≡", "PENDING": "◷", "RUNNING": "▶", "SUSPENDED": "Ⅱ", "SUCCEEDED": "✔",
         "FAILED": "✘", "CANCELED": "⊘", "UNKNOWN": "?", "SUBMITTING": "↑", "UNCONFIRMED": "!",
         "REJECTED": "✘", "ABANDONED": "–", "TRACKED": "·"}
COLUMNS = (("mark", " ", 1), ("status", "Status", 14), ("prompt", "Prompt", 28),
           ("task", "Task", 8), ("size", "Size", 9), ("duration", "Dur", 4), ("audio", "♪", 2),
           ("submitted", "Submitted", 11), ("took", "Took", 5), ("download", "File", 9))
FILE_WIDTH = dict((key, width) for key, _, width in COLUMNS)["download"]
TICKING = LIVE | {"SUBMITTING"}  # a clock runs in their status cell
# On a narrow terminal these go first, in this order, before the prompt is squeezed.
DROP_ORDER = ("task", "size", "submitted", "audio", "duration", "took")


class SortText(Text):
    """A ``Text`` cell that carries the value it sorts by.

    It offers no measure: DataTable measures every cell of each row added, to size the
    columns that take their contents' width — and the task table's columns all have
    fixed widths.  Without ``__rich_measure__`` a cell costs that measuring nothing (a
    page of new rows measured in 10–30 ms before its frame)."""

    __rich_measure__ = None  # type: ignore[assignment]

    def __init__(self, text: str, order: Any, style: str | Style = "") -> None:
        super().__init__(printable(text), style=style, no_wrap=True, overflow="ellipsis")
        self.order = order
        self.row_id = 0  # the generation it belongs to (the table keeps rows in page order)


def clock_span(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def human_bytes(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def started_at(row: Generation) -> datetime | None:
    return parse_iso(row.submit_time) or parse_iso(row.created_at)


def elapsed(row: Generation, now: datetime) -> float | None:
    start = started_at(row)
    return None if start is None else (now - start).total_seconds()


def took(row: Generation) -> float | None:
    return timeline.total_seconds(row)


def submitted_text(row: Generation, now: datetime) -> str:
    moment = parse_iso(row.created_at)
    if moment is None:
        return ""
    local, today = moment.astimezone(), now.astimezone()
    return local.strftime("%H:%M:%S") if local.date() == today.date() else local.strftime(
        "%m-%d %H:%M")


def download_text(row: Generation) -> str:
    state = row.download_state
    if state == "done":
        return "✔ saved"
    if state == "downloading":
        if row.download_total:
            return f"⇣{100 * (row.download_bytes or 0) // row.download_total:>3d}%"
        return "⇣ …"
    if state == "failed":
        return "✘ retry"
    if state in ("expired", "refused"):
        return f"✘ {state}"
    return elsewhere_text(row)


def elsewhere_text(row: Generation, width: int = FILE_WIDTH) -> str:
    """Where else the video is saved, when not here, within ``width`` cells: ``on
    studio-2`` (``+`` if on more) — or, short of room, the words around the machine's
    name go before the name is cut: ``@studio-2+``, ``@studio-2``, ``studio-2``,
    ``studio-…``."""
    if not row.saved_on or row.download_state in ("done", "downloading"):
        return ""
    name, more = printable(row.saved_on[0]), "+" if len(row.saved_on) > 1 else ""
    for said in (f"on {name}{more}", f"@{name}{more}", f"on {name}", f"@{name}", name):
        if cell_len(said) <= width:
            return said
    return set_cell_size(name, width - 1) + "…"


def progress(summary: BatchSummary, width: int = 6) -> str:
    """``▕███░░░▏ 7/10``: how far a batch is (ended of all)."""
    ended = summary.total - summary.live
    filled = round(width * ended / summary.total) if summary.total else 0
    return f"{'█' * filled}{'░' * (width - filled)} {ended}/{summary.total}"


def place_text(position: int) -> str:
    """A place in the queue as the status cell says it: ``#3``; ``#12k`` past 9,999 (the
    cell is 14 columns)."""
    return f"#{position}" if position < 10_000 else f"#{position // 1000}k"


def status_label(row: Generation, now: datetime, batch: BatchSummary | None = None,
                 position: int | None = None) -> str:
    """The status cell's text: icon, status and, while live, the elapsed clock (or, folded,
    the batch's progress; queued, its place in the queue: ``≡ QUEUED #3``, held
    ``≡ #3 held``).  The only cell that changes as time passes."""
    if batch is not None:
        return ("✔" if batch.done and not batch.failed else "✘" if batch.done else "▶") \
            + " " + progress(batch)
    status = row.display_status
    icon = ICONS.get(status, '·')
    if row.queued and position is not None:
        place = place_text(position)
        return f"{icon} {place} held" if row.queue_held else f"{icon} {status} {place}"
    label = f"{icon} {status}"
    if row.queued and row.queue_held:
        label += " held"
    if status in TICKING:
        label += f" {clock_span(elapsed(row, now))}"
    return label


def status_cell(row: Generation, now: datetime, status_style: Style,
                batch: BatchSummary | None = None, position: int | None = None) -> SortText:
    return SortText(status_label(row, now, batch, position), row.display_status, status_style)


def row_cells(row: Generation, now: datetime, status_style: Style, *,
              marked: bool = False, batch: BatchSummary | None = None,
              position: int | None = None) -> dict[str, SortText]:
    """Every column's cell for one generation (or, folded, for its whole batch; queued,
    with its place in the queue)."""
    created = parse_iso(row.created_at)
    return {
        "mark": SortText("●" if marked else "", marked, Style(bold=True)),
        "status": status_cell(row, now, status_style, batch, position),
        "prompt": SortText(("★ " if row.favourite else "")
                           + (f"×{batch.total} " if batch is not None else "")
                           + " ".join(row.prompt.split()), row.prompt.lower()),
        "task": SortText((row.task_id or "—")[:8], row.task_id or ""),
        "size": SortText(row.size, _pixels(row.size)),
        "duration": SortText(f"{row.duration}s", row.duration),
        "audio": SortText("♪" if row.audio else "", row.audio),
        "submitted": SortText(submitted_text(row, now),
                              created.timestamp() if created else 0.0),
        "took": SortText(clock_span(took(row)), took(row) or 0.0),
        "download": SortText(download_text(row), row.download_state),
    }


def _pixels(size: str) -> int:
    width, _, height = size.partition("*")
    return int(width) * int(height) if width.isdigit() and height.isdigit() else 0
