"""Sending from the dashboard: the composer's prompt (a template, variations), a re-run,
a batch file — counted, priced and held against the budgets before anything goes out,
then queued: a prompt ahead of batch lines, sent at once when the account has room; a
batch file's lines as it has room (docs/queue.md).

The same engine operations as the command line (``batch``, ``prices``,
``submit``), so the two cannot drift apart.  Every billed step is a question
whose focused answer is the harmless one.  The questions come through
``Questions`` (the screen's dialogs), so the flow itself needs no Textual; it
runs in the screen's workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from storage import Generation, StoreError
from storage.clock import utc_now
from tui.engine.submitting.prices import BudgetState, Estimate, Prices, budget_state, estimate
from tui.safe_text import printable
from tui.text_input import BadText
from tui.ui.commands.plans import Outlet, plural
from tui.ui.services import Services

if TYPE_CHECKING:  # (each imported where it is used: sending, batch files)
    from tui.dashscope import GenerationRequest
    from tui.engine.submitting import batch

OVERRIDE = "choose Send anyway"


@dataclass(frozen=True)
class Draft:
    """What the composer would submit, or why it cannot."""

    requests: list[GenerationRequest]  # empty unless expanded (and within the cap)
    problems: list[str]
    warnings: list[str]
    prompts: int = 1  # prompts the template makes (× variations = count)
    needs: tuple[str, ...] = ()  # template variables still without a value
    cost: Estimate | None = None
    text: str = ""  # the prompt as typed (a template, before it is expanded)
    count: int = 1  # tasks it would make: counted, never built to count them

    @property
    def template(self) -> bool:
        return self.prompts > 1 or bool(self.needs)


@dataclass(frozen=True)
class Sent:
    count: int
    from_composer: bool
    prompt: str  # what was sent: the composer clears only that
    waiting: int = 0  # of ``count``, those that wait in the queue (no room yet, or paused)


class Questions(Protocol):
    """The dialogs, as questions a worker can await."""

    async def choose(self, question: str, answers: list[tuple[str, str]], *,
                     safe: str) -> str | None: ...

    async def text(self, question: str, initial: str = "") -> str | None: ...

    async def batch(self, plan: batch.BatchPlan, found: batch.Survey | None,
                    cost: Estimate | None, took: float, defaults: str) -> bool: ...


class Composing(Protocol):
    """The composer, as the flow sees it (template values, a fresh draft)."""

    values: dict[str, str]

    def draft(self) -> Draft: ...

    def refresh_state(self) -> None: ...


class SubmitFlow:
    def __init__(self, services: Services, outlet: Outlet) -> None:
        self.services = services
        self.outlet = outlet
        self.busy = False  # one submission at a time
        self.last_batch_file = ""

    # -- prices and budgets ------------------------------------------------------------

    @property
    def prices(self) -> Prices:
        return Prices.from_settings(self.services.ws.settings.section("prices"))

    @property
    def max_tasks(self) -> int:
        """[batch] max_tasks: what one submission (a template, a batch file) may make."""
        return int(self.services.ws.settings.get("batch", "max_tasks"))

    async def budget_now(self) -> BudgetState:
        return await budget_state(self.services.db, self.prices,
                                  self.services.ws.settings.section("budget"), utc_now())

    async def within_budget(self, cost: Estimate, ask: Questions) -> bool | None:
        """True when ``cost`` fits every budget, None when the user chose to go over it,
        False when not."""
        refusal = (await self.budget_now()).refusal(cost, OVERRIDE)
        if refusal is None:
            return True
        answer = await ask.choose(printable(refusal[0].upper() + refusal[1:]) + ".",
                                  [("cancel", "Don't send"), ("send", "Send anyway (billed)")],
                                  safe="cancel")
        return None if answer == "send" else False

    # -- the composer ---------------------------------------------------------------------

    def acceptable(self, draft: Draft) -> bool:
        """Whether a draft may go on to its questions (else one sentence why not)."""
        if draft.problems:
            self.outlet.notify(" ".join(draft.problems), title="Cannot submit",
                               severity="error")
            return False
        if self.busy:
            self.outlet.notify("Still submitting the previous prompt.", severity="warning")
            return False
        return True

    async def confirm(self, draft: Draft, ask: Questions, composer: Composing) -> Draft | None:
        """Fill the template's variables, ask above the cap: what to send, or None."""
        for name in draft.needs:
            value = await ask.text(f"Template: a value for {{{name}}} (a|b gives alternatives)")
            if value is None:
                return None
            composer.values[name] = value
        if draft.needs:
            draft = composer.draft()
            composer.refresh_state()
            if draft.problems:
                self.outlet.notify(" ".join(draft.problems), title="Cannot submit",
                                   severity="error")
                return None
        cap = int(self.services.ws.settings.get("batch", "ask_above") or 50)
        count = len(draft.requests)
        if count > cap:
            prompts = list(dict.fromkeys(r.prompt for r in draft.requests))
            listed = "\n".join(f"  {' '.join(p.split())[:90]}" for p in prompts[:8])
            more = f"\n  … and {len(prompts) - 8} more" if len(prompts) > 8 else ""
            cost = draft.cost.sentence() if draft.cost is not None else ""
            answer = await ask.choose(
                f"Send {count} tasks ({len(prompts)} prompts)? Each one is billed; {cost}."
                f"\n\n{listed}{more}", [("cancel", "Cancel"), ("send", f"Send {count}")],
                safe="cancel")
            if answer != "send":
                return None
        return draft

    def claim(self) -> bool:
        """Start a submission: False (and a sentence) while another one runs."""
        if self.busy:
            self.outlet.notify("Still submitting the previous prompt.", severity="warning")
            return False
        self.busy = True
        return True

    async def send(self, draft: Draft, from_composer: bool, ask: Questions) -> Sent | None:
        """Queue a claimed draft ahead of batch lines (``queue.PROMPT``) and send it now as
        the account has room, each task once; what was queued, unless it was refused."""
        from tui.engine.submitting import queue  # (with the feeder: after the first paint)
        from tui.engine.submitting.submit import CreatedButNotRecorded, record_first

        client = self.services.client
        assert client is not None
        queued = None
        try:
            fits = await self.within_budget(estimate(draft.requests, self.prices), ask)
            if fits is False:
                return None
            queued = await record_first(queue.enqueue_requests(
                self.services.db, client.base_url, draft.requests, priority=queue.PROMPT))
            await self.services.send_queued(list(queued.queued), over_budget=fits is None)
            rows = await self.services.db.generations.get_many(queued.queued)
            for row in rows:
                if row.display_status in ("REJECTED", "UNCONFIRMED") or (
                        row.queued and (row.submission_note or "").startswith("not sent:")):
                    self._told(row)
                    return None
            waiting = sum(1 for row in rows if row.queued)  # no room yet: first in line
            return Sent(len(rows), from_composer, draft.text or draft.requests[0].prompt,
                        waiting)
        except CreatedButNotRecorded as exc:
            self.outlet.notify(str(exc), title="Not recorded", severity="error", timeout=60)
            return None
        except StoreError as exc:
            if queued is None:  # before anything was queued: the budget, the intent
                self._not_sent(exc)
                return None
            # Queued, not sent: whoever feeds the queue sends it once the database answers.
            self.outlet.notify(f"Queued, not sent yet: the database did not answer "
                               f"({printable(str(exc))}); it is sent once it does.",
                               title="Waiting for the database", severity="warning",
                               timeout=15)
            return Sent(len(queued.queued), from_composer,
                        draft.text or draft.requests[0].prompt, len(queued.queued))
        finally:
            self.busy = False

    def _not_sent(self, exc: StoreError) -> None:
        """The database failed before anything was queued: one sentence, the prompt kept."""
        from tui.engine.submitting.submit import IntentNotRecorded

        cause = exc.cause if isinstance(exc, IntentNotRecorded) else exc
        self.outlet.notify(f"Nothing was sent: the database could not record the intent "
                           f"first ({printable(str(cause))}). Submit again once it answers.",
                           title="Not sent", severity="error", timeout=15)

    def _told(self, row: Generation) -> None:
        """What became of a row that was not created: refused, or back in the queue
        because the service refused the account.  (One in doubt is told by the follower,
        as every create in doubt is, whichever process sent it: once.)"""
        if row.display_status == "UNCONFIRMED":
            return
        if row.display_status == "REJECTED":
            self.outlet.notify(f"{row.error_code or ''}: {row.error_message or ''}".strip(": "),
                               title="Refused", severity="error", timeout=10)
        else:
            self.outlet.notify(f"{row.submission_note}; it waits in the queue, which is "
                               "paused (the status bar says why).", title="Not sent",
                               severity="error", timeout=15)

    # -- batch files ------------------------------------------------------------------------

    async def open_batch(self, ask: Questions, composer: Composing) -> None:
        """Ask for a file, show what it would send, send it as one batch if told to."""
        from tui.engine.history import stats
        from tui.engine.submitting import batch

        tell = self.outlet.notify
        answer = await ask.text("Batch file (one prompt per line, or JSON Lines):",
                                self.last_batch_file)
        if not answer or not answer.strip():
            return
        self.last_batch_file = answer.strip()
        path = Path(answer.strip()).expanduser()
        try:
            content = await asyncio.to_thread(_read_text, path)
        except OSError as exc:
            tell(f"{path} cannot be read: {exc.strerror or exc}.", severity="error")
            return
        except BadText as exc:  # not UTF-8 (named by line), or too large
            tell(f"{exc}.", severity="error")
            return
        store = self.services.db
        defaults = _defaults(composer.draft())
        plan = batch.read_batch(content, path.name, defaults, cap=self.max_tasks)
        found = await batch.survey(store, plan) if not plan.problems else None
        to_send = found.to_send if found is not None else []
        cost = estimate((item.request for item in to_send), self.prices)
        typical = await stats.typical_generation_times(store) if to_send else {}
        took = batch.duration_estimate(to_send, typical)
        shown_defaults = (f"{defaults.size} · {defaults.duration} s"
                          + (" · audio" if defaults.audio else "")
                          + (" · watermark" if defaults.watermark else "")
                          + " (the composer's settings)")
        if not await ask.batch(plan, found, cost, took, shown_defaults) or not to_send:
            return
        if self.busy:
            tell("Still submitting; open the batch again when it is done.", severity="warning")
            return
        if await self.within_budget(cost, ask) is False:
            return
        self.busy = True
        try:
            await self._queue_batch(plan)
        finally:
            self.busy = False

    async def _queue_batch(self, plan: batch.BatchPlan) -> None:
        """Queue the lines (behind prompts typed here: ``queue.BATCH``); whoever polls the
        account sends them as it has room."""
        from tui.engine.submitting import queue
        from tui.engine.submitting.submit import record_first

        client = self.services.client
        assert client is not None
        try:
            queued = await record_first(queue.enqueue_plan(self.services.db, client.base_url,
                                                           plan, priority=queue.BATCH))
        except StoreError as exc:  # nothing queued: open the batch again
            self._not_sent(exc)
            return
        await self.services.submitted()
        self.outlet.notify(f"Queued {plural(len(queued.queued), 'task')} from "
                           f"{printable(plan.name)}: sent as the account has room (p pauses "
                           "the batch).", timeout=6)


def _defaults(draft: Draft) -> GenerationRequest:
    """The composer's settings, for the lines of a batch file that do not say."""
    from tui.dashscope import GenerationRequest

    base = draft.requests[0] if draft.requests else GenerationRequest("")
    return GenerationRequest("", size=base.size, duration=base.duration, audio=base.audio,
                             watermark=base.watermark)


def _read_text(path: Path) -> str:
    from tui.engine.submitting import batch

    return batch.read_file(path)  # decoded as the command line decodes it
