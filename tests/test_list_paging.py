"""Following the task list has an end (issue 13, point 11).

A list answer claiming ``total_page = 10**9``, or pages that repeat forever, must
not keep ``sync``, ``resolve`` or the poller's sweeps asking: pages and time are
capped, a page of tasks already seen is a repeat, an absurd total is refused —
each with one sentence.  The simulator's ``pages`` fault tells those lies.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from pathlib import Path

import pytest

from storage import open_store
from tests.conftest import CLI, KEY, cli_env, client_for
from tests.test_resolve import other_client_creates, unconfirmed
from tui.dashscope import ApiKey, GenerationRequest
from tui.engine.following.account import account_id
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator


def run(home: Path, sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=120)


def list_calls(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "GET"
               and path.rstrip("/") == "/api/v1/tasks")


def made_elsewhere(sim: Simulator, count: int) -> list[str]:
    return [other_client_creates(sim, f"a fox, take {n}") for n in range(count)]


def test_sync_stops_at_an_absurd_page_count(sim: Simulator, tmp_path: Path) -> None:
    made_elsewhere(sim, 3)
    sim.inject(on="list", kind="pages", total_page=10**9, times=0)
    out = run(tmp_path / "home", sim, "sync")
    assert out.returncode == 1, out.stderr
    assert "1,000,000,000 pages" in out.stderr and "this is a bug" not in out.stderr
    assert list_calls(sim) == 1


@pytest.mark.parametrize("total_page", [50, 10**9])
def test_sync_stops_when_pages_repeat(sim: Simulator, tmp_path: Path, total_page: int) -> None:
    made = made_elsewhere(sim, 3)
    sim.inject(on="list", kind="pages", repeat=True, total_page=total_page, times=0)
    home = tmp_path / "home"
    out = run(home, sim, "sync")
    assert out.returncode == 1, out.stderr
    assert list_calls(sim) <= 2
    if total_page == 50:  # a believable total: page 1 is used, page 2 is the same again
        assert "same tasks again on page 2" in out.stderr
        assert "adopted 3 tasks" in out.stdout
        shown = run(home, sim, "list", "--json")
        assert {t for t in made} <= set(shown.stdout.split('"')), shown.stdout


async def test_resolve_stops_when_pages_repeat(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    row = await unconfirmed(home, sim, "a lighthouse in a storm", created=True)
    made_elsewhere(sim, 2)
    sim.inject(on="list", kind="pages", repeat=True, total_page=40, times=0)
    out = run(home, sim, "resolve")
    assert out.returncode == 1, out.stderr
    assert f"#{row.id}: not settled" in out.stdout and "same tasks again" in out.stdout
    assert list_calls(sim) <= 2
    async with await open_store(home / "tasks.db") as store:
        after = await store.generations.get(row.id)
    assert after is not None and after.submission == "unconfirmed"


async def test_the_pollers_sweep_stops_and_polls_tasks_one_by_one(sim: Simulator,
                                                                  tmp_path: Path) -> None:
    account = account_id(sim.base_url, ApiKey(KEY))
    async with await open_store(tmp_path / "tasks.db") as store, \
            client_for(sim) as client:
        for n in range(2):
            await submit(store, client, GenerationRequest(f"a heron, take {n}"),
                         first_poll_after=0)
        sim.inject(on="list", kind="pages", repeat=True, total_page=60, times=0)
        # An audit is due every 20 s here: never twice in one round, however loaded.
        poller = PollScheduler(store, client, PollSettings(time_scale=30.0), account=account)
        for _ in range(3):
            before = list_calls(sim)
            poller.wake()
            await asyncio.wait_for(poller._round(), 30)
            assert list_calls(sim) - before <= 2  # a sweep or an audit: two pages at most
        assert not poller.sweeping
        await poller.release()


async def test_pages_are_capped_by_count_and_by_time(sim: Simulator) -> None:
    from tui.engine.following import listing

    async with client_for(sim) as client:
        for n in range(25):
            await client.create(GenerationRequest(f"an owl, take {n}"))
        got = []
        with pytest.raises(listing.ListRunaway, match=r"\(20 at most\)"):
            async for page in listing.pages(client, limits=listing.Limits(tasks=20),
                                            sizes=(10,)):
                got += page.tasks
        assert got == []  # 3 pages of 10 claimed: more than allowed, none used
        ticks = itertools.count(0, 200)  # each look at the clock: 200 s later
        got = []
        with pytest.raises(listing.ListRunaway, match="still going after 150 s"):
            async for page in listing.pages(client, sizes=(10,), clock=lambda: next(ticks),
                                            limits=listing.Limits(seconds=150)):
                got += page.tasks
        assert len(got) == 10  # the first page, then the time was up
        every = [t async for page in listing.pages(client, sizes=(10,)) for t in page.tasks]
        assert len(every) == len({t.task_id for t in every}) == 25
