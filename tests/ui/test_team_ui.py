"""Team mode on the dashboard (issue 16): who polls, who submitted, videos saved on other
machines, forgetting for everyone, and a database that goes away and comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage import TaskStore, open_store
from storage.records import Counts, Who
from tests.conftest import make_sim
from tests.store_contract.helpers import finished
from tests.ui.helpers import (
    app_for,
    cell,
    composer,
    table,
    type_prompt,
    until,
)
from tests.unreachable import CutOffStore
from tui.simulator import Simulator
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.view.figures import StatusFigures
from tui.ui.widgets.detail import DetailPane
from tui.ui.widgets.status_bar import StatusBar, render_figures

SIZE = (160, 40)
STUDIO = Who("bob@studio-2", "studio-2")


def status_text(app: Any) -> str:
    return str(app.main.query_one(StatusBar).render())


def detail_text(app: Any) -> str:
    return str(app.screen.query_one(DetailPane).query_one("#detail-body").render())


def creates(sim: Simulator) -> int:
    return sum(1 for method, _ in sim.requests if method == "POST")


async def test_the_status_bar_says_who_polls(sim: Simulator, tmp_path: Path) -> None:
    """Another machine holds the account's lease: "polled by alice@studio-2"; when it
    lets go, this dashboard polls."""
    app = app_for(tmp_path, sim)
    account = app.ws.account
    assert account is not None
    tmp_path.mkdir(exist_ok=True)
    async with await open_store(tmp_path / "tasks.db") as other:
        held = await other.leases.hold(account, "alice@studio-2:4123:1", 600)
        assert held.holder == "alice@studio-2:4123:1"
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "polled by alice@studio-2" in status_text(app),
                        what="the holder named")
            assert "4123" not in status_text(app)
            await other.leases.release(account, "alice@studio-2:4123:1")
            await until(pilot, lambda: "polled by" not in status_text(app)
                        and app.services.polling, what="this dashboard polls")
            lease = await other.leases.current(account)
            assert lease.holder is not None
            assert lease.holder.startswith(f"{app.ws.who.person}:")  # user@host:pid:n


def test_who_polls_is_not_claimed_while_the_database_is_unreachable() -> None:
    """The status bar said "database unreachable" beside "polled by bob" (the poller's
    last word, for seconds): who polls is not known while the database does not answer."""
    for health, said in (("followed", "polled by bob@studio-2"),
                         ("nobody polls", "nobody polls")):
        answering = StatusFigures(health=health, detail=said if health == "followed" else "")
        assert said in render_figures(answering).plain
        down = answering._replace(database="database unreachable — retrying in 4 s")
        shown = render_figures(down).plain
        assert "database unreachable — retrying in 4 s" in shown and said not in shown


async def saved_on_studio(home: Path, *mine: str) -> None:
    """This home's history: a fox bob submitted and saved on studio-2 (copied from the
    team's database), then ``mine``, finished here."""
    home.mkdir(exist_ok=True)
    team = await open_store(home / "team" / "tasks.db", who=STUDIO)
    try:
        row = await finished(team, "a fox saved on the studio's machine")
        await team.downloads.set(row.id, state="done", path="/studio/fox.mp4", done=10,
                                 total=10, sha256="ab" * 32)
        async with await open_store(home / "tasks.db") as here:
            await here.history.copy_in(team.location, await team.history.copy_out())
            for prompt in mine:
                await finished(here, prompt)
    finally:
        await team.close()


async def test_who_submitted_and_where_a_video_is_saved(sim: Simulator, tmp_path: Path) -> None:
    """A row that bob submitted and saved on studio-2 (copied from the team's database):
    here it is "on studio-2" in the file column, the pane says by whom and where, and
    by:bob finds it."""
    await saved_on_studio(tmp_path, "a cat of mine")
    app = app_for(tmp_path, sim, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 2, what="two rows")
        assert cell(app, 1, "download") == "@studio-2"  # narrow: the pane says all
        table(app).focus()
        await pilot.press("down")
        await until(pilot, lambda: "bob@studio-2" in detail_text(app), what="the submitter")
        assert "saved on studio-2, not here — press d to save it here" in detail_text(app)
        await pilot.press("up")
        await until(pilot, lambda: "cat of mine" in detail_text(app), what="mine")
        assert "By " not in detail_text(app)  # one's own history reads as before
        await pilot.press("slash", *"by:bob", "enter")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="by:bob")
        assert "fox" in cell(app, 0, "prompt")
        await pilot.press("slash", "ctrl+u", *"by:me", "enter")
        await until(pilot, lambda: "cat" in cell(app, 0, "prompt"), what="by:me")
        assert len(table(app).rows_by_id) == 1


