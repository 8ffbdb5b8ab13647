"""Following many tasks with few requests: sweeps of the task list, one poller per
account, one request budget for every process — over loopback, counted at the simulator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import TaskStore, open_store
from storage.clock import iso
from storage.records import LiveTask
from tests.conftest import FAST, KEY, client_for, make_sim
from tui.dashscope import ApiKey, GenerationRequest, ListedTask
from tui.engine.following.account import SharedBudget, account_id
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.engine.following.sweep import Timing, read_sweep
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

SETTINGS = PollSettings(time_scale=FAST)


def api_requests(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests
               if method == "GET" and path.startswith("/api/v1/tasks"))


def live(id_: int, status: str | None, minutes_ago: float) -> LiveTask:
    made = datetime(2026, 11, 26, 12, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    return LiveTask(id=id_, task_id=f"t{id_}", status=status, created_at=iso(made),
                    scheduled_time=None, size="1280*720", duration=5,
                    next_poll_at=iso(made))


def listed(id_: int) -> ListedTask:
    return ListedTask(task_id=f"t{id_}", status="RUNNING",
                      started=datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


# -- reading a sweep (pure) ----------------------------------------------------------------


def test_a_sweep_tells_ends_starts_overtaken_and_foreign_tasks() -> None:
    rows = [live(1, "RUNNING", 9), live(2, "PENDING", 8), live(3, "PENDING", 7),
            live(4, "RUNNING", 6), live(5, "PENDING", 1)]
    found = read_sweep(rows, [listed(3), listed(4), ListedTask("sdk-1", "RUNNING")])
    assert found.ended == [1]  # no longer listed: ended, ask once
    assert [row_id for row_id, _ in found.started] == [3]  # listed now: started
    assert found.overtaken == [2]  # made before a running one: it ran and ended unseen
    assert [t.task_id for t in found.foreign] == ["sdk-1"]


def test_with_a_free_slot_the_oldest_pending_tasks_are_checked() -> None:
    rows = [live(1, "PENDING", 3), live(2, "PENDING", 2), live(3, "PENDING", 1)]
    assert read_sweep(rows, [ListedTask("sdk-1", "RUNNING")] * 3).overtaken == [1, 2]
    full = [ListedTask(f"sdk-{i}", "RUNNING") for i in range(5)]
    assert read_sweep(rows, full).overtaken == []  # all five slots taken by others


def test_a_free_slot_does_not_ask_about_tasks_just_made() -> None:
    """The service takes a few seconds to start what it accepted: asking at once about a
    task made 6 s ago finds it PENDING — a request spent for nothing, every sweep."""
    noon = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    rows = [live(1, "PENDING", 2), live(2, "PENDING", 0.1)]
    assert read_sweep(rows, [], noon - timedelta(seconds=30)).overtaken == [1]
    assert read_sweep(rows, []).overtaken == [1, 2]  # no grace asked for


def test_sweeps_come_close_only_while_a_task_may_be_ending() -> None:
    timing = Timing()
    timing.learn("1280*720", 5, 100.0)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    young = LiveTask(1, "t1", "RUNNING", iso(now), iso(now - timedelta(seconds=10)),
                     "1280*720", 5, iso(now))
    old = LiveTask(2, "t2", "RUNNING", iso(now), iso(now - timedelta(seconds=90)),
                   "1280*720", 5, iso(now))
    assert timing.next_sweep_in([young], now, close=8, far=30) == 30  # 50 s to go: far
    assert timing.next_sweep_in([young, old], now, close=8, far=30) == 8
    assert timing.next_sweep_in([], now, close=8, far=30) is None


def test_on_a_fast_clock_a_task_nears_its_end_in_the_services_seconds() -> None:
    """The demo's simulator runs 50 times faster: 2 real seconds of running are 100 of the
    service's, past 60 % of a 100-second generation — sweep close, not 30 s apart."""
    timing = Timing()
    timing.learn("1280*720", 5, 100.0)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    two_seconds = LiveTask(1, "t1", "RUNNING", iso(now), iso(now - timedelta(seconds=2)),
                           "1280*720", 5, iso(now))
    assert timing.next_sweep_in([two_seconds], now, close=8, far=30, scale=50) == 8
    assert timing.next_sweep_in([two_seconds], now, close=8, far=30) == 30  # speed 1


# -- over loopback --------------------------------------------------------------------------


async def test_sweeps_follow_tasks_in_order_to_the_end_in_few_requests(
        sim: Simulator, store: TaskStore) -> None:
    async with client_for(sim) as client:
        rows = [(await submit(store, client, GenerationRequest(f"sweep {i}"),
                              first_poll_after=SETTINGS.first_poll)).generation
                for i in range(12)]
        before = api_requests(sim)
        poller = PollScheduler(store, client, SETTINGS)
        poller.submitted()
        done = await poller.wait_for({r.id for r in rows})
    assert all(r.status == "SUCCEEDED" and r.video_url for r in done)
    for row in done:  # in order; a task may run entirely between two sweeps
        history = [e.status for e in await store.generations.events(row.id)]
        assert history in (["SUBMITTING", "PENDING", "RUNNING", "SUCCEEDED"],
                           ["SUBMITTING", "PENDING", "SUCCEEDED"])
    asked = api_requests(sim) - before
    assert asked <= 4 * len(rows), f"{asked} requests for {len(rows)} tasks"


