"""The local queue in the dashboard, driven with Pilot against the simulator: a prompt
typed now goes ahead of a queued batch (and the composer says when it would start); the
queue keys hold, raise, move, cancel and pause — a paused batch offers to take back what
still waits at the service; the status bar says when the queue does not move."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from storage import TaskStore
from tests.conftest import make_sim
from tests.ui.helpers import cell, composer, table, until, workspace
from tests.ui.test_safety_ui import (
    SIZE,
    detail_text,
    highlight,
    index_of,
    press,
    seed_store,
    status_bar,
    submit,
    toasts,
)
from tui.dashscope import GenerationRequest
from tui.engine.submitting import queue
from tui.engine.workspace import Workspace
from tui.simulator import Simulator
from tui.ui.app import PixverseApp
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.dialogs.keys import KeysScreen


@pytest.fixture
def busy_sim() -> Iterator[Simulator]:
    """A service on a real clock whose tasks wait long at the service: once the account's
    room is full (five running and five ahead), the rest waits in the local queue."""
    with make_sim(speed=1.0, queue_delay=(600.0, 600.0), min_work=600.0,
                  max_work=600.0) as running:
        yield running


def real_time(ws: Workspace) -> Workspace:
    """The service's clock runs at real speed here (the pace of creates too)."""
    ws.time_scale = 1.0
    return ws


def creates(sim: Simulator) -> int:
    """Tasks created (a create refused by the rate limit and sent again counts once)."""
    return sim.traffic.count("create", 200)


async def queue_batch(app: PixverseApp, store_of: TaskStore, count: int) -> tuple[int, ...]:
    done = await queue.enqueue_requests(
        store_of, app.ws.base_url, [GenerationRequest(f"batch line {n}") for n in range(count)],
        priority=queue.BATCH)
    return done.queued


def place_of(app: PixverseApp, generation_id: int) -> str:
    """What the status cell of a row says ("≡ QUEUED #3")."""
    return cell(app, index_of(app, generation_id), "status") \
        if generation_id in table(app).rows_by_id else ""


async def lineup(app: PixverseApp) -> list[int]:
    assert app.store is not None
    return [item.id for item in await app.store.queue.lineup()]


async def wait_lineup(pilot: Pilot, app: PixverseApp, check: object, what: str) -> None:
    import time
    deadline = time.monotonic() + 15
    while not check(await lineup(app)):  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


@contextlib.asynccontextmanager
async def full_room(busy_sim: Simulator, tmp_path: Path,
                    lines: int) -> AsyncIterator[tuple[PixverseApp, TaskStore, Pilot, list[int]]]:
    """A dashboard on the busy service with a batch of ``lines`` queued, once the
    account's room is full (five running, five ahead): the rest waits in the queue."""
    ws = real_time(workspace(tmp_path / "home", busy_sim))
    store = await seed_store(ws)
    app = PixverseApp(ws)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            ids = await queue_batch(app, store, lines)
            await until(pilot, lambda: creates(busy_sim) == 10, what="the room to fill")
            yield app, store, pilot, ids
    finally:
        await store.close()


async def test_a_prompt_typed_now_goes_ahead_of_a_queued_batch(busy_sim: Simulator,
                                                               tmp_path: Path) -> None:
    async with full_room(busy_sim, tmp_path, 20) as (app, _store, pilot, ids):
        await until(pilot, lambda: "≡10 queued" in status_bar(app), what="the figure")
        # the composer says when a prompt typed now would start: after a slot frees
        await until(pilot, lambda: "starts in ~" in str(
            composer(app).query_one("#problems").render()), timeout=20,
            what="the composer's estimate")
        await submit(pilot, app, "typed just now")
        order = await lineup(app)
        typed = next(r.id for r in table(app).rows_by_id.values()
                     if r.prompt == "typed just now")
        assert order[0] == typed and set(order[1:]) == set(ids[10:])
        with busy_sim.world.lock:
            made = sorted(t.prompt for a in busy_sim.world.accounts.values()
                          for t in a.tasks.values())
        assert creates(busy_sim) == 10, made  # the room is full: it waits, first in line
        # one toast says so — not "Submitted", which would say it went to the service
        await until(pilot, lambda: "Queued 1 task, first in line" in toasts(app),
                    what="the toast that it waits")
        assert "Submitted" not in toasts(app)


