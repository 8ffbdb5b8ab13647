"""``pixverse-tui store copy``: a whole history from one store into another."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from storage import TaskStore, open_store
from tui.cli.output import Problem, print_json, say
from tui.engine.history.copying import COPY_BATCH, CopyReport, SameStore, copy_history
from tui.engine.workspace import Workspace
from tui.safe_text import printable

BAR = 24  # cells of the progress bar
REDRAW_EVERY = 0.1  # seconds between two redraws on a terminal


def _location(text: str) -> str | Path:
    return text if "://" in text else Path(text).expanduser()


async def cmd_store_copy(args: argparse.Namespace, ws: Workspace) -> int:
    batch = COPY_BATCH if args.batch is None else args.batch
    if batch < 1:
        raise Problem("--batch must be 1 or more")
    source: TaskStore = (await open_store(_location(args.source), who=ws.who) if args.source
                         else await ws.open_store())
    try:
        async with await open_store(_location(args.target), who=ws.who) as target:
            shown = Progress()
            try:
                report = await copy_history(source, target, batch=batch,
                                            progress=shown.update)
            except SameStore as exc:
                raise Problem(str(exc)) from None
            finally:
                shown.end()
    finally:
        await source.close()
    if args.json:
        print_json(report.as_json())
    else:
        say(report.summary())
    return 0


class Progress:
    """``copying ██████░░░░ 45%  4,500 of 10,000`` on standard error: one line redrawn
    on a terminal; elsewhere (a log) a line at each tenth."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self._drawn = 0.0
        self._tenth = -1
        self._shown = False

    def update(self, report: CopyReport) -> None:
        total = max(report.rows, report.done, 1)
        share = min(1.0, report.done / total)
        text = printable(f"copying {'█' * int(share * BAR)}{'░' * (BAR - int(share * BAR))} "
                         f"{share:4.0%}  {report.done:,} of {report.rows:,}")
        if self.live:
            now = time.monotonic()
            if now - self._drawn >= REDRAW_EVERY or share >= 1.0:
                self._drawn = now
                print(f"\r\x1b[2K{text}", end="", file=sys.stderr, flush=True)
                self._shown = True
        elif int(share * 10) > self._tenth:
            self._tenth = int(share * 10)
            print(text, file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.live and self._shown:
            print(file=sys.stderr, flush=True)

