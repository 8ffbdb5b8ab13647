"""SIGTERM and SIGHUP stop the program the way Ctrl-C does.

``kill``, a service manager and an SSH connection that drops (SIGHUP) are
ordinary ways to stop a terminal program.  Left to their default, they end the
process on the spot: no ``finally`` runs, so a download stays "downloading",
its lock file stays, the poller lease is held until it expires and the
dashboard leaves the terminal in its alternate screen.  Here they run the same
path as Ctrl-C: the work is cancelled and every clean-up runs.  A second
signal of the same kind stops at once (the default action), for a clean-up that
hangs.

Used by the command line (``stoppable``) and the dashboard (``on_stop_signals``
with the app's own way to quit); Textual-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
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

    Where the loop cannot take signal handlers (Windows, a thread other than the main
    one) nothing is installed and the undo does nothing."""
    installed: list[int] = []
    seen: set[int] = set()

    def received(signum: int) -> None:
        if signum in seen:  # the clean-up hangs: stop as the signal's default would
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
                signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        seen.add(signum)
        stop(signum)

    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, received, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            break  # not the main thread, or a loop without signal support
        installed.append(signum)

    def undo() -> None:
        for signum in installed:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        installed.clear()

    return undo


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
