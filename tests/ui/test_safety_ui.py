"""Issue 7: the dashboard stays safe with hostile text, dangerous keys, a busy event queue,
slow submissions, a refused key, odd task ids and bad video URLs.

Pilot drives the real ``PixverseApp`` against the simulator over loopback.  What
"reaches the terminal" is read from the current screen's compositor: its final
strips, every segment that is not a control segment.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from pathlib import Path

import pytest
from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot
from textual.widgets import Button, Input

from storage import Generation, Observation, TaskStore, open_store
from tests.conftest import KEY, make_sim, same_video
from tests.ui.helpers import cell, composer, table, type_prompt, until, workspace
from tui.engine.workspace import Workspace
from tui.simulator import Simulator
from tui.simulator.server import CREATE
from tui.ui.app import PixverseApp
from tui.ui.dialogs.ask import AskScreen
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.dialogs.stats import StatsScreen
from tui.ui.screens.detail import DetailScreen
from tui.ui.widgets.detail import DetailPane

SIZE = (200, 50)  # wide enough for the detail pane to sit beside the table
MODEL = "pixverse/pixverse-v5.6-t2v"

# Hostile pieces (separate words: a narrow pane wraps between them, never inside one),
# and how each must look: ESC → ␛, BEL → ␇, DEL → ␡, C1 and bidi controls by their code.
CSI = "\x1b[2J"  # clear the screen
OSC_TITLE = "\x1b]0;title\x07"  # retitle the terminal
OSC_52 = "\x1b]52;c;aGk=\x07"  # write the clipboard
APC = "\x1b_Gx\x1b\\"  # a Kitty graphics command
PIECES = {CSI: "␛[2J", OSC_TITLE: "␛]0;title␇", OSC_52: "␛]52;c;aGk=␇", APC: "␛_Gx␛\\",
          "\x9b31m": "<9B>31m", "del\x7f": "del␡", "\u202eevil": "<U+202E>evil"}
HOSTILE = " ".join(PIECES)
SHOWN = tuple(PIECES.values())
CHINESE = "一只小猫在月光下奔跑"
EMOJI = "🦊🎬"
MARKUP = "[bold]x[/bold] [link=http://e]y[/link]"
SECRET = KEY.removeprefix("sk-test-")  # the part of the key that must never show


# -- what the terminal is sent ------------------------------------------------------------

def screen_text(app: PixverseApp, within: str | None = None) -> str:
    """The text of every non-control segment of the current screen, line by line; only
    what lies inside the widget ``within`` names, if given (a dialog, the detail pane)."""
    strips = app.screen._compositor.render_strips()
    if within is not None:
        strips = [strip.crop(region.x, region.right) for region in
                  (widget.region for widget in app.screen.query(within))
                  for strip in strips[region.y:region.bottom]]
    return "\n".join("".join(seg.text for seg in strip if not seg.control) for strip in strips)


def unsafe(text: str) -> list[str]:
    """Characters a terminal would act on, or that reorder text (our line breaks aside)."""
    return sorted({f"U+{ord(c):04X}" for c in text if c != "\n" and (
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E
        or 0x2066 <= ord(c) <= 0x2069)})


async def shows(pilot: Pilot, app: PixverseApp, where: str, *expected: str,
                within: str | None = None) -> str:
    """Wait until every expected piece is on screen (inside ``within``, if given); then
    the whole screen must hold no raw control character and no API key."""
    try:
        await until(pilot, lambda: all(p in screen_text(app, within) for p in expected),
                    timeout=5)
    except AssertionError:
        text = screen_text(app, within)
        missing = [p for p in expected if p not in text]
        raise AssertionError(f"{where}: {missing!r} not on screen:\n{text}") from None
    text = screen_text(app)
    assert not unsafe(text), f"{where}: raw control characters on screen: {unsafe(text)}"
    assert KEY not in text and SECRET not in text, f"{where}: the API key is on screen"
    return text


async def pane_shows(pilot: Pilot, app: PixverseApp, where: str, *expected: str) -> str:
    """Wait until the detail pane's content holds every piece (toasts may cover its last
    lines on screen); then the same checks of the whole screen as ``shows``."""
    await until(pilot, lambda: all(p in detail_text(app) for p in expected), timeout=5,
                what=f"{where}: {expected!r} in the detail pane")
    return await shows(pilot, app, where)


def detail_text(app: PixverseApp) -> str:
    return str(app.screen_stack[0].query_one(DetailPane).query_one("#detail-body").render())


def status_bar(app: PixverseApp) -> str:
    return str(app.screen_stack[0].query_one("#status").render())


def toasts(app: PixverseApp) -> str:
    return " | ".join(f"{n.title}: {n.message}" for n in app._notifications)


def row_named(app: PixverseApp, prompt: str) -> Generation | None:
    return next((r for r in table(app).rows_by_id.values() if r.prompt == prompt), None)


def index_of(app: PixverseApp, generation_id: int) -> int:
    return table(app).get_row_index(str(generation_id))


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE)


def queries(sim: Simulator) -> int:
    """Questions about tasks: single queries and task-list calls."""
    return sum(1 for method, path in sim.requests
               if method == "GET" and path.startswith("/api/v1/tasks"))


# -- keys ---------------------------------------------------------------------------------------

def key_event(key: str) -> events.Key:
    """The event a key press becomes, built as ``Pilot.press`` builds it."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(
            _get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


