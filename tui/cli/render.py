"""How generations look on the command line: JSON objects and plain text.

Every value that came from outside (prompts, server fields) goes through
``printable`` before it reaches the terminal; JSON stays exact.
"""

from __future__ import annotations

from typing import Any

from storage import Generation, StatusEvent
from tui.engine.history import timeline
from tui.safe_text import json_text, printable

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
        "endpoint": row.endpoint,
    }


def dumps(value: Any) -> str:
    return json_text(value)


def one_line(text: str, width: int) -> str:
    flat = printable(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(rows: list[Generation]) -> str:
    lines = [f"{'ID':>5}  {'TASK':<8}  {'STATUS':<11}  {'SIZE':<9}  {'DUR':>3}  PROMPT"]
    for row in rows:
        lines.append(f"{row.id:>5}  {printable((row.task_id or '-')[:8]):<8}  "
                     f"{printable(row.display_status):<11}  {printable(row.size):<9}  "
                     f"{row.duration:>2}s  {one_line(row.prompt, 50)}")
    return "\n".join(lines)


def details(row: Generation, events: list[StatusEvent]) -> str:
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
        ("create request", row.create_request_id), ("last request", row.last_request_id),
        ("download", row.download_state + (f" → {row.download_path}" if row.download_path
                                           else "")),
        ("sha256", row.download_sha256),
    ]
    width = max(len(k) for k, _ in pairs)
    out = [f"{k:<{width}}  {printable(v)}" for k, v in pairs if v is not None]
    out.append("")
    out.append("prompt:")
    out.append(printable(row.prompt, multiline=True))
    if events:
        out.append("")
        out.append("history:")
        out += [printable(f"  {e.at}  {e.status}" + (f"  {e.detail}" if e.detail else ""))
                for e in events]
    return "\n".join(out)