async def test_queue_keys_hold_raise_move_cancel_and_pause(busy_sim: Simulator,
                                                           tmp_path: Path) -> None:
    async with full_room(busy_sim, tmp_path, 16) as (app, _store, pilot, ids):
        waiting = ids[10:]  # QUEUED: ids[10] is next
        last = waiting[-1]
        await highlight(pilot, app, last, "QUEUED")
        assert "Queued" in detail_text(app) and "priority 0" in detail_text(app)

        await press(pilot, app, "h")  # hold: it keeps its place, and waits
        await until(pilot, lambda: "held" in detail_text(app), what="held")
        await press(pilot, app, "h")
        await until(pilot, lambda: "held" not in detail_text(app), what="released")

        # Each queued row shows its place in the queue; a move shows, and says so.
        await until(pilot, lambda: place_of(app, waiting[0]) == "≡ QUEUED #1" and
                    place_of(app, last) == "≡ QUEUED #6", what="the places")
        await press(pilot, app, "T")  # to the top
        await wait_lineup(pilot, app, lambda order: order[0] == last, "the move to the top")
        await until(pilot, lambda: "Moved to the top of the queue: first to be sent."
                    in toasts(app), what="the toast for T")
        # the row moved and so did every row it passed, unchanged in the store
        await until(pilot, lambda: place_of(app, last) == "≡ QUEUED #1" and
                    place_of(app, waiting[0]) == "≡ QUEUED #2", what="the places after T")
        await until(pilot, lambda: "#1 in the queue" in detail_text(app),
                    what="the detail pane to follow the move")
        await press(pilot, app, "K")  # nothing above it
        await until(pilot, lambda: "First in the queue already: nothing moved."
                    in toasts(app), what="the toast for K at the top")
        await press(pilot, app, "J")  # one down
        await wait_lineup(pilot, app, lambda order: order[1] == last, "the move down")
        await until(pilot, lambda: "Moved down to #2 in the queue." in toasts(app),
                    what="the toast for J")
        await until(pilot, lambda: place_of(app, last) == "≡ QUEUED #2", what="#2")
        await press(pilot, app, "K")
        await wait_lineup(pilot, app, lambda order: order[0] == last, "the move up")
        await press(pilot, app, "plus")
        await until(pilot, lambda: "priority 1" in detail_text(app), what="raised")
        await press(pilot, app, "minus", "minus")
        await until(pilot, lambda: "priority -1" in detail_text(app), what="lowered")
        await wait_lineup(pilot, app, lambda order: order[-1] == last, "the lower priority")

        await press(pilot, app, "c")  # free: nothing was sent — done at once for one row
        await until(pilot, lambda: "off the queue" in toasts(app), what="the cancel")
        await until(pilot, lambda: table(app).rows_by_id[last].display_status ==
                    "ABANDONED", what="the row to leave the queue")
        assert creates(busy_sim) == 10

        await press(pilot, app, "P")  # the whole queue
        await until(pilot, lambda: "queue paused by you; P resumes it" in status_bar(app),
                    what="the pause in the status bar")
        await press(pilot, app, "P")
        await until(pilot, lambda: "paused" not in status_bar(app), what="the resume")


async def test_h_acts_on_the_row_as_the_store_has_it_not_as_the_table_last_drew_it(
        busy_sim: Simulator, tmp_path: Path) -> None:
    """Held elsewhere (another process's `queue hold`, or an h pressed a moment ago) and
    not yet redrawn: h releases it — it held it again, judging by the table's row."""
    async with full_room(busy_sim, tmp_path, 12) as (app, store, pilot, ids):
        await highlight(pilot, app, ids[11], "QUEUED")
        await store.queue.hold([ids[11]], True)  # the table has not redrawn it yet
        await press(pilot, app, "h")
        await until(pilot, lambda: "Released" in toasts(app), what="the release")
        row = await store.generations.get(ids[11])
        assert row is not None and not row.queue_held