async def test_the_store_never_shows_more_running_than_the_service_runs(
        sim: Simulator, store: TaskStore) -> None:
    """When a sweep sees tasks end and others take their slots, the ends are recorded
    first: the dashboard's "▶" figure never reads 6 or 8 when the service runs 5."""
    async with client_for(sim) as client:
        rows = [(await submit(store, client, GenerationRequest(f"slots {i}"),
                              first_poll_after=SETTINGS.first_poll)).generation
                for i in range(20)]
        poller = PollScheduler(store, client, SETTINGS)
        poller.submitted()
        await poller.wait_for({r.id for r in rows})
    changes: list[tuple[str, int]] = []  # (when, +1 started running / -1 stopped)
    for row in rows:
        history = await store.generations.events(row.id)
        began = [e.at for e in history if e.status == "RUNNING"]
        ended = [e.at for e in history if e.status in ("SUCCEEDED", "FAILED")]
        if began:
            changes += [(began[0], 1), (ended[-1], -1)]
    running = peak = 0
    for _, step in sorted(changes, key=lambda c: (c[0], c[1])):  # ends first at a tie
        running += step
        peak = max(peak, running)
    assert peak <= 5, f"the store showed {peak} tasks running at once"


async def test_a_task_failed_by_moderation_while_pending_is_caught_early(
        slow_sim: Simulator, store: TaskStore) -> None:
    """It never runs, so only the FAILED list (asked for after a submit) can tell."""
    settings = PollSettings(time_scale=1.0, young_looks=(1.0, 2.0))
    slow_sim.inject(on="moderate", kind="fail_early", seconds=0.5)
    async with client_for(slow_sim) as client:
        outcome = await submit(store, client, GenerationRequest("forbidden"),
                               first_poll_after=settings.first_poll)
        poller = PollScheduler(store, client, settings)
        poller.submitted()
        started = time.monotonic()
        [row] = await asyncio.wait_for(poller.wait_for({outcome.generation.id}), 20)
    assert row.status == "FAILED" and time.monotonic() - started < 10
    assert row.error_code == "DataInspectionFailed"


async def test_a_burst_of_submits_shares_its_early_looks(sim: Simulator,
                                                         store: TaskStore) -> None:
    """Forty submits in a row each wake the poller; the FAILED lists that catch a young
    task's moderation are shared (a few, not two per submit), and the CANCELED list is
    left to the audit (only a user cancels)."""
    settings = PollSettings(time_scale=6.0)  # the looks at 3 s and 15 s: 0.5 and 2.5 s
    async with client_for(sim) as client:
        poller = PollScheduler(store, client, settings)
        for i in range(40):
            await submit(store, client, GenerationRequest(f"burst {i}"),
                         first_poll_after=settings.first_poll)
            poller.submitted()
            await poller._round()
        deadline = time.monotonic() + 30.0  # (2.5 s on a quiet machine)
        while poller._looks:  # until every look those submits asked for has come
            assert time.monotonic() < deadline, "the early looks never came"
            await poller._round()
            await asyncio.sleep(0.05)
    failed, canceled = sim.lists.count("FAILED"), sim.lists.count("CANCELED")
    # was 80; 3–6 on a quiet machine, 10 seen on one loaded with four other workers
    assert 1 <= failed <= 12, f"{failed} FAILED lists for 40 submits"
    assert canceled <= 1, f"{canceled} CANCELED lists"  # the first audit only


async def test_rounds_with_nothing_new_read_no_task_rows(sim: Simulator,
                                                         store: TaskStore) -> None:
    """At speed 1 the poller wakes every few seconds to renew its lease; with nothing
    written since its last look, such a round does not read the followed tasks again."""
    async with client_for(sim) as client:
        for i in range(30):
            await submit(store, client, GenerationRequest(f"idle {i}"), first_poll_after=1e6)
        poller = PollScheduler(store, client, PollSettings())
        reads = 0
        read_live = store.following.live

        async def counted(*args: object, **kwargs: object) -> list[LiveTask]:
            nonlocal reads
            reads += 1
            return await read_live(*args, **kwargs)  # type: ignore[arg-type]

        store.following.live = counted  # type: ignore[method-assign]
        await poller._round()  # the first look: reads, sweeps, writes what it saw
        await poller._round()
        reads = 0
        for _ in range(20):
            await poller._round()
    assert reads == 0, f"{reads} reads of the followed tasks in 20 idle rounds"