async def test_at_80_columns_machine_names_are_not_cut(sim: Simulator, tmp_path: Path) -> None:
    """At 80×24 the File column said "on stu…" and the status bar "polled by alice@s…":
    the words around a machine's name — and the least useful figures before who polls —
    go before a name is cut."""
    await saved_on_studio(tmp_path, "a cat of mine", "an owl of mine")
    app = app_for(tmp_path, sim)
    account = app.ws.account
    assert account is not None
    async with await open_store(tmp_path / "tasks.db") as other:
        await other.leases.hold(account, "alice@studio-1:4123:1", 600)
        async with app.run_test(size=(80, 24)) as pilot:
            bar = app.main.query_one(StatusBar)  # type: ignore[union-attr]
            await until(pilot, lambda: "polled by" in status_text(app), what="who polls")
            def shown() -> str:  # what fits in the bar (the rest is cut)
                return status_text(app)[:bar.content_region.width]
            await until(pilot, lambda: "⇣3 not saved · polled by alice@studio-1" in shown(),
                        what="the name whole")
            assert shown().startswith("▶0 ◷0 in flight")
            assert cell(app, 2, "download") == "@studio-2"
        await other.leases.release(account, "alice@studio-1:4123:1")


def test_the_status_bar_drops_figures_before_it_cuts_who_polls() -> None:
    figures = StatusFigures(counts=Counts(not_downloaded=12, finished_today=40),
                            window="1–50 of 1,204", read_only=True, foreign=3,
                            health="followed", detail="polled by alice@studio-1",
                            region="Beijing", endpoint="https://dashscope.aliyuncs.com/api/v1")
    whole = render_figures(figures).plain
    assert "1–50 of 1,204" in whole and "today" in whole and "foreign" in whole
    for width in (78, 100):
        line = render_figures(figures, width).plain
        said = line.index("polled by alice@studio-1") + len("polled by alice@studio-1")
        assert said <= width and "▶0 ◷0 in flight" in line
    wider = render_figures(figures, 90).plain
    assert "foreign" not in wider and "today" not in wider  # these went first
    assert "1–50 of 1,204" in wider and "not saved" in wider
    narrow = render_figures(figures, 78).plain
    assert "1–50 of 1,204" not in narrow and "not saved" in narrow  # then the window
    assert render_figures(figures, 200).plain == whole  # room enough: nothing goes


async def test_forgetting_in_a_shared_store_says_for_everyone(sim: Simulator,
                                                              tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    async with await open_store(tmp_path / "tasks.db") as store:
        await finished(store, "a fox")
    app = app_for(tmp_path, sim, poll=False)
    shared = _Shared(app.ws.open_store)
    app.ws.open_store = shared  # type: ignore[method-assign]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="the row")
        table(app).focus()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
        question = " ".join(app.screen.question.split())
        assert "Forget this generation for the whole team?" in question
        assert "It leaves every machine's history" in question
        assert "brings it back for everyone" in question
        await pilot.press("f")  # the first letter of "Forget it"
        await until(pilot, lambda: any("Forgotten for the whole team" in n.message
                                       for n in app._notifications), what="the toast")


class _Shared:
    """The workspace's store, as a team database says it is (``shared``)."""

    def __init__(self, opening: Any) -> None:
        self.opening = opening

    async def __call__(self, **options: Any) -> TaskStore:
        store = await self.opening(**options)
        outer = CutOffStore(store)
        outer.shared = True  # type: ignore[attr-defined]
        return outer  # type: ignore[return-value]


async def test_the_database_going_away_is_survivable(tmp_path: Path) -> None:
    """Cut off: the status bar says so and counts down to its next try, the table keeps
    its rows, a submission is refused before anything is sent (the prompt kept); back:
    it resumes by itself and shows what another machine wrote meanwhile."""
    tmp_path.mkdir(exist_ok=True)
    async with await open_store(tmp_path / "tasks.db") as store:
        for prompt in ("a fox", "an owl", "a cat"):
            await finished(store, prompt)
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        holder: dict[str, CutOffStore] = {}
        opening = app.ws.open_store

        async def cut_off_store(**options: Any) -> TaskStore:
            holder["store"] = CutOffStore(await opening(**options))
            return holder["store"]  # type: ignore[return-value]

        app.ws.open_store = cut_off_store  # type: ignore[method-assign]
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await until(pilot, lambda: len(table(app).rows_by_id) == 3, what="the history")
            cut = holder["store"].cut
            cut.down = True
            await until(pilot, lambda: "database unreachable — retrying in" in status_text(app),
                        what="the status bar to say so")
            assert len(table(app).rows_by_id) == 3  # the view keeps what it shows
            assert [n.message for n in app._notifications].count(
                "lost the connection to the team database (a test cut it)") == 1
            await type_prompt(pilot, app, "a whale, never sent")
            composer(app).prompt.focus()
            await pilot.press("ctrl+j")
            await until(pilot, lambda: any("Nothing was sent" in n.message
                                           for n in app._notifications), what="the refusal")
            assert creates(sim) == 0 and composer(app).prompt.text == "a whale, never sent"
            refused = cut.refused
            await pilot.pause(1.5)
            assert cut.refused - refused < 10  # it tries now and then, not all the time
            async with await open_store(tmp_path / "tasks.db") as elsewhere:
                await finished(elsewhere, "written on another machine meanwhile")
            cut.down = False
            await until(pilot, lambda: "unreachable" not in status_text(app)
                        and len(table(app).rows_by_id) == 4, timeout=40,
                        what="it to resume by itself")
            assert "written on another machine" in cell(app, 0, "prompt")
