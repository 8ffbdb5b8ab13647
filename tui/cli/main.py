"""``pixverse-tui``: the dashboard (no arguments), the demo, and scripting commands.

Exit status is 0 only on success; errors go to stderr as one sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from storage import Generation, TaskStore
from storage.history import HistoryFilter, parse_filter
from storage.store import SchemaTooNew
from tui.cli import render
from tui.config.credentials import CredentialsError, region_of
from tui.dashscope import DashScopeError, GenerationRequest, RequestInvalid
from tui.dashscope.explain import explain
from tui.dashscope.sizes import ALL_SIZES, MODEL_V56, SEED_MAX
from tui.dashscope.validation import check_request
from tui.engine import resolve, stats, transfer
from tui.engine.download import DownloadError
from tui.engine.observe import adopt, observation
from tui.engine.poller import PollScheduler
from tui.engine.submit import submit
from tui.engine.workspace import MissingKey, Workspace

Command = Callable[[argparse.Namespace, Workspace], Awaitable[int]]


class Problem(Exception):
    """A user-facing failure: printed as one sentence, exit status 1."""


def _err(message: str) -> None:
    print(f"pixverse-tui: {message}", file=sys.stderr)


def _describe(exc: DashScopeError) -> str:
    text = str(exc)
    if exc.code:
        meaning, action = explain(exc.code)
        text += f" — {meaning} {action}"
    return text


async def _find_one(store: TaskStore, ref: str) -> Generation:
    rows = await store.find(ref)
    if not rows:
        raise Problem(f"no task matches {ref!r} in {store.path}; see `pixverse-tui list`")
    if len(rows) > 1:
        raise Problem(f"{ref!r} matches several tasks ({', '.join(r.task_id or '?' for r in rows)}"
                      "); give more of the task id")
    return rows[0]


def _print_rows(rows: Sequence[Generation], as_json: bool) -> None:
    if as_json:
        print(render.dumps([render.as_json(r) for r in rows]))
    else:
        print(render.table(list(rows)))


# -- commands ------------------------------------------------------------------


async def cmd_submit(args: argparse.Namespace, ws: Workspace) -> int:
    seeds: list[int | None] = [args.seed]
    if args.variations > 1:
        base = args.seed if args.seed is not None else random.randint(0, SEED_MAX)
        seeds = [(base + i) % (SEED_MAX + 1) for i in range(args.variations)]
    requests = [GenerationRequest(prompt=args.prompt, size=args.size, duration=args.duration,
                                  audio=args.audio, watermark=args.watermark, seed=seed,
                                  model=args.model) for seed in seeds]
    verdict = check_request(requests[0])
    if not verdict.ok:
        raise Problem(" ".join(verdict.problems))
    for warning in verdict.warnings:
        _err(f"warning: {warning}")
    store = await ws.open_store()
    polling = ws.poll_settings(args.time_scale)
    try:
        async with ws.client() as client:
            rows, failed = [], False
            for request in requests:
                outcome = await submit(store, client, request, first_poll_after=polling.first_poll)
                rows.append(outcome.generation)
                if outcome.error is not None:
                    failed = True
                    if outcome.error.ambiguous:
                        _err(f"the create request for #{outcome.generation.id} got no clear "
                             f"answer ({outcome.error}); a task may exist and be billed. It was "
                             f"NOT re-sent. Run `pixverse-tui resolve {outcome.generation.id}` "
                             "to look for it.")
                    else:
                        _err(f"the service refused the task: {_describe(outcome.error)}")
                    break
            if args.wait and not failed:
                poller = PollScheduler(store, client, polling)
                rows = await poller.wait_for({r.id for r in rows})
                failed = any(r.status != "SUCCEEDED" for r in rows)
        _print_rows(rows, args.json)
        return 1 if failed else 0
    finally:
        await store.close()


async def cmd_list(args: argparse.Namespace, ws: Workspace) -> int:
    statuses = [s for part in (args.status or []) for s in part.split(",") if s]
    async with await ws.open_store() as store:
        rows = await store.list(statuses=statuses, limit=args.limit, query=args.search)
    _print_rows(rows, args.json)
    return 0


async def cmd_show(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        row = await _find_one(store, args.task)
        events = await store.events(row.id)
    if args.json:
        data = render.as_json(row)
        data["history"] = [{"at": e.at, "status": e.status, "detail": e.detail} for e in events]
        print(render.dumps(data))
    else:
        print(render.details(row, events))
    return 0


async def cmd_wait(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        rows = [await _find_one(store, ref) for ref in args.tasks]
        async with ws.client() as client:
            poller = PollScheduler(store, client, ws.poll_settings(args.time_scale))
            rows = await poller.wait_for({r.id for r in rows})
    _print_rows(rows, args.json)
    return 0 if all(r.status == "SUCCEEDED" for r in rows) else 1


async def cmd_download(args: argparse.Namespace, ws: Workspace) -> int:
    store = await ws.open_store()
    failures = 0
    try:
        rows = [await _find_one(store, ref) for ref in args.tasks]
        client = ws.client() if any(r.status != "SUCCEEDED" and r.task_id for r in rows) else None
        downloader = ws.downloader(store)
        done = []
        try:
            for row in rows:
                if client is not None and row.task_id and not row.terminal:
                    row, _ = await store.apply(row.id, observation(await client.query(
                        row.task_id)), 3.0)
                try:
                    row = await downloader.download(row, Path(args.to) if args.to else None)
                except DownloadError as exc:
                    failures += 1
                    _err(str(exc))
                    continue
                done.append(row)
                if not args.json:
                    print(row.download_path)
        finally:
            await downloader.aclose()
            if client is not None:
                await client.aclose()
    finally:
        await store.close()
    if args.json:
        _print_rows(done, True)
    return 1 if failures else 0


async def cmd_cancel(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        row = await _find_one(store, args.task)
        if not row.task_id:
            raise Problem(f"#{row.id} has no task id ({row.display_status}); nothing to cancel")
        async with ws.client() as client:
            await client.cancel(row.task_id)
            row, _ = await store.apply(row.id, observation(await client.query(row.task_id)), 3.0)
    print(f"{row.task_id}: {row.display_status}")
    return 0


async def cmd_track(args: argparse.Namespace, ws: Workspace) -> int:
    store = await ws.open_store()
    failures = 0
    rows = []
    try:
        async with ws.client() as client:
            for task_id in args.task_ids:
                info = await client.query(task_id)
                if info.status == "UNKNOWN":
                    failures += 1
                    _err(f"{task_id} is unknown to the service (or older than 24 hours); "
                         "check the id and the API key")
                    continue
                rows.append(await adopt(store, info, client.base_url))
    finally:
        await store.close()
    _print_rows(rows, args.json)
    return 1 if failures else 0


async def cmd_resolve(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        if args.ref is None:
            rows = [r for r in await store.list(statuses=["UNCONFIRMED"], limit=1000)]
            if not rows:
                print("no unconfirmed submissions")
                return 0
        else:
            rows = [await _find_one(store, args.ref)]
        unsettled = 0
        async with ws.client() as client:
            for row in rows:
                if row.submission != "unconfirmed":
                    raise Problem(f"#{row.id} is not unconfirmed (it is {row.display_status})")
                if args.abandon:
                    await store.mark_abandoned(row.id, "the user decided no task was created")
                    print(f"#{row.id}: abandoned")
                    continue
                if args.task:
                    await resolve.adopt(store, row, args.task)
                    print(f"#{row.id}: is {args.task}")
                    continue
                found = await resolve.candidates(store, client, row)
                task = found.match
                if task is not None:
                    await resolve.adopt(store, row, task.task_id)
                    print(f"#{row.id}: found it — {task.task_id} ({task.status})")
                elif not found.tasks:
                    unsettled += 1
                    print(f"#{row.id}: the service has no matching task; nothing was created "
                          f"(so nothing is billed). To drop it: pixverse-tui resolve {row.id} "
                          f"--abandon; to try again, submit it anew.")
                else:
                    unsettled += 1
                    print(f"#{row.id}: several tasks could be it:")
                    for task in found.tasks:
                        print(f"  {task.task_id}  {task.status}  created {task.created}")
                    print(f"  pick one with: pixverse-tui resolve {row.id} --task TASK_ID")
    return 1 if unsettled else 0


def _filter_from(args: argparse.Namespace) -> HistoryFilter:
    tokens = [args.filter or ""]
    for name in ("status", "tier", "tag"):
        for value in getattr(args, name, None) or []:
            tokens.append(f"{name}:{value}")
    for value in args.duration or []:
        tokens.append(f"dur:{value}")
    for name in ("since", "until"):
        if getattr(args, name, None):
            tokens.append(f"{name}:{getattr(args, name)}")
    for name, flag in (("audio", args.audio), ("dl", args.downloaded), ("fav", args.favourite)):
        if flag is not None:
            tokens.append(f"{name}:{'yes' if flag else 'no'}")
    where = parse_filter(" ".join(tokens))
    if where.problems:
        raise Problem("; ".join(where.problems))
    return where


async def cmd_export(args: argparse.Namespace, ws: Workspace) -> int:
    where = _filter_from(args)
    async with await ws.open_store() as store:
        if args.output and args.output != "-":
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = await transfer.export(store, out, args.format, where)
        else:
            count = await transfer.export(store, sys.stdout, args.format, where)
    _err(f"exported {count} generation{'s' if count != 1 else ''}")
    return 0


async def cmd_import(args: argparse.Namespace, ws: Workspace) -> int:
    store = await ws.open_store()
    try:
        with open(args.file, encoding="utf-8") as source:
            added, present = await transfer.import_jsonl(store, source, args.file)
    except OSError as exc:
        raise Problem(f"cannot read {args.file} ({exc.strerror})") from None
    except transfer.ImportProblem as exc:
        raise Problem(str(exc)) from None
    finally:
        await store.close()
    print(f"imported {added} generation{'s' if added != 1 else ''}; {present} already here")
    return 0


async def cmd_sync(args: argparse.Namespace, ws: Workspace) -> int:
    store = await ws.open_store()
    adopted = 0
    try:
        async with ws.client() as client:
            known = await store.task_ids()
            page_no = 1
            while True:
                page = await client.list_tasks(page_no=page_no, page_size=50)
                for listed in page.tasks:
                    if listed.task_id in known:
                        continue
                    info = await client.query(listed.task_id)
                    await adopt(store, info, client.base_url, listed.model_name)
                    known.add(listed.task_id)
                    adopted += 1
                if page_no >= page.total_page or not page.tasks:
                    break
                page_no += 1
    finally:
        await store.close()
    print(f"adopted {adopted} task{'s' if adopted != 1 else ''} from the last 24 hours")
    return 0


async def cmd_stats(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        figures = await stats.compute(store, ws.settings.section("prices"), _filter_from(args))
    print(render.dumps(figures.as_json()) if args.json else stats.report(figures))
    return 0


async def cmd_locate(args: argparse.Namespace, ws: Workspace) -> int:
    print(f"config:    {ws.paths.config_file}")
    print(f"data:      {ws.paths.data_dir}")
    print(f"database:  {ws.paths.database}")
    print(f"downloads: {ws.downloads_dir}")
    print(f"demo data: {ws.paths.demo().data_dir}")
    print(f"endpoint:  {ws.base_url} ({region_of(ws.base_url)})")
    print(f"api key:   {ws.key.masked if ws.key else 'not set'}")
    for problem in ws.settings.problems:
        _err(problem)
    return 0


# -- parser ----------------------------------------------------------------------


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed must be 0 to {SEED_MAX}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixverse-tui",
        description="Make videos with PixVerse v5.6 on Alibaba Cloud Model Studio (DashScope).")
    parser.add_argument("--demo", action="store_true",
                        help="run against a built-in simulator (no key, no cost)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON")

    def scale_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)

    p = sub.add_parser("submit", help="create a text-to-video task")
    p.add_argument("prompt")
    p.add_argument("--size", default="1280*720", help=f"W*H, one of {', '.join(ALL_SIZES)}")
    p.add_argument("--duration", type=int, default=5, help="5, 8 or 10 seconds (1080P: 5 or 8)")
    p.add_argument("--audio", action="store_true", help="generate sound (costs more)")
    p.add_argument("--watermark", action="store_true", help='add the "AI生成" label')
    p.add_argument("--seed", type=_seed, default=None)
    p.add_argument("--variations", type=int, default=1, help="submit N tasks with seeds s…s+N-1")
    p.add_argument("--model", default=MODEL_V56, help=argparse.SUPPRESS)
    p.add_argument("--wait", action="store_true", help="follow the task until it ends")
    json_flag(p)
    scale_flag(p)
    p.set_defaults(run=cmd_submit)

    p = sub.add_parser("list", help="list generations, newest first")
    p.add_argument("--status", action="append", help="e.g. RUNNING or SUCCEEDED,FAILED")
    p.add_argument("--search", help="text in the prompt")
    p.add_argument("--limit", type=int, default=50)
    json_flag(p)
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("show", help="everything about one generation")
    p.add_argument("task", help="task id (or a prefix), or #ID")
    json_flag(p)
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("wait", help="follow tasks until they end")
    p.add_argument("tasks", nargs="+")
    json_flag(p)
    scale_flag(p)
    p.set_defaults(run=cmd_wait)

    p = sub.add_parser("download", help="download finished videos")
    p.add_argument("tasks", nargs="+")
    p.add_argument("--to", help="folder (default: the downloads folder)")
    json_flag(p)
    p.set_defaults(run=cmd_download)

    p = sub.add_parser("cancel", help="cancel a PENDING task")
    p.add_argument("task")
    p.set_defaults(run=cmd_cancel)

    p = sub.add_parser("track", help="adopt tasks created elsewhere, by task id")
    p.add_argument("task_ids", nargs="+")
    json_flag(p)
    p.set_defaults(run=cmd_track)

    p = sub.add_parser("resolve", help="settle submissions whose outcome is unknown")
    p.add_argument("ref", nargs="?", help="#ID of an unconfirmed submission (default: all)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--task", help="it created this task id")
    group.add_argument("--abandon", action="store_true", help="it created nothing; drop it")
    p.set_defaults(run=cmd_resolve)

    def filter_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", help='words and tokens, e.g. "fox tier:720P fav"')
        p.add_argument("--status", action="append")
        p.add_argument("--tier", action="append", help="360P, 540P, 720P, 1080P")
        p.add_argument("--duration", action="append", type=int)
        p.add_argument("--tag", action="append")
        p.add_argument("--since", help="YYYY-MM-DD")
        p.add_argument("--until", help="YYYY-MM-DD (inclusive)")
        for name in ("audio", "downloaded", "favourite"):
            p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None)

    p = sub.add_parser("export", help="write the history as JSON Lines (or CSV)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("-o", "--output", help="file (default: standard output)")
    filter_flags(p)
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("import", help="add an exported history (idempotent on task id)")
    p.add_argument("file")
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("sync", help="adopt tasks made by other clients in the last 24 h")
    p.set_defaults(run=cmd_sync)

    p = sub.add_parser("stats", help="usage statistics")
    json_flag(p)
    filter_flags(p)
    p.set_defaults(run=cmd_stats)

    p = sub.add_parser("locate", help="where config, data and downloads live")
    p.set_defaults(run=cmd_locate)

    from tui.simulator.cli import add_parser as add_simulate

    add_simulate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate":
        return int(args.run_sync(args))
    if args.command is None:
        from tui.launch import launch

        return launch(demo=args.demo)
    try:
        ws = Workspace.load()
        return asyncio.run(args.run(args, ws))
    except (Problem, MissingKey, CredentialsError, RequestInvalid, SchemaTooNew) as exc:
        _err(str(exc))
    except DashScopeError as exc:
        _err(_describe(exc))
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
