"""SIGTERM and SIGHUP stop the program the way Ctrl-C does.

``kill``, a service manager and an SSH connection that drops (SIGHUP) are
ordinary ways to stop a terminal program.  Left to their default, they end the
process on the spot: no ``finally`` runs, so a download stays "downloading",
its lock file stays, the poller lease is held until it expires and the
dashboard leaves the terminal in its alternate screen.  Here they run the same
path as Ctrl-C: the work is cancelled and every clean-up runs.  A second
signal of the same kind stops at once (the default action), for a clean-up that
hangs.

When the terminal itself is gone (the SSH connection dropped: the kernel hangs
the terminal up and sends SIGHUP), every write to it fails.  The process's
terminal outputs are then pointed at the null device before anything else
runs, so the clean-up — and the dashboard's last writes, which have nowhere to
go — cannot fail or hang on them.

Used by the command line (``stoppable``) and the dashboard (``on_stop_signals``
with the app's own way to quit); Textual-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

STOP_SIGNALS: tuple[signal.Signals, ...] = () if sys.platform == "win32" else (
    signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """The work was stopped by a signal; ``status`` is what a shell reports (128 + n)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.status = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def on_stop_signals(loop: asyncio.AbstractEventLoop,
                    stop: Callable[[int], None]) -> Callable[[], None]:
    """Call ``stop(signum)`` on the loop when a stop signal arrives (the first time; a
    second one of the same kind ends the process at once).  Returns the undo.

    Where signal handlers cannot be set (Windows, a thread other than the main one)
    nothing is installed and the undo does nothing."""
    previous: dict[int, Any] = {}
    seen: set[int] = set()

    def received(signum: int, _frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes: only what is safe there.
        if signum in seen:  # the clean-up hangs: stop as the signal's default would
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        seen.add(signum)
        if signum == getattr(signal, "SIGHUP", None):
            detach_if_hung_up()
        try:
            loop.call_soon_threadsafe(stop, signum)
        except RuntimeError:  # the loop has closed without undoing this: the default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in STOP_SIGNALS:
        try:
            previous[signum] = signal.signal(signum, received)
        except (ValueError, OSError):  # not the main thread
            break

    def undo() -> None:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        previous.clear()

    return undo


def detach_if_hung_up(fds: tuple[int, ...] = (0, 1, 2)) -> list[int]:
    """Point the standard streams that are a terminal that was hung up at the null
    device (reads: end of file; writes: vanish).  Returns the ones it moved."""
    gone = [fd for fd in fds if _hung_up(fd)]
    if not gone:
        return []
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return []
    try:
        for fd in gone:
            os.dup2(null, fd)
    finally:
        os.close(null)
    return gone


def _hung_up(fd: int) -> bool:
    """A terminal that no longer answers (its other end closed): a terminal query
    fails with EIO (``isatty`` then says False too).  A pipe, a file or a live terminal
    is left alone."""
    try:
        import termios
    except ImportError:  # Windows
        return False
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except (OSError, ValueError):
        return False
    return False


async def stoppable(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; a stop signal cancels it (every ``finally`` runs) and raises
    ``Stopped``."""
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    undo = on_stop_signals(asyncio.get_running_loop(), stop)
    try:
        result = await work
    except asyncio.CancelledError:
        if received:
            raise Stopped(received[0]) from None
        raise
    finally:
        undo()
    if received:  # the work ended anyway (it was about to): it was still stopped
        raise Stopped(received[0])
    return result
