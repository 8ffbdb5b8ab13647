"""What the row keys do to generations — on the marked rows when there are any, else on
the highlighted one (or the one a full-screen view shows) — always saying the scope
before acting on many.

Each command reads the store and returns a plan (``tui.ui.commands.plans``): a
question and what to do with the answer, or a job to run now.  What the jobs
write reaches the table through the store, on the next refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from storage import TRASH_DAYS, Generation
from storage.records import LIVE
from tui.dashscope import DashScopeError, GenerationRequest
from tui.engine import operations
from tui.ui.commands import delivery
from tui.ui.commands.downloads import Downloads
from tui.ui.commands.plans import (
    AskText,
    Choose,
    Copy,
    Outlet,
    Plan,
    Run,
    Severity,
    ShowStats,
    plural,
)
from tui.ui.commands.queue import QueueCommands
from tui.ui.services import Services
from tui.ui.view.history import HistoryView

UNSAVEABLE = ("done", "expired", "refused", "trashed")

Resubmit = Callable[[list[GenerationRequest], list[str]], None]  # requests, warnings


@dataclass(frozen=True)
class Scope:
    """Whom a key is for, fixed when it is pressed: the highlighted row (or the task a
    full-screen view shows), the marks then, and the ids on the page."""

    row: Generation | None
    marks: frozenset[int] = frozenset()
    on_page: frozenset[int] = field(default_factory=frozenset)


class RowCommands:
    def __init__(self, services: Services, view: HistoryView, outlet: Outlet,
                 downloads: Downloads, resubmit: Resubmit) -> None:
        self.services = services
        self.view = view
        self.outlet = outlet
        self.downloads = downloads
        self.resubmit = resubmit
        self.forgotten: list[int] = []  # this session's, newest last: ctrl+z restores
        self.commands: dict[str, Callable[[Scope], Awaitable[Plan]]] = {
            "download": self.download, "download_all": self.download_all,
            "cancel": self.cancel, "rerun": self.rerun, "copy_url": self.copy_url,
            "resolve": self.resolve, "adopt_foreign": self.adopt_foreign,
            "favourite": self.favourite, "tags": self.tags, "note": self.note,
            "forget": self.forget, "undo_forget": self.undo_forget, "play": self.play,
            "stats": self.stats}
        self.queue = QueueCommands(services, outlet)
        self.commands.update({
            "pause": self._on_targets(self.queue.pause),
            "pause_queue": lambda _scope: self.queue.pause_queue(),
            "raise_priority": self._on_targets(lambda rows: self.queue.prioritise(rows, 1)),
            "lower_priority": self._on_targets(lambda rows: self.queue.prioritise(rows, -1)),
            "hold": self._on_targets(self.queue.hold),
            "move_up": self._on_targets(lambda rows: self.queue.move(rows, "up")),
            "move_down": self._on_targets(lambda rows: self.queue.move(rows, "down")),
            "move_top": self._on_targets(lambda rows: self.queue.move(rows, "top"))})

    def _on_targets(self, command: Callable[[list[Generation]], Awaitable[Plan]]
                    ) -> Callable[[Scope], Awaitable[Plan]]:
        """A command on the marked rows, else the highlighted one."""
        async def run(scope: Scope) -> Plan:
            return await command(await self.targets(scope))
        return run

    async def run(self, name: str, scope: Scope) -> Plan:
        """The plan for a row key — or, in a read-only dashboard, one sentence and none
        for what a viewer may not do (billed, destructive or written)."""
        if (refused := self.services.refused(f"row('{name}')")) is not None:
            self.notify(refused, severity="warning", timeout=5)
            return None
        return await self.commands[name](scope)

    def notify(self, message: str, *, title: str = "", severity: Severity = "information",
               timeout: float | None = None) -> None:
        self.outlet.notify(message, title=title, severity=severity, timeout=timeout)

    # -- whom a command is for -------------------------------------------------------

    async def targets(self, scope: Scope) -> list[Generation]:
        """The marked rows (wherever they are), else the highlighted one."""
        if scope.marks:  # forgotten since they were marked: out of scope (but in the trash)
            return [row for row in await self.services.db.generations.get_many(scope.marks)
                    if (row.forgotten_at is not None) == self.view.where.trash]
        return [] if scope.row is None else [scope.row]

    @staticmethod
    def elsewhere(rows: list[Generation], scope: Scope) -> str:
        """"(24 not on this page)" — the part of a scope the user cannot see."""
        hidden = sum(1 for row in rows if row.id not in scope.on_page)
        return f" ({hidden} not on this page)" if hidden else ""

    def on_many(self, rows: list[Generation], scope: Scope, question: str, yes: str,
                then: Callable[[], Awaitable[None]], group: str = "rows") -> Plan:
        """Act at once on one row; ask first when the marks make it several ("Cancel"
        has the focus)."""
        if len(rows) <= 1 and not scope.marks:
            return Run(then, group)

        async def chosen(answer: str) -> None:
            if answer == "yes":
                await then()

        return Choose(question + self.elsewhere(rows, scope) + "?",
                      [("cancel", "Cancel"), ("yes", yes)], "cancel", chosen, group)

    # -- downloads ----------------------------------------------------------------------

    async def download(self, scope: Scope) -> Plan:
        rows = await self.targets(scope)
        if self.services.in_browser:  # a saved video goes to the browser
            handed = delivery.to_browser(rows, self.outlet)
            if handed is not False:
                return None if handed is True else handed
        ready = [r for r in rows if r.status == "SUCCEEDED" and r.download_state not in
                 ("done", "expired", "refused")]
        if not ready:
            row = rows[0] if len(rows) == 1 else None
            if row is not None and row.download_state in ("expired", "refused"):
                self.notify(f"This video cannot be downloaded: {row.download_error}",
                            severity="warning")
            elif row is not None and row.status != "SUCCEEDED":
                self.notify(f"Only finished tasks can be downloaded (this one is "
                            f"{row.display_status}).", severity="warning")
            else:
                self.notify("Nothing to download: no finished video is waiting.", timeout=3)
            return None

        async def start() -> None:
            self.downloads.start_all(ready)

        return self.on_many(ready, scope, f"Download {plural(len(ready), 'finished video')}",
                            "Download", start)

    async def download_all(self, scope: Scope) -> Plan:
        """Every finished, not downloaded task the filter matches — not just this page."""
        rows = await self.services.db.downloads.unsaved(self.view.where)
        if not rows:
            self.notify("Every finished task here is already downloaded.", timeout=3)
            return None

        async def chosen(answer: str) -> None:
            if answer == "yes":
                self.downloads.start_all(rows)

        return Choose(f"Download {plural(len(rows), 'finished video')}"
                      f"{self.elsewhere(rows, scope)}?",
                      [("cancel", "Cancel"), ("yes", "Download")], "cancel", chosen)

    # -- the service ------------------------------------------------------------------

    async def cancel(self, scope: Scope) -> Plan:
        rows = await self.targets(scope)
        queued = [r for r in rows if r.queued]
        if queued:  # taken off the queue: free, nothing was sent
            async def take_off() -> None:
                gone = await self.services.db.queue.cancel([r.id for r in queued])
                self.notify(f"Took {plural(len(gone), 'task')} off the queue (nothing was "
                            "sent: nothing is billed).", timeout=4)
            return self.on_many(queued, scope, f"Take {plural(len(queued), 'queued task')} "
                                "off the queue (free: nothing was sent)", "Take them off",
                                take_off, group="cancel")
        pending = [r for r in rows if r.task_id and r.status in (None, "PENDING")]
        if not pending:
            reason = f" ({rows[0].display_status})" if len(rows) == 1 else ""
            self.notify(f"Only a PENDING (or QUEUED) task can be canceled{reason}.",
                        severity="warning")
            return None

        async def cancel() -> None:
            client = self.services.client
            assert client is not None
            done, failed = 0, []
            for row in pending:
                try:
                    await operations.cancel(self.services.db, client, row)
                    done += 1
                except (DashScopeError, operations.Refused) as exc:
                    failed.append(str(exc))
            if failed:
                self.notify(failed[0] + (f" (and {len(failed) - 1} more)" if len(failed) > 1
                                         else ""), title="Cancel failed", severity="error")
            if done:
                self.notify(f"Canceled {plural(done, 'task')}.", timeout=3)

        return self.on_many(pending, scope, f"Cancel {plural(len(pending), 'PENDING task')}",
                            "Cancel them", cancel, group="cancel")

    async def rerun(self, scope: Scope) -> Plan:
        """Submit again, same prompt, settings and seed — the marked FAILED ones, or the
        highlighted one — after asking (it is billed)."""
        rows = await self.targets(scope)
        if scope.marks:
            rows = [r for r in rows if r.status == "FAILED" or r.submission == "rejected"]
            if not rows:
                self.notify("None of the marked generations failed; only failed ones are "
                            "re-run from marks.", severity="warning")
                return None
        if not rows:
            return None
        requests, warnings = [], []
        for row in rows:
            try:
                request, more = operations.rerun_request(row)
            except operations.Refused as exc:
                self.notify(str(exc), title="Cannot re-run", severity="error")
                return None
            requests.append(request)
            warnings += more
        first = rows[0]
        if len(rows) == 1:
            seed = "a new random seed" if first.seed is None else f"seed {first.seed}"
            question = (f"Submit this prompt again ({first.size}, {first.duration} s, {seed})?"
                        "\nIt creates a new task, which is billed.\n\n"
                        + " ".join(first.prompt.split())[:200])
        else:
            question = (f"Submit {plural(len(rows), 'failed generation')} again, each with "
                        f"its own seed{self.elsewhere(rows, scope)}?\nEach creates a new "
                        "task, which is billed.")

        async def chosen(answer: str) -> None:
            if answer == "submit":
                self.resubmit(requests, warnings)

        return Choose(question, [("cancel", "Cancel"), ("submit", "Submit again (billed)")],
                      "cancel", chosen)

    async def copy_url(self, scope: Scope) -> Plan:
        from tui.engine.media.media_url import UrlPolicy, UrlRefused  # (each command its own)

        row = scope.row
        if row is None or not row.video_url:
            self.notify("This task has no video URL yet.", severity="warning")
            return None
        try:  # what is pasted into a shell must be a plain URL, nothing more
            UrlPolicy(self.services.ws.plain_http_origins).check(row.video_url)
        except UrlRefused as exc:
            self.notify(f"The video URL was not copied: {exc}.", severity="warning")
            return None
        return Copy(row.video_url, "Video URL copied to the clipboard.")

    async def resolve(self, scope: Scope) -> Plan:
        row = scope.row
        if row is None:
            return None
        # As the store has it now: the table's copy can lag a moment behind a change the
        # detail pane already shows (the send just marked UNCONFIRMED).
        row = await self.services.db.generations.get(row.id) or row
        if row.task_id and not row.terminal and row.next_poll_at is None:
            return Run(lambda: self._follow_again(row), "follow")  # given up on: try again
        if row.submission != "unconfirmed":
            self.notify("Only an UNCONFIRMED submission needs resolving.")
            return None

        async def chosen(answer: str) -> None:
            if answer == "search":
                await self._resolve(row)
            elif answer == "abandon":
                await operations.abandon(self.services.db, row)

        return Choose(
            "This submission got no clear answer, so a task may exist and be billed.\n"
            "Look for it on the service (recommended), or mark it as never created?",
            [("search", "Look for it"), ("close", "Later"), ("abandon", "Not created")],
            "search", chosen, group="resolve")

    async def _resolve(self, row: Generation) -> None:
        from tui.engine.submitting import resolve

        client = self.services.client
        assert client is not None
        self.notify("Looking for it in the service's task list…", timeout=3)
        [verdict] = await resolve.settle(self.services.db, client, [row])
        outcome = verdict.outcome
        if outcome is resolve.Outcome.FOUND and verdict.task is not None:
            self.notify(f"Found it: {verdict.task.task_id} ({verdict.evidence}).")
            self.services.wake_poller()
        elif outcome is resolve.Outcome.NONE:
            self.notify("The service has no task from the moment it was sent: nothing was "
                        "created, nothing is billed. Press u again to mark it as not "
                        "created.", timeout=15)
        elif outcome is resolve.Outcome.AMBIGUOUS:
            ids = ", ".join(t.task_id[:8] for t in verdict.candidates)
            self.notify(f"{len(verdict.candidates)} tasks could be it ({ids}); pick one with "
                        f"`pixverse-tui resolve {row.id} --task TASK_ID`.", timeout=20)
        else:
            self.notify(f"Could not settle it: {verdict.problem}.", severity="warning",
                        timeout=15)

    async def _follow_again(self, row: Generation) -> None:
        await self.services.db.following.resume(row.id)
        self.services.wake_poller()
        self.notify(f"Following {row.task_id} again.", timeout=3)

    async def adopt_foreign(self, scope: Scope) -> Plan:
        if not self.view.foreign:
            self.notify("No foreign tasks: every task the service runs for this key is "
                        "followed here.", timeout=4)
            return None
        return Run(self._adopt_foreign, "adopt")

    async def _adopt_foreign(self) -> None:
        from tui.engine.following.observe import adopt_foreign

        account, client = self.services.ws.account, self.services.client
        if account is None or client is None:
            return
        try:
            rows = await adopt_foreign(self.services.db, client, account)
        except DashScopeError as exc:
            self.notify(str(exc), title="Could not adopt", severity="error")
            return
        self.notify(f"Adopted {plural(len(rows), 'task')} made by other clients with this "
                    "key.", timeout=5)

    # -- the history ------------------------------------------------------------------

    async def favourite(self, scope: Scope) -> Plan:
        rows = await self.targets(scope)
        if not rows:
            return None
        star = not all(r.favourite for r in rows)

        async def apply() -> None:
            for row in rows:
                await self.services.db.history.set_favourite(row.id, star)

        return self.on_many(rows, scope,
                            f"{'Star' if star else 'Unstar'} {plural(len(rows), 'generation')}",
                            "Star" if star else "Unstar", apply, group="history")

    async def tags(self, scope: Scope) -> Plan:
        rows = await self.targets(scope)
        if not rows:
            return None
        store = self.services.db
        current = await store.history.tags_of(rows[0].id) if len(rows) == 1 else []
        question = "Tags (separated by spaces or commas):" if len(rows) == 1 else (
            f"Add tags to {plural(len(rows), 'generation')}{self.elsewhere(rows, scope)}:")

        async def save(answer: str) -> None:
            words = answer.replace(",", " ").split()
            for row in rows:
                keep = await store.history.tags_of(row.id) if len(rows) > 1 else []
                await store.history.set_tags(row.id, [*keep, *words])

        return AskText(question, save, " ".join(current), group="history")

    async def note(self, scope: Scope) -> Plan:
        row = scope.row
        if row is None:
            return None

        async def save(answer: str) -> None:
            await self.services.db.history.set_note(row.id, answer)

        return AskText("Note:", save, row.note or "", multiline=True, group="history")

    async def forget(self, scope: Scope) -> Plan:
        from tui.engine.history import trash

        rows = await self.targets(scope)
        if not rows:
            return None
        if all(r.forgotten_at is not None for r in rows):  # in the trash: x puts back
            for row in rows:
                self.outlet.spawn(self._undo_forget(row.id), group="forget")
            return None
        answers = [("keep", "Keep it" if len(rows) == 1 else "Keep them"),
                   ("forget", "Forget it" if len(rows) == 1 else "Forget them")]
        video = (trash.own_video(rows[0], self.services.ws.downloads_dir) if len(rows) == 1
                 else None)
        if video is not None:
            answers.append(("delete", "Forget it and its file"))
        team = self.services.db.shared  # a team's database: it forgets for everyone
        live = sum(1 for r in rows if r.display_status in LIVE)
        following = ("stops following it on every machine (it is not canceled)" if team
                     else "only stops following here")
        question = (f"{plural(live, 'task')} still run{'s' if live == 1 else ''} on the "
                    f"service; forgetting {following}.\n" if live else "")
        what = "this generation" if len(rows) == 1 else plural(len(rows), "generation")
        if team:
            it, leaves = ("It", "leaves") if len(rows) == 1 else ("They", "leave")
            question += (f"Forget {what}{self.elsewhere(rows, scope)} for the whole team? "
                         f"{it} {leaves} every machine's history for the trash of the team "
                         f"database (ctrl+z brings {it.lower()} back for everyone; the trash "
                         f"is emptied after {TRASH_DAYS} days).\n")
        else:
            question += (f"Forget {what}{self.elsewhere(rows, scope)}? It goes to the trash "
                         f"(ctrl+z brings it back; the trash is emptied after {TRASH_DAYS} "
                         "days).\n")
        if video is not None:
            question += f"Its file{' on this machine' if team else ''}: {video}\n"
        if len(rows) == 1:
            question += "\n" + " ".join(rows[0].prompt.split())[:200]

        async def chosen(answer: str) -> None:
            if answer in ("forget", "delete"):
                await self._forget(rows, with_file=answer == "delete")

        return Choose(question, answers, "keep", chosen, group="forget")

    async def _forget(self, rows: list[Generation], *, with_file: bool) -> None:
        from tui.engine.history import trash

        for row in rows:
            try:
                await trash.forget(self.services.db, row, self.services.ws.folders,
                                   with_file=with_file)
            except OSError as exc:
                self.notify(f"Could not move {row.download_path} to the trash: "
                            f"{exc.strerror or exc}; it was not forgotten.", severity="error")
                continue
            self.forgotten.append(row.id)
            self.view.marks.discard(row.id)
        what = "it" if len(rows) == 1 else "them"
        everyone = " for the whole team" if self.services.db.shared else ""
        self.notify(f"Forgotten{everyone}{' (its file is in the trash)' if with_file else ''}."
                    f" Press ctrl+z to bring {what} back.", timeout=6)

    async def undo_forget(self, scope: Scope) -> Plan:
        if not self.forgotten:
            self.notify("Nothing to bring back (the filter in:trash shows the trash; x there "
                        "restores).", timeout=5)
            return None
        generation_id = self.forgotten.pop()
        return Run(lambda: self._undo_forget(generation_id), "forget")

    async def _undo_forget(self, generation_id: int) -> None:
        from tui.engine.history import trash

        try:
            row = await trash.restore(self.services.db, generation_id,
                                      self.services.ws.folders)
        except OSError as exc:
            self.notify(f"Restored, but its file could not be moved back: "
                        f"{exc.strerror or exc}", severity="warning")
            row = await self.services.db.generations.get(generation_id)
        if generation_id in self.forgotten:
            self.forgotten.remove(generation_id)
        if row is not None:
            self.notify(f"Brought back #{row.id}.", timeout=3)

    async def play(self, scope: Scope) -> Plan:
        """Open the downloaded video in the user's player."""
        from tui.engine.media import player

        row = scope.row
        if row is None:
            return None
        if row.download_state != "done" or not row.download_path:
            self.notify("Download it first (d): only a saved video can be played.",
                        severity="warning")
            return None
        try:
            player.play(Path(row.download_path),
                        self.services.ws.settings.get("player", "command"))
        except player.NoPlayer as exc:
            self.notify(f"{exc}.", severity="warning", timeout=8)
        except OSError as exc:
            self.notify(f"The player could not start: {exc.strerror or exc}.",
                        severity="error")
        return None

    async def stats(self, scope: Scope) -> Plan:
        from tui.engine.history import stats

        settings = self.services.ws.settings
        return ShowStats(await stats.compute(self.services.db, settings.section("prices"),
                                             budget=settings.section("budget")))
