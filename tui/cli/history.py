"""Commands over the local history: list, show, forget, export, import, stats, locate."""

from __future__ import annotations

import errno
import os
import sys

from storage import TRASH_DAYS, Generation
from storage.errors import full_disk
from storage.history import HistoryFilter, parse_filter
from storage.records import LIVE
from tui.cli import render
from tui.cli.output import Problem, err, find_one, print_json, print_rows, say
from tui.config.credentials import region_of
from tui.engine.following import rescue
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.text_width import cells, pad

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:  # each command imports what it uses: ``list`` loads none of them
    import argparse
    from pathlib import Path
    from typing import TextIO

    from storage import StatusEvent
    from tui.cli.commands import Arguments
    from tui.engine.media import provenance

def list_quickly(args: Arguments, ws: Workspace) -> int | None:
    """``list`` without an event loop, as a plain script would print it, where the store
    offers a page reader and holds nothing to tidy first (``Workspace.page_reader``) and
    nothing waits in the local queue (what the queue waits for — its pauses, who feeds
    it — is the store's to say); None (nothing printed): ``cmd_list`` runs instead.  The
    same rows, output and warning as ``cmd_list``."""
    where = _list_filter(args)
    reader = ws.page_reader()
    if reader is None:
        return None
    with reader:
        if reader.queued():
            return None
        print_rows(reader.page(where, limit=args.limit), args.json)
        about_to_expire = rescue.warning_now(reader)
    if about_to_expire:
        err(f"warning: {about_to_expire}")
    return 0


async def cmd_list(args: Arguments, ws: Workspace) -> int:
    """``--search`` takes the dashboard's filter words (``fox tier:720P dl:no``)."""
    where = _list_filter(args)
    async with await ws.open_store() as store:  # tidied first: a crashed send says so
        rows = await store.history.page(where, limit=args.limit)
        print_rows(rows, args.json)  # the rows first, then the look for expiring videos
        about_to_expire = rescue.warning(await rescue.expiring(store))
        from tui.engine.submitting.queue_state import queue_state

        waiting = (await queue_state(store, ws.account)).sentence()
    if about_to_expire:
        err(f"warning: {about_to_expire}")
    if waiting:
        err(f"{waiting[0].upper()}{waiting[1:]}; `pixverse-tui queue list` shows the queue.")
    return 0


def _list_filter(args: Arguments) -> HistoryFilter:
    tokens = [args.search or ""] + [f"status:{s}" for s in args.status or []]
    where = parse_filter(" ".join(tokens))
    if where.problems:
        raise Problem("; ".join(where.problems))
    return where


async def cmd_show(args: argparse.Namespace, ws: Workspace) -> int:
    """A task (id, prefix, #ID) — or a video file: which generation it is."""
    from pathlib import Path

    video = Path(args.task)
    if _is_file(video):
        return await _show_file(args, ws, video)
    async with await ws.open_store() as store:
        row = await find_one(store, args.task)
        events = await store.generations.events(row.id)
    _print_row(row, events, args.json)
    return 0


async def cmd_forget(args: argparse.Namespace, ws: Workspace) -> int:
    """Generations to the trash — by reference or by ``--status`` (``REJECTED``: the
    submissions the service refused) — after asking; nothing is sent to the service."""
    if not args.tasks and not args.status:
        raise Problem("name the generations to forget: TASK… or --status (e.g. --status "
                      "REJECTED)")
    from tui.engine.history import trash

    where = parse_filter(" ".join(f"status:{s}" for s in args.status or []))
    if where.problems:
        raise Problem("; ".join(where.problems))
    async with await ws.open_store() as store:
        chosen = {row.id: row for ref in args.tasks for row in [await find_one(store, ref)]
                  if row.forgotten_at is None}
        if args.status:
            for row in await store.generations.get_many(await store.history.ids(where)):
                chosen.setdefault(row.id, row)
        rows = sorted(chosen.values(), key=lambda r: r.id)
        if rows:
            _confirm_forget(rows, args, team=store.shared)
        forgotten = [row.id for row in rows
                     if await trash.forget(store, row, ws.folders) is not None]
        team = store.shared
    if args.json:
        print_json({"forgotten": len(forgotten), "ids": forgotten, "trash_days": TRASH_DAYS})
    elif forgotten:
        say(f"forgot {_generations(len(forgotten))}{' for the whole team' if team else ''}; "
            f"they stay in the trash for {TRASH_DAYS} days (the dashboard's filter in:trash "
            "shows them, x brings one back)")
    else:
        err("nothing to forget")
    return 0


