"""Every endpoint and error of the protocol sheet, over loopback, simulator vs client."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import KEY, client_for, make_sim
from tui.dashscope import ApiError, ApiKey, DashScopeClient, GenerationRequest
from tui.dashscope.errors import Failure
from tui.simulator import Simulator

CREATE = "/services/aigc/video-generation/video-synthesis"
BODY = {"model": "pixverse/pixverse-v5.6-t2v", "input": {"prompt": "a cat"},
        "parameters": {"size": "1280*720", "duration": 5}}


def raw(sim: Simulator, method: str, path: str, *, key: str | None = KEY,
        asynchronous: bool = True, **kwargs: object) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if asynchronous:
        headers["X-DashScope-Async"] = "enable"
    return httpx.request(method, sim.base_url + path, headers=headers, timeout=10,
                         **kwargs)  # type: ignore[arg-type]


async def test_create_then_follow_to_success(sim: Simulator, client: DashScopeClient) -> None:
    created = await client.create(GenerationRequest("a fox in snow", size="1024*576", seed=42))
    assert created.status == "PENDING" and created.request_id
    first = await client.query(created.task_id)
    assert first.status in {"PENDING", "RUNNING"} and first.submit_time is not None
    sim.clock.advance(400)
    done = await client.query(created.task_id)
    assert done.status == "SUCCEEDED"
    assert done.video_url and done.video_url.startswith(sim.origin)
    assert done.orig_prompt == "a fox in snow"
    assert done.scheduled_time and done.end_time and done.submit_time
    assert done.submit_time <= done.scheduled_time <= done.end_time
    assert done.usage is not None
    assert (done.usage.size, done.usage.fps, done.usage.video_count, done.usage.sr) == (
        "1024*576", 24, 1, "540")
    assert done.usage.duration == 5.0


async def test_unknown_task_is_200_unknown(sim: Simulator, client: DashScopeClient) -> None:
    info = await client.query("00000000-0000-0000-0000-000000000000")
    assert info.status == "UNKNOWN" and info.terminal
    slash = raw(sim, "GET", "/tasks/abc/", asynchronous=False)  # the SDK's aio flavour
    assert slash.status_code == 200 and slash.json()["output"]["task_status"] == "UNKNOWN"


async def test_tasks_expire_to_unknown_after_a_day(sim: Simulator,
                                                   client: DashScopeClient) -> None:
    created = await client.create(GenerationRequest("old"))
    sim.clock.advance(24 * 3600 + 60)
    assert (await client.query(created.task_id)).status == "UNKNOWN"


async def test_list_both_paths_and_fields(sim: Simulator, client: DashScopeClient) -> None:
    ids = [(await client.create(GenerationRequest(f"p{i}"))).task_id for i in range(3)]
    page = await client.list_tasks(page_size=2)
    assert page.total == 3 and page.total_page == 2 and len(page.tasks) == 2
    assert page.tasks[0].task_id == ids[-1]  # newest first
    assert page.tasks[0].model_name == "pixverse/pixverse-v5.6-t2v"
    assert page.tasks[0].created is not None and page.tasks[0].region == "cn-beijing"
    for path in ("/tasks", "/tasks/"):
        answer = raw(sim, "GET", path, asynchronous=False, params={"task_id": ids[0]})
        assert answer.status_code == 200
        body = answer.json()
        assert [row["task_id"] for row in body["data"]] == [ids[0]]
        assert "status" in body["data"][0] and "task_status" not in body["data"][0]
        assert isinstance(body["data"][0]["gmt_create"], int)


async def test_list_rejects_a_window_over_24_hours(sim: Simulator) -> None:
    answer = raw(sim, "GET", "/tasks", params={"start_time": "20260101000000",
                                                "end_time": "20260103000000"})
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter"


async def test_cancel_only_pending(slow_sim: Simulator) -> None:
    async with client_for(slow_sim) as client:
        created = await client.create(GenerationRequest("cancel me"))
        assert await client.cancel(created.task_id)
        assert (await client.query(created.task_id)).status == "CANCELED"
        with pytest.raises(ApiError) as caught:
            await client.cancel(created.task_id)
    assert caught.value.status == 400 and caught.value.code == "UnsupportedOperation"
    assert caught.value.failure is Failure.FINAL


async def test_five_running_per_key_rest_pending(sim: Simulator,
                                                 client: DashScopeClient) -> None:
    sim.world.min_work = sim.world.max_work = 10_000  # nothing finishes during the test
    ids = []
    for i in range(7):
        ids.append((await client.create(GenerationRequest(f"t{i}"))).task_id)
        sim.clock.advance(1.1)  # stay under the create rate
    sim.clock.advance(10)
    states = [(await client.query(t)).status for t in ids]
    assert states.count("RUNNING") == 5 and states.count("PENDING") == 2


@pytest.mark.parametrize(("key", "message"), [
    (None, "No API-key provided."), ("not-a-key", "Invalid API-key provided.")])
def test_auth_errors(sim: Simulator, key: str | None, message: str) -> None:
    answer = raw(sim, "POST", CREATE, key=key, json=BODY)
    assert answer.status_code == 401
    assert answer.json()["code"] == "InvalidApiKey" and answer.json()["message"] == message
    assert answer.json()["request_id"]
    assert answer.headers["content-type"].startswith("application/json")


def test_a_configured_key_is_the_only_one_accepted() -> None:
    with make_sim(api_key="sk-only-this") as sim:
        assert raw(sim, "GET", "/tasks", key="sk-other").status_code == 401
        assert raw(sim, "GET", "/tasks", key="sk-only-this").status_code == 200


async def test_client_reports_a_wrong_key_without_revealing_it() -> None:
    with make_sim(api_key="sk-only-this") as sim:
        async with DashScopeClient(ApiKey("sk-secret-wrong-key-123"), sim.base_url) as client:
            with pytest.raises(ApiError) as caught:
                await client.query("x")
    err = caught.value
    assert err.status == 401 and err.code == "InvalidApiKey" and err.failure is Failure.FINAL
    assert "sk-secret-wrong-key-123" not in str(err) + repr(err) + repr(client)


def test_create_needs_the_async_header(sim: Simulator) -> None:
    answer = raw(sim, "POST", CREATE, asynchronous=False, json=BODY)
    assert answer.status_code == 403 and answer.json() == {
        "request_id": answer.json()["request_id"], "code": "AccessDenied",
        "message": "current user api does not support synchronous calls"}


@pytest.mark.parametrize(("body", "code"), [
    ({"input": {"prompt": "x"}, "parameters": {}}, "BadRequest.EmptyModel"),
    ({"model": "pixverse/pixverse-v5.6-t2v", "parameters": {}}, "BadRequest.EmptyInput"),
    ({"model": "pixverse/pixverse-v5.6-t2v", "input": {"prompt": "x"}},
     "BadRequest.EmptyParameters"),
    ({**BODY, "model": "pixverse/nope"}, "InvalidParameter"),
    ({**BODY, "parameters": {"size": "1280*721", "duration": 5}}, "InvalidParameter"),
    ({**BODY, "parameters": {"size": "1920*1080", "duration": 10}}, "InvalidParameter"),
    ({**BODY, "parameters": {"size": "1280*720", "duration": 6}}, "InvalidParameter"),
    ({**BODY, "parameters": {"size": "1280*720", "duration": 5, "seed": -1}},
     "InvalidParameter"),
])
def test_create_validation(sim: Simulator, body: dict[str, object], code: str) -> None:
    answer = raw(sim, "POST", CREATE, json=body)
    assert answer.status_code == 400 and answer.json()["code"] == code


def test_malformed_json_is_invalid_parameter(sim: Simulator) -> None:
    answer = raw(sim, "POST", CREATE, content=b"{not json")
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter"


def test_unknown_keys_tolerated_and_long_prompts_truncated(sim: Simulator) -> None:
    body = {**BODY, "input": {"prompt": "x" * 3000, "extend_prompt": True},
            "parameters": {"size": "1280*720", "duration": 5.0, "whatever": 1}}
    answer = raw(sim, "POST", CREATE, json=body)
    assert answer.status_code == 200
    task_id = answer.json()["output"]["task_id"]
    sim.clock.advance(400)
    output = raw(sim, "GET", f"/tasks/{task_id}").json()["output"]
    assert len(output["orig_prompt"]) == 2048


async def test_create_rate_limit_is_429_rate_quota(frozen_sim: Simulator) -> None:
    codes = [raw(frozen_sim, "POST", CREATE, json=BODY).status_code for _ in range(7)]
    assert codes.count(200) == 5 and codes[-1] == 429
    answer = raw(frozen_sim, "POST", CREATE, json=BODY)
    assert answer.json()["code"] == "Throttling.RateQuota"
    frozen_sim.clock.advance(1.0)  # the next second of the service's clock
    assert raw(frozen_sim, "POST", CREATE, json=BODY).status_code == 200


async def test_query_rate_limit(frozen_sim: Simulator) -> None:
    codes = [raw(frozen_sim, "GET", "/tasks/x").status_code for _ in range(25)]
    assert codes.count(200) == 20 and codes.count(429) == 5


def test_media_is_a_real_mp4_with_ranges(sim: Simulator) -> None:
    task_id = raw(sim, "POST", CREATE, json={**BODY, "parameters": {
        "size": "720*1280", "duration": 5}}).json()["output"]["task_id"]
    sim.clock.advance(400)
    url = raw(sim, "GET", f"/tasks/{task_id}").json()["output"]["video_url"]
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("video/mp4")
    assert int(whole.headers["content-length"]) == len(whole.content)
    assert whole.content[4:8] == b"ftyp"
    assert whole.content == sim.clip("9x16")  # the portrait clip for a 9:16 size
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert httpx.get(url, headers={"Range": f"bytes={len(whole.content)}-"}).status_code == 416


async def test_failed_tasks_carry_code_and_message_in_output() -> None:
    with make_sim(failure_rate=1.0, seed=3) as sim:
        async with client_for(sim) as client:
            seen = set()
            for i in range(12):
                created = await client.create(GenerationRequest(f"f{i}"))
                sim.clock.advance(400)
                info = await client.query(created.task_id)
                assert info.status == "FAILED" and info.video_url is None and info.usage is None
                seen.add(info.code)
    assert None in seen and "InternalError" in seen  # some FAILED arrive without a code


def test_list_pages_are_capped_and_traffic_is_counted(frozen_sim: Simulator) -> None:
    assert raw(frozen_sim, "GET", "/tasks", params={"page_size": "100"}).status_code == 200
    refused = raw(frozen_sim, "GET", "/tasks", params={"page_size": "101"})
    assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter"
    for _ in range(25):
        raw(frozen_sim, "GET", "/tasks/x")
    traffic = frozen_sim.traffic
    assert traffic.count("list", 200) == 1 and traffic.count("list", 400) == 1
    assert traffic.count("query", 429) == 25 - 18  # 20 per second, 2 already used by list
    assert traffic.snapshot()["peak_per_second"] == 27
