"""The local queue over real HTTP against the simulator: the feeder sends within the
account's room, prompts before batch lines, each item once — whatever the service answers
(no answer, a refused key, a failure) — and pauses with one sentence when it must."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage import TaskStore, open_store
from storage.records import LIVE
from tests.conftest import FAST, KEY, client_for, make_sim
from tui.dashscope import ApiKey, DashScopeClient, GenerationRequest
from tui.dashscope.explain import FailureClass, failure_class
from tui.engine.following.follower import Ended, Event, Follower, Unconfirmed
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.engine.submitting import queue, queue_state
from tui.engine.submitting.feeder import Feeder, QueueSettings, looked_at_soon
from tui.engine.submitting.prices import Prices, budget_state
from tui.simulator import Simulator

SPEED = 120.0  # a 2-minute task takes a second: slots stay busy long enough to count


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path.endswith(
        "/video-synthesis"))


def at_service(sim: Simulator) -> int:
    """Tasks the service holds now (PENDING or RUNNING), as it counts them."""
    with sim.world.lock:
        tasks = [t for a in sim.world.accounts.values() for t in a.tasks.values()]
        for key in list(sim.world.accounts):
            sim.world._advance(key)
        return sum(1 for t in tasks if t.status in LIVE)


async def until(check: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def requests(prefix: str, n: int, **kw: object) -> list[GenerationRequest]:
    return [GenerationRequest(f"{prefix} {i}", **kw) for i in range(n)]  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def feeding(store: TaskStore, client: DashScopeClient, speed: float,
                  settings: QueueSettings | None = None, **kw: object
                  ) -> AsyncIterator[tuple[Feeder, PollScheduler]]:
    """A poller and its feeder, as the dashboard and ``watch`` run them."""
    poller = PollScheduler(store, client, PollSettings(time_scale=speed))
    feeder = Feeder(store, client, settings or QueueSettings(), time_scale=speed,
                    pace=0.25 / speed, first_poll_after=poller.settings.first_poll,
                    sent=looked_at_soon(poller), **kw)  # type: ignore[arg-type]
    jobs = [asyncio.create_task(poller.run()), asyncio.create_task(feeder.run())]
    try:
        yield feeder, poller
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job


async def all_ended(store: TaskStore, ids: tuple[int, ...]) -> bool:
    rows = await store.generations.get_many(ids)
    return all(r.terminal or r.display_status in ("REJECTED", "UNCONFIRMED") for r in rows)


async def test_the_queue_is_fed_within_the_room_each_item_once(store: TaskStore) -> None:
    with make_sim(speed=SPEED) as sim:
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("room", 24))
            assert creates(sim) == 0  # queued: nothing sent yet
            peak = 0
            async with feeding(store, client, SPEED, QueueSettings(ahead=2)):
                async def finished() -> bool:
                    nonlocal peak
                    peak = max(peak, at_service(sim))
                    return await all_ended(store, done.queued)
                await until(finished, what="every queued item to end")
    assert creates(sim) == 24  # creates per queued item: exactly 1.00
    assert peak <= 5 + 2, f"the service held {peak} tasks at once"
    rows = await store.generations.get_many(done.queued)
    assert all(r.status == "SUCCEEDED" for r in rows)
    assert len({r.task_id for r in rows}) == 24


async def test_a_prompt_starts_before_the_rest_of_a_batch(store: TaskStore) -> None:
    with make_sim(speed=SPEED) as sim:
        async with client_for(sim) as client:
            batch = await queue.enqueue_requests(store, client.base_url, requests("line", 30),
                                                 priority=queue.BATCH)
            async with feeding(store, client, SPEED, QueueSettings(ahead=1)):
                await until(lambda: creates(sim) >= 8, what="the batch to start")
                prompt = await queue.enqueue_requests(store, client.base_url,
                                                      [GenerationRequest("typed now")])
                await until(lambda: all_ended(store, prompt.queued), what="the prompt")
                sent_before = creates(sim)
    rows = await store.generations.get_many(batch.queued)
    left = sum(1 for r in rows if r.queued)
    assert left > 10, "the prompt waited behind the batch"
    assert sent_before < 30


async def test_a_lost_create_answer_stops_that_item_only(store: TaskStore) -> None:
    with make_sim(speed=SPEED) as sim:
        sim.inject(kind="drop_after", on="create")  # the task is made; the answer is lost
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("lost", 3))
            async with feeding(store, client, SPEED):
                await until(lambda: all_ended(store, done.queued), what="the three")
    first, *rest = await store.generations.get_many(done.queued)
    assert first.display_status == "UNCONFIRMED" and "resolve" in (first.submission_note or "")
    assert all(r.status == "SUCCEEDED" for r in rest)
    assert creates(sim) == 3  # the one in doubt was not sent again
    with sim.world.lock:
        made = [t.prompt for a in sim.world.accounts.values() for t in a.tasks.values()]
    assert sorted(made) == ["lost 0", "lost 1", "lost 2"]


async def test_a_lost_create_answer_is_told_once_whoever_sent_it(store: TaskStore,
                                                                 tmp_path: Path) -> None:
    """Never a silent stop: the follower (the dashboard's and ``watch``'s) tells of an item
    in doubt — here sent by another process's feeder — once, and of nothing else."""
    with make_sim(speed=SPEED) as sim:
        sim.inject(kind="drop_after", on="create")
        events: list[Event] = []
        follower = Follower(store, tell=events.append, rescue_every=None)
        await follower.begin()
        following = asyncio.create_task(follower.run())
        try:
            async with await open_store(tmp_path / "tasks.db") as other, \
                    client_for(sim) as client:
                done = await queue.enqueue_requests(other, client.base_url,
                                                    requests("doubt", 2))
                async with feeding(other, client, SPEED):
                    await until(lambda: all_ended(other, done.queued), what="the two")
                await until(lambda: any(isinstance(e, Unconfirmed) for e in events),
                            what="the follower to tell")
                await other.history.set_note(done.queued[0], "touched later")
                await asyncio.sleep(0.5)  # a later change to it is not news again
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    told = [e.row for e in events if isinstance(e, Unconfirmed)]
    assert [r.id for r in told] == [done.queued[0]]
    assert told[0].display_status == "UNCONFIRMED"
    assert [e.row.id for e in events if isinstance(e, Ended)] == [done.queued[1]]


