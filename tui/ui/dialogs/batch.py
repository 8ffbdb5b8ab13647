"""What a batch file would send, before anything is: its prompts line by line, what
earlier runs already sent, how long it would take and what it would cost."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from tui.engine.submitting import batch
from tui.engine.submitting.prices import Estimate
from tui.safe_text import printable
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.dialogs import answers

SHOWN = 2000  # rows listed; the rest are counted


class BatchScreen(ModalScreen[str | None]):
    """Returns "send", or None.  "Cancel" has the focus: sending is billed.  ←/→ and the
    answers' first letters as in every dialog (``dialogs.answers``)."""

    PLACE = Where.BATCH
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, plan: batch.BatchPlan, found: batch.Survey | None,
                 cost: Estimate | None, took: float, defaults: str) -> None:
        super().__init__()
        self.plan = plan
        self.found = found
        self.cost = cost
        self.took = took
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        plan, found = self.plan, self.found
        with Vertical(id="batch-box"):
            yield Static(Text(printable(f"Batch file {plan.name}"), style="bold"))
            if plan.problems:
                shown = plan.problems[:50]
                more = len(plan.problems) - len(shown)
                with VerticalScroll(id="batch-problems-scroll"):  # (the box stays on screen)
                    yield Static(Text(
                        "Nothing can be sent until these are fixed:\n"
                        + "\n".join(f"  {printable(p)}" for p in shown)
                        + (f"\n  … and {more} more" if more > 0 else ""), style="bold"),
                        id="batch-problems")
                with Horizontal(id="batch-buttons"):
                    yield Button("Close", id="close", compact=True)
                return
            assert found is not None
            to_send = len(found.to_send)
            lines = [f"{plan.lines} lines, {len(plan.items)} prompts — {found.sentence()}",
                     f"defaults for lines that do not say: {self.defaults}"]
            if to_send:
                lines.append(f"about {batch.human_duration(self.took)} with "
                             f"{batch.RUNNING_AT_ONCE} running at a time")
                if self.cost is not None:
                    lines.append(f"cost: {self.cost.sentence()}")
            lines += [f"⚠ {w}" for w in plan.warnings[:5]]
            yield Static(Text(printable("\n".join(lines), multiline=True)), id="batch-facts")
            table: DataTable[Text] = DataTable(id="batch-items", cursor_type="row",
                                               zebra_stripes=True)
            yield table
            with Horizontal(id="batch-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                if to_send:
                    yield Button(f"Send {to_send} task{'s' if to_send != 1 else ''}",
                                 id="send", compact=True)

    def on_mount(self) -> None:
        buttons = self.query(Button)
        safe = next((b for b in buttons if b.id in ("cancel", "close")), None)
        if safe is not None:
            self.set_focus(safe)
        if self.plan.problems or self.found is None:
            return
        table = self.query_one("#batch-items", DataTable)
        table.add_columns("line", "state", "size", "dur", "seed", "prompt")
        found = self.found
        sent = {row.intent_key: row for row in found.sent + found.sending + found.in_doubt}
        for item in self.plan.items[:SHOWN]:
            row = sent.get(item.key)
            state = "to send" if row is None else (
                row.display_status if row.task_id is None else f"sent {row.task_id[:8]}")
            request = item.request
            table.add_row(Text(str(item.line)), Text(printable(state)), Text(request.size),
                          Text(f"{request.duration}s" + (" ♪" if request.audio else "")),
                          Text("random" if request.seed is None else str(request.seed)),
                          Text(printable(request.prompt)))
        if len(self.plan.items) > SHOWN:
            table.add_row(Text(""), Text(""), Text(""), Text(""), Text(""),
                          Text(f"… and {len(self.plan.items) - SHOWN} more", style="dim"))

    def action_previous_answer(self) -> None:
        answers.move(self, -1)

    def action_next_answer(self) -> None:
        answers.move(self, 1)

    def on_key(self, event: events.Key) -> None:
        answers.letter_pressed(self, event)

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        self.dismiss("send" if event.button.id == "send" else None)