async def drained(pilot: Pilot, app: PixverseApp) -> None:
    """Wait until the app, the screen and the focused widget's chain have handled every
    message queued for them."""
    def idle() -> bool:
        chain = app.focused.ancestors_with_self if app.focused is not None else []
        return all(node._message_queue.empty() for node in (app, app.screen, *chain))

    await until(pilot, idle, timeout=5, what="the app to work off its queue")


async def press(pilot: Pilot, app: PixverseApp, *keys: str) -> None:
    """Press keys as a person types: each one once the previous one has been handled.
    (``Pilot.press`` waits for the whole process to idle, which is slow with a poller,
    a refresh timer and the simulator's threads running.)"""
    for key in keys:
        app.post_message(key_event(key))
        await drained(pilot, app)


# -- seeding the store before the app starts ----------------------------------------------

async def seed_store(ws: Workspace) -> TaskStore:
    ws.paths.database.parent.mkdir(parents=True, exist_ok=True)
    return await open_store(ws.paths.database)


async def finished(store: TaskStore, prompt: str, *, endpoint: str, task_id: str,
                   status: str = "SUCCEEDED", request_id: str = "req-1",
                   last_request_id: str | None = None,
                   video_url: str = "https://example.com/v.mp4",
                   error_code: str | None = None, error_message: str | None = None,
                   usage_size: str = "1280*720", usage_sr: str = "720") -> Generation:
    """A generation that already ended, stored as the poller would have stored it."""
    row = await store.intents.add(endpoint=endpoint, model=MODEL, prompt=prompt,
                                  size="1280*720", duration=5, seed=7)
    await store.intents.mark_accepted(row.id, task_id=task_id, status="PENDING",
                                      request_id=request_id, next_poll_in=600)
    ok = status == "SUCCEEDED"
    row, _ = await store.following.apply(row.id, Observation(
        status, request_id=last_request_id or request_id,
        submit_time="2026-03-20T02:00:00.000+00:00",
        scheduled_time="2026-03-20T02:00:02.000+00:00",
        end_time="2026-03-20T02:01:02.000+00:00",
        video_url=video_url if ok else None,
        usage_duration=5.0 if ok else None, usage_size=usage_size if ok else None,
        usage_fps=24 if ok else None, usage_sr=usage_sr if ok else None,
        usage_audio=False if ok else None, usage_video_count=1 if ok else None,
        error_code=error_code, error_message=error_message), None)
    return row


async def in_flight(store: TaskStore, prompt: str, *, endpoint: str, task_id: str) -> Generation:
    """A PENDING task, due for a poll now."""
    row = await store.intents.add(endpoint=endpoint, model=MODEL, prompt=prompt,
                                  size="1280*720", duration=5)
    return await store.intents.mark_accepted(row.id, task_id=task_id, status="PENDING",
                                             request_id="req", next_poll_in=0)


# -- driving --------------------------------------------------------------------------------

async def highlight(pilot: Pilot, app: PixverseApp, generation_id: int, marker: str) -> None:
    """Put the table's cursor on a generation; wait until the pane shows ``marker``."""
    t = table(app)
    await until(pilot, lambda: generation_id in t.rows_by_id, timeout=10,
                what=f"#{generation_id} in the table")
    t.focus()
    t.move_cursor(row=index_of(app, generation_id), animate=False)
    await until(pilot, lambda: marker in detail_text(app), timeout=5,
                what=f"the details of #{generation_id}")


