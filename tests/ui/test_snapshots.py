"""The look of the main screen, in each bundled theme and at 80×24.

Deterministic: a fixed history, a fixed clock, UTC, no poller, no cursor blink.
Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` after a
deliberate change, and look at the report before committing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

from storage import Observation, open_store
from tests.ui.helpers import until, workspace
from tui.ui.app import PixverseApp

NOW = datetime(2026, 3, 20, 3, 0, 0, tzinfo=UTC)
THEMES = ["pixverse-dark", "pixverse-light", "pixverse-contrast", "pixverse-terminal"]

HISTORY = [
    # prompt, size, duration, audio, status, minutes before NOW, extra
    ("A red fox trotting through fresh snow at dawn, cinematic", "1280*720", 5, False,
     "SUCCEEDED", 50, {"download": True}),
    ("一只小猫在月光下奔跑", "720*1280", 8, True, "SUCCEEDED", 40, {}),
    ("Timelapse of a city skyline from day to night", "1024*1024", 10, False, "FAILED", 30,
     {"code": "InternalError", "message": "An internal error has occured."}),
    ("[bold]markup stays literal[/]", "640*360", 5, False, "CANCELED", 20, {}),
    ("Waves crashing on black volcanic sand", "1920*1080", 8, True, "RUNNING", 3, {}),
    ("A paper boat drifting down a rainy street", "1280*960", 5, False, "PENDING", 1, {}),
]


def _stamp(minutes_before: float) -> str:
    return datetime.fromtimestamp(NOW.timestamp() - minutes_before * 60, UTC).isoformat(
        timespec="milliseconds")


async def _build(home: Path) -> None:
    store = await open_store(home / "tasks.db")
    for n, (prompt, size, duration, audio, status, ago, extra) in enumerate(HISTORY, 1):
        row = await store.intents.add(endpoint="http://127.0.0.1:9/api/v1",
                                      model="pixverse/pixverse-v5.6-t2v", prompt=prompt,
                                      size=size, duration=duration, audio=audio, seed=1000 + n)
        row = await store.intents.mark_accepted(row.id, task_id=f"{n:08x}-aaaa-bbbb-cccc-{n:012x}",
                                                status="PENDING", request_id=f"req-{n}",
                                                next_poll_in=0)
        if status != "PENDING":
            done = status in ("SUCCEEDED", "FAILED", "CANCELED")
            await store.following.apply(row.id, Observation(
                status=status, request_id=f"req-{n}-last", submit_time=_stamp(ago),
                scheduled_time=_stamp(ago - 0.1),
                end_time=_stamp(ago - 1.5) if done else None,
                video_url=f"https://media.example/{n}.mp4" if status == "SUCCEEDED" else None,
                usage_duration=float(duration) if status == "SUCCEEDED" else None,
                usage_size=size if status == "SUCCEEDED" else None,
                usage_fps=24 if status == "SUCCEEDED" else None,
                usage_sr=size.split("*")[1] if status == "SUCCEEDED" else None,
                usage_audio=audio if status == "SUCCEEDED" else None,
                usage_video_count=1 if status == "SUCCEEDED" else None,
                error_code=extra.get("code"), error_message=extra.get("message")), None)
        if extra.get("download"):
            await store.downloads.set(row.id, state="done", path="/videos/red-fox.mp4",
                                      done=6590, total=6590, sha256="ab" * 32)
        await store._db.execute(
            "UPDATE generations SET created_at = ?, updated_at = ? WHERE id = ?",
            (_stamp(ago), _stamp(0), row.id))
        await store._db.execute("UPDATE status_events SET at = ? WHERE generation_id = ?",
                                (_stamp(ago), row.id))
    await store.close()


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Path]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    asyncio.run(_build(tmp_path))
    yield tmp_path
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def _app(home: Path) -> PixverseApp:
    ws = workspace(home, None)
    ws.base_url = "https://dashscope.aliyuncs.com/api/v1"
    return PixverseApp(ws, now=lambda: NOW, poll=False, blink=False)  # a fixed clock, no blink


def _prepare(theme: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        app.theme = theme
        prompt = app.screen.query_one("#prompt")
        prompt.cursor_blink = False
        prompt.load_text("A lighthouse in a storm, waves over the rocks")
        body = app.screen.query_one("#detail-body")
        await until(pilot, lambda: "Task id" in str(body.render()), what="the detail pane")
        # The first paint comes before focus and figures settle (start-up paints first):
        # the shot waits for the prompt's focus (its cursor is drawn) as a user would see it.
        await until(pilot, lambda: app.focused is prompt, what="the prompt's focus")
        prompt.refresh()  # its lines drawn again with the cursor, whatever came first
        await pilot.pause()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("theme", THEMES)
def test_main_screen_in_each_theme(snap_compare, history: Path, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(history), terminal_size=(140, 36), run_before=_prepare(theme))


def test_main_screen_at_80x24(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(history), terminal_size=(80, 24),
                        run_before=_prepare("pixverse-dark"))


async def _more_rows(home: Path, count: int, *, batch: str | None = None) -> None:
    """Older, finished generations beneath the fixed history (a batch, if named)."""
    store = await open_store(home / "tasks.db")
    await store.history.import_many([{
        "created_at": _stamp(60 + n), "updated_at": _stamp(0),
        "prompt": f"Variation of a koi pond, take {n}" if batch else f"Archive clip {n:02d}",
        "size": "1280*720", "duration": 5, "task_id": f"more-{n:04d}", "seed": 500 + n,
        "status": "SUCCEEDED", "submission": "accepted", "endpoint": "x",
        "model": "pixverse/pixverse-v5.6-t2v", "submit_time": _stamp(60 + n),
        "scheduled_time": _stamp(59.9 + n), "end_time": _stamp(58 + n),
        "batch_id": batch} for n in range(count)])
    await store.close()


def _at_table(moves: int = 0, *keys: str, wait_for: type | None = None):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        app.theme = "pixverse-dark"
        app.screen.query_one("#prompt").cursor_blink = False
        table = app.main.table
        await until(pilot, lambda: table.row_count > 0, what="rows")
        table.focus()
        await pilot.pause()
        for _ in range(moves):
            await pilot.press("down")
        await pilot.press(*keys)
        if wait_for is not None:
            await until(pilot, lambda: isinstance(app.screen, wait_for), what="the modal")
            fields = list(app.screen.query("Input, TextArea"))
            for field in fields:
                field.cursor_blink = False  # type: ignore[attr-defined]  # a dialog's own field
            if fields:  # its cursor is drawn once it has focus (late under load)
                await until(pilot, lambda: app.focused in fields, what="the field's focus")
        await pilot.pause(0.3)  # the detail pane and the figures settle

    return run_before


def test_80x24_with_30_rows(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_more_rows(history, 24))
    assert snap_compare(_app(history), terminal_size=(80, 24), run_before=_at_table(2))


def test_a_folded_batch(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_more_rows(history, 4, batch="koipond"))
    assert snap_compare(_app(history), terminal_size=(140, 36),
                        run_before=_at_table(6, "z"))


def test_marks_and_the_scope_prompt(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    from tui.ui.dialogs.choice import ChoiceScreen

    asyncio.run(_more_rows(history, 60))
    assert snap_compare(_app(history), terminal_size=(140, 36),
                        run_before=_at_table(0, "space", "down", "space", "G", "space", "f",
                                             wait_for=ChoiceScreen))


def test_the_error_comes_first(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(history), terminal_size=(140, 36), run_before=_at_table(3))


def test_the_keys_screen_at_80_columns(snap_compare, history: Path) -> None:  # type: ignore[no-untyped-def]
    from tui.ui.dialogs.keys import KeysScreen

    assert snap_compare(_app(history), terminal_size=(80, 24),
                        run_before=_at_table(0, "question_mark", wait_for=KeysScreen))


@pytest.mark.parametrize(("keys", "modal"), [
    (("x",), "ChoiceScreen"), (("t",), "AskScreen"), (("n",), "AskScreen"),
    (("s",), "StatsScreen"), (("enter",), "DetailScreen"), (("R",), "ChoiceScreen"),
], ids=["forget", "tags", "note", "stats", "details", "rerun"])
def test_each_modal(snap_compare, history: Path, keys: tuple[str, ...], modal: str) -> None:  # type: ignore[no-untyped-def]
    from tui.ui.dialogs import ask, choice, stats
    from tui.ui.screens import detail

    kinds = {"ChoiceScreen": choice.ChoiceScreen, "AskScreen": ask.AskScreen,
             "StatsScreen": stats.StatsScreen, "DetailScreen": detail.DetailScreen}
    assert snap_compare(_app(history), terminal_size=(120, 34),
                        run_before=_at_table(5, *keys, wait_for=kinds[modal]))
