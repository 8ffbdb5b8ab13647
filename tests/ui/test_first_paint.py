"""Start-up paints first (issue 15): before the first page is on screen the dashboard
reads that page and the figures the store keeps, nothing else — the store's
housekeeping (interrupted sends, old trash) and the look for expiring videos come
after, so a slow one never holds the first paint back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from storage import open_store
from tests.ui.helpers import app_for, table, until
from tui.config.paths import app_paths
from tui.engine.following import rescue
from tui.engine.history import trash

STAMP = "2026-01-01T00:00:00.000+00:00"


async def one_row(home: Path) -> None:
    async with await open_store(app_paths({"PIXVERSE_TUI_HOME": str(home)}).database) as store:
        await store.history.import_many([{
            "created_at": STAMP, "updated_at": STAMP, "endpoint": "e", "model": "m",
            "prompt": "a lighthouse at dawn", "size": "1280*720", "duration": 5,
            "submission": "accepted", "task_id": "t-1", "status": "SUCCEEDED",
            "end_time": STAMP, "video_url": "http://v"}])


async def test_the_first_page_is_painted_while_housekeeping_is_still_slow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await one_row(tmp_path)
    gate = asyncio.Event()
    asked: list[str] = []

    def held(what: str, answer: Any) -> Any:
        async def slow(*_: object, **__: object) -> Any:
            asked.append(what)
            await gate.wait()
            return answer
        return slow

    monkeypatch.setattr(trash, "empty", held("trash", 0))
    monkeypatch.setattr(rescue, "expiring", held("expiring", []))
    monkeypatch.setattr(rescue, "to_rescue", held("expiring", []))
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        try:
            await until(pilot, lambda: table(app).row_count == 1, what="the first page")
            await until(pilot, lambda: {"trash", "expiring"} <= set(asked),
                        what="the housekeeping and the expiry check, after it")
        finally:
            gate.set()