async def test_a_refused_key_pauses_the_queue_with_one_sentence(store: TaskStore) -> None:
    with make_sim(speed=SPEED, api_key=KEY) as sim:
        async with DashScopeClient(ApiKey("sk-wrong-0000000000000000"), sim.base_url) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("refused", 2))
            feeder = Feeder(store, client, time_scale=SPEED)
            assert await feeder.feed() == []
    [pause] = await store.queue.pauses()
    assert pause.batch_id is None and pause.reason == (
        "key refused, 401 InvalidApiKey — check the key and its region")
    rows = await store.generations.get_many(done.queued)
    assert all(r.queued for r in rows)  # nothing was created: both wait again
    assert creates(sim) == 1
    state = await queue_state.queue_state(store, None)
    assert state.sentence() == ("queue paused: key refused, 401 InvalidApiKey — check the key "
                                "and its region; `pixverse-tui queue resume` resumes it")


async def test_a_used_up_quota_pauses_the_queue_with_one_short_sentence(
        store: TaskStore) -> None:
    """What the status bar says: the cause in a few words, what the service said, what to
    do — one sentence, no parentheses in parentheses."""
    with make_sim(speed=SPEED) as sim:
        sim.inject(kind="status", on="create", status=429, code="Throttling.AllocationQuota",
                   message="Allocated quota exceeded, please increase your quota limit.")
        async with client_for(sim) as client:
            await queue.enqueue_requests(store, client.base_url, requests("quota", 2))
            assert await Feeder(store, client, time_scale=SPEED).feed() == []
    [pause] = await store.queue.pauses()
    assert pause.reason == ("quota used up, 429 Throttling.AllocationQuota — raise it or "
                            "wait for the reset")
    said = queue_state.QueueState(2, (pause,), "me").sentence("P") or ""
    assert said == ("queue paused: quota used up, 429 Throttling.AllocationQuota — raise it or "
                    "wait for the reset; P resumes it")
    assert said.count("(") == 0 and len(said) < 120  # the old one: 200, in nested ( )
    by_hand = queue_state.QueueState(2, (pause._replace(reason=None),), "me")
    assert by_hand.sentence("P") == "queue paused by you; P resumes it"
    batch = queue_state.QueueState(2, (pause._replace(batch_id="b1", reason=None),), "me")
    assert batch.sentence("P") is None  # the rest moves …
    assert batch.batches_note("p") == "batch paused by you; p resumes it"  # … and it says so


