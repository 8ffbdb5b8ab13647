"""What the table's keys do to generations — on the marked rows when there are any,
else on the highlighted one — always saying the scope before acting on many.

Mixed into ``MainScreen``, which owns the table, the marks and the services.
Workers here only talk to the store and the service; what changed reaches the
table through the store, on the next refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.screen import Screen

from storage import Generation, StoreError, TaskStore
from storage.history import HistoryFilter
from storage.store import TRASH_DAYS
from tui.dashscope import DashScopeError
from tui.engine import operations, player, resolve, stats, trash
from tui.engine.download import DownloadBusy, DownloadError
from tui.engine.media_url import UrlPolicy, UrlRefused
from tui.engine.observe import adopt_foreign
from tui.ui import delivery
from tui.ui.messages import StoreChanged
from tui.ui.screens.ask import AskScreen
from tui.ui.screens.choice import ChoiceScreen
from tui.ui.screens.stats import StatsScreen
from tui.ui.tolerant import tolerant
from tui.ui.widgets.composer import Composer, Draft

if TYPE_CHECKING:
    from tui.ui.app import PixverseApp
    from tui.ui.widgets.task_table import TaskTable

UNSAVEABLE = ("done", "expired", "refused", "trashed")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class RowActions(Screen[None]):
    """The row keys, for a screen that provides the table, the store and the marks."""

    marks: set[int]
    where: HistoryFilter
    _downloading: set[int]
    _forgotten: list[int]
    _saved_in_burst: int

    @property
    def pixverse(self) -> PixverseApp:
        return cast("PixverseApp", self.app)

    @property
    def table(self) -> TaskTable:
        raise NotImplementedError

    @property
    def store(self) -> TaskStore:
        raise NotImplementedError

    def refresh_soon(self) -> None:
        raise NotImplementedError

    def start_submission(self, draft: Draft, *, from_composer: bool) -> None:
        raise NotImplementedError

    # -- whom an action is for ---------------------------------------------------------

    _shown_elsewhere: Generation | None = None  # the task a full-screen view acts on

    def highlighted(self) -> Generation | None:
        if self._shown_elsewhere is not None:
            return self._shown_elsewhere
        return self.table.rows_by_id.get(self.table.highlighted_id or -1)

    async def act_on(self, row: Generation, action: str) -> None:
        """Run a row key's action on ``row`` (the task a full-screen view shows) — not
        on the table's highlighted row, nor on the marks."""
        self._shown_elsewhere = row
        try:
            result: Any = getattr(self, f"action_{action}")()
            if result is not None and hasattr(result, "__await__"):
                await result
        finally:
            self._shown_elsewhere = None

    async def targets(self) -> list[Generation]:
        """The marked rows (wherever they are), else the highlighted one."""
        if self._shown_elsewhere is not None:
            return [self._shown_elsewhere]
        if self.marks:  # forgotten since they were marked: out of scope (but in the trash)
            return [row for row in await self.store.get_many(self.marks)
                    if (row.forgotten_at is not None) == self.where.trash]
        row = self.highlighted()
        return [] if row is None else [row]

    def elsewhere(self, rows: list[Generation]) -> str:
        """"(24 not on this page)" — the part of a scope the user cannot see."""
        hidden = sum(1 for row in rows if row.id not in self.table.rows_by_id)
        return f" ({hidden} not on this page)" if hidden else ""

    def confirm(self, question: str, yes: str, then: Callable[[], object]) -> None:
        """Ask before acting on many rows; "Cancel" has the focus."""
        def chosen(answer: str | None) -> None:
            if answer == "yes":
                then()

        self.pixverse.push_screen(ChoiceScreen(question, [("cancel", "Cancel"), ("yes", yes)],
                                               safe="cancel"), chosen)

    def on_many(self, rows: list[Generation], question: str, yes: str,
                then: Callable[[], object]) -> None:
        """Act at once on one row; ask first when the marks make it several."""
        if len(rows) <= 1 and not self.marks:
            then()
        else:
            self.confirm(question + self.elsewhere(rows) + "?", yes, then)

    # -- marks --------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        self.marks.symmetric_difference_update({row.id})
        self.table.refresh_rows({row.id})
        self.refresh_soon()

    @tolerant
    async def action_mark_all(self) -> None:
        """Mark everything the filter matches, on every page."""
        ids = await self.store.matching_all(self.where)
        self.marks.update(ids)
        self.table.refresh_rows(set(ids) & set(self.table.rows_by_id))
        self.notify(f"Marked {plural(len(ids), 'generation')} (esc clears the marks).",
                    timeout=3)
        self.refresh_soon()

    def action_clear_marks(self) -> None:
        if not self.marks:
            return
        shown = self.marks & set(self.table.rows_by_id)
        self.marks.clear()
        self.table.refresh_rows(shown)
        self.refresh_soon()

    # -- downloads --------------------------------------------------------------------

    @tolerant
    async def action_download(self) -> None:
        rows = await self.targets()
        if delivery.offer_saved(self.pixverse, rows):  # in a browser: a saved video goes to it
            return
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
            return
        self.on_many(ready, f"Download {plural(len(ready), 'finished video')}", "Download",
                     lambda: self.download_all(ready))

    @tolerant
    async def action_download_all(self) -> None:
        """Every finished, not downloaded task the filter matches — not just this page."""
        rows = await self.store.not_downloaded_matching(self.where)
        if not rows:
            self.notify("Every finished task here is already downloaded.", timeout=3)
            return
        self.confirm(f"Download {plural(len(rows), 'finished video')}{self.elsewhere(rows)}?",
                     "Download", lambda: self.download_all(rows))

    def download_all(self, rows: list[Generation]) -> None:
        if len(rows) > 1:
            self.notify(f"Downloading {plural(len(rows), 'video')}…", timeout=3)
        self._saved_in_burst = 0
        for row in rows:
            self.download(row.id, quiet=len(rows) > 1)

    def download(self, generation_id: int, *, quiet: bool = False) -> None:
        if generation_id in self._downloading:
            return
        self._downloading.add(generation_id)
        self.run_worker(self._download_one(generation_id, quiet), group="downloads",
                        exit_on_error=False, name=f"download #{generation_id}")

    async def _download_one(self, generation_id: int, quiet: bool) -> None:
        app = self.pixverse
        assert app.downloader is not None
        try:
            row = await self.store.get(generation_id)
            if row is None:
                return
            done = await app.downloader.download(row)
            self._saved_in_burst += 1
            if not quiet:
                self.notify(f"Saved {done.download_path}", title="Downloaded")
        except DownloadBusy as exc:
            self.notify(str(exc), title="Already downloading", timeout=5)
        except DownloadError as exc:
            hint = " Press d to try again (it resumes)." if exc.retryable else ""
            self.notify(str(exc) + hint, title="Download failed", severity="error",
                        timeout=10)
        except StoreError as exc:
            self.notify(str(exc), title="Download not recorded", severity="error", timeout=10)
        finally:
            self._downloading.discard(generation_id)
            if quiet and not self._downloading and self._saved_in_burst:
                self.notify(f"Saved {plural(self._saved_in_burst, 'video')} in "
                            f"{app.downloader.folder}.", title="Downloaded")
                self._saved_in_burst = 0
            self.post_message(StoreChanged())

    # -- the service ------------------------------------------------------------------

    @tolerant
    async def action_cancel_task(self) -> None:
        rows = await self.targets()
        pending = [r for r in rows if r.task_id and r.status in (None, "PENDING")]
        if not pending:
            reason = "" if not rows else f" ({rows[0].display_status})" if len(rows) == 1 \
                else ""
            self.notify(f"Only a PENDING task can be canceled{reason}.", severity="warning")
            return
        self.on_many(pending, f"Cancel {plural(len(pending), 'PENDING task')}",
                     "Cancel them", lambda: self._cancel(pending))

    @work(group="cancel", exclusive=False, exit_on_error=False)
    async def _cancel(self, rows: list[Generation]) -> None:
        client = self.pixverse.client
        assert client is not None
        done, failed = 0, []
        for row in rows:
            try:
                await operations.cancel(self.store, client, row)
                done += 1
            except (DashScopeError, operations.Refused) as exc:
                failed.append(str(exc))
        if failed:
            self.notify(failed[0] + (f" (and {len(failed) - 1} more)" if len(failed) > 1
                                     else ""), title="Cancel failed", severity="error")
        if done:
            self.notify(f"Canceled {plural(done, 'task')}.", timeout=3)
        self.post_message(StoreChanged())

    def action_reuse(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        self.query_one(Composer).reuse(row)
        self.notify("Prompt and settings loaded into the composer (same seed).", timeout=3)

    @tolerant
    async def action_rerun(self) -> None:
        """Submit again, same prompt, settings and seed — the marked FAILED ones, or the
        highlighted one — after asking (it is billed)."""
        rows = await self.targets()
        if self.marks:
            rows = [r for r in rows if r.status == "FAILED" or r.submission == "rejected"]
            if not rows:
                self.notify("None of the marked generations failed; only failed ones are "
                            "re-run from marks.", severity="warning")
                return
        if not rows:
            return
        requests, warnings = [], []
        for row in rows:
            try:
                request, more = operations.rerun_request(row)
            except operations.Refused as exc:
                self.notify(str(exc), title="Cannot re-run", severity="error")
                return
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
                        f"its own seed{self.elsewhere(rows)}?\nEach creates a new task, which "
                        "is billed.")

        def chosen(answer: str | None) -> None:
            if answer == "submit":
                self.start_submission(Draft(requests, [], warnings), from_composer=False)

        self.pixverse.push_screen(ChoiceScreen(
            question, [("cancel", "Cancel"), ("submit", "Submit again (billed)")],
            safe="cancel"), chosen)

    def action_copy_url(self) -> None:
        row = self.highlighted()
        if row is None or not row.video_url:
            self.notify("This task has no video URL yet.", severity="warning")
            return
        try:  # what is pasted into a shell must be a plain URL, nothing more
            UrlPolicy(self.pixverse.ws.plain_http_origins).check(row.video_url)
        except UrlRefused as exc:
            self.notify(f"The video URL was not copied: {exc}.", severity="warning")
            return
        self.pixverse.copy_to_clipboard(row.video_url)
        self.notify("Video URL copied to the clipboard.", timeout=3)

    def action_resolve(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        if row.task_id and not row.terminal and row.next_poll_at is None:
            self._follow_again(row)  # a task given up on: the user asks to try again
            return
        if row.submission != "unconfirmed":
            self.notify("Only an UNCONFIRMED submission needs resolving.")
            return

        def chosen(answer: str | None) -> None:
            if answer == "search":
                self._resolve(row)
            elif answer == "abandon":
                self._abandon(row)

        self.pixverse.push_screen(ChoiceScreen(
            "This submission got no clear answer, so a task may exist and be billed.\n"
            "Look for it on the service (recommended), or mark it as never created?",
            [("search", "Look for it"), ("close", "Later"), ("abandon", "Not created")],
            safe="search"), chosen)

    @work(group="resolve", exclusive=True, exit_on_error=False)
    async def _resolve(self, row: Generation) -> None:
        client = self.pixverse.client
        assert client is not None
        self.notify("Looking for it in the service's task list…", timeout=3)
        [verdict] = await resolve.settle(self.store, client, [row])
        outcome = verdict.outcome
        if outcome is resolve.Outcome.FOUND and verdict.task is not None:
            self.notify(f"Found it: {verdict.task.task_id} ({verdict.evidence}).")
            self.pixverse.wake_poller()
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
        self.post_message(StoreChanged())

    @work(group="follow", exclusive=False, exit_on_error=False)
    async def _follow_again(self, row: Generation) -> None:
        await self.store.follow_again(row.id)
        self.pixverse.wake_poller()
        self.notify(f"Following {row.task_id} again.", timeout=3)
        self.post_message(StoreChanged())

    @work(group="resolve", exclusive=True, exit_on_error=False)
    async def _abandon(self, row: Generation) -> None:
        await operations.abandon(self.store, row)
        self.post_message(StoreChanged())

    def action_adopt_foreign(self) -> None:
        if not self.pixverse.foreign:
            self.notify("No foreign tasks: every task the service runs for this key is "
                        "followed here.", timeout=4)
            return
        self._adopt_foreign()

    @work(group="adopt", exclusive=True, exit_on_error=False)
    async def _adopt_foreign(self) -> None:
        app = self.pixverse
        account = app.ws.account
        if account is None or app.client is None:
            return
        try:
            rows = await adopt_foreign(self.store, app.client, account)
        except DashScopeError as exc:
            self.notify(str(exc), title="Could not adopt", severity="error")
            return
        self.notify(f"Adopted {plural(len(rows), 'task')} made by other clients with this "
                    "key.", timeout=5)
        self.post_message(StoreChanged())

    # -- the history ------------------------------------------------------------------

    @tolerant
    async def action_favourite(self) -> None:
        rows = await self.targets()
        if not rows:
            return
        star = not all(r.favourite for r in rows)

        async def apply() -> None:
            for row in rows:
                await self.store.set_favourite(row.id, star)
            self.refresh_soon()

        self.on_many(rows, f"{'Star' if star else 'Unstar'} {plural(len(rows), 'generation')}",
                     "Star" if star else "Unstar", lambda: self._run(apply))

    @tolerant
    async def action_tags(self) -> None:
        rows = await self.targets()
        if not rows:
            return
        current = await self.store.tags_of(rows[0].id) if len(rows) == 1 else []
        question = "Tags (separated by spaces or commas):" if len(rows) == 1 else (
            f"Add tags to {plural(len(rows), 'generation')}{self.elsewhere(rows)}:")

        async def save(answer: str | None) -> None:
            if answer is None:
                return
            words = answer.replace(",", " ").split()
            for row in rows:
                keep = await self.store.tags_of(row.id) if len(rows) > 1 else []
                await self.store.set_tags(row.id, [*keep, *words])
            self.refresh_soon()

        self.pixverse.push_screen(AskScreen(question, " ".join(current)), save)

    def action_note(self) -> None:
        row = self.highlighted()
        if row is None:
            return

        async def save(answer: str | None) -> None:
            if answer is not None:
                await self.store.set_note(row.id, answer)
                self.refresh_soon()

        self.pixverse.push_screen(AskScreen("Note:", row.note or "", multiline=True), save)

    @tolerant
    async def action_forget(self) -> None:
        rows = await self.targets()
        if not rows:
            return
        if all(r.forgotten_at is not None for r in rows):  # in the trash: x puts back
            for row in rows:
                self._undo_forget(row.id)
            return
        answers = [("keep", "Keep it" if len(rows) == 1 else "Keep them"),
                   ("forget", "Forget it" if len(rows) == 1 else "Forget them")]
        video = trash.own_video(rows[0]) if len(rows) == 1 else None
        if video is not None:
            answers.append(("delete", "Forget it and its file"))
        live = sum(1 for r in rows if r.display_status in ("PENDING", "RUNNING", "SUSPENDED"))
        question = (f"{plural(live, 'task')} still run{'s' if live == 1 else ''} on the "
                    "service; forgetting only stops following here.\n" if live else "")
        what = "this generation" if len(rows) == 1 else plural(len(rows), "generation")
        question += (f"Forget {what}{self.elsewhere(rows)}? It goes to the trash (ctrl+z "
                     f"brings it back; the trash is emptied after {TRASH_DAYS} days).\n")
        if video is not None:
            question += f"Its file: {video}\n"
        if len(rows) == 1:
            question += "\n" + " ".join(rows[0].prompt.split())[:200]

        def chosen(answer: str | None) -> None:
            if answer in ("forget", "delete"):
                self._forget(rows, with_file=answer == "delete")

        self.pixverse.push_screen(ChoiceScreen(question, answers, safe="keep"), chosen)

    @work(group="forget", exclusive=False, exit_on_error=False)
    async def _forget(self, rows: list[Generation], *, with_file: bool) -> None:
        for row in rows:
            try:
                await trash.forget(self.store, row, self.pixverse.ws.paths.trash_dir,
                                   with_file=with_file)
            except OSError as exc:
                self.notify(f"Could not move {row.download_path} to the trash: "
                            f"{exc.strerror or exc}; it was not forgotten.", severity="error")
                continue
            self._forgotten.append(row.id)
            self.marks.discard(row.id)
        what = "it" if len(rows) == 1 else "them"
        self.notify(f"Forgotten{' (its file is in the trash)' if with_file else ''}. Press "
                    f"ctrl+z to bring {what} back.", timeout=6)
        self.post_message(StoreChanged())

    def action_undo_forget(self) -> None:
        if not self._forgotten:
            self.notify("Nothing to bring back (the filter in:trash shows the trash; x there "
                        "restores).", timeout=5)
            return
        self._undo_forget(self._forgotten.pop())

    @work(group="forget", exclusive=False, exit_on_error=False)
    async def _undo_forget(self, generation_id: int) -> None:
        try:
            row = await trash.restore(self.store, generation_id)
        except OSError as exc:
            self.notify(f"Restored, but its file could not be moved back: "
                        f"{exc.strerror or exc}", severity="warning")
            row = await self.store.get(generation_id)
        if generation_id in self._forgotten:
            self._forgotten.remove(generation_id)
        if row is not None:
            self.notify(f"Brought back #{row.id}.", timeout=3)
        self.post_message(StoreChanged())

    def action_play(self) -> None:
        """Open the downloaded video in the user's player."""
        row = self.highlighted()
        if row is None:
            return
        if row.download_state != "done" or not row.download_path:
            self.notify("Download it first (d): only a saved video can be played.",
                        severity="warning")
            return
        try:
            player.play(Path(row.download_path),
                        self.pixverse.ws.settings.get("player", "command"))
        except player.NoPlayer as exc:
            self.notify(f"{exc}.", severity="warning", timeout=8)
        except OSError as exc:
            self.notify(f"The player could not start: {exc.strerror or exc}.",
                        severity="error")

    @tolerant
    async def action_stats(self) -> None:
        settings = self.pixverse.ws.settings
        figures = await stats.compute(self.store, settings.section("prices"),
                                      budget=settings.section("budget"))
        self.pixverse.push_screen(StatsScreen(figures))

    def _run(self, job: Callable[[], Awaitable[None]]) -> None:
        self.run_worker(job(), group="history", exit_on_error=False)