async def open_dialog(pilot: Pilot, app: PixverseApp, key: str, kind: type) -> None:
    await press(pilot, app, key)
    await until(pilot, lambda: isinstance(app.screen, kind), timeout=5,
                what=f"{key} to open a {kind.__name__}")


async def escape_closes(pilot: Pilot, app: PixverseApp) -> None:
    await press(pilot, app, "escape")
    await until(pilot, lambda: len(app.screen_stack) == 1, timeout=5,
                what="escape to close the dialog")


async def submit(pilot: Pilot, app: PixverseApp, prompt: str) -> None:
    await type_prompt(pilot, app, prompt)
    await press(pilot, app, "ctrl+j")
    await until(pilot, lambda: row_named(app, prompt) is not None, what=f"{prompt!r} listed")


async def succeeded(pilot: Pilot, app: PixverseApp, prompt: str) -> Generation:
    await until(pilot, lambda: getattr(row_named(app, prompt), "status", None) == "SUCCEEDED",
                what=f"{prompt!r} to succeed")
    row = row_named(app, prompt)
    assert row is not None
    return row


# -- 1. hostile text --------------------------------------------------------------------------

async def test_hostile_text_never_reaches_the_terminal_raw(sim: Simulator, home: Path) -> None:
    """ESC sequences, C1, DEL and bidi overrides in every stored field come out as visible
    stand-ins everywhere (table, detail pane, full details, dialogs, stats, toasts);
    Chinese and emoji are intact; markup is shown literally."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    hostile = await finished(
        store, f"fox {HOSTILE} {CHINESE} {EMOJI}", endpoint=sim.base_url,
        task_id=f"task-{OSC_TITLE}-1", request_id=f"req{CSI}{APC}",
        last_request_id=f"last{OSC_52}\u2066", video_url=f"{sim.origin}/media/v{CSI}.mp4",
        usage_size=f"1280*720{CSI}", usage_sr="720\x9b\u202e")
    await store.history.set_note(hostile.id, f"note {HOSTILE} 备注 📝")
    await store.history.set_tags(hostile.id, [f"tag{CSI}", "猫🐱"])
    failed = await finished(
        store, f"{MARKUP} {CHINESE}", endpoint=sim.base_url, task_id="task-failed-2",
        status="FAILED", error_code=f"Bad{CSI}Code", error_message=f"boom {HOSTILE} 失败 💥")
    await store.close()

    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 2, what="two rows")
        prompt_cell = cell(app, index_of(app, hostile.id), "prompt")
        assert "␛" in prompt_cell and not unsafe(prompt_cell)
        await shows(pilot, app, "table", "fox ␛[2J ␛]0;title␇", "task-␛]0", MARKUP,
                    within="#tasks")

        # the hostile row: detail pane, full details, re-run, forget, tags, note
        await highlight(pilot, app, hostile.id, "task-")
        await shows(pilot, app, "detail pane", *SHOWN, "task-␛]0;title␇-1", "req␛[2J␛_Gx␛\\",
                    "last␛]52;c;aGk=␇<U+2066>", "/media/v␛[2J.mp4", "1280*720␛[2J",
                    "720<9B><U+202E>", "#tag␛[2J", "#猫🐱", "备注", "📝", CHINESE, EMOJI,
                    within="#detail")
        await open_dialog(pilot, app, "enter", DetailScreen)
        await shows(pilot, app, "full details", "task-␛]0;title␇-1", "1280*720␛[2J",
                    "/media/v␛[2J.mp4", within="#detail-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "R", ChoiceScreen)
        await shows(pilot, app, "re-run dialog", *SHOWN, CHINESE, EMOJI, within="#choice-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "x", ChoiceScreen)
        await shows(pilot, app, "forget dialog", *SHOWN, CHINESE, EMOJI, within="#choice-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "t", AskScreen)
        await shows(pilot, app, "tags dialog", "tag␛[2J", "猫🐱", within="#ask-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "n", AskScreen)
        await shows(pilot, app, "note dialog", *SHOWN, "备注", "📝", within="#ask-box")
        await escape_closes(pilot, app)

        # a toast with hostile text: the refused download names the task
        await press(pilot, app, "d")
        await shows(pilot, app, "download toast", "task-␛]0;title␇-1", "refused",
                    within="Toast")
        app.clear_notifications()  # the toast would cover the detail pane's last lines
        await until(pilot, lambda: not app.screen.query("Toast"), what="the toast gone")

        # the failed row: error code and message; its prompt's markup shown literally
        await highlight(pilot, app, failed.id, "task-failed-2")
        await shows(pilot, app, "detail pane", "Bad␛[2JCode", "boom ␛[2J", *SHOWN, "失败",
                    "💥", MARKUP, within="#detail")
        await open_dialog(pilot, app, "enter", DetailScreen)
        await shows(pilot, app, "full details", "Bad␛[2JCode", *SHOWN, "失败", "💥", MARKUP,
                    within="#detail-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "R", ChoiceScreen)
        await shows(pilot, app, "re-run dialog", MARKUP, CHINESE, within="#choice-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "x", ChoiceScreen)
        await shows(pilot, app, "forget dialog", MARKUP, CHINESE, within="#choice-box")
        await escape_closes(pilot, app)
        await open_dialog(pilot, app, "s", StatsScreen)
        await shows(pilot, app, "stats", "Bad␛[2JCode", within="#stats-box")
        await escape_closes(pilot, app)


# -- 2. dangerous keys ------------------------------------------------------------------------

async def test_dangerous_keys_need_a_deliberate_choice_and_forget_can_be_undone(
        sim: Simulator, home: Path) -> None:
    """x+enter keeps the row and R+enter submits nothing (the safe button has the focus);
    escape cancels every dialog; a forgotten row leaves the table and ctrl+z brings it
    back, and the video file that "Forget it and remove the file" moved away with it."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    lake = await finished(store, "a quiet lake", endpoint=sim.base_url, task_id="task-lake")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await submit(pilot, app, "a saved video")
        saved = await succeeded(pilot, app, "a saved video")
        await highlight(pilot, app, saved.id, "not yet — press d")
        await press(pilot, app, "d")
        await until(pilot, lambda: table(app).rows_by_id[saved.id].download_state == "done",
                    what="the download")
        video = Path(table(app).rows_by_id[saved.id].download_path or "")
        assert video.is_file()
        assert creates(sim) == 1
        assert app.store is not None

        # x, enter: "Keep it" has the focus
        await highlight(pilot, app, lake.id, "task-lake")
        await open_dialog(pilot, app, "x", ChoiceScreen)
        assert isinstance(app.focused, Button) and app.focused.id == "answer-keep"
        await press(pilot, app, "enter")
        await until(pilot, lambda: len(app.screen_stack) == 1, what="the dialog to close")
        await app.main.panel.refresh_page()
        assert lake.id in table(app).rows_by_id
        kept = await app.store.generations.get(lake.id)
        assert kept is not None and kept.forgotten_at is None

        # R, enter: "Cancel" has the focus, nothing is submitted
        await open_dialog(pilot, app, "R", ChoiceScreen)
        assert isinstance(app.focused, Button) and app.focused.id == "answer-cancel"
        await press(pilot, app, "enter")
        await until(pilot, lambda: len(app.screen_stack) == 1, what="the dialog to close")
        await drained(pilot, app)
        assert not app.main.flow.busy
        assert not [w for w in app.workers if w.group == "submit"]
        assert creates(sim) == 1
        assert len(table(app).rows_by_id) == 2

        # escape cancels every dialog: with the focus on the dangerous answer, or text typed
        for key, kind, then in (("x", ChoiceScreen, "tab"), ("R", ChoiceScreen, "tab"),
                                ("t", AskScreen, "keep"), ("n", AskScreen, "oops")):
            await open_dialog(pilot, app, key, kind)
            await press(pilot, app, *([then] if then == "tab" else then))
            if kind is ChoiceScreen:
                assert isinstance(app.focused, Button) and app.focused.id in (
                    "answer-forget", "answer-submit")
            await escape_closes(pilot, app)
        await app.main.panel.refresh_page()
        assert set(table(app).rows_by_id) == {lake.id, saved.id}
        assert creates(sim) == 1 and not app.main.flow.busy
        kept = await app.store.generations.get(lake.id)
        assert kept is not None and kept.forgotten_at is None and kept.note is None
        assert await app.store.history.tags_of(lake.id) == []
        assert "Note" not in detail_text(app) and "#keep" not in detail_text(app)

        # forget (tab to "Forget it", enter): the row goes
        await open_dialog(pilot, app, "x", ChoiceScreen)
        await press(pilot, app, "tab")
        assert isinstance(app.focused, Button) and app.focused.id == "answer-forget"
        await press(pilot, app, "enter")
        await until(pilot, lambda: lake.id not in table(app).rows_by_id, what="lake forgotten")

        # forget with the file: the file moves away, the row goes
        await highlight(pilot, app, saved.id, "SHA-256")
        await open_dialog(pilot, app, "x", ChoiceScreen)
        await shows(pilot, app, "forget dialog", "Its file:", within="#choice-box")
        await pilot.click("#answer-delete")
        await until(pilot, lambda: saved.id not in table(app).rows_by_id, what="row forgotten")
        await until(pilot, lambda: not video.exists(), what="the file moved away")
        assert not table(app).rows_by_id

        # ctrl+z: newest first — the video and its file come back, then the lake
        await press(pilot, app, "ctrl+z")
        await until(pilot, lambda: saved.id in table(app).rows_by_id, what="row restored")
        await until(pilot, video.is_file, what="file restored")
        await until(pilot, lambda: cell(app, index_of(app, saved.id), "download") == "✔ saved",
                    what="the row to show the file as saved")
        assert same_video(video.read_bytes(), sim.clip("16x9"))
        await press(pilot, app, "ctrl+z")
        await until(pilot, lambda: lake.id in table(app).rows_by_id, what="lake restored")
        assert creates(sim) == 1