async def test_a_budget_reached_pauses_the_queue_with_a_short_sentence(
        store: TaskStore) -> None:
    prices = Prices.from_settings({"720P": 1.0, "currency": "CNY"})

    async def budget():  # type: ignore[no-untyped-def]
        from storage.clock import utc_now
        return await budget_state(store, prices, {"daily": 7.0}, utc_now())

    with make_sim(speed=SPEED) as sim:
        async with client_for(sim) as client:
            await queue.enqueue_requests(store, client.base_url, requests("paid", 3))
            sent = await Feeder(store, client, time_scale=SPEED, prices=prices,
                                budget=budget).feed()
    assert len(sent) == 1
    [pause] = await store.queue.pauses()
    assert pause.reason == ("budget reached, 2.00 of 7.00 CNY left today — raise [budget] "
                            "daily, or resume to go over it")


async def test_a_refused_prompt_is_rejected_and_the_queue_goes_on(store: TaskStore) -> None:
    with make_sim(speed=SPEED) as sim:
        sim.inject(kind="status", on="create", status=400, code="DataInspectionFailed",
                   message="Input data may contain inappropriate content.")
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("mod", 2))
            sent = await Feeder(store, client, time_scale=SPEED).feed()
    bad, good = await store.generations.get_many(done.queued)
    assert bad.display_status == "REJECTED" and failure_class(bad.error_code) is \
        FailureClass.MODERATION
    assert [r.id for r in sent] == [good.id] and good.task_id is not None
    assert await store.queue.pauses() == []


async def test_a_budget_reached_pauses_the_queue(store: TaskStore) -> None:
    prices = Prices.from_settings({"720P": 1.0, "currency": "CNY"})

    async def budget():  # type: ignore[no-untyped-def]
        from storage.clock import utc_now
        return await budget_state(store, prices, {"daily": 12.0}, utc_now())

    with make_sim(speed=SPEED) as sim:
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("paid", 4))
            sent = await Feeder(store, client, time_scale=SPEED, prices=prices,
                                budget=budget).feed()
    assert len(sent) == 2  # 5 s at 1 CNY/s each: the third would cross 12 CNY
    [pause] = await store.queue.pauses()
    assert "budget" in (pause.reason or "") and "daily" in (pause.reason or "")
    rows = await store.generations.get_many(done.queued)
    assert [r.queued for r in rows] == [False, False, True, True]


async def test_failures_by_the_service_are_queued_again_with_their_seed(
        store: TaskStore) -> None:
    with make_sim(speed=SPEED) as sim:
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(
                store, client.base_url, [GenerationRequest("flaky", seed=42),
                                         GenerationRequest("banned", seed=7),
                                         GenerationRequest("silent", seed=9)])
            feeder = Feeder(store, client, QueueSettings(retry_failed=1), time_scale=SPEED)
            await feeder.feed()
            rows = await store.generations.get_many(done.queued)
            fates = {"flaky": ("InternalError", "An internal error has occured."),
                     "banned": ("DataInspectionFailed", "Output data may be inappropriate."),
                     "silent": (None, None)}
            with sim.world.lock:
                for account in sim.world.accounts.values():
                    for task in account.tasks.values():
                        task.fails_with = fates[task.prompt]
            poller = PollScheduler(store, client, PollSettings(time_scale=SPEED))
            poller.submitted()
            await poller.wait_for({r.id for r in rows})
            again = await feeder.retry_failures()
            assert await feeder.retry_failures() == []  # once per failure
    assert sorted(r.prompt for r in again) == ["flaky", "silent"]
    assert {r.prompt: r.seed for r in again} == {"flaky": 42, "silent": 9}
    assert all(r.retries == 1 and r.queued for r in again)
    failed = await store.generations.get_many(done.queued)
    assert [failure_class(r.error_code) for r in failed] == [
        FailureClass.SERVICE, FailureClass.MODERATION, FailureClass.NO_REASON]


async def test_two_feeders_racing_send_each_item_once_within_the_room(tmp_path: Path) -> None:
    location = tmp_path / "tasks.db"
    with make_sim(speed=SPEED) as sim:
        async with await open_store(location) as one, await open_store(location) as two, \
                client_for(sim) as c1, client_for(sim) as c2:
            done = await queue.enqueue_requests(one, c1.base_url, requests("race", 30))
            peak = 0
            async with feeding(one, c1, SPEED, QueueSettings(ahead=1)), \
                    feeding(two, c2, SPEED, QueueSettings(ahead=1)):
                # No lease here: both feed at once, as two processes could in a handover.
                async def finished() -> bool:
                    nonlocal peak
                    peak = max(peak, at_service(sim))
                    return await all_ended(one, done.queued)
                await until(finished, timeout=120, what="the race to end")
            rows = await one.generations.get_many(done.queued)
    assert creates(sim) == 30 and len({r.task_id for r in rows}) == 30
    assert peak <= 6, f"the service held {peak} tasks at once"


