"""The command line's parser: every command's options, built for the command that runs
(``tui.cli.main``), for help and for completion.

Imported only when the arguments are not a form ``tui.cli.commands`` reads by itself
(``list``, ``list --json``): argparse, with ``gettext`` and ``locale``, is a tenth of
such a run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib import import_module
from typing import Any, NoReturn

from storage.statuses import SHOWN_STATUSES
from tui.cli.commands import LIST_LIMIT, LIST_RUN, command
from tui.cli.help_text import Formatter, add_help_text
from tui.cli.output import err
from tui.dashscope.sizes import ALL_SIZES, DURATIONS, MODEL_V56, SEED_MAX, TIERS

STATUSES = sorted(SHOWN_STATUSES)  # what --status takes (also offered by completion)
QUEUE_LIST_LIMIT = 20  # items `queue list` shows by default


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed must be 0 to {SEED_MAX}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one sentence too (with where to read more), not a usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        err(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(2)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _variations(text: str) -> int:
    from tui.engine.submitting.limits import MAX_VARIATIONS

    value = int(text)
    if not 1 <= value <= MAX_VARIATIONS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_VARIATIONS}, not {value}")
    return value


def _priority(text: str) -> int:
    from tui.engine.submitting.queue import priority_value

    try:
        return priority_value(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use a number from -9 to 9 (higher goes first), or prompt, batch, "
            f"low ({exc})") from None


def _scale(text: str) -> float:
    value = float(text)
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _version() -> str:
    """The installed distribution's version (what ``pip show`` says)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pixverse-tui")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from tui import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for (reading the
    distribution's metadata costs more than the rest of the parser)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


class _Skipped:
    """The parser of a command that is not running: whatever is asked of it does nothing
    (building every command's options would cost a command more than its own work)."""

    def __getattr__(self, _name: str) -> Callable[..., _Skipped]:
        return lambda *_args, **_kwargs: self


class _OnlyCommand:
    """``add_subparsers``'s action, building the parser of one command only (``only``);
    the others stay names, so the parser still knows every command."""

    def __init__(self, sub: Any, only: str) -> None:
        self.sub = sub
        self.only = only
        self.choices = sub.choices

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        return self.sub.add_parser(name, **kwargs) if name == self.only else _Skipped()