async def forget_with_keys(pilot: Pilot, app: PixverseApp, row: Generation) -> None:
    """x, tab to "Forget it", enter; wait until the row has left the table."""
    await highlight(pilot, app, row.id, row.task_id or "")
    await open_dialog(pilot, app, "x", ChoiceScreen)
    await press(pilot, app, "tab", "enter")
    await until(pilot, lambda: row.id not in table(app).rows_by_id, what=f"#{row.id} forgotten")


async def test_the_trash_filter_shows_forgotten_rows(sim: Simulator, home: Path) -> None:
    """in:trash lists what was forgotten, and only that."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    lake = await finished(store, "a quiet lake", endpoint=sim.base_url, task_id="task-lake")
    whale = await finished(store, "a blue whale", endpoint=sim.base_url, task_id="task-whale")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await forget_with_keys(pilot, app, whale)
        assert set(table(app).rows_by_id) == {lake.id}
        await press(pilot, app, "slash", *"in:trash")
        await until(pilot, lambda: set(table(app).rows_by_id) == {whale.id},
                    what="in:trash to show the forgotten row")


async def test_undo_under_a_filter_shows_the_row_again(sim: Simulator, home: Path) -> None:
    ws = workspace(home, sim)
    store = await seed_store(ws)
    older = await finished(store, "a red fox", endpoint=sim.base_url, task_id="task-fox-1")
    newer = await finished(store, "a grey fox", endpoint=sim.base_url, task_id="task-fox-2")
    await finished(store, "a whale", endpoint=sim.base_url, task_id="task-whale")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        table(app).focus()
        await press(pilot, app, "slash", *"fox", "enter")
        await until(pilot, lambda: set(table(app).rows_by_id) == {older.id, newer.id},
                    what="the filter")
        await forget_with_keys(pilot, app, older)
        await press(pilot, app, "ctrl+z")
        await until(pilot, lambda: set(table(app).rows_by_id) == {older.id, newer.id},
                    what="the row back under the filter")


async def test_a_refresh_in_flight_does_not_drop_rows_from_the_trash_view(
        sim: Simulator, home: Path) -> None:
    """Two rows forgotten one after the other; in:trash applied while a refresh is
    between its reads — the interleaving Textual's timers (each its own task) produce
    at random, fixed here: the refresh timer's callback first, then the filter's."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    lake = await finished(store, "a quiet lake", endpoint=sim.base_url, task_id="task-lake")
    whale = await finished(store, "a blue whale", endpoint=sim.base_url, task_id="task-whale")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await forget_with_keys(pilot, app, lake)
        await forget_with_keys(pilot, app, whale)
        app.main.view.filter("in:trash")  # what typing "in:trash" sets at once
        refresh = asyncio.create_task(app.main.panel.refresh_page())  # the refresh timer
        await asyncio.sleep(0)  # it has started its first read
        await app.main.panel.load_page(page=0)  # the filter's reload
        await refresh
        await drained(pilot, app)
        assert set(table(app).rows_by_id) == {lake.id, whale.id}