async def test_a_move_past_a_prompt_takes_its_priority_and_says_so(busy_sim: Simulator,
                                                                  tmp_path: Path) -> None:
    """docs/queue.md: a batch line moved to the top goes ahead of a prompt typed before:
    it takes the prompt's priority (the prompt keeps its own) and the toast says so."""
    async with full_room(busy_sim, tmp_path, 13) as (app, store, pilot, ids):
        [typed] = (await queue.enqueue_requests(store, app.ws.base_url,
                                                [GenerationRequest("typed")])).queued
        await wait_lineup(pilot, app, lambda order: order[0] == typed, "the prompt first")
        await highlight(pilot, app, ids[12], "QUEUED")
        await until(pilot, lambda: "#4 in the queue · priority 0" in detail_text(app),
                    what="its place in the detail pane")
        await press(pilot, app, "T")
        await until(pilot, lambda: "Moved to the top of the queue: first to be sent — its "
                    "priority rose to 1, the highest waiting." in toasts(app),
                    what="the toast")
        await until(pilot, lambda: "#1 in the queue · priority 1" in detail_text(app),
                    what="the detail pane")
        assert app.store is not None
        [prompt] = await app.store.generations.get_many([typed])
        assert prompt.queue_priority == queue.PROMPT and place_of(app, typed) == \
            "≡ QUEUED #2"


async def test_a_pause_is_said_with_its_reason_and_the_details_follow(
        busy_sim: Simulator, tmp_path: Path) -> None:
    """A paused batch (p) says so in the status bar, and the detail pane of a queued row
    follows a pause at once — the cursor does not have to move."""
    async with full_room(busy_sim, tmp_path, 12) as (app, _store, pilot, ids):
        await highlight(pilot, app, ids[11], "QUEUED")
        await until(pilot, lambda: "#2 in the queue" in detail_text(app), what="its place")
        await press(pilot, app, "P")  # the whole queue: the pane says so, unmoved
        await until(pilot, lambda: "queue paused by you (P resumes)" in detail_text(app),
                    what="the pause in the detail pane")
        assert "queue paused by you; P resumes it" in status_bar(app)
        await press(pilot, app, "P")
        await until(pilot, lambda: "paused" not in detail_text(app), what="the resume")
        await press(pilot, app, "p")  # its batch, some of it PENDING at the service
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="a question")
        await press(pilot, app, "enter")  # "Pause, leave them"
        await until(pilot, lambda: "batch paused by you; p resumes it" in status_bar(app),
                    what="the batch's pause in the status bar")
        await until(pilot, lambda: "its batch is paused by you (p resumes)" in
                    detail_text(app), what="the batch's pause in the detail pane")


async def test_a_lost_create_answer_of_a_queued_item_is_said_until_resolved(
        tmp_path: Path) -> None:
    """A queued item whose create got no clear answer stops for resolve — loudly: a toast,
    and the status bar counts it until it is resolved."""
    with make_sim() as sim:
        ws = workspace(tmp_path / "home", sim)
        store = await seed_store(ws)
        app = PixverseApp(ws)
        try:
            async with app.run_test(size=SIZE, notifications=True) as pilot:
                await until(pilot, lambda: app.services.polling, what="the poller")
                sim.inject(kind="drop_after", on="create")  # made; the answer is lost
                ids = await queue_batch(app, store, 2)
                await until(pilot, lambda: "Submission unconfirmed" in toasts(app),
                            what="the toast")
                assert f"#{ids[0]} “batch line 0”" in toasts(app)
                assert "press u to resolve it" in toasts(app)
                await until(pilot, lambda: "⚠ 1 unconfirmed: u resolves" in status_bar(app),
                            what="the count in the status bar")
                assert toasts(app).count("Submission unconfirmed") == 1  # told once
                await highlight(pilot, app, ids[0], "UNCONFIRMED")
                await press(pilot, app, "u")
                await until(pilot, lambda: isinstance(app.screen, ChoiceScreen),
                            what="the question")
                await press(pilot, app, "enter")  # look for it on the service
                await until(pilot, lambda: "Found it" in toasts(app), what="resolved")
                await until(pilot, lambda: "unconfirmed" not in status_bar(app),
                            what="the count to go")
        finally:
            await store.close()