async def test_a_task_written_by_another_process_is_read_at_the_next_round(
        sim: Simulator, store: TaskStore, tmp_path: Path) -> None:
    """The poller learns of another writer from the store's change feed, not by asking."""
    async with client_for(sim) as client:
        await submit(store, client, GenerationRequest("ours"), first_poll_after=1e6)
        poller = PollScheduler(store, client, PollSettings())
        await poller._round()
        await poller._round()
        async with await open_store(tmp_path / "tasks.db") as other:  # e.g. `submit`
            await submit(other, client, GenerationRequest("theirs"), first_poll_after=1e6)
        deadline = time.monotonic() + 10
        while len(await poller._live_tasks()) < 2:
            assert time.monotonic() < deadline, "the other process's task was never read"
            await asyncio.sleep(0.02)
            await poller._notice_changes()
        await poller.release()


async def test_a_foreign_task_is_noted(sim: Simulator, store: TaskStore) -> None:
    account = account_id(sim.base_url, ApiKey(KEY))
    async with client_for(sim) as client:
        mine = await submit(store, client, GenerationRequest("mine"), first_poll_after=1e6)
        other = await client.create(GenerationRequest("made by a script"))  # not recorded
        poller = PollScheduler(store, client, SETTINGS, account=account)
        deadline = time.monotonic() + 20
        while not await store.foreign.recent(account):
            assert time.monotonic() < deadline, "the foreign task was never noticed"
            poller.wake()
            await poller._round()
            await asyncio.sleep(0.01)
        await poller.release()
    assert [t.task_id for t in await store.foreign.recent(account)] == [other.task_id]
    assert mine.generation.task_id not in {t.task_id for t in await store.foreign.recent(
        account)}


HOLDER = textwrap.dedent("""
    import asyncio, sys
    from storage import TaskStore, open_store
    from tui.dashscope import ApiKey, DashScopeClient
    from tui.engine.following.account import account_id
    from tui.engine.following.poller import PollScheduler, PollSettings

    async def main(path, base_url, key):
        store = await open_store(path)
        client = DashScopeClient(ApiKey(key), base_url)
        poller = PollScheduler(store, client, PollSettings(time_scale=600, account_lease=2.0),
                               account=account_id(base_url, ApiKey(key)), owner="first")
        await poller._round()
        print("holding" if poller._holding else "not holding", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(*sys.argv[1:]))
""")


async def test_the_poller_lease_passes_on_when_its_holder_is_killed(
        sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    await (await open_store(path)).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), sim.base_url, KEY],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        account = account_id(sim.base_url, ApiKey(KEY))
        async with await open_store(path) as store, client_for(sim) as client:
            second = PollScheduler(store, client, PollSettings(time_scale=600),
                                   account=account, owner="second")
            assert not await second._may_poll()  # the first one polls
            assert (await store.leases.current(account)).holder == "first"
            holder.kill()  # kill -9: no goodbye
            holder.wait()
            deadline = time.monotonic() + 10
            while not await second._may_poll():
                assert time.monotonic() < deadline, "the lease was never taken over"
                second._lease_checked = -1e9
                await asyncio.sleep(0.1)
            await second.release()
    finally:
        if holder.poll() is None:
            holder.kill()


BUDGETED = textwrap.dedent("""
    import asyncio, sys
    from storage import TaskStore, open_store
    from tui.dashscope import ApiKey, DashScopeClient
    from tui.engine.following.account import SharedBudget, account_id

    async def main(path, base_url, key):
        store = await open_store(path)
        budget = SharedBudget(store.budget, account_id(base_url, ApiKey(key)), 8.0)
        async with DashScopeClient(ApiKey(key), base_url, pace=budget.take) as client:
            await asyncio.gather(*(client.query(f"nothing-{n}") for n in range(16)))
        await store.close()

    asyncio.run(main(*sys.argv[1:]))
""")


async def test_three_processes_stay_within_one_budget(tmp_path: Path) -> None:
    """48 queries from three processes at once, through one budget of 8 per second: they
    are spread over at least five seconds of the service's clock (8 a second, not 24),
    nothing is refused, and no second comes near the account's 20.  (The busiest second
    may see a few more than 8 + 1: requests granted at the end of one second reach the
    service in the next when the machine is busy.)"""
    path = tmp_path / "tasks.db"
    await (await open_store(path)).close()
    with make_sim(speed=1.0) as sim:
        procs = [subprocess.Popen([sys.executable, "-c", BUDGETED, str(path), sim.base_url,
                                   KEY]) for _ in range(3)]
        assert [p.wait(60) for p in procs] == [0, 0, 0]
        traffic = sim.traffic.snapshot()
    assert sim.traffic.count("query") == 48 and sim.traffic.count(status=429) == 0
    assert traffic["peak_per_second"] < 20  # under load two seconds' grants can bunch up
    seconds = sorted(sim.traffic.per_second)
    assert seconds[-1] - seconds[0] >= 5


def test_the_budget_is_kept_below_the_account_limit() -> None:
    budget = SharedBudget(None, "a", 20.0, time_scale=3.0)  # type: ignore[arg-type]
    assert budget.rate == 19.0 * 3.0