# -- 3. a burst of keys after "/" ----------------------------------------------------------

async def burst_after_slash(pilot: Pilot, app: PixverseApp) -> Input:
    """"/fox" arriving all at once (a busy app, a fast typist), with the table focused;
    returns the filter box once every message queue on the way has been worked off."""
    await until(pilot, lambda: len(table(app).rows_by_id) == 2, what="two rows")
    table(app).focus()
    await drained(pilot, app)
    assert app.focused is table(app)
    for key, char in [("slash", "/"), ("f", "f"), ("o", "o"), ("x", "x")]:
        app.post_message(events.Key(key, char))  # no waiting between them
    box = app.screen_stack[0].query_one("#filter", Input)
    pumps = [app, app.screen_stack[0], table(app), box]
    await until(pilot, lambda: all(p._message_queue.empty() for p in pumps), timeout=5,
                what="the keys to be handled")
    await drained(pilot, app)
    return box


async def seed_fox_and_whale(sim: Simulator, home: Path) -> tuple[Workspace, list[Generation]]:
    ws = workspace(home, sim)
    store = await seed_store(ws)
    rows = [await finished(store, prompt, endpoint=sim.base_url, task_id=f"task-{i}")
            for i, prompt in enumerate(("a red fox", "a blue whale"))]
    await store.close()
    return ws, rows


