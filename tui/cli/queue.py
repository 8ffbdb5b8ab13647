"""``pixverse-tui queue list|pause|resume|move|hold|release|priority|cancel``: the local
queue from the command line — the same engine operations as the dashboard's keys."""

from __future__ import annotations

import argparse
from typing import Any

from storage import Generation, TaskStore
from storage.history import HistoryFilter
from tui.cli.output import Problem, err, find_one, print_json, print_rows, say
from tui.engine.submitting import eta, queue, queue_state
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.text_width import cell, fit, terminal_width

DOUBTS_SHOWN = 20  # unconfirmed rows listed by name


async def cmd_queue(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        action = args.queue_action
        if action == "list":
            await _list(store, ws, args)
            return 0
        if action in ("pause", "resume"):
            return await _pause(store, ws, args, pause=action == "pause")
        rows = [await find_one(store, ref) for ref in args.refs]
        ids = [row.id for row in rows if row.queued]
        if not ids:
            raise Problem("none of these is queued (only what waits in the queue can be "
                          "moved, held or taken off it); see `pixverse-tui queue list`")
        if action == "move":
            what = (await queue.move(store, ids, args.where)).sentence()
        elif action in ("hold", "release"):
            done = await store.queue.hold(ids, action == "hold")
            what = f"{'held' if action == 'hold' else 'released'} {done}"
        elif action == "priority":
            done = await store.queue.prioritise(ids, priority=args.priority)
            what = f"priority {args.priority} for {done}"
        else:
            gone = await store.queue.cancel(ids)
            what = f"took {len(gone)} off the queue (nothing was sent: nothing is billed)"
        rows = await store.generations.get_many(r.id for r in rows)
    if args.json:
        print_rows(rows, True)
    else:
        say(what)
    return 0


async def _batch_of(store: TaskStore, ref: str) -> str:
    """A batch id as ``queue list`` shows it, or a #ID (or task id) of one of its rows."""
    if await store.intents.batch(ref) is not None:
        return ref
    row = await find_one(store, ref)
    if row.batch_id is None:
        raise Problem(f"#{row.id} is not part of a batch; `queue pause` with no argument "
                      "pauses the whole queue")
    return row.batch_id


async def _pause(store: TaskStore, ws: Workspace, args: argparse.Namespace, *,
                 pause: bool) -> int:
    batch_id = await _batch_of(store, args.batch) if args.batch else None
    what = f"batch {batch_id}" if batch_id else "queue"
    taken: list[Generation] = []
    started = 0
    problems: list[str] = []
    if not pause:
        await store.queue.resume(batch_id)
        if ws.account is not None:
            await store.leases.nudge(ws.account)  # whoever feeds looks now
        said = f"{what} resumed"
    else:
        await store.queue.pause(batch_id)
        said = f"{what} paused: nothing more of it is sent until `pixverse-tui queue resume" \
               f"{' ' + batch_id if batch_id else ''}`"
        if batch_id is not None:
            pending = await queue.pending_at_service(store, batch_id)
            if pending and args.take_back:
                async with ws.client(store) as client:
                    back = await queue.take_back(store, client, pending)
                taken, started, problems = back.queued, back.started, back.problems
                said += f"; {back.sentence(len(pending))}"
            elif pending:
                said += (f"; {len(pending)} of its tasks still wait at the service (PENDING) "
                         "and will run: `--take-back` cancels them there and queues them "
                         "again")
    for problem in problems:
        err(problem)
    if args.json:
        print_json({"batch_id": batch_id, "paused": pause,
                    "taken_back": [row.id for row in taken], "started": started})
    else:
        say(said)
    return 1 if problems else 0


async def _list(store: TaskStore, ws: Workspace, args: argparse.Namespace) -> None:
    """What waits, in order, and when it should be done — times only while someone feeds
    the queue; and the creates in doubt, which wait for ``resolve``."""
    state = await queue_state.queue_state(store, ws.account)
    forecast = await eta.forecast(store)
    fed = state.feeder is not None  # with nobody feeding, nothing starts: no times
    doubts = await store.history.page(HistoryFilter(statuses=("UNCONFIRMED",)),
                                      sort="submitted", descending=False, limit=DOUBTS_SHOWN)
    doubted = len(doubts) if len(doubts) < DOUBTS_SHOWN else await store.history.count(
        HistoryFilter(statuses=("UNCONFIRMED",)))
    lineup = await store.queue.lineup()
    shown = lineup[:args.limit]
    rows = {row.id: row for row in await store.generations.get_many(i.id for i in shown)}
    paused = state.paused_batches
    batches: dict[str, int] = {}
    for item in lineup:
        if item.batch_id is not None:
            batches[item.batch_id] = batches.get(item.batch_id, 0) + 1
    labels = {b: (s.label if (s := await store.intents.batch(b)) else "") for b in batches}

    def spread(s: eta.Spread | None) -> dict[str, Any] | None:
        return None if s is None or not fed else {"p50": forecast.at(s.p50).isoformat(),
                                                  "p90": forecast.at(s.p90).isoformat()}

    if args.json:
        print_json({
            "queued": state.queued, "feeder": state.feeder, "feeder_known": state.known,
            "paused": None if state.paused is None else (state.paused.reason or "by a user"),
            "problem": state.sentence(), "finish": spread(forecast.queue),
            "unconfirmed": [{"id": r.id, "prompt": r.prompt, "batch_id": r.batch_id,
                             "note": r.submission_note} for r in doubts],
            "batches": [{"batch_id": b, "label": labels[b], "queued": n, "paused": b in paused,
                         "finish": spread(forecast.batches.get(b))}
                        for b, n in batches.items()],
            "items": [{"position": n, "id": i.id, "priority": i.priority, "held": i.held,
                       "batch_id": i.batch_id, "size": i.size, "duration": i.duration,
                       "prompt": rows[i.id].prompt if i.id in rows else None,
                       "starts": spread(forecast.starts.get(i.id))}
                      for n, i in enumerate(shown, 1)]})
        return
    head = f"{state.queued:,} queued"
    head += f" · {state.sentence()}" if state.sentence() else (
        f" · sent by {state.feeder}" if state.feeder and state.queued
        else f" · {queue_state.UNKNOWN}" if state.queued and not state.known else "")
    if forecast.queue is not None and fed:
        head += (f" · done {eta.when(forecast.queue.p50, forecast.now)} "
                 f"(p90 {eta.when(forecast.queue.p90, forecast.now)})")
    if note := state.batches_note():
        head += f" · {note}"
    say(head)
    if doubts:
        _doubts(doubts, doubted)
    if not lineup:
        return
    if batches:
        columns = terminal_width()  # the label fits a terminal's line (piped: 40 cells)
        label_width = min(40, max(10, columns - 47)) if columns else 40
        say("")
        say("BATCH             QUEUED  DONE (p50 / p90)    FIRST PROMPT")
        for b, n in batches.items():
            finish = forecast.batches.get(b)
            done = "paused" if b in paused else "waiting" if not fed else (
                f"{eta.when(finish.p50, forecast.now)} / {eta.when(finish.p90, forecast.now)}"
                if finish else "—")
            say(f"{cell(b, 16)}  {n:>6,}  {cell(done, 18)}  "
                f"{fit(printable(' '.join(labels[b].split())), label_width)}")
    say("")
    width = terminal_width()
    say("  #  ID      PRI  STARTS   SIZE       DUR  PROMPT")
    for n, item in enumerate(shown, 1):
        start = forecast.starts.get(item.id)
        starts = "held" if item.held else ("paused" if item.batch_id in paused or
                                           state.paused else "waiting" if not fed else (
            eta.in_words(start.p50) if start is not None else "—"))
        prompt = printable(" ".join(rows[item.id].prompt.split())) if item.id in rows else ""
        line = (f"{n:>3}  {cell(str(item.id), 6)}  {item.priority:>3}  {cell(starts, 7)}  "
                f"{cell(item.size, 9)}  {item.duration:>2}s  ")
        say(line + (fit(prompt, max(10, width - len(line))) if width else prompt))
    if len(lineup) > len(shown):
        say(f"… and {len(lineup) - len(shown):,} more (--limit N shows more)")


def _doubts(rows: list[Generation], count: int) -> None:
    """The creates in doubt: stopped, never sent again, until ``resolve`` settles them."""
    say("")
    say(f"{count:,} unconfirmed — a task may exist; not sent again: `pixverse-tui resolve`")
    columns = terminal_width()
    width = min(60, max(20, columns - 12)) if columns else 60
    for row in rows:
        say(f"  #{cell(str(row.id), 6)}  {fit(printable(' '.join(row.prompt.split())), width)}")
    if count > len(rows):
        say(f"  … and {count - len(rows):,} more (`pixverse-tui list --status UNCONFIRMED`)")
