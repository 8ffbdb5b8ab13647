"""What the row keys do, without a screen: each command says its scope before acting on
several rows, puts the harmless answer first, and acts on the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from storage import open_store
from tests.ui.helpers import workspace
from tests.ui.test_live_views import record
from tui.dashscope import GenerationRequest
from tui.ui.commands.downloads import Downloads
from tui.ui.commands.plans import AskText, Choose, Copy, Deliver, Run, Severity
from tui.ui.commands.rows import RowCommands, Scope
from tui.ui.services import Services
from tui.ui.view.history import HistoryView


class Outlet:
    """What a screen gives its commands, recorded."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.jobs: list[Awaitable[None]] = []

    def notify(self, message: str, *, title: str = "", severity: Severity = "information",
               timeout: float | None = None) -> None:
        self.notices.append(message)

    def spawn(self, job: Awaitable[None], *, group: str, name: str = "") -> None:
        self.jobs.append(job)

    async def drain(self) -> None:
        while self.jobs:
            await self.jobs.pop(0)


class Parts:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.outlet = Outlet()
        self.view = HistoryView(services)
        self.resubmitted: list[list[GenerationRequest]] = []
        self.rows = RowCommands(services, self.view, self.outlet,
                                Downloads(services, self.outlet),
                                lambda requests, _warnings: self.resubmitted.append(requests))

    async def scope(self, *, marks: bool = True) -> Scope:
        page = await self.view.read_page()
        return Scope(page.rows[0], frozenset(self.view.marks) if marks else frozenset(),
                     frozenset(r.id for r in page.rows))


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    tmp_path.mkdir(exist_ok=True)
    services = Services(workspace(tmp_path, None))
    services.store = await open_store(tmp_path / "tasks.db")
    await services.store.history.import_many(
        [record(n, "FAILED" if n % 2 else "SUCCEEDED", minutes_ago=200 - n, video=True)
         for n in range(60)])
    yield Parts(services)
    await services.store.close()


async def test_forgetting_marks_says_how_many_and_where_and_keeps_by_default(
        parts: Parts) -> None:
    page = await parts.view.read_page()
    parts.view.toggle_mark(page.rows[0].id)
    parts.view.marks.update(await parts.services.db.history.ids(parts.view.where))
    plan = await parts.rows.run("forget", await parts.scope())
    assert isinstance(plan, Choose) and plan.safe == "keep"
    assert "Forget 60 generations (10 not on this page)?" in plan.question
    assert [label for _, label in plan.answers] == ["Keep them", "Forget them"]
    await plan.then("keep")
    assert await parts.services.db.history.count() == 60
    await plan.then("forget")
    assert await parts.services.db.history.count() == 0 and not parts.view.marks
    restore = await parts.rows.run("undo_forget", Scope(None))
    assert isinstance(restore, Run)
    await restore.job()
    assert await parts.services.db.history.count() == 1


async def test_one_row_is_acted_on_at_once_several_after_a_question(parts: Parts) -> None:
    feed = parts.services.db.changes()  # how the screen hears of it: the store's feed
    plan = await parts.rows.run("favourite", await parts.scope())
    assert isinstance(plan, Run)
    await plan.job()
    first = (await parts.view.read_page()).rows[0]
    assert first.favourite
    assert first.id in (await asyncio.wait_for(anext(feed), 10)).rows
    parts.view.marks.update(r.id for r in (await parts.view.read_page()).rows[:3])
    plan = await parts.rows.run("favourite", await parts.scope())
    assert isinstance(plan, Choose) and plan.question == "Star 3 generations?"
    assert plan.safe == "cancel"


async def test_the_details_act_on_the_task_shown_whatever_is_marked(parts: Parts) -> None:
    page = await parts.view.read_page()
    parts.view.marks.update(r.id for r in page.rows[:5])
    shown = page.rows[10]
    plan = await parts.rows.run("favourite", Scope(shown, on_page=frozenset({shown.id})))
    assert isinstance(plan, Run)
    await plan.job()
    starred = [r for r in (await parts.view.read_page()).rows if r.favourite]
    assert [r.id for r in starred] == [shown.id]


