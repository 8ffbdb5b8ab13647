"""How generations look on the command line: JSON objects and plain text.

Every value that came from outside (prompts, server fields) goes through
``printable`` before it reaches the terminal; JSON stays exact.
"""

from __future__ import annotations

from storage import Generation
from tui.safe_text import json_text, printable
from tui.text_width import cell, cells, fit, pad, terminal_width

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:  # (a page's listing makes no status events)
    from typing import Any

    from storage import StatusEvent

UNKNOWN = "—"  # a figure that is not known (yet), or that the service's times contradict


def as_json(row: Generation) -> dict[str, Any]:
    usage = None
    if row.usage_size is not None or row.usage_duration is not None:
        usage = {"duration": row.usage_duration, "size": row.usage_size, "fps": row.usage_fps,
                 "SR": row.usage_sr, "audio": row.usage_audio,
                 "video_count": row.usage_video_count}
    return {
        "id": row.id, "task_id": row.task_id, "status": row.display_status,
        "submission": row.submission, "submission_note": row.submission_note,
        "prompt": row.prompt, "model": row.model, "size": row.size, "duration": row.duration,
        "audio": row.audio, "watermark": row.watermark, "seed": row.seed,
        "created_at": row.created_at, "submit_time": row.submit_time,
        "scheduled_time": row.scheduled_time, "end_time": row.end_time,
        "video_url": row.video_url, "local_path": row.download_path
        if row.download_state == "done" else None,
        "download": {"state": row.download_state, "path": row.download_path,
                     "bytes": row.download_bytes, "total": row.download_total,
                     "sha256": row.download_sha256, "error": row.download_error},
        "usage": usage, "error_code": row.error_code, "error_message": row.error_message,
        "create_request_id": row.create_request_id, "last_request_id": row.last_request_id,
        "endpoint": row.endpoint, "submitted_by": row.submitted_by,
        "saved_on": list(row.saved_on),
        "failure_cause": _cause(row),
        "queue": None if row.queue_priority is None else {
            "priority": row.queue_priority, "held": row.queue_held, "retries": row.retries,
            "retry_of": row.retry_of},
    }


def _cause(row: Generation) -> str | None:
    """Why a failed or refused generation failed, in a word; None for the others (the
    explanations are loaded for the first such row: a table shows no cause)."""
    if row.status != "FAILED" and row.submission != "rejected":
        return None
    from tui.dashscope.explain import failure_class

    return failure_class(row.error_code).value


def dumps(value: Any) -> str:
    return json_text(value)


def one_line(text: str, width: int | None) -> str:
    """``text`` flattened to one line of at most ``width`` terminal cells (no limit: None)."""
    flat = printable(" ".join(text.split()))
    return flat if width is None else fit(flat, width)


# ID, TASK (a prefix, as `show` takes it), STATUS, SIZE, DUR and FILE, in cells; the
# prompt takes what the terminal has left.  FILE goes first when the terminal is narrow.
COLUMNS = ((5, True), (8, False), (11, False), (9, False), (3, True), (9, False))
HEADER = ("ID", "TASK", "STATUS", "SIZE", "DUR", "FILE")
GAP = "  "
MIN_PROMPT = 10


def table(rows: list[Generation], width: int | None = None) -> str:
    """One line per generation, never wider than the terminal (``width`` cells, by
    default the terminal's) unless it is too narrow for the fixed columns and a few
    cells of prompt.  Into a file or a pipe, prompts are whole (as gh and ls do)."""
    total = terminal_width() if width is None else width
    columns: tuple[tuple[int, bool], ...] = COLUMNS
    if total is not None and _fixed(columns) + MIN_PROMPT > total:
        columns = COLUMNS[:-1]  # without FILE
    prompt = None if total is None else max(MIN_PROMPT, total - _fixed(columns))

    def line(values: list[str], last: str) -> str:
        shown = [cell(printable(v), w, right=right) for v, (w, right) in zip(values, columns,
                                                                              strict=False)]
        return GAP.join([*shown, last]).rstrip()

    lines = [line(list(HEADER), "PROMPT")]
    for row in rows:
        lines.append(line([str(row.id), (row.task_id or "-")[:8], row.display_status, row.size,
                           f"{row.duration}s", file_text(row)], one_line(row.prompt, prompt)))
    return "\n".join(lines)


def _fixed(columns: tuple[tuple[int, bool], ...]) -> int:
    return sum(w for w, _ in columns) + len(GAP) * len(columns)


def file_text(row: Generation) -> str:
    """The FILE column: the video's state on this machine, or where else it is saved."""
    state = row.download_state
    if state == "done":
        return "saved"
    if state == "downloading":
        return f"{100 * (row.download_bytes or 0) // row.download_total}%" \
            if row.download_total else "saving"
    if state in ("failed", "expired", "refused"):
        return state
    if row.saved_on:
        return f"@{row.saved_on[0]}" + ("+" if len(row.saved_on) > 1 else "")
    return ""


def details(row: Generation, events: list[StatusEvent]) -> str:
    from tui.engine.history import timeline  # (``show``'s alone)

    queue = timeline.queue_seconds(row)
    work = timeline.generation_seconds(row)
    pairs: list[tuple[str, Any]] = [
        ("id", row.id), ("task id", row.task_id), ("status", row.display_status),
        ("submission", row.submission + (f" — {row.submission_note}"
                                         if row.submission_note else "")),
        ("model", row.model), ("size", row.size), ("duration", f"{row.duration} s"),
        ("audio", row.audio), ("watermark", row.watermark),
        ("seed", "random" if row.seed is None else row.seed),
        ("created", row.created_at), ("submitted", row.submit_time),
        ("scheduled", row.scheduled_time), ("ended", row.end_time),
        ("queue time", f"{queue:.1f} s" if queue is not None else UNKNOWN),
        ("generation time", f"{work:.1f} s" if work is not None else UNKNOWN),
        ("video url", row.video_url),
        ("usage", None if row.usage_size is None else
         f"{row.usage_duration:g} s, {row.usage_size}, {row.usage_fps} fps, SR {row.usage_sr}, "
         f"audio {row.usage_audio}, {row.usage_video_count} video(s)"),
        ("error", f"{row.error_code or '(no code)'}: {row.error_message or '(no message)'}"
         if row.error_code or row.error_message or row.status == "FAILED" else None),
        ("cause", _cause(row)),
        ("queue", None if not row.queued else f"priority {row.queue_priority or 0}"
         + (", held" if row.queue_held else "")),
        ("retry", f"{row.retries} (of #{row.retry_of})" if row.retry_of else None),
        ("create request", row.create_request_id), ("last request", row.last_request_id),
        ("download", row.download_state + (f" → {row.download_path}" if row.download_path
                                           else "")),
        ("sha256", row.download_sha256),
        ("saved on", ", ".join(row.saved_on) or None),
        ("submitted by", row.submitted_by),
    ]
    width = max(cells(k) for k, _ in pairs)
    out = [f"{pad(k, width)}  {printable(v)}" for k, v in pairs if v is not None]
    out.append("")
    out.append("prompt:")
    out.append(printable(row.prompt, multiline=True))
    if events:
        out.append("")
        out.append("history:")
        out += [printable(f"  {e.at}  {e.status}" + (f"  {e.detail}" if e.detail else ""))
                for e in events]
    return "\n".join(out)
