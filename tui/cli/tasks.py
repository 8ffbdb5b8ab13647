"""Commands that talk to the service: submit, wait, download, cancel, track, resolve, sync."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable
from pathlib import Path

from storage import Generation, TaskStore
from storage.history import HistoryFilter
from tui.cli import render
from tui.cli.output import Problem, describe, err, find_one, print_json, print_rows, say
from tui.dashscope import DashScopeClient, ListedTask
from tui.dashscope.task_ids import task_id_problem
from tui.engine import operations
from tui.engine.following import listing
from tui.engine.following.follower import Follower, Save
from tui.engine.following.observe import adopt, observation
from tui.engine.following.poller import PollingHalted, same_service, why_not_finished
from tui.engine.media.download import DownloadError
from tui.engine.media.saver import Saver
from tui.engine.submitting import resolve
from tui.engine.submitting.feeder import looked_at_soon
from tui.engine.submitting.queue_state import QueueState
from tui.engine.workspace import Workspace

STUCK_LOOK = 1.0  # seconds between looks at whether the rows waited for can still move


async def _unless_stuck(store: TaskStore, waiting: Awaitable[list[Generation]],
                        ids: set[int]) -> list[Generation]:
    """What ``waiting`` returns — unless rows it waits for are queued behind a pause (the
    whole queue's, or their batch's): then a Problem says so, instead of waiting forever."""
    job = asyncio.ensure_future(waiting)
    try:
        while True:
            done, _ = await asyncio.wait({job}, timeout=STUCK_LOOK)
            if done:
                return job.result()
            pauses = await store.queue.pauses()
            if not pauses:
                continue
            held = {p.batch_id for p in pauses}
            stuck = [row for row in await store.generations.get_many(ids) if row.queued and (
                None in held or row.batch_id in held)]
            if stuck:
                state = QueueState(len(stuck), tuple(pauses), None, store.shared)
                whole = state.paused
                why = (f"queue {state.why(whole)}" if whole
                       else f"batch {stuck[0].batch_id} is paused")
                raise Problem(f"stopped waiting: {why}; {len(stuck)} of these still "
                              "queued. `pixverse-tui queue resume` sends them")
    finally:
        if not job.done():
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError, PollingHalted):
                await job


def _say_waiting(rows: list[Generation]) -> None:
    """On a terminal, say what the silence is for: a video takes minutes (a row still in
    the local queue, or being sent, is named by its #ID: it has no task id yet)."""
    waiting = [r for r in rows if not r.terminal and (
        r.task_id or r.queued or r.display_status == "SUBMITTING")]
    if not waiting or not sys.stderr.isatty():
        return
    ids = " ".join((r.task_id or "")[:8] or f"#{r.id}" for r in waiting[:3]) + (
        " …" if len(waiting) > 3 else "")
    first = waiting[0]
    again = (first.task_id or "")[:8] or str(first.id)  # (a bare ID: # starts a comment)
    some = "it goes" if len(waiting) == 1 else "they go"
    err(f"waiting for {ids} to end (a video takes a few minutes); ctrl+c stops waiting, "
        f"{some} on: `pixverse-tui wait {again}` picks it up again")


async def wait_for_rows(store: TaskStore, client: DashScopeClient, ws: Workspace,
                rows: list[Generation], time_scale: float,
                download: bool = False) -> tuple[list[Generation], bool]:
    """Follow rows to their end; True if every one of them succeeded.

    Each task that ended without a video gets one sentence on stderr; a refused
    key or endpoint ends the whole wait with one.  With ``download`` (or
    ``[downloads] auto``) the videos are saved as they finish; with ``download``, a
    waited-for video that could not be saved makes the result False too.
    """
    _say_waiting(rows)
    auto = bool(ws.settings.get("downloads", "auto"))
    saver = Saver(ws.downloader(store), saved=lambda row: err(f"saved {row.download_path}"),
                  failed=lambda _row, why: err(why), wait=True,
                  wanted=None if auto else {r.id for r in rows}) if download or auto else None
    elsewhere = [r for r in rows if r.task_id and not r.terminal
                 and not same_service(r.endpoint, client.base_url)]
    for row in elsewhere:
        err(f"{row.task_id} was made at {row.endpoint}, which is not the endpoint in use "
            f"({client.base_url}); set DASHSCOPE_HTTP_BASE_URL to it to follow it")
    poller = ws.poller(store, client, time_scale=time_scale)
    # The follower saves each video as it finishes (while this process polls): the
    # store's change feed tells it, whoever polled.
    follower = Follower(store, tell=lambda event: saver.start(event.row)
                        if saver is not None and isinstance(event, Save) else None,
                        polling=lambda: poller.polling, download=lambda: saver is not None,
                        rescue_every=None)
    await follower.begin()  # before polling: nothing ends unheard
    following = asyncio.create_task(follower.run())
    # Whoever polls feeds the queue: a queued row waited for is sent from here too.
    feeder = ws.feeder(store, client, polling=lambda: poller.polling,
                       sent=looked_at_soon(poller), time_scale=time_scale)
    feeding = asyncio.create_task(feeder.run())
    try:
        rows = await _unless_stuck(store, poller.wait_for({r.id for r in rows
                                                           if r not in elsewhere}),
                                   {r.id for r in rows})
        following.cancel()
        if saver is not None:
            await saver.settle()
            for row in await store.generations.get_many(r.id for r in rows):
                # Those that had finished before this run followed them.
                if row.status == "SUCCEEDED" and row.download_state != "done":
                    await saver.save(row)
            rows = await store.generations.get_many(r.id for r in rows)
    except PollingHalted as exc:
        raise Problem(f"stopped waiting: {describe(exc.cause)}") from None
    finally:
        for job in (following, feeding):
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        if saver is not None:
            await saver.stop()
            await saver.downloader.aclose()
    for row in rows:
        reason = why_not_finished(row)
        if reason is not None:
            err(reason)
        elif row.status == "FAILED":
            err(f"{row.task_id} FAILED: {row.error_code or '(no code)'}: "
                f"{row.error_message or '(no message)'}")
        elif row.status == "UNKNOWN":
            err(f"{row.task_id} is UNKNOWN to the service: it expired (tasks are kept 24 "
                "hours) or never existed for this API key")
        elif row.status == "CANCELED":
            err(f"{row.task_id} was canceled")
        elif row.task_id is None and row.display_status == "UNCONFIRMED":
            err(f"the create request for #{row.id} got no clear answer; a task may exist. It "
                f"was NOT re-sent: `pixverse-tui resolve {row.id}` looks for it")
        elif row.task_id is None and row.display_status == "REJECTED":
            err(f"the service refused #{row.id}: {row.error_code or '(no code)'}: "
                f"{row.error_message or '(no message)'}")
        elif row.task_id is None:
            err(f"#{row.id} has no task to wait for ({row.display_status})")
    saved = not download or saver is None or not saver.failed & {r.id for r in rows}
    return rows, all(r.status == "SUCCEEDED" for r in rows) and not elsewhere and saved


async def cmd_wait(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        rows = [await find_one(store, ref) for ref in args.tasks]
        for row in rows:  # asking to wait is asking to follow, even a task given up on
            if row.task_id is not None and not row.terminal and row.forgotten_at is None:
                await store.following.resume(row.id)
        async with ws.client(store, time_scale=args.time_scale) as client:
            rows, ok = await wait_for_rows(store, client, ws, rows, args.time_scale, args.download)
    print_rows(rows, args.json)
    return 0 if ok else 1


async def cmd_download(args: argparse.Namespace, ws: Workspace) -> int:
    folder = Path(args.to).expanduser() if args.to else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise Problem(f"--to {args.to} is a file; give a folder to save the videos in")
    failures, done = 0, []
    async with await ws.open_store() as store:
        rows = [await find_one(store, ref) for ref in args.tasks]
        needs_service = any(r.task_id and not r.terminal for r in rows)
        client = ws.client(store) if needs_service else None
        downloader = ws.downloader(store, on_wait=lambda row: err(
            f"{row.task_id} is being downloaded by another process; waiting for it"))
        try:
            for row in rows:
                if client is not None and row.task_id and not row.terminal:
                    row, _ = await store.following.apply(row.id, observation(await client.query(
                        row.task_id)), 3.0)
                try:
                    row = await downloader.download(row, folder, wait=True)
                except DownloadError as exc:
                    failures += 1
                    err(str(exc))
                    continue
                done.append(row)
                if not args.json:
                    say(row.download_path or "")
            if done and not downloader.records:  # a viewer's role: saved all the same
                err(f"saved on this machine only, {operations.unrecorded(store)}")
        finally:
            await downloader.aclose()
            if client is not None:
                await client.aclose()
    if args.json:
        print_rows(done, True)
    return 1 if failures else 0


async def cmd_cancel(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        row = await find_one(store, args.task)
        try:
            operations.cancelable(row)  # before anything is sent
            async with ws.client(store) as client:
                row = await operations.cancel(store, client, row)
        except operations.Refused as exc:
            raise Problem(str(exc)) from None
    if args.json:
        print_json(render.as_json(row))
    else:
        say(f"{row.task_id}: {row.display_status}")
    return 0


def _usable_ids(task_ids: list[str]) -> list[str]:
    """Ids the client can ask about; each other one gets a sentence."""
    good = []
    for task_id in task_ids:
        problem = task_id_problem(task_id)
        if problem is None:
            good.append(task_id)
        else:
            err(f"{task_id!r} is not a task id: {problem}")
    return good


async def cmd_track(args: argparse.Namespace, ws: Workspace) -> int:
    task_ids = _usable_ids(args.task_ids)
    failures = len(args.task_ids) - len(task_ids)
    rows = []
    async with await ws.open_store() as store, ws.client(store) as client:
        for task_id in task_ids:
            known = await store.generations.by_task_id(task_id)
            if known is not None:
                rows.append(await store.following.resume(known.id))
                continue
            info = await client.query(task_id)
            if info.status == "UNKNOWN":
                failures += 1
                err(f"{task_id} is unknown to the service (or older than 24 hours); "
                    "check the id and the API key")
                continue
            rows.append(await adopt(store, info, client.base_url))
    if rows or args.json:
        print_rows(rows, args.json)
    return 1 if failures else 0


async def cmd_resolve(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        if args.ref is None:
            rows = await store.history.page(HistoryFilter(statuses=("UNCONFIRMED",)),
                                            limit=100_000)
            if not rows:
                if args.json:
                    print_json([])
                else:
                    say("no unconfirmed submissions")
                return 0
        else:
            rows = [await find_one(store, args.ref)]
            if rows[0].submission != "unconfirmed":
                raise Problem(f"#{rows[0].id} is not unconfirmed (it is "
                              f"{rows[0].display_status}); nothing to resolve")
        if args.abandon:
            for row in rows:
                await operations.abandon(store, row)
                if not args.json:
                    say(f"#{row.id}: abandoned")
            if args.json:
                print_json([{"id": row.id, "outcome": "abandoned", "task_id": None}
                            for row in rows])
            return 0
        async with ws.client(store) as client:
            if args.task:
                try:
                    await resolve.adopt_named(store, client, rows[0], args.task)
                except resolve.NotThatTask as exc:
                    raise Problem(str(exc)) from None
                if args.json:
                    print_json([{"id": rows[0].id, "outcome": "adopted",
                                 "task_id": args.task}])
                else:
                    say(f"#{rows[0].id}: is {args.task}")
                return 0
            err(f"looking for {len(rows)} unconfirmed submission"
                f"{'s' if len(rows) != 1 else ''} in the service's task list")
            verdicts = await resolve.settle(store, client, rows,
                                            progress=lambda text: err(f"resolve: {text}"))
    if args.json:
        print_json([_verdict_json(verdict) for verdict in verdicts])
    else:
        for verdict in verdicts:
            say(_verdict_text(verdict))
    return 0 if all(v.outcome is resolve.Outcome.FOUND for v in verdicts) else 1


def _listed_json(task: ListedTask) -> dict[str, object]:
    return {"task_id": task.task_id, "status": task.status,
            "created": task.created.isoformat() if task.created else None}


def _verdict_json(verdict: resolve.Verdict) -> dict[str, object]:
    """One settled (or unsettled) submission, as ``resolve --json`` prints it."""
    return {"id": verdict.row.id, "outcome": verdict.outcome.value,
            "task_id": verdict.task.task_id if verdict.task is not None else None,
            "evidence": verdict.evidence or None, "problem": verdict.problem or None,
            "candidates": [_listed_json(t) for t in verdict.candidates]}


def _verdict_text(verdict: resolve.Verdict) -> str:
    row, outcome = verdict.row, verdict.outcome
    if outcome is resolve.Outcome.FOUND and verdict.task is not None:
        return (f"#{row.id}: found it — {verdict.task.task_id} ({verdict.task.status}; "
                f"{verdict.evidence})")
    if outcome is resolve.Outcome.NONE:
        again = ("then run the batch again to send it" if row.intent_key
                 else "to try again, submit it anew")
        return (f"#{row.id}: nothing was created — the service has no task from the moment "
                "it was sent, so nothing is billed. To drop it: pixverse-tui resolve "
                f"{row.id} --abandon; {again}.")
    if outcome is resolve.Outcome.AMBIGUOUS:
        lines = [f"#{row.id}: {len(verdict.candidates)} tasks could be it:"]
        lines += [f"  {t.task_id}  {t.status}  created "
                  f"{t.created.astimezone():%Y-%m-%d %H:%M:%S}" if t.created else
                  f"  {t.task_id}  {t.status}" for t in verdict.candidates]
        lines.append(f"  pick one with: pixverse-tui resolve {row.id} --task TASK_ID "
                     "(a finished task's prompt is checked against this one)")
        return "\n".join(lines)
    if outcome is resolve.Outcome.TOO_OLD:
        return (f"#{row.id}: cannot be checked — {verdict.problem}. If you know its task id: "
                f"pixverse-tui resolve {row.id} --task TASK_ID; otherwise --abandon.")
    return f"#{row.id}: not settled — {verdict.problem}; run resolve again"


async def cmd_sync(args: argparse.Namespace, ws: Workspace) -> int:
    adopted = refused = 0
    runaway: listing.ListRunaway | None = None
    async with await ws.open_store() as store, ws.client(store) as client:
        known: set[str] = set()
        try:
            async for page in listing.pages(client, sizes=(50,)):
                refused += page.refused
                known |= await store.generations.known_task_ids(t.task_id for t in page.tasks)
                for listed in page.tasks:
                    if listed.task_id in known:
                        continue
                    info = await client.query(listed.task_id)
                    await adopt(store, info, client.base_url, listed.model_name)
                    known.add(listed.task_id)
                    adopted += 1
        except listing.ListRunaway as exc:  # what was adopted so far stays adopted
            runaway = exc
    if runaway is not None:
        err(f"{runaway}; run sync again later")
    if refused:
        err(f"{refused} listed task{'s were' if refused != 1 else ' was'} left out: the "
            "service sent an id or status that cannot be used")
    if args.json:
        print_json({"adopted": adopted, "refused": refused, "complete": runaway is None})
    else:
        say(f"adopted {adopted} task{'s' if adopted != 1 else ''} from the last 24 hours")
    return 1 if runaway is not None else 0

