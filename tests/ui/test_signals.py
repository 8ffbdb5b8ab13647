"""Telling that tasks ended: toasts, the bell, desktop notifications, the title — at
most once a second, batches told whole."""

from __future__ import annotations

from pathlib import Path

from storage.records import BatchSummary, Counts
from tests.ui.helpers import app_for, type_prompt, until
from tui.engine.following.signals import (
    NotifySettings,
    Pending,
    Signals,
    desktop_sequence,
    sentence,
)
from tui.simulator import Simulator


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(settings: NotifySettings, clock: Clock) -> tuple[Signals, list, list, list]:
    toasts: list = []
    written: list = []
    bells: list = []
    signals = Signals(settings, toast=lambda t, m: toasts.append((t, m)),
                      write=written.append, bell=lambda: bells.append(1), clock=clock)
    signals.in_tmux = False
    return signals, toasts, written, bells


def ended_row(n: int, status: str, batch: str | None = None):  # type: ignore[no-untyped-def]
    from storage import Generation

    base = {f: None for f in Generation._fields}
    base.update(id=n, created_at="", endpoint="", model="", prompt=f"a paper boat {n}",
                size="", duration=5, audio=False, watermark=False, submission="accepted",
                polls=0, poll_failures=0, download_state="none", updated_at="",
                status=status, batch_id=batch)
    return Generation(**base)


def test_at_most_one_signal_a_second_and_batches_told_whole() -> None:
    clock = Clock()
    signals, toasts, written, bells = make(
        NotifySettings(toast=True, bell=True, desktop="osc9", title=True), clock)
    rows = [ended_row(i, "SUCCEEDED" if i < 9 else "FAILED", "b1") for i in range(10)]
    batch = BatchSummary("b1", "Paper boat", 10, 9, 1, 0, 0)
    signals.ended(rows[:5], [])
    assert signals.flush() and len(toasts) == 1 and bells == [1]
    signals.ended(rows[5:], [batch])
    assert not signals.flush()  # within the second: held
    clock.now += 1.0
    assert signals.flush()
    assert toasts[-1][1].startswith("Paper boat ×10 done: 9 ✔ 1 ✘")
    assert written[-1].startswith("\x1b]9;pixverse-tui: ") and written[-1].endswith("\x07")
    signals.ended(rows, [batch])  # told already: nothing new
    clock.now += 5
    assert not signals.flush()


def test_each_way_can_be_switched_off_and_text_stays_harmless() -> None:
    clock = Clock()
    signals, toasts, written, bells = make(
        NotifySettings(toast=False, bell=False, desktop="off", title=False), clock)
    signals.ended([ended_row(1, "SUCCEEDED")], [])
    assert signals.flush() and not toasts and not written and not bells
    signals.show_counts(Counts(running=3, pending=12, finished_today=57, failed_today=2))
    assert not written
    hostile = desktop_sequence("osc777", "t", "a\x1b]52;c;x\x07 b", in_tmux=True)
    assert hostile.startswith("\x1bPtmux;\x1b\x1b]777;notify;t;")
    assert "\x1b]52" not in hostile.replace("\x1b\x1b]777", "")
    assert sentence(Pending()) is None


def test_the_title_follows_what_is_in_flight() -> None:
    signals, _, written, _ = make(NotifySettings(), Clock())
    signals.show_counts(Counts(running=3, pending=12, finished_today=57, failed_today=2))
    signals.show_counts(Counts(running=3, pending=12, finished_today=57, failed_today=2))
    assert written == ["\x1b]2;pixverse ▶3 ◷12 ✔57 ✘2\x07"]


async def test_the_dashboard_tells_when_a_batch_ends(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await type_prompt(pilot, app, "A paper boat on a pond")
        app.main.query_one("#variations").value = "3"  # type: ignore[union-attr]
        await pilot.pause()
        await pilot.press("ctrl+j")
        await until(pilot, lambda: any("×3 done: 3 ✔ 0 ✘" in n.message
                                       for n in app._notifications), timeout=20,
                    what="the batch's toast")


def test_a_dashboard_shows_one_toast_at_a_time() -> None:
    """Signals a second apart stacked four toasts over the table at 80×24: with the
    toast's own time as the gap, what ends meanwhile waits and is told in the next."""
    clock = Clock()
    toasts: list = []
    signals = Signals(NotifySettings(), toast=lambda t, m: toasts.append((t, m)),
                      write=lambda _: None, bell=lambda: None, clock=clock, gap=4.0)
    for second in range(8):
        signals.ended([ended_row(second, "SUCCEEDED")], [])
        signals.flush()
        clock.now += 1.0
    assert len(toasts) == 2 and toasts[1][0] == "4 finished"


def test_cancelled_tasks_are_told_as_cancelled_not_failed() -> None:
    """A batch paused with its PENDING tasks taken back: they were cancelled at the
    service (and queued again), not failed."""
    pending = Pending(ended=[ended_row(1, "SUCCEEDED"), ended_row(2, "CANCELED"),
                             ended_row(3, "CANCELED"), ended_row(4, "FAILED")])
    told = sentence(pending)
    assert told is not None and told[0] == "1 finished, 1 failed, 2 cancelled"
    only = sentence(Pending(ended=[ended_row(5, "CANCELED")]))
    assert only is not None and only[0] == "0 finished, 1 cancelled"
