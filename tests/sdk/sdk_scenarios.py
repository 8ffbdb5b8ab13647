"""Drive the official ``dashscope`` SDK against the simulator; print JSON results.

Run as a script with ``DASHSCOPE_HTTP_BASE_URL`` and ``DASHSCOPE_API_KEY`` set,
exactly as a user would point the SDK at a service.  Usage: ``sdk_scenarios.py
flow|cancel|auth``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from http import HTTPStatus
from typing import Any

from dashscope import VideoSynthesis

MODEL = "pixverse/pixverse-v5.6-t2v"


def summary(rsp: Any) -> dict[str, Any]:
    output = rsp.output if rsp.status_code == HTTPStatus.OK else None
    usage = getattr(rsp, "usage", None)
    return {
        "status_code": rsp.status_code, "code": rsp.code, "message": rsp.message,
        "request_id": rsp.request_id,
        "task_id": output.get("task_id") if output else None,
        "task_status": output.get("task_status") if output else None,
        "video_url": output.get("video_url") if output else None,
        "usage": dict(usage) if usage else None,
    }


def flow() -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["call"] = summary(VideoSynthesis.call(model=MODEL, prompt="一只小猫在月光下奔跑",
                                              size="1280*720", duration=5, audio=True,
                                              watermark=False, seed=12345))
    created = VideoSynthesis.async_call(model=MODEL, prompt="a fox", size="720*1280",
                                        duration=8)
    out["async_call"] = summary(created)
    out["fetch"] = summary(VideoSynthesis.fetch(created))
    out["wait"] = summary(VideoSynthesis.wait(created))
    listed = VideoSynthesis.list(page_size=10)
    out["list"] = {"status_code": listed.status_code,
                   "output": listed.output if isinstance(listed.output, dict) else None}
    out["bad_1080p"] = summary(VideoSynthesis.async_call(model=MODEL, prompt="x",
                                                         size="1920*1080", duration=10))
    out["bad_size"] = summary(VideoSynthesis.async_call(model=MODEL, prompt="x",
                                                        size="1000*1000", duration=5))
    out["bad_model"] = summary(VideoSynthesis.async_call(model="pixverse/nope", prompt="x",
                                                         size="1280*720", duration=5))
    out["unknown"] = summary(VideoSynthesis.fetch("00000000-0000-0000-0000-000000000000"))

    async def aio() -> dict[str, Any] | None:
        try:
            from dashscope.aigc.video_synthesis import AioVideoSynthesis
        except ImportError:  # older SDKs have no asyncio flavour
            return None
        rsp = await AioVideoSynthesis.call(model=MODEL, prompt="async", size="640*360",
                                           duration=5)
        return summary(rsp)

    out["aio_call"] = asyncio.run(aio())
    return out


def cancel() -> dict[str, Any]:
    created = VideoSynthesis.async_call(model=MODEL, prompt="cancel me", size="1280*720",
                                        duration=5)
    first = VideoSynthesis.cancel(created)
    after = VideoSynthesis.fetch(created)
    second = VideoSynthesis.cancel(created)
    return {"first": {"status_code": first.status_code},
            "after": summary(after), "second": summary(second)}


def auth() -> dict[str, Any]:
    return {"call": summary(VideoSynthesis.async_call(model=MODEL, prompt="x",
                                                      size="1280*720", duration=5))}


if __name__ == "__main__":
    scenario = {"flow": flow, "cancel": cancel, "auth": auth}[sys.argv[1]]
    print(json.dumps(scenario(), ensure_ascii=False, default=str))