async def test_keys_typed_right_after_slash_run_no_table_command(sim: Simulator,
                                                                 home: Path) -> None:
    """After "/", f o x are not the table's favourite, sort and forget commands.  (With
    ``box.focus()``, which waits for the queue, o re-sorted and x opened the forget
    dialog.)"""
    ws, rows = await seed_fox_and_whale(sim, home)
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        box = await burst_after_slash(pilot, app)
        assert len(app.screen_stack) == 1, "x opened the forget dialog"
        assert app.focused is box
        assert (table(app).sort_column, table(app).sort_reverse) == ("submitted", True)
        assert app.store is not None
        for row in rows:
            stored = await app.store.generations.get(row.id)
            assert stored is not None and not stored.favourite, "f starred a row"
            assert stored.forgotten_at is None


async def test_keys_typed_right_after_slash_reach_the_filter_box(sim: Simulator,
                                                                  home: Path) -> None:
    """The same burst: "fox" must end up in the filter box."""
    ws, _ = await seed_fox_and_whale(sim, home)
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        box = await burst_after_slash(pilot, app)
        assert box.value == "fox"
        await until(pilot, lambda: [r.prompt for r in table(app).rows_by_id.values()]
                    == ["a red fox"], what="the filter applied")


# -- 4. the composer during a ×N submission ---------------------------------------------------

async def test_text_typed_while_a_submission_is_sending_stays_in_the_composer(
        sim: Simulator, home: Path) -> None:
    """A ×3 submission that is slow to send does not wipe what was typed meanwhile; a
    normal submission still clears the prompt."""
    app = PixverseApp(workspace(home, sim))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for seconds in (0.2, 0.2, 5.0):  # the third create is answered late (typing under
            # load can take seconds)
            sim.inject(on="create", kind="latency", seconds=seconds)
        await type_prompt(pilot, app, "three slow foxes")
        app.screen.query_one("#variations", Input).value = "3"
        await drained(pilot, app)
        await press(pilot, app, "ctrl+j")
        await until(pilot, lambda: len(table(app).rows_by_id) >= 2, what="the second send")
        composer(app).prompt.focus()
        await press(pilot, app, "end", "ctrl+u", *"next idea")  # a new prompt over the old
        created = len(sim.world.accounts[KEY].tasks)
        assert app.main.flow.busy and created < 3, "typed after the sends ended: too slow a test"
        await until(pilot, lambda: not app.main.flow.busy, what="all three sent")
        await until(pilot, lambda: "Submitted 3 tasks" in toasts(app), what="the batch to end")
        await drained(pilot, app)
        assert len(sim.world.accounts[KEY].tasks) == 3
        assert composer(app).prompt.text == "next idea"

        app.screen.query_one("#variations", Input).value = "1"
        await drained(pilot, app)
        await press(pilot, app, "ctrl+j")
        await until(pilot, lambda: composer(app).prompt.text == "", what="the prompt cleared")
        assert len(sim.world.accounts[KEY].tasks) == 4
        await until(pilot, lambda: row_named(app, "next idea") is not None,
                    what="the new prompt listed")


