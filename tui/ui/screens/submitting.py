"""Sending from the dashboard: the composer's prompt (a template, variations), a re-run,
a batch file — counted, priced and held against the budgets before anything goes out.

The same engine operations as the command line (``batch``, ``prices``,
``submit``), so the two cannot drift apart.  Every billed step is a question
whose focused answer is the harmless one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import work

from storage.clock import utc_now
from tui.dashscope import GenerationRequest
from tui.engine import batch, stats
from tui.engine.prices import BudgetState, Estimate, Prices, budget_state, estimate
from tui.engine.submit import CreatedButNotRecorded, submit_all
from tui.safe_text import printable
from tui.ui.messages import StoreChanged, SubmissionFinished
from tui.ui.dialogs.ask import AskScreen
from tui.ui.dialogs.batch import BatchScreen
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.screens.row_actions import RowActions, plural
from tui.ui.tolerant import tolerant
from tui.ui.widgets.composer import Composer, Draft

OVERRIDE = "choose Send anyway"


class Submitting(RowActions):
    """The submit keys and the batch file command, for the main screen."""

    _submitting: bool
    _budget: BudgetState | None
    _last_batch_file: str

    # -- prices and budgets ------------------------------------------------------------

    @property
    def prices(self) -> Prices:
        return Prices.from_settings(self.pixverse.ws.settings.section("prices"))

    async def budget_now(self) -> BudgetState:
        return await budget_state(self.store, self.prices,
                                  self.pixverse.ws.settings.section("budget"), utc_now())

    @tolerant
    async def refresh_budget(self) -> None:
        """What is left of the budgets, for the status bar (and the composer's prices)."""
        self.query_one(Composer).prices = self.prices
        self._budget = await self.budget_now()
        self._show_figures()

    def _show_figures(self) -> None:
        raise NotImplementedError

    async def _within_budget(self, cost: Estimate) -> bool:
        """True when ``cost`` fits every budget — or the user chose to go over."""
        refusal = (await self.budget_now()).refusal(cost, OVERRIDE)
        if refusal is None:
            return True
        answer = await self.pixverse.push_screen_wait(ChoiceScreen(
            printable(refusal[0].upper() + refusal[1:]) + ".",
            [("cancel", "Don't send"), ("send", "Send anyway (billed)")], safe="cancel"))
        return answer == "send"

    # -- the composer ---------------------------------------------------------------------

    def action_submit(self) -> None:
        self.query_one(Composer).request_submit()

    def on_composer_submit_requested(self, message: Composer.SubmitRequested) -> None:
        draft = message.draft
        if draft.problems:
            self.notify(" ".join(draft.problems), title="Cannot submit", severity="error")
            return
        if self._submitting:
            self.notify("Still submitting the previous prompt.", severity="warning")
            return
        self._confirm_draft(draft)

    @work(group="submit-confirm", exclusive=True, exit_on_error=False)
    async def _confirm_draft(self, draft: Draft) -> None:
        """Fill the template's variables, ask above the cap, then send."""
        composer = self.query_one(Composer)
        for name in draft.needs:
            value = await self.pixverse.push_screen_wait(AskScreen(
                f"Template: a value for {{{name}}} (a|b gives alternatives)"))
            if value is None:
                return
            composer.values[name] = value
        if draft.needs:
            draft = composer.draft()
            composer.refresh_state()
            if draft.problems:
                self.notify(" ".join(draft.problems), title="Cannot submit", severity="error")
                return
        cap = int(self.pixverse.ws.settings.get("batch", "ask_above") or 50)
        count = len(draft.requests)
        if count > cap:
            prompts = list(dict.fromkeys(r.prompt for r in draft.requests))
            listed = "\n".join(f"  {' '.join(p.split())[:90]}" for p in prompts[:8])
            more = f"\n  … and {len(prompts) - 8} more" if len(prompts) > 8 else ""
            cost = draft.cost.sentence() if draft.cost is not None else ""
            answer = await self.pixverse.push_screen_wait(ChoiceScreen(
                f"Send {count} tasks ({len(prompts)} prompts)? Each one is billed; {cost}."
                f"\n\n{listed}{more}", [("cancel", "Cancel"), ("send", f"Send {count}")],
                safe="cancel"))
            if answer != "send":
                return
        self.start_submission(draft, from_composer=True)

    def start_submission(self, draft: Draft, *, from_composer: bool) -> None:
        if self._submitting:
            self.notify("Still submitting the previous prompt.", severity="warning")
            return
        self._submitting = True
        self._submit(draft, from_composer)

    @work(group="submit", exclusive=False, exit_on_error=False)
    async def _submit(self, draft: Draft, from_composer: bool) -> None:
        app = self.pixverse
        assert app.client is not None
        sent = 0
        try:
            if not await self._within_budget(estimate(draft.requests, self.prices)):
                return
            async for outcome in submit_all(self.store, app.client, draft.requests,
                                            first_poll_after=app.ws.poll_settings().first_poll):
                self.post_message(StoreChanged())
                if outcome.error is not None:
                    self._refused(outcome.error)
                    return
                sent += 1
                await app.submitted()
            self.post_message(SubmissionFinished(sent, from_composer,
                                                 draft.text or draft.requests[0].prompt))
        except CreatedButNotRecorded as exc:
            self.notify(str(exc), title="Not recorded", severity="error", timeout=60)
        finally:
            self._submitting = False
            self.call_later(self.refresh_budget)

    def _refused(self, error: Exception) -> None:
        if getattr(error, "ambiguous", False):
            self.notify("No clear answer to the create request: a task may exist. It was not "
                        "re-sent; select it and press u to resolve.",
                        title="Submission unconfirmed", severity="warning", timeout=15)
        else:
            self.notify(str(error), title="Refused", severity="error", timeout=10)

    def on_submission_finished(self, message: SubmissionFinished) -> None:
        if message.from_composer:
            # Only what was sent is cleared: text typed meanwhile stays.
            self.query_one(Composer).clear_prompt(if_still=message.prompt)
            self.pixverse.save_state()
        self.notify(f"Submitted {plural(message.count, 'task')}.", timeout=3)

    # -- batch files ------------------------------------------------------------------------

    def action_open_batch(self) -> None:
        self._open_batch()

    @work(group="batch-open", exclusive=True, exit_on_error=False)
    async def _open_batch(self) -> None:
        """Ask for a file, show what it would send, send it as one batch if told to."""
        answer = await self.pixverse.push_screen_wait(AskScreen(
            "Batch file (one prompt per line, or JSON Lines):", self._last_batch_file))
        if not answer or not answer.strip():
            return
        self._last_batch_file = answer.strip()
        path = Path(answer.strip()).expanduser()
        try:
            content = await asyncio.to_thread(_read_text, path)
        except OSError as exc:
            self.notify(f"{path} cannot be read: {exc.strerror or exc}.", severity="error")
            return
        except UnicodeDecodeError:
            self.notify(f"{path} is not UTF-8 text.", severity="error")
            return
        defaults = self._composer_defaults()
        plan = batch.read_batch(content, path.name, defaults)
        found = await batch.survey(self.store, plan) if not plan.problems else None
        to_send = found.to_send if found is not None else []
        cost = estimate((item.request for item in to_send), self.prices)
        typical = await stats.typical_generation_times(self.store) if to_send else {}
        took = batch.duration_estimate(to_send, typical)
        shown_defaults = (f"{defaults.size} · {defaults.duration} s"
                          + (" · audio" if defaults.audio else "")
                          + (" · watermark" if defaults.watermark else "")
                          + " (the composer's settings)")
        choice = await self.pixverse.push_screen_wait(
            BatchScreen(plan, found, cost, took, shown_defaults))
        if choice != "send" or not to_send:
            return
        if self._submitting:
            self.notify("Still submitting; open the batch again when it is done.",
                        severity="warning")
            return
        if not await self._within_budget(cost):
            return
        self._submitting = True
        try:
            await self._send_batch(plan, len(to_send))
        finally:
            self._submitting = False
            self.call_later(self.refresh_budget)

    def _composer_defaults(self) -> GenerationRequest:
        draft = self.query_one(Composer).draft()
        base = draft.requests[0] if draft.requests else GenerationRequest("")
        return GenerationRequest("", size=base.size, duration=base.duration,
                                 audio=base.audio, watermark=base.watermark)

    async def _send_batch(self, plan: batch.BatchPlan, total: int) -> None:
        app = self.pixverse
        assert app.client is not None
        self.notify(f"Sending {plural(total, 'task')} from {printable(plan.name)}…", timeout=4)
        sent = 0
        refused = 0
        try:
            async for step in batch.send_batch(
                    self.store, app.client, plan,
                    first_poll_after=app.ws.poll_settings().first_poll):
                if not step.sent:
                    continue
                self.post_message(StoreChanged())
                if step.error is not None:
                    refused += 1
                    self._refused(step.error)
                    if step.stops:
                        self.notify("The rest of the batch was not sent; open it again to "
                                    "send it (nothing is sent twice).", severity="warning",
                                    timeout=15)
                        return
                    continue
                sent += 1
                await app.submitted()
        except CreatedButNotRecorded as exc:
            self.notify(str(exc), title="Not recorded", severity="error", timeout=60)
            return
        self.notify(f"Sent {plural(sent, 'task')} from {printable(plan.name)}"
                    + (f"; {refused} refused" if refused else "") + ".", timeout=6)


def _read_text(path: Path) -> str:
    if path.stat().st_size > batch.MAX_FILE:
        raise OSError(f"larger than {batch.MAX_FILE // 2**20} MB; split it")
    return path.read_text(encoding="utf-8")
