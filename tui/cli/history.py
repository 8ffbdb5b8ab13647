"""Commands over the local history: list, show, export, import, stats, locate."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from storage.history import HistoryFilter, parse_filter
from tui.cli import render
from tui.cli.output import Problem, err, find_one, print_rows, say
from tui.config.credentials import region_of
from tui.engine import rescue, stats, transfer
from tui.engine.workspace import Workspace
from tui.safe_text import printable


async def cmd_list(args: argparse.Namespace, ws: Workspace) -> int:
    """``--search`` takes the dashboard's filter words (``fox tier:720P dl:no``)."""
    tokens = [args.search or ""] + [f"status:{s}" for s in args.status or []]
    where = parse_filter(" ".join(tokens))
    if where.problems:
        raise Problem("; ".join(where.problems))
    async with await ws.open_store() as store:
        rows = await store.page(where, limit=args.limit)
        about_to_expire = rescue.warning(await rescue.expiring(store))
    print_rows(rows, args.json)
    if about_to_expire:
        err(f"warning: {about_to_expire}")
    return 0


async def cmd_show(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        row = await find_one(store, args.task)
        events = await store.events(row.id)
    if args.json:
        data = render.as_json(row)
        data["history"] = [{"at": e.at, "status": e.status, "detail": e.detail} for e in events]
        print(render.dumps(data))
    else:
        print(render.details(row, events))
    return 0


def filter_from(args: argparse.Namespace) -> HistoryFilter:
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


class _TerminalSafe:
    """A text sink for a terminal: what an export writes there cannot drive it."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(printable(text, multiline=True))


async def cmd_export(args: argparse.Namespace, ws: Workspace) -> int:
    where = filter_from(args)
    async with await ws.open_store() as store:
        if args.output and args.output != "-":
            try:
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    count = await transfer.export(store, out, args.format, where)
            except OSError as exc:
                raise Problem(f"cannot write {args.output} ({exc.strerror or exc})") from None
        else:
            sink = _TerminalSafe(sys.stdout) if sys.stdout.isatty() else sys.stdout
            count = await transfer.export(store, sink, args.format, where)  # type: ignore[arg-type]
    err(f"exported {count} generation{'s' if count != 1 else ''}")
    return 0


async def cmd_import(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        try:
            with open(args.file, "rb") as source:
                report = await transfer.import_jsonl(store, source, args.file)
        except OSError as exc:
            raise Problem(f"cannot read {args.file} ({exc.strerror or exc})") from None
    say(report.summary())
    for line in report.problem_lines():
        err(line)
    return 1 if report.skipped_count else 0


async def cmd_stats(args: argparse.Namespace, ws: Workspace) -> int:
    async with await ws.open_store() as store:
        figures = await stats.compute(store, ws.settings.section("prices"), filter_from(args))
    if args.json:
        print(render.dumps(figures.as_json()))
    else:
        say(stats.report(figures))
    return 0


async def cmd_locate(args: argparse.Namespace, ws: Workspace) -> int:
    say(f"config:    {ws.paths.config_file}\n"
        f"data:      {ws.paths.data_dir}\n"
        f"database:  {ws.paths.database}\n"
        f"downloads: {ws.downloads_dir}\n"
        f"demo data: {ws.paths.demo().data_dir}\n"
        f"endpoint:  {ws.base_url} ({region_of(ws.base_url)})\n"
        f"api key:   {ws.key.masked if ws.key else 'not set'}")
    return 0
