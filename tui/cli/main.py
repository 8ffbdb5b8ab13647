"""``pixverse-tui``: the dashboard (no arguments), the demo, and scripting commands.

Exit status is 0 only on success; errors go to stderr as one sentence — never
a traceback (``PIXVERSE_TUI_DEBUG=1`` shows one, for a bug report).

Each command's module is imported only when that command runs (the parser,
``tui.cli.parser``, names each as ``"module:function"``): ``list`` never loads the
client, the simulator, Textual or the media libraries — nor argparse, for the forms
``tui.cli.commands`` reads itself — and every command starts as fast as its own work
allows.
"""

from __future__ import annotations

import os
import sys

from tui.cli.commands import COMMANDS, command, command_named, quick_arguments
from tui.cli.output import err
from tui.text_input import unicode_problem
from tui.ui import heap

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from tui.cli.commands import Arguments

__all__ = ["COMMANDS", "build_parser", "command", "command_named", "main"]

SIGPIPE_STATUS = 141  # 128 + SIGPIPE: what a shell reports for git when its reader left


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser — or, with ``only``, that command's alone ("": none, the
    dashboard's options)."""
    from tui.cli.parser import build

    return build(only)


# Arguments that name files: a file name may be any bytes (Python hands undecodable ones
# over as surrogates, which open() turns back into the same bytes).
PATH_ARGUMENTS = frozenset({"from_file", "output", "file", "to", "source", "target"})


def undecodable_argument(args: Arguments) -> str | None:
    """One sentence for a text argument holding bytes that are not UTF-8 (Python passes
    them on as lone surrogates, which no database or request can carry); None if none."""
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS or (args.command == "show" and name == "task"
                                      and _is_file(value)):
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and (problem := unicode_problem(text)) is not None:
                shown = name if name in _POSITIONAL else f"--{name.replace('_', '-')}"
                return f"the {shown} argument {problem}; nothing was done"
    return None


_POSITIONAL = frozenset({"prompt", "task", "tasks", "task_ids", "ref", "file"})


def _is_file(value: object) -> bool:
    try:
        return isinstance(value, str) and os.path.isfile(value)
    except (OSError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    # Starting a command is mostly importing modules, whose objects live to the end: the
    # garbage collector's passes over them freed nothing and cost ``list`` a twentieth of
    # its run.  None until the command is known (``tui.ui.heap``, as the dashboard starts);
    # they resume before anything that runs on — the dashboard, the event loop, a server.
    heap.pause_for_startup()
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, where a closed pipe can still be handled
        return status
    except BrokenPipeError:
        return _reader_left()
    finally:
        heap.resume()


def _reader_left() -> int:
    """Standard output's reader is gone (``| head -1``): stop quietly, as git does.

    Whatever is still buffered for standard output goes nowhere, so the interpreter's
    last flush cannot complain about the closed pipe either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stdout (an embedding)
        pass
    return SIGPIPE_STATUS


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = quick_arguments(arguments) or build_parser(
        only=command_named(arguments)).parse_args(arguments)
    if (bad := undecodable_argument(args)) is not None:
        err(bad)
        return 2
    if getattr(args, "run_sync", None) is not None:  # simulate, serve, config: no workspace
        heap.resume()
        return int(command(args.run_sync)(args))
    if args.command is None:
        from tui.launch import launch

        heap.resume()
        return launch(demo=args.demo, read_only=args.read_only,
                      time_scale=args.dashboard_time_scale)
    if args.read_only:
        err("--read-only is for the dashboard (`pixverse-tui --read-only`, or "
            "`pixverse-tui serve --read-only`), not for commands")
        return 2
    if args.demo:
        err("--demo opens the dashboard on its own simulator; for scripting, run "
            "`pixverse-tui simulate` and point DASHSCOPE_HTTP_BASE_URL at it")
        return 2
    try:
        from tui.engine.workspace import Workspace

        ws = Workspace.load()
        for warning in ws.warnings:  # the same ones the dashboard shows
            err(warning)
        # A command's synchronous way first, where it has one (``list``: a page read
        # without an event loop); None means it cannot serve this run.
        if (first := getattr(args, "run_first", None)) is not None \
                and (status := command(first)(args, ws)) is not None:
            return int(status)
        import asyncio

        from tui.stopping import stoppable

        heap.resume()
        return int(asyncio.run(stoppable(command(args.run)(args, ws))))
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:
        raise  # the reader left: see main
    except Exception as exc:
        stopping = sys.modules.get("tui.stopping")  # loaded where a signal can stop the work
        if stopping is not None and isinstance(exc, stopping.Stopped):
            # SIGTERM, SIGHUP: as Ctrl-C, everything given back
            import contextlib

            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                err(str(exc))
            return int(exc.status)
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """One sentence for what went wrong (the classes are imported here, on the way out, so
    a command that succeeds never loads the modules that define them)."""
    from storage import StoreError
    from tui.cli.output import Problem, describe
    from tui.config.credentials import CredentialsError
    from tui.dashscope.errors import DashScopeError, RequestInvalid
    from tui.engine.workspace import MissingKey

    told: tuple[type[Exception], ...] = (Problem, MissingKey, CredentialsError, RequestInvalid,
                                         StoreError)
    created = sys.modules.get("tui.engine.submitting.submit")  # loaded if it could raise it
    if created is not None:
        told += (created.CreatedButNotRecorded,)
    if isinstance(exc, told):
        err(str(exc))
    elif isinstance(exc, DashScopeError):
        err(describe(exc))
    else:  # a bug: still one sentence, unless asked for the details
        if os.environ.get("PIXVERSE_TUI_DEBUG"):
            import traceback

            traceback.print_exception(exc)
        err(f"unexpected {type(exc).__name__}: {exc} — this is a bug; "
            "PIXVERSE_TUI_DEBUG=1 shows where it happened")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
