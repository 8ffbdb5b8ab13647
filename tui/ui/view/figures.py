"""The status bar's figures, as data (the bar draws them; the view model makes them)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from storage.records import Counts


class StatusFigures(NamedTuple):
    counts: Counts = Counts()
    window: str = ""  # "1–50 of 1,204", "12 match"
    marks: int = 0
    new_above: int = 0  # rows that arrived above the visible ones
    expiring: int = 0  # finished, not saved, URL dies within 2 h
    foreign: int = 0  # tasks of the key that no row knows
    budget: str = ""  # "12.40 of 20.00 CNY left today", when [budget] and [prices] are set
    budget_low: bool = False  # less than a tenth of it left
    health: str = "ok"
    detail: str = ""
    database: str = ""  # "database unreachable — retrying in 4 s" (``view.reach``), said first
    updated: datetime | None = None
    demo: bool = False
    read_only: bool = False  # --read-only: a viewer's dashboard, said first
    region: str = ""
    endpoint: str = ""
    queue_problem: str = ""  # why the queue does not move: paused (why), nobody feeds it
    queue_note: str = ""  # "batch paused by you; p resumes it": while the rest moves
    queue_done: str = ""  # "done ~14:05 (p90 15:10)": when the queue should be done
    unconfirmed: int = 0  # creates with no clear answer, stopped until resolved
    resolve_key: str = "u"  # the key that resolves one
