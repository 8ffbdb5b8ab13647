"""The floor the dashboard is measured against: a minimal Textual app over the same
database file — a DataTable of the 50 newest rows (and, with a search box, each
keystroke answered by a bare FTS5 query), nothing else.

The search keeps the words of three characters or more (the trigram index's) for one
bare FTS5 ``MATCH`` and ignores the filter's tokens — words with a ``:`` (``status:FAILED``,
``tier:720P``, ``tag:keep``, ``since:…``) and the word ``fav`` — so a keystroke of
tokens paints a page of rows, as the dashboard does, not an empty table; with no word
left it shows the 50 newest rows.  (Fair, and still the least work: the tokens narrow
nothing, so the floor never reads more rows than a page.)

    python -m harness.floor_app DB [--search]
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input

COLUMNS = ("Status", "Prompt", "Task", "Size", "Dur", "Submitted")
NEWEST = ("SELECT status, prompt, task_id, size, duration, created_at FROM generations"
          " ORDER BY created_at DESC LIMIT 50")
SEARCH = ("SELECT status, prompt, task_id, size, duration, created_at FROM generations"
          " WHERE id IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?"
          " ORDER BY rowid DESC LIMIT 50) ORDER BY id DESC")


class FloorApp(App[None]):
    def __init__(self, database: str, *, search: bool = False) -> None:
        super().__init__()
        self.db = sqlite3.connect(database)
        self.search = search

    def compose(self) -> ComposeResult:
        if self.search:
            yield Input(id="filter")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.show(self.db.execute(NEWEST).fetchall())

    def show(self, rows: list[Any]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*(Text(str(cell)) for cell in row))

    def on_input_changed(self, event: Input.Changed) -> None:
        words = " ".join('"' + w.replace('"', '""') + '"' for w in event.value.split()
                         if len(w) >= 3 and ":" not in w and w.lower() != "fav")
        self.show(self.db.execute(SEARCH, (words,)).fetchall() if words
                  else self.db.execute(NEWEST).fetchall())


if __name__ == "__main__":
    FloorApp(sys.argv[1], search="--search" in sys.argv).run()
