"""What the queue keys do — pause and resume a batch or the whole queue, raise or lower a
priority, hold, move — on the marked rows, else the highlighted one.

Part of the row commands (``RowCommands`` holds one and lists its commands): each
reads the store and returns a plan; the jobs call the store's queue, and what they
write reaches the table by the change feed.  Pausing a batch whose tasks still wait at
the service offers to take them back — a question whose focused answer leaves them.
"""

from __future__ import annotations

from storage import Generation
from tui.dashscope import DashScopeError
from tui.ui.commands.plans import Choose, Outlet, Plan, Run, plural
from tui.ui.services import Services

NOT_QUEUED = ("Only what waits in the queue (QUEUED) can be {what}; this is {status}.")


def batches_said(count: int) -> str:
    return f"{count} batch{'' if count == 1 else 'es'}"


class QueueCommands:
    def __init__(self, services: Services, outlet: Outlet) -> None:
        self.services = services
        self.outlet = outlet

    def _queued(self, rows: list[Generation], what: str) -> list[Generation]:
        queued = [row for row in rows if row.queued]
        if not queued and rows:
            status = rows[0].display_status if len(rows) == 1 else "not queued"
            self.outlet.notify(NOT_QUEUED.format(what=what, status=status), severity="warning",
                               timeout=4)
        return queued

    # -- pausing --------------------------------------------------------------------------

    async def pause(self, rows: list[Generation]) -> Plan:
        """``p``: pause (or resume) the batch of the rows — or, outside any batch, the
        whole queue."""
        batches = sorted({row.batch_id for row in rows if row.batch_id is not None})
        if not batches:
            return await self.pause_queue()
        store = self.services.db
        paused = {p.batch_id for p in await store.queue.pauses()}
        if all(b in paused for b in batches):
            async def resume() -> None:
                for batch_id in batches:
                    await store.queue.resume(batch_id)
                self.outlet.notify(f"Resumed {batches_said(len(batches))}: "
                                   "its queued tasks are sent again.", timeout=4)
            return Run(resume, "queue")
        from tui.engine.submitting.queue import pending_at_service  # (the feeder's module)

        pending = [row for batch_id in batches
                   for row in await pending_at_service(store, batch_id)]

        async def pause() -> None:
            for batch_id in batches:
                await store.queue.pause(batch_id)

        if not pending:
            async def pause_now() -> None:
                await pause()
                self.outlet.notify(f"Paused {batches_said(len(batches))}: nothing more "
                                   f"of it is sent ({self.key('table.pause')} resumes).",
                                   timeout=4)
            return Run(pause_now, "queue")

        async def chosen(answer: str) -> None:
            if answer not in ("pause", "take"):
                return
            await pause()
            if answer == "take":
                await self._take_back(pending)
            else:
                self.outlet.notify(f"Paused; {plural(len(pending), 'task')} still PENDING "
                                   "at the service will run.", timeout=5)

        count = plural(len(pending), "task")
        return Choose(
            f"Pause {'this batch' if len(batches) == 1 else batches_said(len(batches))}? "
            "Nothing more of it is sent from the queue.\n"
            f"{count} of it still wait{'s' if len(pending) == 1 else ''} at the service "
            "(PENDING) and will run unless taken back: cancelled there (nothing is billed for "
            "them) and queued again, in their order.",
            [("cancel", "Cancel"), ("pause", "Pause, leave them"),
             ("take", f"Pause, take back {len(pending)}")], "pause", chosen, "queue")

    async def _take_back(self, pending: list[Generation]) -> None:
        client = self.services.client
        if client is None:
            return
        from tui.engine.submitting.queue import take_back

        try:
            back = await take_back(self.services.db, client, pending)
        except DashScopeError as exc:
            self.outlet.notify(str(exc), title="Take back failed", severity="error")
            return
        said = f"Paused; took back {back.canceled} of {plural(len(pending), 'task')}"
        if back.started:
            said += f"; {back.started} had started meanwhile and run on"
        self.outlet.notify(said + (f" ({back.problems[0]})" if back.problems else "") + ".",
                           timeout=8, severity="warning" if back.problems else "information")

    async def pause_queue(self) -> Plan:
        """``P``: pause (or resume) the whole queue."""
        store = self.services.db
        whole = next((p for p in await store.queue.pauses() if p.batch_id is None), None)

        async def toggle() -> None:
            if whole is None:
                await store.queue.pause()
                self.outlet.notify("Queue paused: nothing more is sent "
                                   f"({self.key('queue.pause')} resumes).", timeout=4)
            else:
                await store.queue.resume()
                if self.services.feeder is not None:
                    self.services.feeder.wake()
                self.outlet.notify("Queue resumed.", timeout=3)
        return Run(toggle, "queue")

    # -- order ------------------------------------------------------------------------------

    async def prioritise(self, rows: list[Generation], by: int) -> Plan:
        queued = self._queued(rows, "given a priority")
        if not queued:
            return None

        async def change() -> None:
            await self.services.db.queue.prioritise([r.id for r in queued], by=by)
            now = [r.queue_priority or 0 for r in await self.services.db.generations.get_many(
                r.id for r in queued)]
            said = f"priority {now[0]}" if len(set(now)) == 1 else "priorities changed"
            self.outlet.notify(f"{plural(len(queued), 'queued task')}: {said} (higher goes "
                               "first).", timeout=3)
        return Run(change, "queue")

    async def hold(self, rows: list[Generation]) -> Plan:
        queued = self._queued(rows, "held")
        if not queued:
            return None
        # Held or not as the store has them now: the table's rows may be a refresh behind
        # (h pressed twice quickly held the row twice instead of releasing it).
        now = await self.services.db.generations.get_many(r.id for r in queued)
        held = not all(r.queue_held for r in now)

        async def toggle() -> None:
            await self.services.db.queue.hold([r.id for r in queued], held)
            self.outlet.notify(f"{'Held' if held else 'Released'} "
                               f"{plural(len(queued), 'queued task')}"
                               + (" (it keeps its place; h releases)." if held else "."),
                               timeout=3)
        return Run(toggle, "queue")

    async def move(self, rows: list[Generation], to: str) -> Plan:
        """``K``/``J``/``T``: up, down, to the top — and a toast that says where it went
        (its place: the table shows it too), or why nothing moved, and the priority it
        took (docs/queue.md)."""
        queued = self._queued(rows, "moved")
        if not queued:
            return None
        from tui.engine.submitting.queue import move  # (the feeder's module)

        async def moved() -> None:
            done = await move(self.services.db, [r.id for r in queued], to)
            self.outlet.notify(done.sentence(release=self.key("table.hold"), named=False),
                               timeout=4 if done.moved else 3)
        return Run(moved, "queue")

    def key(self, action_id: str) -> str:
        """The keys an action answers to now (``[keys]`` may rebind it)."""
        return self.services.keymap.keys(action_id)
