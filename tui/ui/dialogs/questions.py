"""The dialogs as questions a flow can await (``commands.submit.Questions``): each
opens a dialog and waits for its answer.  Only from a worker — a message handler
that waited would hold the keys the dialog needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import App

if TYPE_CHECKING:  # each dialog is loaded when first shown: none is before the first paint
    from tui.engine.submitting import batch
    from tui.engine.submitting.prices import Estimate


class DialogQuestions:
    def __init__(self, app: App[Any]) -> None:
        self.app = app

    async def choose(self, question: str, answers: list[tuple[str, str]], *,
                     safe: str) -> str | None:
        from tui.ui.dialogs.choice import ChoiceScreen

        return await self.app.push_screen_wait(ChoiceScreen(question, answers, safe=safe))

    async def text(self, question: str, initial: str = "") -> str | None:
        from tui.ui.dialogs.ask import AskScreen

        return await self.app.push_screen_wait(AskScreen(question, initial))

    async def batch(self, plan: batch.BatchPlan, found: batch.Survey | None,
                    cost: Estimate | None, took: float, defaults: str) -> bool:
        from tui.ui.dialogs.batch import BatchScreen

        return await self.app.push_screen_wait(
            BatchScreen(plan, found, cost, took, defaults)) == "send"

