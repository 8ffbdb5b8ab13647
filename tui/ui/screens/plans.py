"""Carrying out a command's plan on a screen: the question as a dialog, the job in the
background once it is answered (``tui.ui.commands.plans``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from tui.ui.commands.plans import (
    AskText,
    Choose,
    Copy,
    Deliver,
    Outlet,
    Plan,
    Run,
    ShowStats,
    Then,
)


def carry_out(screen: Screen[Any], plan: Plan, outlet: Outlet) -> None:
    app = screen.app
    if isinstance(plan, Run):
        outlet.spawn(plan.job(), group=plan.group)
    elif isinstance(plan, Choose):
        from tui.ui.dialogs.choice import ChoiceScreen  # (each dialog: when first shown)

        app.push_screen(ChoiceScreen(plan.question, plan.answers, safe=plan.safe),
                        _then(plan.then, plan.group, outlet))
    elif isinstance(plan, AskText):
        from tui.ui.dialogs.ask import AskScreen

        app.push_screen(AskScreen(plan.question, plan.initial, multiline=plan.multiline),
                        _then(plan.then, plan.group, outlet))
    elif isinstance(plan, Copy):
        app.copy_to_clipboard(plan.text)
        outlet.notify(plan.said, timeout=3)
    elif isinstance(plan, Deliver):
        app.deliver_binary(plan.path, save_filename=plan.name, mime_type="video/mp4")
        outlet.notify(f"Sending {plan.name} to this browser.", title="Download", timeout=4)
    elif isinstance(plan, ShowStats):
        from tui.ui.dialogs.stats import StatsScreen  # (statistics: loaded when first shown)

        app.push_screen(StatsScreen(plan.figures))


def _then(then: Then, group: str, outlet: Outlet) -> Callable[[str | None], None]:
    def answered(answer: str | None) -> None:
        if answer is not None:  # escape: nothing
            outlet.spawn(then(answer), group=group)

    return answered