# -- 5. the poller's permanent errors ---------------------------------------------------------

def shown_elapsed(app: PixverseApp, generation_id: int) -> int:
    """Seconds on a live row's clock ("◷ PENDING 0:07" → 7)."""
    found = re.search(r"(\d+):(\d\d)$", cell(app, index_of(app, generation_id), "status"))
    return 60 * int(found[1]) + int(found[2]) if found else -1


async def test_a_refused_key_halts_the_poller_without_looping(home: Path) -> None:
    """Another account's key: the status bar says "halted" and the simulator hears a
    handful of queries, not a loop — while the dashboard's own clock runs on."""
    with make_sim(api_key="sk-other-0000000000000000") as sim:
        ws = workspace(home, sim)
        store = await seed_store(ws)
        live = [await in_flight(store, f"live {i}", endpoint=sim.base_url,
                                task_id=f"task-live-{i}") for i in range(3)]
        await store.close()
        app = PixverseApp(ws)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await until(pilot, lambda: "halted" in status_bar(app), timeout=5,
                        what="the status bar to say halted")
            at_halt = queries(sim)
            assert 1 <= at_halt <= 6
            clock = shown_elapsed(app, live[0].id)
            await until(pilot, lambda: shown_elapsed(app, live[0].id) >= clock + 2,
                        what="two more seconds on the dashboard's clock")
            assert queries(sim) <= at_halt + 1, f"{queries(sim)} queries: the poller loops"
            assert "halted" in status_bar(app)
            await shows(pilot, app, "halted status bar", "poller halted", within="#status")
            assert "API-key" in status_bar(app)  # and why


async def test_a_task_id_the_client_refuses_is_not_followed_and_others_are(
        sim: Simulator, home: Path) -> None:
    """A row with an unusable task id says "Not followed any more" (and why) and is never
    sent; a task submitted next to it is polled to the end as usual."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    bad = await store.following.track(task_id="bad id", endpoint=sim.base_url, model=MODEL,
                                      prompt="a task with a bad id", size="1280*720", duration=5,
                                      audio=False)
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: bad.id in table(app).rows_by_id, what="the bad row")
        await highlight(pilot, app, bad.id, "Not followed any more")
        await pane_shows(pilot, app, "not followed", "Not followed any more", "task id")
        await submit(pilot, app, "a good task")
        await succeeded(pilot, app, "a good task")
        assert not [path for _, path in sim.requests if "bad" in path]
        assert "poller ok" in status_bar(app)
        row = table(app).rows_by_id[bad.id]
        assert row.next_poll_at is None and row.poll_error


# -- 6. download safety ------------------------------------------------------------------

async def test_a_video_url_with_a_control_character_is_refused_at_once(
        sim: Simulator, home: Path) -> None:
    """d on a row whose video URL holds a control character ends at once: a toast, the
    File column says "✘ refused", nothing is fetched, no row is left "downloading"."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    row = await finished(store, "odd url", endpoint=sim.base_url, task_id="task-odd-url",
                         video_url=f"{sim.origin}/media/task-odd-url\x07.mp4")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await highlight(pilot, app, row.id, "task-odd-url")
        await press(pilot, app, "d")
        await until(pilot, lambda: "refused" in toasts(app), what="a toast")
        await until(pilot, lambda: cell(app, index_of(app, row.id), "download") == "✘ refused",
                    what="the File column")
        assert not app.main.downloads.busy
        stored = table(app).rows_by_id[row.id]
        assert stored.download_state == "refused" and not stored.download_bytes
        await pane_shows(pilot, app, "refused",
                         "refused: the video URL contains a control character")
        assert "downloading" not in detail_text(app) and "so far" not in detail_text(app)
        assert not sim.media_headers  # nothing was fetched