async def test_the_keys_screen_shows_the_signs_of_plus_and_minus(tmp_path: Path) -> None:
    app = PixverseApp(workspace(tmp_path / "home", None))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table(app).is_mounted, what="the table")
        table(app).focus()
        await press(pilot, app, "question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen), what="the keys")
        rows = {label: keys for keys, label, _ in app.screen.rows}  # type: ignore[attr-defined]
        assert rows["Raise priority"] == "+" and rows["Lower priority"] == "-"


async def test_pausing_a_batch_offers_to_take_back_what_waits_at_the_service(
        busy_sim: Simulator, tmp_path: Path) -> None:
    async with full_room(busy_sim, tmp_path, 12) as (app, _store, pilot, ids):
        await until(pilot, lambda: all(table(app).rows_by_id.get(i) is not None and
                                       table(app).rows_by_id[i].task_id for i in ids[:10]),
                    what="the sent ones to show")
        await highlight(pilot, app, ids[11], "QUEUED")
        await press(pilot, app, "p")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="a question")
        question = str(app.screen.query_one("#choice-box Static").render())
        assert "10 tasks of it still wait at the service" in question
        focused = app.screen.focused
        assert focused is not None and focused.id == "answer-pause"  # take back: not default
        await press(pilot, app, "right", "enter")  # "Pause, take back 10"
        await until(pilot, lambda: "took back 10 of 10 tasks" in toasts(app).lower(),
                    timeout=30, what="the take-back")
        assert app.store is not None
        pauses = await app.store.queue.pauses()
        assert [p.batch_id for p in pauses] == [table(app).rows_by_id[ids[0]].batch_id]
        order = await lineup(app)
        assert len(order) == 12  # ten taken back, first, in their order, and the two
        again = {r.id: r for r in await app.store.generations.get_many(order[:10])}
        assert [again[i].retry_of for i in order[:10]] == list(ids[:10])
        assert all(r.retries == 0 for r in again.values())
        canceled = await app.store.generations.get_many(ids[:10])
        assert all(r.status == "CANCELED" for r in canceled)
        assert creates(busy_sim) == 10  # nothing was created again


async def test_with_nobody_feeding_the_status_bar_says_so(busy_sim: Simulator,
                                                          tmp_path: Path) -> None:
    ws = real_time(workspace(tmp_path / "home", busy_sim))
    store = await seed_store(ws)
    app = PixverseApp(ws, poll=False)  # this dashboard does not poll: nobody feeds
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await queue_batch(app, store, 3)
            await until(pilot, lambda: "nobody is feeding the queue" in status_bar(app),
                        what="the status bar to say so")
            assert creates(busy_sim) == 0
    finally:
        await store.close()


def test_the_status_bar_says_what_is_unconfirmed_within_80_columns_queue() -> None:
    """Creates in doubt come before the queue's figures: an 80-column terminal shows them
    whole, with the way out."""
    from storage.records import Counts
    from tui.ui.view.figures import StatusFigures
    from tui.ui.widgets.status_bar import render_figures

    figures = StatusFigures(counts=Counts(running=5, pending=5, queued=1234),
                            queue_done="done 14:05 (p90 15:10)", unconfirmed=2,
                            window="1–50 of 1,244")
    assert "⚠ 2 unconfirmed: u resolves" in render_figures(figures).plain[:80]
    paused = StatusFigures(counts=Counts(queued=12), queue_note="batch paused by you; p "
                           "resumes it", queue_problem="")
    assert "≡12 queued · batch paused by you; p resumes it" in render_figures(paused).plain
