"""The official dashscope SDK, pointed at the simulator, must not tell the difference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY, make_sim
from tui.simulator import Simulator

pytest.importorskip("dashscope")
SCRIPT = Path(__file__).parent / "sdk" / "sdk_scenarios.py"


def scenario(sim: Simulator, name: str, key: str = KEY) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env.update(DASHSCOPE_HTTP_BASE_URL=sim.base_url, DASHSCOPE_API_KEY=key)
    done = subprocess.run([sys.executable, str(SCRIPT), name], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_call_async_call_fetch_wait_list_and_errors(sim: Simulator) -> None:
    out = scenario(sim, "flow")
    call = out["call"]
    assert call["status_code"] == 200 and call["task_status"] == "SUCCEEDED"
    assert call["video_url"].startswith(sim.origin)
    assert call["usage"]["size"] == "1280*720" and call["usage"]["audio"] is True
    assert out["async_call"]["task_status"] == "PENDING" and out["async_call"]["task_id"]
    assert out["fetch"]["task_id"] == out["async_call"]["task_id"]
    assert out["wait"]["task_status"] == "SUCCEEDED"
    assert out["list"]["status_code"] == 200 and out["list"]["output"]["total"] == 2
    for name in ("bad_1080p", "bad_size", "bad_model"):
        assert (out[name]["status_code"], out[name]["code"]) == (400, "InvalidParameter")
    assert out["unknown"]["task_status"] == "UNKNOWN"
    assert out["aio_call"] is None or out["aio_call"]["task_status"] == "SUCCEEDED"
    tasks = [t for a in sim.world.accounts.values() for t in a.tasks.values()]
    called = next(t for t in tasks if t.prompt == "一只小猫在月光下奔跑")
    assert (called.seed, called.audio, called.size) == (12345, True, "1280*720")


def test_cancel(slow_sim: Simulator) -> None:
    out = scenario(slow_sim, "cancel")
    assert out["first"]["status_code"] == 200
    assert out["after"]["task_status"] == "CANCELED"
    assert (out["second"]["status_code"], out["second"]["code"]) == (400, "UnsupportedOperation")


def test_invalid_key() -> None:
    with make_sim(api_key="sk-the-right-one") as sim:
        out = scenario(sim, "auth", key="sk-a-wrong-one")
    assert (out["call"]["status_code"], out["call"]["code"]) == (401, "InvalidApiKey")
