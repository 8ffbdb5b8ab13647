"""History in the dashboard: search, filters, favourites, tags, notes, forget, stats,
paging, and previews of downloaded videos."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, TextArea

from storage import open_store
from tests.test_history import add
from tests.ui.helpers import app_for, cell, composer, statuses, table, type_prompt, until
from tui.simulator import Simulator
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.dialogs.stats import StatsScreen
from tui.ui.view.history import PAGE_SIZE
from tui.ui.widgets.detail import DetailPane

SIZE = (120, 40)


async def seeded(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    store = await open_store(home / "tasks.db")
    await add(store, "a red fox in snow", size="1920*1080", duration=8, audio=True)
    await add(store, "一只小猫在月光下奔跑", size="720*1280")
    await add(store, "a failing whale", status="FAILED")
    await store.close()


def prompts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(r.prompt for r in table(app).rows_by_id.values())


async def filter_to(pilot, app, text: str) -> None:  # type: ignore[no-untyped-def]
    app.screen.query_one("#filter", Input).value = text
    await pilot.pause()


async def test_search_and_filters(tmp_path: Path) -> None:
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        table(app).focus()
        await pilot.press("slash", *"月光")
        await until(pilot, lambda: prompts(app) == ["一只小猫在月光下奔跑"])
        await filter_to(pilot, app, "status:FAILED")
        await until(pilot, lambda: prompts(app) == ["a failing whale"])
        await filter_to(pilot, app, "tier:1080P audio:yes")
        await until(pilot, lambda: prompts(app) == ["a red fox in snow"])
        await filter_to(pilot, app, "a dur:5")
        await until(pilot, lambda: prompts(app) == ["a failing whale"])
        await filter_to(pilot, app, "")
        await until(pilot, lambda: len(prompts(app)) == 3)


async def test_favourite_tags_note_and_forget(tmp_path: Path) -> None:
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        table(app).focus()
        await pilot.press("f")
        await until(pilot, lambda: cell(app, 0, "prompt").startswith("★ "))
        await pilot.press("t")
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "keep, winter"
        await pilot.press("enter")
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#answer", TextArea).load_text("my favourite")
        await pilot.press("ctrl+s")
        body = app.screen.query_one(DetailPane).query_one("#detail-body")

        def marked() -> bool:
            text = str(body.render())
            return "#keep" in text and "#winter" in text and "my favourite" in text

        await until(pilot, marked, what="tags and note in the detail pane")
        await filter_to(pilot, app, "fav tag:winter")
        await until(pilot, lambda: len(prompts(app)) == 1)
        forgotten = prompts(app)[0]
        await filter_to(pilot, app, "")
        await until(pilot, lambda: len(prompts(app)) == 3)
        table(app).focus()
        await pilot.press("x")
        await pilot.pause()
        await pilot.click("#answer-forget")
        await until(pilot, lambda: len(prompts(app)) == 2)
        assert forgotten not in prompts(app)
        await pilot.press("x")
        await pilot.pause()
        await pilot.click("#answer-keep")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        await app.main.panel.refresh_page()
        assert len(prompts(app)) == 2


async def test_stats_screen_on_a_known_history(tmp_path: Path) -> None:
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        table(app).focus()
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, StatsScreen))
        text = str(app.screen.query_one("#report").render())
        assert "succeeded: 2" in text and "failed: 1" in text and "66.7%" in text
        assert "1080P" in text and "InternalError" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen)


async def test_paging_keeps_the_table_small(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    store = await open_store(tmp_path / "tasks.db")
    records = [{"created_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.000+00:00",
                "prompt": f"prompt number {i}", "size": "1280*720", "duration": 5,
                "task_id": f"t{i}", "status": "SUCCEEDED", "submission": "tracked",
                "endpoint": "x", "model": "m", "updated_at": "2026-01-01T00:00:00.000+00:00"}
               for i in range(450)]
    await store.history.import_many(records)
    await store.close()
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        assert cell(app, 0, "prompt") == "prompt number 449"  # newest first
        table(app).focus()
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: cell(app, 0, "prompt") == f"prompt number {449 - PAGE_SIZE}")
        table(app).move_cursor(row=PAGE_SIZE - 1)
        await pilot.press("down")  # past the last row: the next page
        await until(pilot, lambda: cell(app, 0, "prompt") ==
                    f"prompt number {449 - 2 * PAGE_SIZE}")
        assert len(table(app).rows_by_id) == PAGE_SIZE
        assert f"{2 * PAGE_SIZE + 1}–{3 * PAGE_SIZE} of 450" in str(
            app.screen.query_one("#status").render())
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: cell(app, 0, "prompt") == f"prompt number {449 - PAGE_SIZE}")
        await filter_to(pilot, app, '"number 7"')  # a quoted phrase
        await until(pilot, lambda: len(table(app).rows_by_id) == 11)  # 7, 70–79


async def test_preview_of_a_downloaded_video(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "preview me")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"])
        await pilot.press("escape", "d")
        preview = app.screen.query_one(DetailPane).query_one("#preview")
        await until(pilot, lambda: "▀" in str(preview.render()), what="preview")
        text = preview.render()
        assert "0.0s" in str(text)
        assert composer(app).prompt.text == ""


async def test_preview_uses_a_graphics_protocol_where_the_terminal_has_one(
        sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    app.graphics = "tgp"  # what detect() answers in kitty, WezTerm, Ghostty…
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "real pixels")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"])
        await pilot.press("escape", "d")
        await until(pilot, lambda: bool(app.screen.query(".preview-graphic")), what="image")
        picture = app.screen.query(".preview-graphic").last().image
        assert picture.width > 3 * 100 and picture.height > 50  # three frames, real pixels


async def test_a_broad_search_stops_counting_and_still_pages(tmp_path: Path) -> None:
    """"1,000+" instead of counting every match on each keystroke; paging goes on."""
    tmp_path.mkdir(exist_ok=True)
    store = await open_store(tmp_path / "tasks.db")
    records = [{"created_at": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
                ".000+00:00", "prompt": f"lantern festival {i}", "size": "1280*720",
                "duration": 5, "task_id": f"t{i}", "status": "SUCCEEDED",
                "submission": "tracked", "endpoint": "x", "model": "m",
                "updated_at": "2026-01-01T00:00:00.000+00:00"} for i in range(1100)]
    await store.history.import_many(records)
    await store.close()
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        table(app).focus()
        await pilot.press("slash", *"lantern", "enter")
        status = app.screen.query_one("#status")
        await until(pilot, lambda: "1–50 of 1,000+" in str(status.render()),
                    what="a capped count")
        for _ in range(21):  # to page 22: past what was counted
            await pilot.press("right_square_bracket")
        await until(pilot, lambda: "1,051–1,100 of 1,000+" in str(status.render()),
                    what="the last page")
        await pilot.press("right_square_bracket")  # nothing after it
        await pilot.pause()
        assert cell(app, 0, "prompt") == "lantern festival 49"


async def test_two_pictures_in_a_row_replace_each_other(tmp_path: Path) -> None:
    """A removal is not done at once: a second picture arriving before it is (two
    previews decoded back to back, under load) crashed the app on a duplicate id."""
    from PIL import Image

    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(DetailPane)
        for colour in ("red", "blue", "green"):
            pane.show_preview(Image.new("RGB", (320, 60), colour))
        await pilot.pause()
        await pilot.pause()
        assert len(app.screen.query(".preview-graphic")) == 1


async def test_a_keystroke_reads_the_details_once(tmp_path: Path) -> None:
    """A filter keystroke brings a page with the cursor on another row: its details are
    read from the store once, not once for the page and again for the highlight."""
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        pane = app.screen.query_one(DetailPane)
        await until(pilot, lambda: "Prompt" in str(pane.query_one("#detail-body").render()))
        read = pane.details
        assert read is not None
        asked: list[int] = []

        async def details(row):  # type: ignore[no-untyped-def]
            asked.append(row.id)
            return await read(row)

        pane.details = details
        for text, prompt in (("fox", "a red fox in snow"), ("whale", "a failing whale"),
                             ("", "a failing whale"),  # the row the user was on
                             ("月光", "一只小猫在月光下奔跑")):
            asked.clear()
            await filter_to(pilot, app, text)
            await until(pilot, lambda p=prompt: p in str(pane.query_one("#detail-body").render()),
                        what=prompt)
            for _ in range(3):  # whatever else was coming has come
                await pilot.pause()
            assert len(asked) == 1, (text, asked)


async def test_a_keystroke_paints_its_rows_in_the_next_frame(tmp_path: Path) -> None:
    """The frame that follows a filter keystroke draws the table with the new rows — not
    the search box and the status bar first and the rows one frame (a detail read) later.
    (Textual has no public hook for a frame: the test reads ``Screen._compositor_refresh``;
    the product does not.)"""
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        shown, screen = table(app), app.screen
        frames: list[bool] = []  # per frame after the rows landed: was the table drawn?
        landed, drew = [False], [False]
        replace, render_line, refresh = shown.replace, shown.render_line, \
            screen._compositor_refresh

        def replaced(*args, **kwargs):  # type: ignore[no-untyped-def]
            replace(*args, **kwargs)
            landed[0] = True

        def drawn(y: int):  # type: ignore[no-untyped-def]
            drew[0] = True
            return render_line(y)

        def frame() -> None:
            drew[0] = False
            refresh()
            if landed[0]:
                frames.append(drew[0])

        shown.replace, shown.render_line = replaced, drawn  # type: ignore[method-assign]
        screen._compositor_refresh = frame  # type: ignore[method-assign]
        for text, count in (("whale", 1), ("", 3), ("zebra", 0), ("fox", 1)):
            frames.clear()
            landed[0] = False
            await filter_to(pilot, app, text)
            await until(pilot, lambda c=count: len(shown.rows_by_id) == c and bool(frames),
                        what=text)
            assert frames[0], (text, frames)
