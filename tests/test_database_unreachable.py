"""The database going away (issue 16, point 9): a submission is refused before anything
is sent, the poller waits longer and longer, and everything resumes by itself.  The
engine sees only the store interface's ``StoreUnavailable`` (``tests/unreachable.py``),
as it would from a SQLite file gone or a PostgreSQL connection lost."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from storage import TaskStore
from tests.conftest import CLI, KEY, cli_env, client_for
from tests.unreachable import CutOffStore
from tui.dashscope import GenerationRequest
from tui.engine.following.poller import Health, PollScheduler, PollSettings
from tui.engine.submitting import batch
from tui.engine.submitting.submit import IntentNotRecorded, submit
from tui.simulator import Simulator
from tui.ui.view.reach import FIRST_TRY, LAST_TRY, Reach


def creates(sim: Simulator) -> int:
    return sum(1 for method, _ in sim.requests if method == "POST")


async def test_a_submission_is_refused_before_anything_is_sent(
        store: TaskStore, sim: Simulator) -> None:
    cut = CutOffStore(store)
    cut.cut.down = True
    async with client_for(sim) as client:
        with pytest.raises(IntentNotRecorded) as refused:
            await submit(cut, client, GenerationRequest("a fox"))  # type: ignore[arg-type]
        sentence = str(refused.value)
        assert sentence.startswith("nothing was sent: the intent could not be recorded")
        assert "\n" not in sentence
        plan = batch.read_batch("an owl\na cat\n", "two.txt", GenerationRequest(""))
        with pytest.raises(IntentNotRecorded):
            async for _ in batch.send_batch(cut, client, plan):  # type: ignore[arg-type]
                pass
        assert creates(sim) == 0 and await store.history.count() == 0
        cut.cut.down = False  # back: it goes as usual
        done = await submit(cut, client, GenerationRequest("a fox"))  # type: ignore[arg-type]
    assert done.ok and creates(sim) == 1


async def test_the_poller_waits_longer_and_longer_then_resumes(
        store: TaskStore, sim: Simulator) -> None:
    cut = CutOffStore(store)
    async with client_for(sim) as client:
        done = await submit(cut, client, GenerationRequest("a fox"),  # type: ignore[arg-type]
                            first_poll_after=0)
        poller = PollScheduler(cut, client, PollSettings(time_scale=600.0))  # type: ignore[arg-type]
        cut.cut.down = True
        waits = []
        for _ in range(6):
            poller._backoff_until = 0.0  # the wait is over: the next round tries again
            await poller._round()
            assert poller.health is Health.STORE_DOWN
            waits.append(int(poller.health_detail.rpartition("next try in ")[2].split()[0]))
        assert waits == [2, 4, 8, 16, 30, 30]
        cut.cut.down = False
        poller._backoff_until = 0.0
        for _ in range(50):  # the task finishes on the simulator's fast clock
            await poller._round()
            row = await store.generations.get(done.generation.id)
            assert row is not None
            if row.terminal:
                break
            await poller._sleep()
        assert row.status == "SUCCEEDED" and poller.health is not Health.STORE_DOWN


def test_the_views_tries_come_later_and_later() -> None:
    now = [100.0]
    reach = Reach(lambda: now[0])
    assert reach.due() and not reach.down and reach.describe() == ""
    assert reach.failed("gone") is True  # news: the first failure of an outage
    assert reach.down and not reach.due() and reach.wait == FIRST_TRY
    assert reach.describe() == "database unreachable — retrying in 1 s"
    assert reach.failed("still gone") is False and reach.wait == FIRST_TRY  # not a try
    waits = []
    for _ in range(7):
        now[0] = reach.next_try
        assert reach.due()
        assert reach.failed("gone") is False
        waits.append(reach.wait)
    assert waits == [2, 4, 8, 16, LAST_TRY, LAST_TRY, LAST_TRY]
    assert reach.answered() is True and not reach.down and reach.answered() is False


def test_the_command_line_refuses_to_submit_without_its_database(
        tmp_path: Path, sim: Simulator) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the home's folder should be")
    done = subprocess.run([*CLI, "submit", "a fox"], env=cli_env(blocked / "home", sim, KEY),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("pixverse-tui: nothing was sent: ")  # not a guess
    assert creates(sim) == 0