async def test_wait_follows_a_queued_item_until_it_ends(store: TaskStore) -> None:
    with make_sim(speed=FAST) as sim:
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("w", 2))
            poller = PollScheduler(store, client, PollSettings(time_scale=FAST))
            feeder = Feeder(store, client, time_scale=FAST, pace=0.0,
                            sent=looked_at_soon(poller))
            job = asyncio.create_task(feeder.run())
            try:
                rows = await asyncio.wait_for(poller.wait_for(set(done.queued)), 60)
            finally:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
    assert [r.status for r in rows] == ["SUCCEEDED", "SUCCEEDED"]


@pytest.mark.parametrize("code, kind", [
    ("DataInspectionFailed", FailureClass.MODERATION),
    ("IPInfringementSuspect", FailureClass.MODERATION),
    ("InvalidParameter", FailureClass.PARAMETER),
    ("BadRequest.EmptyInput", FailureClass.PARAMETER),
    ("Throttling.AllocationQuota", FailureClass.QUOTA),
    ("Arrearage", FailureClass.QUOTA),
    ("InternalError", FailureClass.SERVICE),
    ("ModelServingError", FailureClass.SERVICE),
    (None, FailureClass.NO_REASON),
    ("SomethingNew", FailureClass.OTHER),
])
def test_failures_are_sorted_by_cause(code: str | None, kind: FailureClass) -> None:
    assert failure_class(code) is kind


# -- estimates ----------------------------------------------------------------------------


def test_the_forecast_lays_work_out_five_at_a_time() -> None:
    from datetime import UTC, datetime

    from storage.records import QueueItem
    from tui.engine.submitting import eta

    times = eta.Times()
    for seconds in (90.0, 100.0, 110.0):
        times.learn("1280*720", 5, seconds)
    mean, sd = times.of("1280*720", 5)
    assert mean == 100.0 and sd == pytest.approx(10.0)
    assert times.of("1280*720", 10)[0] == pytest.approx(100.0 * 1.25 / 1.0)  # scaled
    assert times.of("1920*1080", 5)[0] == eta.TYPICAL["1080P"]  # nothing learned: typical

    now = datetime(2026, 3, 1, tzinfo=UTC)
    running = [eta.InFlight(i, None, "1280*720", 5, False, 40.0) for i in range(5)]
    lineup = [QueueItem(100 + n, "B", "1280*720", 5, False, 0, False) for n in range(10)]
    lineup.insert(3, QueueItem(99, None, "1280*720", 5, False, 0, True))  # held
    plan = eta.lay_out(now, running, lineup, times, probe_priority=1)
    assert plan.waiting == 10 and 99 not in plan.starts
    assert plan.starts[100].p50 == pytest.approx(60.0)  # when the first slot frees
    assert plan.starts[105].p50 == pytest.approx(160.0)  # the second round
    assert plan.finishes[109].p50 == pytest.approx(260.0)  # two rounds and the remainder
    assert plan.queue == plan.batches["B"] == plan.finish_of([109])
    assert plan.queue is not None and plan.queue.p90 > plan.queue.p50
    assert plan.probe is not None and plan.probe.p50 == pytest.approx(60.0)  # ahead of "B"
    paused = eta.lay_out(now, running, lineup, times, paused=["B"])
    assert paused.queue is None and "B" not in paused.batches
    assert eta.in_words(250) == "~4 min" and eta.in_words(20) == "~20 s"


def test_an_exported_queued_row_is_not_queued_again_elsewhere() -> None:
    from tui.engine.history.transfer import check_record

    record = check_record({"created_at": "2026-03-01T10:00:00.000+00:00", "prompt": "p",
                           "size": "1280*720", "duration": 5, "submission": "queued"})
    assert record["submission"] == "abandoned"
    assert "not sent from here" in record["submission_note"]