async def test_re_running_is_billed_so_it_asks_and_cancel_has_the_focus(parts: Parts) -> None:
    page = await parts.view.read_page()
    failed = [r for r in page.rows if r.status == "FAILED"]
    parts.view.marks.update(r.id for r in page.rows[:6])  # three of them FAILED
    plan = await parts.rows.run("rerun", await parts.scope())
    assert isinstance(plan, Choose) and plan.safe == "cancel"
    assert "Submit 3 failed generations again" in plan.question and "billed" in plan.question
    await plan.then("cancel")
    assert not parts.resubmitted
    await plan.then("submit")
    assert {r.prompt for r in parts.resubmitted[0]} == {r.prompt for r in failed[:3]}


async def test_refusals_are_one_sentence_and_no_plan(parts: Parts) -> None:
    failed = next(r for r in (await parts.view.read_page()).rows if r.status == "FAILED")
    scope = Scope(failed, on_page=frozenset({failed.id}))
    assert await parts.rows.run("download", scope) is None
    assert "Only finished tasks can be downloaded (this one is FAILED)." in parts.outlet.notices
    assert await parts.rows.run("play", scope) is None
    assert await parts.rows.run("adopt_foreign", scope) is None
    assert len(parts.outlet.notices) == 3


async def test_copy_and_tags_and_notes_are_plans_for_the_screen(parts: Parts) -> None:
    scope = await parts.scope()
    copy = await parts.rows.run("copy_url", scope)
    assert isinstance(copy, Copy) and copy.text == "https://media.example.com/v.mp4"
    tags = await parts.rows.run("tags", scope)
    assert isinstance(tags, AskText)
    await tags.then("keep, best")
    assert scope.row is not None
    assert await parts.services.db.history.tags_of(scope.row.id) == ["best", "keep"]
    note = await parts.rows.run("note", scope)
    assert isinstance(note, AskText) and note.multiline


async def test_in_a_browser_d_hands_a_saved_video_to_it_and_saves_the_others(
        parts: Parts, tmp_path: Path) -> None:
    """Served (``pixverse-tui serve``), ``d`` on a saved video sends the file to the
    browser under a plain ASCII name; on one not saved yet, it saves it as in a terminal."""
    saved, unsaved = [r for r in (await parts.view.read_page()).rows
                      if r.status == "SUCCEEDED"][:2]
    video = tmp_path / "un chat très sage.mp4"
    video.write_bytes(b"\0" * 16)
    await parts.services.db.downloads.set(saved.id, state="done", path=str(video))
    saved = await parts.services.db.generations.get(saved.id)
    assert saved is not None
    one = Scope(saved, on_page=frozenset({saved.id}))
    assert await parts.rows.run("download", one) is None  # in a terminal: nothing to save
    parts.services.in_browser = True
    plan = await parts.rows.run("download", one)
    assert isinstance(plan, Deliver) and plan.path == video
    assert plan.name == "un_chat_tr_s_sage.mp4"
    video.unlink()
    assert await parts.rows.run("download", one) is None
    assert "The saved video is no longer on the server (un chat très sage.mp4)." \
        in parts.outlet.notices
    plan = await parts.rows.run("download", Scope(unsaved, on_page=frozenset({unsaved.id})))
    assert isinstance(plan, Run)  # not saved yet: saved on the server first


async def test_resolve_reads_the_row_as_the_store_has_it_now(parts: Parts) -> None:
    """The table's copy of a row can lag a moment behind the store (the send was just
    marked UNCONFIRMED, the detail pane says so): `u` decides on the store's row — it
    answered "Only an UNCONFIRMED submission needs resolving" from the stale copy."""
    store = parts.services.db
    row = await store.intents.add(endpoint="https://dashscope.aliyuncs.com/api/v1",
                                  model="pixverse/pixverse-v5.6-t2v", prompt="a heron",
                                  size="1280*720", duration=5)
    stale = await store.generations.get(row.id)  # as the table holds it: still sending
    assert stale is not None and stale.submission == "sending"
    await store.intents.mark_unconfirmed(row.id, "the answer was lost")
    plan = await parts.rows.run("resolve", Scope(stale, frozenset(), frozenset({row.id})))
    assert isinstance(plan, Choose) and plan.safe == "search", parts.outlet.notices
    assert parts.outlet.notices == []
