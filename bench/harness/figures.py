"""Figures and how they are shown: percentiles, waiting for a condition with a
deadline, tables side by side with a baseline, and the line every run starts with
(what was run, when, on how many cores, under what load)."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (``q`` in 0–1) — a value that was measured; NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float, *, tenths_below: float = 0.0) -> str:
    """Milliseconds for a table cell ("-" for NaN); tenths below ``tenths_below`` ms."""
    if math.isnan(seconds):
        return "-"
    value = seconds * 1000
    return f"{value:.1f}" if value < tenths_below else f"{value:.0f}"


def side_by_side(rows: Sequence[Sequence[str]], *, gap: int = 3,
                 widths: Sequence[int] | None = None) -> str:
    """A table of text: the first row is the head, the first column the labels; each
    column as wide as its widest cell plus ``gap`` (or as ``widths`` says)."""
    columns = max(len(row) for row in rows)
    cells = [[*row, *[""] * (columns - len(row))] for row in rows]
    if widths is None:
        widths = [max(len(row[i]) for row in cells) + gap for i in range(columns - 1)]
    lines = ["".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False))
             + row[-1] for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def run_header(script: str, details: str = "") -> str:
    """What was run, when, on how many cores and under what load: the first lines of a
    run's output (a figure means little without the machine's load beside it)."""
    load = os.getloadavg()
    line = (f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores, "
            f"load average {load[0]:.1f} at the start")
    return f"python bench/{script} {' '.join(sys.argv[1:])}".rstrip() + "\n" + \
        (f"{line}; {details}" if details else line)


def progress(text: str) -> None:
    """A line about how far the run is (stderr: stdout holds the figures)."""
    print(text, file=sys.stderr, flush=True)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               every: float = 0.05) -> None:
    """Return once ``condition()`` holds; RuntimeError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str,
                every: float = 0.05) -> None:
    """``wait_until`` for a coroutine: the condition may be async too."""
    deadline = time.monotonic() + timeout
    while True:
        met = condition()
        if not isinstance(met, bool):
            met = await met
        if met:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(every)
