"""Translate client answers into store observations (the network → the store)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from storage import Generation, TaskStore
from storage.clock import iso
from storage.records import Observation
from tui.dashscope.models import TaskInfo
from tui.dashscope.sizes import MODEL_V56

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient

UNKNOWN_PROMPT = "(created elsewhere; prompt not known yet)"


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def observation(info: TaskInfo) -> Observation:
    usage = info.usage
    return Observation(
        status=info.status,
        request_id=info.request_id,
        submit_time=_when(info.submit_time),
        scheduled_time=_when(info.scheduled_time),
        end_time=_when(info.end_time),
        video_url=info.video_url,
        orig_prompt=info.orig_prompt,
        error_code=info.code,
        error_message=info.message,
        usage_duration=usage.duration if usage else None,
        usage_size=usage.size if usage else None,
        usage_fps=usage.fps if usage else None,
        usage_sr=usage.sr if usage else None,
        usage_audio=usage.audio if usage else None,
        usage_video_count=usage.video_count if usage else None,
    )


async def adopt(store: TaskStore, info: TaskInfo, endpoint: str,
                model: str | None = None) -> Generation:
    """Record a task created by another client, from what the service says of it."""
    usage = info.usage
    row = await store.following.track(
        task_id=info.task_id, endpoint=endpoint, model=model or MODEL_V56,
        prompt=info.orig_prompt or UNKNOWN_PROMPT,
        size=usage.size if usage and usage.size else "?",
        duration=int(usage.duration) if usage and usage.duration else 0,
        audio=bool(usage.audio) if usage else False)
    row, _ = await store.following.apply(row.id, observation(info), 3.0)
    return row


async def adopt_foreign(store: TaskStore, client: DashScopeClient,
                        account: str) -> list[Generation]:
    """Adopt every task of the account that a sweep saw and no row holds (one query each)."""
    adopted = []
    for task in await store.foreign.recent(account):
        info = await client.query(task.task_id)
        if info.status != "UNKNOWN":  # else it expired meanwhile: nothing to follow
            adopted.append(await adopt(store, info, client.base_url, task.model))
    return adopted
