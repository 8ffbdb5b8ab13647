"""What the client does with answers no honest service sends: huge, endless, slow,
redirected, or about something else than what was asked."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from tests.conftest import client_for
from tui.dashscope import (
    DashScopeError,
    GenerationRequest,
    NetworkError,
    ProtocolError,
    Scope,
)
from tui.dashscope.client import MAX_ANSWER_BYTES
from tui.simulator import Simulator

TASK = "0385dc79-1111-4000-8000-000000000000"


async def test_an_endless_answer_is_cut_and_memory_stays_flat(sim: Simulator) -> None:
    async with client_for(sim) as client:
        for _ in range(8):  # every retry gets an endless body too
            sim.inject(on="query", kind="endless")
        tracemalloc.start()
        with pytest.raises(ProtocolError, match="larger than 4 MB"):
            await client.query(TASK)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 3 * MAX_ANSWER_BYTES  # not the gigabytes the server would send


async def test_a_declared_huge_answer_is_not_read(sim: Simulator) -> None:
    body = json.dumps({"output": {"task_id": TASK, "task_status": "RUNNING"},
                       "pad": "x" * (MAX_ANSWER_BYTES + 10)})
    async with client_for(sim) as client:
        for _ in range(8):
            sim.inject(on="query", kind="answer", status=200, raw=body)
        with pytest.raises(ProtocolError, match="not read"):
            await client.query(TASK)


async def test_an_endless_create_answer_is_ambiguous_not_resent(sim: Simulator) -> None:
    sim.inject(on="create", kind="endless")
    async with client_for(sim) as client:
        with pytest.raises(DashScopeError) as caught:
            await client.create(GenerationRequest(prompt="a kite"))
    assert caught.value.ambiguous
    assert [m for m, p in sim.requests if m == "POST"] == ["POST"]


async def test_a_trickling_answer_counts_as_stalled(sim: Simulator) -> None:
    async with client_for(sim, answer_deadline=0.5) as client:
        for _ in range(8):
            sim.inject(on="query", kind="trickle", rate=10)  # ~10 bytes/s
        with pytest.raises(NetworkError, match="did not finish its answer"):
            await client.query(TASK)


async def test_a_redirect_says_the_base_url_is_wrong(sim: Simulator) -> None:
    sim.inject(on="query", kind="answer", status=302, raw="",
               headers={"Location": "http://169.254.169.254/latest"})
    async with client_for(sim) as client:
        with pytest.raises(DashScopeError) as caught:
            await client.query(TASK)
    assert caught.value.scope is Scope.ACCOUNT and not caught.value.retryable
    assert "base URL" in str(caught.value)
    assert sum(1 for _, p in sim.requests if p.endswith(TASK)) == 1  # not retried


@pytest.mark.parametrize("task_id", ["../../admin", "a b", "x" * 500, "t\x1b]0;x\x07"])
async def test_a_create_answer_with_an_unusable_id_is_ambiguous(sim: Simulator,
                                                                task_id: str) -> None:
    sim.inject(on="create", kind="answer", handle=True, status=200,
               body={"request_id": "r", "output": {"task_id": task_id,
                                                   "task_status": "PENDING"}})
    async with client_for(sim) as client:
        with pytest.raises(ProtocolError) as caught:
            await client.create(GenerationRequest(prompt="a kite"))
    assert caught.value.ambiguous and "unusable" in str(caught.value)


async def test_an_answer_about_another_task_is_refused(sim: Simulator) -> None:
    async with client_for(sim) as client:
        for _ in range(8):
            sim.inject(on="query", kind="answer", status=200, body={
                "output": {"task_id": "someone-else", "task_status": "SUCCEEDED",
                           "video_url": "https://example.com/v.mp4"}})
        with pytest.raises(ProtocolError, match="another task"):
            await client.query(TASK)


async def test_list_rows_with_unusable_ids_are_left_out_and_counted(sim: Simulator) -> None:
    rows = [{"task_id": t, "status": "RUNNING", "gmt_create": 1} for t in
            ("good-1", "../x", "", None, "a\x00b")] + [{"task_id": "good-2", "status": "\x1b[2J"}]
    sim.inject(on="list", kind="answer", status=200, body={"total": 6, "data": rows})
    async with client_for(sim) as client:
        page = await client.list_tasks()
    assert [t.task_id for t in page.tasks] == ["good-1"] and page.refused == 5