def _generations(count: int) -> str:
    return f"{count:,} generation{'s' if count != 1 else ''}"


def _confirm_forget(rows: list[Generation], args: argparse.Namespace, *, team: bool) -> None:
    """Ask on a terminal (no is the default); a script passes ``--yes``.  On a team's
    database it forgets for everyone, and says so."""
    if args.yes:
        return
    live = sum(1 for r in rows if r.display_status in LIVE)
    what = f"{_generations(len(rows))} ({', '.join(sorted({r.display_status for r in rows}))})"
    what += " for the whole team" if team else ""
    following = "stops following it on every machine" if team else "only stops following here"
    running = (f"; {live} still run{'s' if live == 1 else ''} on the service (forgetting "
               f"{following})" if live else "")
    if not sys.stdin.isatty():
        raise Problem(f"this forgets {what}{running}; pass --yes to do it without asking "
                      "(standard input is not a terminal); nothing was forgotten")
    where = "They leave every machine for the trash of the team database, kept there" \
        if team else "They go to the trash"
    question = f"Forget {what}? {where} for {TRASH_DAYS} days{running}"
    print(printable(f"{question}. [y/N] "), end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline().strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer not in ("y", "yes"):
        raise Problem("nothing was forgotten")


def _print_row(row: Generation, events: list[StatusEvent], as_json: bool) -> None:
    if as_json:
        data = render.as_json(row)
        data["history"] = [{"at": e.at, "status": e.status, "detail": e.detail} for e in events]
        print(render.dumps(data))
    else:
        print(render.details(row, events))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for a path, or holding a NUL
        return False


async def _show_file(args: argparse.Namespace, ws: Workspace, video: Path) -> int:
    """By the metadata's task id, else by the file's SHA-256; else what the metadata says."""
    import asyncio

    from tui.engine.media import provenance

    told = await asyncio.to_thread(provenance.read, video)
    async with await ws.open_store() as store:
        row = await store.generations.by_task_id(told.task_id) if told and told.task_id else None
        others: list[Generation] = []
        if row is None:
            try:
                digest = await asyncio.to_thread(provenance.sha256_of, video)
            except OSError as exc:
                raise Problem(f"cannot read {video} ({exc.strerror or exc})") from None
            rows = sorted(await store.generations.by_sha256(digest), key=lambda r: r.id,
                          reverse=True)
            row, others = (rows[0], rows[1:]) if rows else (None, [])
        events = await store.generations.events(row.id) if row is not None else []
    if row is not None:
        _print_row(row, events, args.json)
        if others:
            err(f"the same video is also saved for {', '.join(f'#{r.id}' for r in others)}")
        return 0
    if told is None:
        raise Problem(f"{video} is not a video this history knows: it carries no pixverse-tui "
                      "metadata and no saved video has its SHA-256")
    if args.json:
        print(render.dumps({**told.as_dict(), "local_path": str(video), "in_history": False}))
    else:
        say(_told(video, told))
    import shlex  # (for this sentence alone: ``list`` never says it)

    err(f"this history does not hold the generation {video.name} comes from; "
        f"`pixverse-tui import {shlex.quote(str(video))}` adds it")
    return 0


def _told(video: Path, told: provenance.Provenance) -> str:
    """What a video's metadata says, laid out as ``show`` lays out a generation."""
    pairs: list[tuple[str, object]] = [
        ("file", video), ("task id", told.task_id), ("model", told.model),
        ("size", told.size),
        ("duration", None if told.duration is None else f"{told.duration} s"),
        ("audio", told.audio), ("watermark", told.watermark),
        ("seed", "random" if told.seed is None else told.seed), ("created", told.created_at),
    ]
    width = max(cells(k) for k, _ in pairs)
    lines = [f"{pad(k, width)}  {printable(v)}" for k, v in pairs if v is not None]
    return "\n".join([*lines, "", "prompt:", printable(told.prompt, multiline=True)])


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
    from pathlib import Path

    from tui.engine.history import transfer

    where = filter_from(args)
    async with await ws.open_store() as store:
        if args.output and args.output != "-":
            try:
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    count = await transfer.export(store, out, args.format, where)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise Problem(full_disk(Path(args.output))) from None
                raise Problem(f"cannot write {args.output} ({exc.strerror or exc})") from None
        else:
            sink = _TerminalSafe(sys.stdout) if sys.stdout.isatty() else sys.stdout
            try:
                count = await transfer.export(store, sink, args.format, where)  # type: ignore[arg-type]
                sys.stdout.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                raise Problem(full_disk(_stdout_path())) from None
    err(f"exported {count} generation{'s' if count != 1 else ''}")
    return 0


def _stdout_path() -> Path:
    """Where standard output goes, for a sentence: its file if the system says."""
    import contextlib
    from pathlib import Path

    with contextlib.suppress(OSError):
        target = os.readlink("/proc/self/fd/1")
        if target.startswith("/"):
            return Path(target)
    return Path("standard output")


async def cmd_import(args: argparse.Namespace, ws: Workspace) -> int:
    """A JSONL export, a sidecar NAME.json, a video, or a folder of videos and sidecars."""
    from pathlib import Path

    from tui.engine.history import transfer

    source = Path(args.file)
    async with await ws.open_store() as store:
        try:
            report = await transfer.import_path(store, source)
        except OSError as exc:
            raise Problem(f"cannot read {args.file} ({exc.strerror or exc})") from None
    if source.is_dir() and not (report.added or report.present or report.skipped_count):
        raise Problem(f"{args.file} holds no videos (.mp4) or sidecars (.json) to import")
    if args.json:
        print_json({"source": str(source), "added": report.added, "present": report.present,
                    "skipped": report.skipped_count,
                    "problems": report.problem_lines(), "notes": report.note_lines()})
    else:
        say(report.summary())
    for line in [*report.problem_lines(), *report.note_lines()]:
        err(line)
    return 1 if report.skipped_count else 0


async def cmd_stats(args: argparse.Namespace, ws: Workspace) -> int:
    from tui.engine.history import stats

    async with await ws.open_store() as store:
        figures = await stats.compute(store, ws.settings.section("prices"), filter_from(args),
                                      ws.settings.section("budget"))
    if args.json:
        print_json(figures.as_json())
    else:
        say(stats.report(figures))
    return 0


async def cmd_locate(args: argparse.Namespace, ws: Workspace) -> int:
    from pathlib import Path

    from storage.postgres.connect import masked

    location = ws.store_location  # the team's database (its URL, no password), or the file
    database = str(location) if isinstance(location, Path) else masked(location)
    if args.json:
        print_json({"config": str(ws.paths.config_file), "data": str(ws.paths.data_dir),
                    "database": database, "downloads": str(ws.downloads_dir),
                    "state": str(ws.paths.state_file), "cache": str(ws.paths.cache_dir),
                    "demo_data": str(ws.paths.demo().data_dir), "endpoint": ws.base_url,
                    "region": region_of(ws.base_url),
                    "api_key": ws.key.masked if ws.key else None})
        return 0
    say(f"config:    {ws.paths.config_file}\n"
        f"data:      {ws.paths.data_dir}\n"
        f"database:  {printable(database)}\n"
        f"downloads: {ws.downloads_dir}\n"
        f"state:     {ws.paths.state_file}\n"
        f"cache:     {ws.paths.cache_dir}\n"
        f"demo data: {ws.paths.demo().data_dir}\n"
        f"endpoint:  {ws.base_url} ({region_of(ws.base_url)})\n"
        f"api key:   {ws.key.masked if ws.key else 'not set'}")
    return 0
