"""The main screen's view of the history, without a screen: page, filter, sort, marks,
folds, figures and the change route, against a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Observation, open_store
from storage.records import Tally
from tests.ui.helpers import workspace
from tests.ui.test_live_views import record
from tui.ui.services import Services
from tui.ui.view import history as history_view
from tui.ui.view.figures import StatusFigures
from tui.ui.view.history import PAGE_SIZE, BatchDetails, HistoryView, TaskDetails
from tui.ui.widgets.status_bar import render_figures


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    tmp_path.mkdir(exist_ok=True)
    ws = workspace(tmp_path, None)
    services = Services(ws)
    services.store = await open_store(tmp_path / "tasks.db")
    yield services
    await services.store.close()


async def fill(services: Services, count: int, *, batch: str | None = None) -> None:
    rows = [record(n, "SUCCEEDED" if n % 3 else "PENDING", minutes_ago=500 - n)
            for n in range(count)]
    for row in rows:
        row["batch_id"] = batch
    await services.db.history.import_many(rows)


async def test_a_page_is_fifty_rows_newest_first_and_says_which(services: Services) -> None:
    await fill(services, 120)
    view = HistoryView(services)
    page = await view.read_page()
    assert len(page.rows) == PAGE_SIZE and page.rows[0].prompt == "prompt 119"
    assert view.matching == 120 and view.window(len(page.rows)) == "1–50 of 120"
    assert view.page_step(1, PAGE_SIZE) == 1 and view.page_step(-1, PAGE_SIZE) is None
    view.go_to(view.last_page)
    page = await view.read_page()
    assert [r.prompt for r in page.rows][-1] == "prompt 000"
    assert view.window(len(page.rows)) == "101–120 of 120"
    assert view.page_step(1, len(page.rows)) is None


async def test_end_shows_the_last_rows_as_a_full_page(services: Services) -> None:
    await fill(services, 101)  # pages of 50: the last page would hold one row
    view = HistoryView(services)
    await view.read_page()
    view.go_to_end()
    page = await view.read_page()
    assert len(page.rows) == PAGE_SIZE and page.rows[-1].prompt == "prompt 000"
    assert view.window(len(page.rows)) == "52–101 of 101"
    assert view.page_step(1, len(page.rows)) is None
    for window in ("2–51 of 101", "1–50 of 101"):  # PgUp from there moves whole pages
        view.go_to(view.page_step(-1, len(page.rows)) or 0)
        page = await view.read_page()
        assert view.window(len(page.rows)) == window


async def test_filter_and_sort_are_the_stores(services: Services) -> None:
    await fill(services, 30)
    clock = [100.0]
    view = HistoryView(services, clock=lambda: clock[0])
    view.filter("status:PENDING")
    page = await view.read_page()
    assert {r.status for r in page.rows} == {"PENDING"} and view.matching == 10
    await view.recount(force=True)
    assert view.window(len(page.rows)) == "10 of 30 match"
    view.filter("")
    view.sort_by("prompt", False)
    page = await view.read_page()
    assert page.rows[0].prompt == "prompt 000"
    assert not view.reload_due()  # a sort without an index: at most one reload a second
    clock[0] += 1.0
    assert view.reload_due()
    view.sort_by("submitted", True)
    assert view.reload_due()  # the indexed sort reloads whenever something changed


async def test_marks_span_every_page_and_clear(services: Services) -> None:
    await fill(services, 80)
    view = HistoryView(services)
    page = await view.read_page()
    view.toggle_mark(page.rows[0].id)
    view.filter("status:PENDING")
    assert len(await view.mark_all()) == 27
    assert len(view.marks) == 28  # the first row was a SUCCEEDED one
    assert view.figures(PAGE_SIZE).marks == 28
    assert view.clear_marks() and not view.marks


async def test_a_folded_batch_is_one_row_with_its_summary(services: Services) -> None:
    await fill(services, 6, batch="koi")
    await services.db.history.import_many([record(50, "SUCCEEDED", prompt="alone")])
    view = HistoryView(services)
    assert len((await view.read_page()).rows) == 7
    first = await view.fold("koi")
    page = await view.read_page()
    assert len(page.rows) == 2 and set(page.batches) == {first}
    details = await view.details(next(r for r in page.rows if r.id == first))
    assert isinstance(details, BatchDetails) and len(details.variations) == 6
    alone = next(r for r in page.rows if r.id != first)
    assert isinstance(await view.details(alone), TaskDetails)


async def test_the_change_route_sees_other_processes_and_its_own(services: Services,
                                                                 tmp_path: Path) -> None:
    await fill(services, 5)
    view = HistoryView(services)
    view.changes.listen()
    await view.read_page()
    assert not view.changes.changed()
    view.changes.touched()  # the view's own change (marks)
    assert view.changes.changed()
    await view.read_page()
    assert not view.changes.changed()
    async with await open_store(tmp_path / "tasks.db") as other:  # another process
        row = await other.generations.by_task_id("task-00000")
        assert row is not None
        await other.following.apply(row.id, Observation(status="RUNNING"), None)
    assert await asyncio.wait_for(view.changes.arrival(), 10)  # the store's change feed
    assert view.changes.changed() and view.changes.pending is not None
    assert row.id in view.changes.pending.rows
    await view.read_page()
    assert not view.changes.changed()
    await services.db.history.set_favourite(row.id, True)  # this process's own write
    assert await asyncio.wait_for(view.changes.arrival(), 10)
    assert view.changes.changed()


async def test_the_figures_are_the_stores_not_the_pages(services: Services) -> None:
    await fill(services, 90)
    view = HistoryView(services)
    page = await view.read_page()
    assert await view.recount(force=True)
    figures = view.figures(len(page.rows))
    assert figures.counts.in_flight == 30 and figures.window == "1–50 of 90"
    assert not await view.recount()  # held back: at most twice a second
    assert view.recount_due


async def test_the_page_makes_room_for_the_highlighted_row(services: Services) -> None:
    await fill(services, 60)
    view = HistoryView(services)
    page = await view.read_page()
    chosen = page.rows[-1].id  # the last row on the first page
    await services.db.history.import_many([record(500 + n, "PENDING", prompt=f"new {n}")
                                   for n in range(3)])
    again = await view.reread(chosen, {r.id for r in page.rows})
    assert chosen in {r.id for r in again.rows} and len(again.rows) == PAGE_SIZE + 3
    view.arrived(3, at_top=False)
    assert view.figures(len(again.rows)).new_above == 3


async def test_a_search_too_short_for_the_index_looks_through_the_newest_rows_only(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """One or two characters (``f``, ``fo``, ``猫``) no index serves, alone or beside a
    longer word: the newest ``SHORT_WINDOW`` rows are looked through, and the status bar
    says so; a third character in every word searches everything."""
    monkeypatch.setattr(history_view, "SHORT_WINDOW", 40)
    await fill(services, 120)
    view = HistoryView(services)
    await view.recount(force=True)
    view.filter("9")  # among the newest 40 (prompt 080 … 119): 089, 090–099, 109, 119
    page = await view.read_page()
    assert [r.prompt for r in page.rows] == [f"prompt {n:03d}" for n in range(119, 79, -1)
                                              if "9" in f"{n:03d}"]
    said = view.window(len(page.rows))
    assert said == "13 in the newest 40 (3+ letters: all)"
    # whole on an 80-column bar, beside videos about to expire and the day's figures
    bar = render_figures(StatusFigures(window=said.replace("40", "20,000"), expiring=38),
                         width=80)
    assert "(3+ letters: all)" in bar.plain[:80]
    view.filter("t 0")  # "t" and "0": still short words
    assert view.where.newest == 40
    view.filter("prompt 0")  # beside a word the index serves, "0" is still short
    assert view.where.newest == 40
    view.filter("prompt 100")  # three characters in every word: everything is searched
    page = await view.read_page()
    assert view.where.newest is None
    assert view.matching == sum("100" in f"{n:03d}" for n in range(120))
    monkeypatch.setattr(history_view, "SHORT_WINDOW", 100)
    view.filter("p")  # every one of the newest 100: a page of 50 of them
    page = await view.read_page()
    said = view.window(len(page.rows))
    assert said == "1–50 of 100 in the newest 100"
    bar = render_figures(StatusFigures(window=said.replace("100", "20,000").replace(
        "of 20,000", "of 1,000+"), expiring=38), width=80)
    assert "1–50 of 1,000+ in the newest 20,000 ·" in bar.plain[:80]


async def test_a_search_that_finds_little_is_read_once_not_counted(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    await fill(services, 120)
    view = HistoryView(services)
    counted: list[object] = []
    count, tally = services.db.history.count, services.db.history.tally

    async def counting(*args: object, **kwargs: object) -> int:
        counted.append(args)
        return await count(*args, **kwargs)  # type: ignore[arg-type]

    async def tallying(*args: object, **kwargs: object) -> Tally:
        counted.append(args)
        return await tally(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services.db.history, "count", counting)
    monkeypatch.setattr(services.db.history, "tally", tallying)
    view.filter("no such prompt")
    assert not (await view.read_page()).rows and view.matching == 0
    view.filter("prompt 11")  # "prompt" and "11": 011, 110–119
    assert len((await view.read_page()).rows) == 11 and view.matching == 11
    assert counted == []  # a first page that is not full holds every match
    view.filter("prompt")
    await view.read_page()
    assert len(counted) == 1 and view.matching == 120


async def test_a_count_the_store_stopped_early_says_at_least(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: a common word with rare tokens is counted with a bounded amount of work;
    when the store stops before it knows, the window says "at least" — never less than
    the rows already on screen — and paging goes on while pages are full."""
    await fill(services, 120)

    async def stopped_early(*_args: object, **_kwargs: object) -> Tally:
        return Tally(12, exact=False)  # the matches among the rows it looked at

    monkeypatch.setattr(services.db.history, "tally", stopped_early)
    view = HistoryView(services)
    view.filter("prompt")
    page = await view.read_page()
    assert len(page.rows) == PAGE_SIZE and view.capped
    assert view.window(len(page.rows)) == "1–50 of 50+ matching"
    assert view.page_step(1, PAGE_SIZE) == 1
    view.go_to(1)
    page = await view.read_page()
    assert view.window(len(page.rows)) == "51–100 of 100+ matching"
    view.go_to(2)
    page = await view.read_page()
    assert len(page.rows) == 20 and view.page_step(1, len(page.rows)) is None


async def test_folded_batches_count_exactly_beyond_the_cap(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding is the view's choice, not a search: the count stays exact (no "1,000+")."""
    monkeypatch.setattr(history_view, "COUNT_CAP", 50)
    await fill(services, 100)
    await services.db.history.import_many(
        [{**record(200 + n, "SUCCEEDED", minutes_ago=10), "batch_id": "b1"} for n in range(30)])
    view = HistoryView(services)
    await view.fold("b1")
    page = await view.read_page()
    assert view.matching == 101 and not view.capped
    assert view.window(len(page.rows)) == "1–50 of 101"