async def test_a_copied_queued_row_is_not_queued_again_in_the_target(tmp_path: Path) -> None:
    """``store copy`` (issue 16) leaves the source's queue in the source: what waits there
    arrives ABANDONED — never sent from both stores."""
    from tui.engine.history.copying import copy_history

    async with await open_store(tmp_path / "source" / "tasks.db") as source, \
            await open_store(tmp_path / "target" / "tasks.db") as target:
        await queue.enqueue_requests(source, "http://127.0.0.1:1/api/v1",
                                     requests("waits here", 2), priority=queue.PROMPT)
        report = await copy_history(source, target)
        assert report.added == 2
        rows = await target.history.page()
        assert [r.display_status for r in rows] == ["ABANDONED", "ABANDONED"]
        assert all("not sent from here" in (r.submission_note or "") for r in rows)
        assert await target.queue.lineup() == [] and (await target.history.counts("")).queued == 0
        assert len(await source.queue.lineup()) == 2  # the source's own queue is untouched



# -- taking back and moving ------------------------------------------------------------------


async def started_meanwhile(sim: Simulator, task_id: str | None) -> None:
    """The service starts this PENDING task now (the store, not polled, still says
    PENDING)."""
    with sim.world.lock:
        for key, account in sim.world.accounts.items():
            if task_id in account.tasks:
                account.tasks[task_id].ready_at = sim.world.clock.now()
                sim.world._advance(key)
                assert account.tasks[task_id].status == "RUNNING"


async def test_taking_back_counts_a_task_that_started_meanwhile(store: TaskStore) -> None:
    """A task that started since it was seen PENDING cannot be cancelled: it runs on,
    counted as such — not a failure; the count taken back is what the service said."""
    with make_sim(speed=1.0, queue_delay=(600.0, 600.0), min_work=600.0,
                  max_work=600.0) as sim:
        async with client_for(sim) as client:
            done = await queue.enqueue_requests(store, client.base_url, requests("back", 3),
                                                priority=queue.BATCH)
            assert len(await Feeder(store, client, pace=0.0).feed()) == 3
            rows = await store.generations.get_many(done.queued)
            assert rows[0].batch_id is not None
            pending = await queue.pending_at_service(store, rows[0].batch_id)
            assert [r.status for r in pending] == ["PENDING"] * 3
            await started_meanwhile(sim, rows[0].task_id)
            back = await queue.take_back(store, client, pending)
    assert (back.canceled, back.started, back.problems) == (2, 1, [])
    assert [r.retry_of for r in back.queued] == list(done.queued[1:])
    assert back.sentence(3) == ("2 of 3 tasks still PENDING at the service were cancelled "
                                "there and queued again; 1 had started meanwhile and run on "
                                "(a started task cannot be taken back)")


async def test_a_move_says_where_it_went_and_the_priority_it_took(store: TaskStore) -> None:
    """docs/queue.md: a moved item takes the priority of the place it goes to — said in
    the sentence the toast and ``queue move`` show; the item passed keeps its own."""
    endpoint = "http://127.0.0.1:1/api/v1"
    batch = (await queue.enqueue_requests(store, endpoint, requests("line", 3),
                                          priority=queue.BATCH)).queued
    [typed] = (await queue.enqueue_requests(store, endpoint, requests("typed", 1))).queued
    first = await queue.move(store, [batch[0]], "up")
    assert first.sentence("h") == (f"#{batch[0]} moved up: first to be sent — its priority "
                                   "rose to 1, that of the task it passed.")
    [passed] = await store.generations.get_many([typed])
    assert passed.queue_priority == queue.PROMPT  # the prompt passed keeps its own
    again = await queue.move(store, [batch[0]], "up")
    assert again.sentence("h") == f"#{batch[0]} is first in the queue already: nothing moved."
    assert again.sentence("h", named=False) == "First in the queue already: nothing moved."
    await store.queue.hold([batch[2]], True)
    top = await queue.move(store, [batch[2]], "top")
    assert top.sentence("h") == (f"#{batch[2]} moved to the top of the queue: first to be "
                                 "sent — its priority rose to 1, the highest waiting; it is "
                                 "held (h releases).")
    down = await queue.move(store, [batch[2]], "down")
    assert down.sentence("h") == (f"#{batch[2]} moved down to #2 in the queue; it is held "
                                  "(h releases).")
    assert down.sentence("h", named=False) == ("Moved down to #2 in the queue; it is held "
                                               "(h releases).")
    assert [i.id for i in await store.queue.lineup()] == [batch[0], batch[2], typed, batch[1]]