@pytest.mark.parametrize("url", [
    "https://example.com/v.mp4\necho PASTEJACKED > /tmp/x\n",
    "https://example.com/\x1b]52;c;aGVsbG8=\x07.mp4",
])
async def test_y_never_copies_a_url_that_would_do_more_than_open(
        sim: Simulator, home: Path, url: str) -> None:
    """A URL with a newline runs a command when pasted into a shell: it is not copied."""
    ws = workspace(home, sim)
    store = await seed_store(ws)
    row = await finished(store, "odd url", endpoint=sim.base_url, task_id="task-odd-url",
                         video_url=url)
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await highlight(pilot, app, row.id, "task-odd-url")
        await press(pilot, app, "y")
        await until(pilot, lambda: "not copied" in toasts(app), what="a toast")
        assert app.clipboard == ""


async def test_y_copies_a_plain_url(sim: Simulator, home: Path) -> None:
    ws = workspace(home, sim)
    store = await seed_store(ws)
    row = await finished(store, "plain url", endpoint=sim.base_url, task_id="task-plain",
                         video_url="https://media.example.com/v.mp4")
    await store.close()
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await highlight(pilot, app, row.id, "task-plain")
        await press(pilot, app, "y")
        await until(pilot, lambda: app.clipboard == "https://media.example.com/v.mp4",
                    what="the URL in the clipboard")


async def test_an_expired_video_url_says_so_and_offers_no_retry(sim: Simulator,
                                                                home: Path) -> None:
    """An expired URL (the CDN's 410): "✘ expired", no "press d to retry" anywhere, and d
    again explains instead of fetching."""
    app = PixverseApp(workspace(home, sim))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await submit(pilot, app, "too late")
        row = await succeeded(pilot, app, "too late")
        sim.inject(on="media", kind="expired", status=410)
        await highlight(pilot, app, row.id, "not yet — press d")
        await press(pilot, app, "d")
        await until(pilot, lambda: cell(app, index_of(app, row.id), "download") == "✘ expired",
                    what="the File column")
        await until(pilot, lambda: "expired" in toasts(app), what="a toast")
        assert "try again" not in toasts(app)
        await pane_shows(pilot, app, "expired", "expired: the video URL has expired")
        assert "retry" not in detail_text(app) and "press d" not in detail_text(app)
        fetched = len(sim.media_headers)
        await press(pilot, app, "d")  # again: it says why, and fetches nothing
        await until(pilot, lambda: "cannot be downloaded" in toasts(app), what="a toast")
        assert len(sim.media_headers) == fetched


# -- 7. the API key never shows -------------------------------------------------------------

async def test_the_api_key_never_shows_after_errors(sim: Simulator, home: Path,
                                                    tmp_path: Path) -> None:
    """An ambiguous create, a failed download and a refused key: the key is never on
    screen (toasts, detail pane, dialogs, status bar)."""
    app = PixverseApp(workspace(home, sim))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        sim.inject(on="create", kind="drop_after")
        await submit(pilot, app, "no clear answer")
        await until(pilot, lambda: "unconfirmed" in toasts(app), what="the warning")
        unclear = row_named(app, "no clear answer")
        assert unclear is not None
        await shows(pilot, app, "unconfirmed toast", "Submission unconfirmed", within="Toast")
        await highlight(pilot, app, unclear.id, "UNCONFIRMED")
        await pane_shows(pilot, app, "unconfirmed details", "no clear answer", "Press u")

        await submit(pilot, app, "flaky download")
        row = await succeeded(pilot, app, "flaky download")
        sim.inject(on="media", kind="truncate")
        await highlight(pilot, app, row.id, "not yet — press d")
        await press(pilot, app, "d")
        await until(pilot, lambda: table(app).rows_by_id[row.id].download_state == "failed",
                    what="the download to fail")
        await shows(pilot, app, "failed download", "Download failed", within="Toast")
        await pane_shows(pilot, app, "failed download details", "press d to retry")

    with make_sim(api_key="sk-other-0000000000000000") as other:
        refused = PixverseApp(workspace(tmp_path / "other", other))
        async with refused.run_test(size=SIZE, notifications=True) as pilot:
            await submit(pilot, refused, "refused key")
            await until(pilot, lambda: "Not sent" in toasts(refused), what="the refusal")
            await shows(pilot, refused, "refused toast", "API-key", within="Toast")
            rejected = row_named(refused, "refused key")
            assert rejected is not None  # nothing was created: it waits, the queue paused
            await highlight(pilot, refused, rejected.id, "QUEUED")
            await pane_shows(pilot, refused, "queued details", "API-key")
            await shows(pilot, refused, "the pause", "queue paused: key refused",
                        within="StatusBar")