def build(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser — or, with ``only``, that command's alone ("": none, the
    dashboard's options)."""
    parser = _Parser(
        prog="pixverse-tui",
        description="Make videos with PixVerse v5.6 on Alibaba Cloud Model Studio (DashScope).")
    parser.add_argument("--demo", action="store_true",
                        help="run against a built-in simulator (no key, no cost)")
    parser.add_argument("--read-only", action="store_true",
                        help="the dashboard for looking only: nothing can be submitted, "
                        "cancelled, re-run, forgotten or annotated")
    # The dashboard on a simulator whose clock runs fast (tests, benches): hidden.
    parser.add_argument("--time-scale", dest="dashboard_time_scale", type=_scale,
                        default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="show the program's version number and exit")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if only is not None:
        sub = _OnlyCommand(sub, only)

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true",
                       help="print JSON on standard output (shapes: docs/cli.md)")

    def scale_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--time-scale", type=_scale, default=1.0, help=argparse.SUPPRESS)

    p = sub.add_parser("submit", help="create text-to-video tasks: a prompt, a template "
                       "or a batch file")
    p.add_argument("prompt", nargs="?",
                   help="the prompt ({a|b} alternatives make every combination), or - to "
                   "read it from standard input")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="a batch file: one prompt per line, or JSON Lines; - reads standard "
                   "input. Run it again to send only what was not sent")
    p.add_argument("--template", metavar="NAME", help="a saved template ([templates])")
    p.add_argument("--var", action="append", metavar="NAME=VALUE",
                   help="fill a template's {NAME} (repeatable; VALUE may hold a|b)")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be sent, how long it would take and the cost")
    p.add_argument("--over-budget", action="store_true",
                   help="send even if it crosses a [budget]")
    p.add_argument("--yes", action="store_true",
                   help="queue more than [batch] ask_above tasks without asking (each is "
                   "billed when it is sent)")
    p.add_argument("--size", default="1280*720", help=f"W*H, one of {', '.join(ALL_SIZES)}")
    p.add_argument("--duration", type=int, default=5, help="5, 8 or 10 seconds (1080P: 5 or 8)")
    p.add_argument("--audio", action="store_true", help="generate sound (costs more)")
    p.add_argument("--watermark", action="store_true", help='add the "AI生成" label')
    p.add_argument("--seed", type=_seed, default=None,
                   help=f"0 to {SEED_MAX}: the same seed and prompt make a similar video "
                   "(default: random)")
    p.add_argument("--variations", type=_variations, default=1,
                   help="submit N tasks with seeds s…s+N-1 (each prompt, each line)")
    p.add_argument("--model", default=MODEL_V56, help=argparse.SUPPRESS)
    p.add_argument("--priority", type=_priority, default=None, metavar="N",
                   help="place in the local queue: -9 to 9, higher first (default: 1 for a "
                   "prompt, 0 for --from lines; names: prompt, batch, low)")
    p.add_argument("--wait", action="store_true",
                   help="follow the tasks until they end (feeding the queue meanwhile)")
    p.add_argument("--download", action="store_true",
                   help="with --wait: download the video when it is ready")
    json_flag(p)
    scale_flag(p)
    p.set_defaults(run="tui.cli.submit:cmd_submit")

    p = sub.add_parser("queue", help="the local queue: list, pause, resume, move, hold, "
                       "cancel what waits to be sent")
    actions = p.add_subparsers(dest="queue_action", metavar="ACTION", required=True,
                               parser_class=_Parser,
                               help="list, pause, resume, move, hold, release, priority or "
                               "cancel")
    a = actions.add_parser("list", help="what waits, in the order it will be sent, with "
                           "estimated start and finish times")
    a.add_argument("--limit", type=_positive, default=QUEUE_LIST_LIMIT,
                   help=f"show at most N items (default: {QUEUE_LIST_LIMIT})")
    json_flag(a)
    for name, what in (("pause", "pause the whole queue, or one batch"),
                       ("resume", "resume the whole queue, or one batch")):
        a = actions.add_parser(name, help=what)
        a.add_argument("batch", nargs="?", metavar="BATCH",
                       help="a batch id (as `queue list` shows it) or #ID of one of its "
                       "generations; none: the whole queue")
        if name == "pause":
            a.add_argument("--take-back", action="store_true",
                           help="also cancel the batch's tasks still PENDING at the service "
                           "and queue them again")
        json_flag(a)
    a = actions.add_parser("move", help="move queued items up, down, to the top or bottom")
    a.add_argument("where", choices=("up", "down", "top", "bottom"),
                   help="one place up or down, or first (top) or last (bottom) to be sent")
    a.add_argument("refs", nargs="+", metavar="ID", help="#ID of a queued generation")
    json_flag(a)
    for name, what in (("hold", "keep queued items back (they keep their place)"),
                       ("release", "let held items go again"),
                       ("cancel", "take queued items off the queue (free: nothing was sent)")):
        a = actions.add_parser(name, help=what)
        a.add_argument("refs", nargs="+", metavar="ID", help="#ID of a queued generation")
        json_flag(a)
    a = actions.add_parser("priority", help="give queued items a priority (higher goes "
                           "first; prompts 1, batch lines 0)")
    a.add_argument("priority", type=_priority,
                   help="-9 to 9, or prompt (1), batch (0), low (-1)")
    a.add_argument("refs", nargs="+", metavar="ID", help="#ID of a queued generation")
    json_flag(a)
    p.set_defaults(run="tui.cli.queue:cmd_queue")

    p = sub.add_parser("list", help="list generations, newest first")
    p.add_argument("--status", action="append", metavar="STATUS",
                   help=f"only these statuses, e.g. RUNNING or SUCCEEDED,FAILED (repeatable; "
                   f"{', '.join(STATUSES)})")
    p.add_argument("--search", help='words and filter tokens, as in the dashboard: '
                   '"fox tier:720P dl:no since:2026-03-01"')
    p.add_argument("--limit", type=_positive, default=LIST_LIMIT,
                   help=f"show at most N generations (default: {LIST_LIMIT})")
    json_flag(p)
    p.set_defaults(**LIST_RUN)

    p = sub.add_parser("show", help="everything about one generation")
    p.add_argument("task", metavar="TASK|FILE.mp4",
                   help="task id (or a prefix), #ID, or a video file saved by pixverse-tui")
    json_flag(p)
    p.set_defaults(run="tui.cli.history:cmd_show")

    p = sub.add_parser("forget", help="move generations to the trash, e.g. the refused ones "
                       "(--status REJECTED)")
    p.add_argument("tasks", nargs="*", metavar="TASK",
                   help="task id (or a prefix), or #ID")
    p.add_argument("--status", action="append", metavar="STATUS",
                   help=f"every generation with these statuses, e.g. REJECTED (repeatable; "
                   f"{', '.join(STATUSES)})")
    p.add_argument("--yes", action="store_true",
                   help="do not ask first (for scripts)")
    json_flag(p)
    p.set_defaults(run="tui.cli.history:cmd_forget")

    p = sub.add_parser("wait", help="follow tasks until they end")
    p.add_argument("tasks", nargs="+", metavar="TASK", help="task id (or a prefix), or #ID")
    p.add_argument("--download", action="store_true", help="download each video when ready")
    json_flag(p)
    scale_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_wait")

    p = sub.add_parser("download", help="download finished videos")
    p.add_argument("tasks", nargs="+", metavar="TASK", help="task id (or a prefix), or #ID")
    p.add_argument("--to", metavar="FOLDER", help="folder (default: the downloads folder)")
    json_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_download")

    p = sub.add_parser("cancel", help="cancel a PENDING task")
    p.add_argument("task", metavar="TASK", help="task id (or a prefix), or #ID")
    json_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_cancel")

    p = sub.add_parser("track", help="adopt tasks created elsewhere, by task id")
    p.add_argument("task_ids", nargs="+", metavar="TASK_ID",
                   help="the service's full task id")
    json_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_track")

    p = sub.add_parser("resolve", help="settle submissions whose outcome is unknown")
    p.add_argument("ref", nargs="?", help="#ID of an unconfirmed submission (default: all)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--task", metavar="TASK_ID", help="it created this task id")
    group.add_argument("--abandon", action="store_true", help="it created nothing; drop it")
    json_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_resolve")

    def filter_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", help='words and tokens, e.g. "fox tier:720P fav"')
        p.add_argument("--status", action="append", metavar="STATUS",
                       help="only these statuses (repeatable), e.g. SUCCEEDED")
        p.add_argument("--tier", action="append", choices=TIERS,
                       help="only this resolution (repeatable)")
        p.add_argument("--duration", action="append", type=int, choices=DURATIONS,
                       help="only videos of this many seconds (repeatable)")
        p.add_argument("--tag", action="append", help="only generations with this tag "
                       "(repeatable)")
        p.add_argument("--since", metavar="YYYY-MM-DD", help="made on or after this day")
        p.add_argument("--until", metavar="YYYY-MM-DD", help="made on or before this day")
        for name, what in (("audio", "with sound"), ("downloaded", "with a saved video"),
                           ("favourite", "marked favourite")):
            p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None,
                           help=f"only those {what} (--no-{name}: only those without)")

    p = sub.add_parser("export", help="write the history as JSON Lines (or CSV)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                   help="JSON Lines (default) or CSV")
    p.add_argument("-o", "--output", metavar="FILE", help="file (default: standard output)")
    filter_flags(p)
    p.set_defaults(run="tui.cli.history:cmd_export")

    p = sub.add_parser("import", help="add an exported history (idempotent on task id)")
    p.add_argument("file", metavar="FILE",
                   help="an export (.jsonl), a sidecar (.json), a video, or a folder of them")
    json_flag(p)
    p.set_defaults(run="tui.cli.history:cmd_import")

    p = sub.add_parser("sync", help="adopt tasks made by other clients in the last 24 h")
    json_flag(p)
    p.set_defaults(run="tui.cli.tasks:cmd_sync")

    p = sub.add_parser("stats", help="usage statistics")
    json_flag(p)
    filter_flags(p)
    p.set_defaults(run="tui.cli.history:cmd_stats")

    p = sub.add_parser("watch", help="follow every task headless: print, download, signal")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                   help="download finished videos (default: [downloads] auto)")
    p.add_argument("--signal", choices=("bell", "osc9", "osc777", "none"), default="bell",
                   help="how a finished task is signalled (osc9, osc777: a desktop "
                        "notification, passed through tmux)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line per event on standard output: ended, saved, "
                   "save_failed, expiring, poller (shapes: docs/cli.md)")
    scale_flag(p)
    p.set_defaults(run="tui.cli.watch:cmd_watch")

    p = sub.add_parser("locate", help="where config, data and downloads live")
    json_flag(p)
    p.set_defaults(run="tui.cli.history:cmd_locate")

    p = sub.add_parser("config", help="the config file: where it is, what is in effect, "
                       "whether it is valid")
    p.add_argument("action", choices=("path", "show", "check"),
                   help="path: where config.toml is; show: every setting in effect and where "
                   "it came from; check: validate config.toml, templates, themes and keys")
    json_flag(p)
    p.set_defaults(run_sync="tui.cli.config:run")

    p = sub.add_parser("help", help="the pages of docs/ in the terminal: pixverse-tui help "
                       "TOPIC (help alone lists them)")
    p.add_argument("topic", nargs="?", metavar="TOPIC",
                   help="a page (configuration, keys, batches, cli…) or a command's name")
    p.add_argument("--path", action="store_true",
                   help="print where the page is instead of its text")
    p.set_defaults(run_sync=lambda args: import_module("tui.cli.help_topics").run(
        args, dict(sub.choices)))

    p = sub.add_parser("completion", help="print a shell completion script")
    p.add_argument("shell", choices=_shells(only),
                   help="the shell to complete in: bash, zsh or fish")
    p.set_defaults(run_sync=_print_completion)

    # Commands whose options their own modules add: imported only to build their parser.
    for name, add_parser in (("simulate", "tui.simulator.cli:add_parser"),
                             ("serve", "tui.cli.serve:add_parser")):
        if only in (None, name):
            command(add_parser)(sub)

    p = sub.add_parser("store", help="the history's database: copy it into another one")
    actions = p.add_subparsers(dest="store_action", metavar="ACTION", required=True,
                               parser_class=_Parser,
                               help="copy: every generation into another store")
    c = actions.add_parser(
        "copy", help="copy every generation (trash, tags, status history, batches, "
        "downloads per machine) into another store; run it again to finish or update a copy")
    c.add_argument("--to", dest="target", required=True, metavar="URL|FILE",
                   help="a postgresql:// URL (team mode) or the path of a SQLite file "
                   "(made if missing)")
    c.add_argument("--from", dest="source", metavar="URL|FILE",
                   help="where to copy from (default: this history's store)")
    c.add_argument("--batch", type=int, default=None, help=argparse.SUPPRESS)
    c.add_argument("--json", action="store_true",
                   help="print a JSON summary on standard output (shapes: docs/cli.md)")
    c.set_defaults(run="tui.cli.store:cmd_store_copy")
    add_help_text(sub.choices)
    return parser


def _shells(only: str | None) -> tuple[str, ...]:
    """The shells ``completion`` writes for — asked of its module only when its parser is
    built (another command's run loads none of it)."""
    if only not in (None, "completion"):
        return ()
    from tui.cli import completion

    return tuple(completion.SHELLS)


def _print_completion(args: argparse.Namespace) -> int:
    from tui.cli import completion

    print(completion.script(build(), args.shell, {"--status": STATUSES}), end="")
    return 0
