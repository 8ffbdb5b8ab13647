"""Sending from the dashboard, without a screen: the questions come from a script, the
creates go over loopback to the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import open_store
from tests.conftest import client_for
from tests.ui.helpers import workspace
from tests.ui.test_row_commands import Outlet
from tui.dashscope import GenerationRequest
from tui.engine.submitting import batch
from tui.engine.submitting.prices import Estimate
from tui.simulator import Simulator
from tui.ui.commands.submit import Draft, SubmitFlow

PRICED = '[prices]\ncurrency = "CNY"\n"720P" = 0.5\n[budget]\ndaily = 6.0\n'


class Questions:
    """Answers given in advance; every question asked is kept."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def choose(self, question: str, answers: list[tuple[str, str]], *,
                     safe: str) -> str | None:
        self.asked.append(question)
        assert safe in {"cancel"}, "the harmless answer has the focus"
        return self.answers.pop(0)

    async def text(self, question: str, initial: str = "") -> str | None:
        self.asked.append(question)
        return self.answers.pop(0)

    async def batch(self, plan: batch.BatchPlan, found: batch.Survey | None,
                    cost: Estimate | None, took: float, defaults: str) -> bool:
        self.asked.append(plan.name)
        return self.answers.pop(0) == "send"


class Composing:
    def __init__(self, draft: Draft) -> None:
        self.values: dict[str, str] = {}
        self.later = draft

    def draft(self) -> Draft:
        return self.later

    def refresh_state(self) -> None:
        pass


def draft(*prompts: str, needs: tuple[str, ...] = ()) -> Draft:
    return Draft([GenerationRequest(p) for p in prompts], [], [], needs=needs,
                 text=prompts[0] if prompts else "")


@pytest.fixture
async def flow(sim: Simulator, tmp_path: Path) -> AsyncIterator[tuple[SubmitFlow, Outlet]]:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(PRICED + '[batch]\nask_above = 2\n')
    from tui.ui.services import Services

    services = Services(workspace(tmp_path, sim))
    services.store = await open_store(tmp_path / "tasks.db")
    services.client = client_for(sim)
    outlet = Outlet()
    yield SubmitFlow(services, outlet), outlet
    await services.client.aclose()
    await services.store.close()


async def test_a_draft_with_problems_or_during_a_send_goes_no_further(
        flow: tuple[SubmitFlow, Outlet]) -> None:
    submit, outlet = flow
    assert not submit.acceptable(Draft([], ["The prompt is empty."], []))
    assert submit.claim()
    assert not submit.acceptable(draft("a fox")) and not submit.claim()
    assert outlet.notices == ["The prompt is empty.", "Still submitting the previous prompt.",
                              "Still submitting the previous prompt."]


async def test_template_values_are_asked_and_kept_and_many_tasks_ask_first(
        flow: tuple[SubmitFlow, Outlet]) -> None:
    submit, _ = flow
    composer = Composing(draft("a fox in snow", "a fox in rain", "an owl in snow"))
    ask = Questions("snow|rain", None)  # the second value: escape
    assert await submit.confirm(draft("a {animal} in {weather}", needs=("weather", "animal")),
                                ask, composer) is None
    assert composer.values == {"weather": "snow|rain"}  # what was typed stays
    ask = Questions("fox|owl", "cancel")
    composer.values.clear()
    assert await submit.confirm(draft("…", needs=("animal",)), ask, composer) is None
    assert ask.asked[-1].startswith("Send 3 tasks (3 prompts)? Each one is billed")
    ask = Questions("send")
    sendable = await submit.confirm(composer.later, ask, composer)
    assert sendable is composer.later


async def test_sending_creates_each_task_once_and_over_budget_asks(
        flow: tuple[SubmitFlow, Outlet], sim: Simulator) -> None:
    submit, outlet = flow
    assert submit.claim()
    sent = await submit.send(draft("one", "two"), True, Questions())
    assert sent is not None and sent.count == 2 and sent.prompt == "one"
    assert not submit.busy and outlet.changes == 2
    assert sum(1 for m, p in sim.requests if m == "POST") == 2
    assert submit.claim()  # 5 CNY spent, 2.50 more would cross a 6 CNY day: a question
    ask = Questions("cancel")
    assert await submit.send(draft("three"), True, ask) is None
    assert "daily budget" in ask.asked[0] and not submit.busy
    assert sum(1 for m, p in sim.requests if m == "POST") == 2
