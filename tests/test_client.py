"""Client behaviour under faults: what is retried, what is never retried, what it says."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import KEY, client_for
from tui.dashscope import (
    ApiError,
    ApiKey,
    DashScopeClient,
    GenerationRequest,
    NetworkError,
    ProtocolError,
    RequestInvalid,
    RetryPolicy,
)
from tui.dashscope.errors import Failure
from tui.dashscope.models import parse_task
from tui.dashscope.validation import check_request
from tui.simulator import Simulator

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE_PATH)


def task_count(sim: Simulator) -> int:
    return sum(len(a.tasks) for a in sim.world.accounts.values())


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 503, "code": "ModelUnavailable"},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 429, "code": "Throttling.RateQuota"},
    {"kind": "drop_before"},
    {"kind": "malformed"},
    {"kind": "html"},
])
async def test_query_retries_transient_failures(sim: Simulator, client: DashScopeClient,
                                                fault: dict[str, object]) -> None:
    created = await client.create(GenerationRequest("x"))
    sim.inject(on="query", **fault)
    sim.inject(on="query", **fault)
    info = await client.query(created.task_id)
    assert info.task_id == created.task_id


async def test_query_gives_up_with_a_typed_error(sim: Simulator) -> None:
    async with client_for(sim, retry=RetryPolicy(attempts=2, base_delay=0.01)) as client:
        for _ in range(2):
            sim.inject(on="query", kind="html")
        with pytest.raises(ApiError) as caught:
            await client.query("abc")
    assert caught.value.status == 502 and caught.value.retryable
    assert "text/html" in str(caught.value)


async def test_retry_after_is_honoured(sim: Simulator) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async with client_for(sim, sleep=record) as client:
        sim.inject(on="list", kind="status", status=429, code="Throttling", retry_after=7)
        await client.list_tasks()
    assert len(waits) == 1 and waits[0] >= 7


async def test_quota_exhausted_is_final(sim: Simulator, client: DashScopeClient) -> None:
    sim.inject(on="query", kind="status", status=429, code="Throttling.AllocationQuota",
               message="quota used up")
    with pytest.raises(ApiError) as caught:
        await client.query("abc")
    assert caught.value.failure is Failure.FINAL


@pytest.mark.parametrize(("fault", "error"), [
    ({"kind": "status", "status": 500}, ApiError),
    ({"kind": "status", "status": 503, "code": "ModelUnavailable"}, ApiError),
    ({"kind": "drop_after"}, NetworkError),
    ({"kind": "drop_before"}, NetworkError),
    ({"kind": "malformed"}, ProtocolError),
    ({"kind": "html"}, ApiError),
])
async def test_create_is_never_retried_once_sent(sim: Simulator, client: DashScopeClient,
                                                 fault: dict[str, object],
                                                 error: type[Exception]) -> None:
    sim.inject(on="create", **fault)
    with pytest.raises(error) as caught:
        await client.create(GenerationRequest("costly"))
    assert caught.value.failure is Failure.AMBIGUOUS  # type: ignore[attr-defined]
    assert creates(sim) == 1


async def test_create_read_timeout_is_ambiguous_and_the_task_exists(sim: Simulator) -> None:
    import httpx

    sim.inject(on="create", kind="hang_after", seconds=1.0)
    async with client_for(sim, timeout=httpx.Timeout(5.0, read=0.3)) as client:
        with pytest.raises(NetworkError) as caught:
            await client.create(GenerationRequest("slow"))
    assert caught.value.ambiguous and creates(sim) == 1 and task_count(sim) == 1


async def test_create_retries_when_nothing_was_sent() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = DashScopeClient(ApiKey(KEY), f"http://127.0.0.1:{port}/api/v1",
                             retry=RetryPolicy(attempts=3, base_delay=0.01), sleep=record)
    async with client:
        with pytest.raises(NetworkError) as caught:
            await client.create(GenerationRequest("x"))
    assert caught.value.failure is Failure.RETRYABLE and len(waits) == 2
    assert "could not connect" in str(caught.value)


async def test_create_retries_a_throttled_answer(sim: Simulator,
                                                 client: DashScopeClient) -> None:
    sim.inject(on="create", kind="status", status=429, code="Throttling.RateQuota")
    created = await client.create(GenerationRequest("x"))
    assert created.task_id and task_count(sim) == 1


async def test_validation_happens_before_any_request(sim: Simulator,
                                                     client: DashScopeClient) -> None:
    with pytest.raises(RequestInvalid) as caught:
        await client.create(GenerationRequest("x", size="1920*1080", duration=10))
    assert "1080P" in str(caught.value) and not sim.requests


@pytest.mark.parametrize(("request_", "words"), [
    (GenerationRequest("   "), "prompt is empty"),
    (GenerationRequest("x", size="1280x720"), "not offered"),
    (GenerationRequest("x", duration=6), "5, 8 or 10"),
    (GenerationRequest("x", size="1808*1808", duration=10), "5 or 8 seconds"),
    (GenerationRequest("x", seed=2_147_483_648), "out of range"),
    (GenerationRequest("x", seed=-1), "out of range"),
])
def test_validation_messages(request_: GenerationRequest, words: str) -> None:
    verdict = check_request(request_)
    assert not verdict.ok and words in " ".join(verdict.problems)


def test_long_prompt_is_a_warning_not_an_error() -> None:
    verdict = check_request(GenerationRequest("字" * 2049))
    assert verdict.ok and "2048" in verdict.warnings[0]


def test_parsing_is_lenient() -> None:
    info = parse_task({"request_id": "r", "output": {
        "task_id": "t", "task_status": "SUCCEEDED", "submit_time": "2026-03-20 10:34:41.630",
        "end_time": "garbage", "video_url": "http://v", "brand_new_field": [1]},
        "usage": {"duration": "5", "size": "1280*720", "fps": 24.0, "SR": 720,
                  "audio": "false", "video_count": 1, "extra": True}}, "t")
    assert info.usage is not None
    assert (info.usage.duration, info.usage.fps, info.usage.sr, info.usage.audio) == (
        5.0, 24, "720", False)
    assert info.end_time is None and info.extra == {"brand_new_field": [1]}
    assert info.submit_time is not None and info.submit_time.utcoffset().total_seconds() == 8 * 3600


def test_the_key_never_shows() -> None:
    key = ApiKey("sk-abcdefghijklmnop")
    client = DashScopeClient(key, "http://127.0.0.1:9/api/v1")
    for text in (str(key), repr(key), repr(client), f"{key}"):
        assert "abcdefghijklmnop" not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


@pytest.mark.parametrize(("status", "code"), [
    (400, "IPInfringementSuspect"), (400, "Arrearage"), (400, "DataInspectionFailed"),
    (403, "AccessDenied.Unpurchased"), (403, "Model.AccessDenied"),
    (429, "Throttling.AllocationQuota"),
])
async def test_final_errors_are_not_retried_and_are_explained(
        sim: Simulator, client: DashScopeClient, status: int, code: str) -> None:
    from tui.dashscope.explain import explain

    sim.inject(on="create", kind="status", status=status, code=code, message="refused")
    with pytest.raises(ApiError) as caught:
        await client.create(GenerationRequest("x"))
    assert caught.value.failure is Failure.FINAL and (caught.value.status,
                                                      caught.value.code) == (status, code)
    assert creates(sim) == 1 and task_count(sim) == 0
    meaning, action = explain(code)
    assert "reported" not in meaning and action  # a real explanation, not the generic one
