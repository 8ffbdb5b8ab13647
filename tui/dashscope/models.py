"""Typed results for every documented field, parsed leniently.

The parsers tolerate unknown fields (kept in ``extra``), numbers sent as
``5`` or ``5.0`` or ``"5"``, and missing optional fields.  A body that is not
the shape the protocol promises raises :class:`ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tui.dashscope.errors import ProtocolError
from tui.dashscope.sizes import MODEL_V56
from tui.dashscope.task_ids import task_id_problem

BEIJING = timezone(timedelta(hours=8), "UTC+8")
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
KNOWN_STATUSES = frozenset({"PENDING", "RUNNING", "SUSPENDED"}) | TERMINAL_STATUSES


@dataclass(frozen=True)
class GenerationRequest:
    """What one create call asks for."""

    prompt: str
    size: str = "1280*720"
    duration: int = 5
    audio: bool = False
    watermark: bool = False
    seed: int | None = None
    model: str = MODEL_V56

    def body(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "size": self.size,
            "duration": self.duration,
            "audio": self.audio,
            "watermark": self.watermark,
        }
        if self.seed is not None:
            parameters["seed"] = self.seed
        return {"model": self.model, "input": {"prompt": self.prompt}, "parameters": parameters}


@dataclass(frozen=True)
class CreatedTask:
    task_id: str
    status: str
    request_id: str | None


@dataclass(frozen=True)
class Usage:
    duration: float | None = None
    size: str | None = None
    fps: int | None = None
    video_count: int | None = None
    audio: bool | None = None
    sr: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskInfo:
    """One answer of the query endpoint."""

    task_id: str
    status: str
    request_id: str | None = None
    submit_time: datetime | None = None
    scheduled_time: datetime | None = None
    end_time: datetime | None = None
    video_url: str | None = None
    orig_prompt: str | None = None
    code: str | None = None
    message: str | None = None
    usage: Usage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class ListedTask:
    """One row of the list endpoint (times there are epoch milliseconds)."""

    task_id: str
    status: str
    model_name: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    region: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskPage:
    tasks: list[ListedTask]
    total: int
    total_page: int
    page_no: int
    page_size: int
    request_id: str | None = None
    refused: int = 0  # rows left out: their task id or status could not be used


def _as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"the server's answer has no {what} object")
    return value


def _opt_str(value: Any, limit: int = 10_000) -> str | None:
    """Text as the server sent it — cut at ``limit`` characters (an honest field is short;
    a 200,000-character "message" is a server misbehaving)."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _opt_int(value: Any) -> int | None:
    number = _opt_float(value)
    return None if number is None else int(number)


def _opt_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _opt_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    if isinstance(value, int | float):
        return bool(value)
    return None


def parse_server_time(value: Any) -> datetime | None:
    """``2026-03-20 10:34:41.630`` (Beijing time) → aware datetime; junk → None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)


def _epoch_ms(value: Any) -> datetime | None:
    number = _opt_float(value)
    if number is None:
        return None
    return datetime.fromtimestamp(number / 1000, UTC)


_OUTPUT_FIELDS = {"task_id", "task_status", "submit_time", "scheduled_time", "end_time",
                  "video_url", "orig_prompt", "code", "message"}
_USAGE_FIELDS = {"duration", "size", "fps", "video_count", "audio", "SR"}


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        duration=_opt_float(raw.get("duration")),
        size=_opt_str(raw.get("size"), 100),
        fps=_opt_int(raw.get("fps")),
        video_count=_opt_int(raw.get("video_count")),
        audio=_opt_bool(raw.get("audio")),
        sr=_opt_str(raw.get("SR"), 100),
        extra={k: v for k, v in raw.items() if k not in _USAGE_FIELDS},
    )


def _status(value: Any) -> str | None:
    """A status word as the protocol writes them (``RUNNING``), or None for anything else."""
    if not isinstance(value, str):
        return None
    word = value.strip().upper()
    if not 0 < len(word) <= 32 or not all(ch.isascii() and (ch.isalpha() or ch == "_")
                                          for ch in word):
        return None
    return word


def parse_created(body: Any) -> CreatedTask:
    data = _as_dict(body, "JSON")
    output = _as_dict(data.get("output"), "output")
    task_id = output.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise ProtocolError("the server accepted the task but sent no task_id")
    problem = task_id_problem(task_id)
    if problem is not None:
        raise ProtocolError(f"the server accepted the task but its task_id is unusable "
                            f"({problem})")
    return CreatedTask(
        task_id=task_id,
        status=_status(output.get("task_status")) or "PENDING",
        request_id=_opt_str(data.get("request_id"), 200),
    )


def parse_task(body: Any, asked_for: str) -> TaskInfo:
    data = _as_dict(body, "JSON")
    output = _as_dict(data.get("output"), "output")
    status = _status(output.get("task_status"))
    if status is None:
        raise ProtocolError("the server's answer has no usable task_status")
    answered = output.get("task_id")
    if answered not in (None, "", asked_for):
        raise ProtocolError("the server answered about another task than the one asked for")
    return TaskInfo(
        task_id=asked_for,
        status=status,
        request_id=_opt_str(data.get("request_id"), 200),
        submit_time=parse_server_time(output.get("submit_time")),
        scheduled_time=parse_server_time(output.get("scheduled_time")),
        end_time=parse_server_time(output.get("end_time")),
        video_url=_opt_str(output.get("video_url")) or None,
        orig_prompt=_opt_str(output.get("orig_prompt")),
        code=_opt_str(output.get("code"), 100) or None,
        message=_opt_str(output.get("message"), 2000) or None,
        usage=parse_usage(data.get("usage")),
        extra={k: v for k, v in output.items() if k not in _OUTPUT_FIELDS},
    )


_LISTED_FIELDS = {"task_id", "status", "model_name", "gmt_create", "start_time", "end_time",
                  "region", "request_id"}


def parse_page(body: Any) -> TaskPage:
    data = _as_dict(body, "JSON")
    rows = data.get("data") or []
    if not isinstance(rows, list):
        raise ProtocolError("the server's task list is not a list")
    tasks, refused = [], 0
    for row in rows:
        if not isinstance(row, dict):
            refused += 1
            continue
        status = _status(row.get("status") or row.get("task_status"))
        if task_id_problem(row.get("task_id")) is not None or status is None:
            refused += 1
            continue
        tasks.append(ListedTask(
            task_id=str(row["task_id"]),
            status=status,
            model_name=_opt_str(row.get("model_name"), 200),
            created=_epoch_ms(row.get("gmt_create")),
            started=_epoch_ms(row.get("start_time")),
            ended=_epoch_ms(row.get("end_time")),
            region=_opt_str(row.get("region"), 100),
            request_id=_opt_str(row.get("request_id"), 200),
            extra={k: v for k, v in row.items() if k not in _LISTED_FIELDS},
        ))
    return TaskPage(
        tasks=tasks,
        total=_opt_int(data.get("total")) or len(tasks),
        total_page=_opt_int(data.get("total_page")) or 1,
        page_no=_opt_int(data.get("page_no")) or 1,
        page_size=_opt_int(data.get("page_size")) or len(tasks),
        request_id=_opt_str(data.get("request_id"), 200),
        refused=refused,
    )
