"""The dashboard stopped by SIGTERM or SIGHUP, or by its terminal going away, as a user's
terminal sees it: the real program under a real pseudo-terminal.

Stopped that way it quits as ctrl+q does: the terminal gets its restore sequences
(main screen, mouse tracking off, cursor shown), the poller lease is given back
(the next process polls at once), and a download under way is put back to resume.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Generation, open_store
from tests.conftest import CLI, KEY, cli_env
from tui.dashscope import ApiKey
from tui.engine.following.account import account_id
from tui.simulator import Simulator
from tui.simulator.faults import Fault

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals and signals")

DEADLINE = 60.0
ENTER_ALT, LEAVE_ALT = b"\x1b[?1049h", b"\x1b[?1049l"
MOUSE = (b"1000", b"1003", b"1006")
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"


class Terminal:
    """The dashboard on the far side of a pseudo-terminal; every byte it writes is kept."""

    def __init__(self, home: Path, sim: Simulator) -> None:
        env = cli_env(home, sim)
        env.update(TERM="xterm-256color", PIXVERSE_TUI_GRAPHICS="off", COLUMNS="100",
                   LINES="30")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the dashboard, as `pixverse-tui` starts it
            try:
                # the simulator's clock runs fast: so does the poller's (its looks)
                os.execve(CLI[0], [*CLI, "--time-scale", "20"], env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.output = bytearray()
        self.status: int | None = None
        self.open = True

    def pump(self, seconds: float) -> None:
        """Read what it writes for a while (a terminal that is not read blocks it)."""
        end = time.monotonic() + seconds
        while self.open and time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed its side
                data = b""
            if not data:
                self.close()
                return
            self.output += data

    def close(self) -> None:
        """Close the terminal's far side, as a dropped SSH connection does."""
        if self.open:
            self.open = False
            os.close(self.fd)

    def wait(self) -> int:
        """Its exit status; reading the terminal until it ends."""
        deadline = time.monotonic() + DEADLINE
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not end; it wrote {self.tail()!r}")
            self.pump(0.1) if self.open else time.sleep(0.05)
        self.pump(0.5)
        self.close()
        return os.waitstatus_to_exitcode(self.status)

    def kill(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9
        self.close()

    def tail(self) -> bytes:
        return bytes(self.output[-400:])


def read(home: Path, sim: Simulator) -> tuple[Generation | None, str | None]:
    """Row 1 and whoever holds the account's poller lease."""
    async def get() -> tuple[Generation | None, str | None]:
        async with await open_store(home / "tasks.db") as store:
            lease = await store.leases.current(account_id(sim.base_url, ApiKey(KEY)))
            return await store.generations.get(1), lease.holder
    return asyncio.run(get())


@pytest.fixture
def downloading(sim: Simulator, tmp_path: Path) -> Iterator[tuple[Path, Terminal, Fault]]:
    """The dashboard, polling the account, halfway through downloading a finished video."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[downloads]\nauto = true\n")
    made = subprocess.run([*CLI, "submit", "a fox in the snow"], env=cli_env(home, sim),
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    held = Fault("hold", on="media", seconds=DEADLINE)  # half the video, then it waits
    sim.faults.push(held)
    terminal = Terminal(home, sim)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            terminal.pump(0.2)
            row, holder = read(home, sim)
            part = list((home / "downloads").glob("*.part"))  # bytes on disk, not only begun
            if row is not None and row.download_state == "downloading" and holder and part:
                break
            assert time.monotonic() < deadline, f"no download started: {terminal.tail()!r}"
        terminal.pump(0.3)
        yield home, terminal, held
    finally:
        held.release()
        terminal.kill()


def assert_given_back(home: Path, sim: Simulator) -> None:
    row, holder = read(home, sim)
    assert holder is None  # the next process polls at once, not after the lease runs out
    assert row is not None and row.download_state == "failed", row
    assert row.download_error == "the download was interrupted"
    downloads = home / "downloads"
    assert not list(downloads.glob("*.lock"))
    assert list(downloads.glob("*.part"))  # kept: the next download resumes it


def after_last(output: bytes, sequence: bytes) -> bytes:
    at = output.rfind(sequence)
    assert at >= 0, f"{sequence!r} was never written"
    return output[at:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_restores_the_terminal_and_gives_everything_back(
        sim: Simulator, downloading: tuple[Path, Terminal, Fault], signum: int) -> None:
    home, terminal, _held = downloading
    os.kill(terminal.pid, signum)
    assert terminal.wait() == 128 + signum, terminal.tail()
    output = bytes(terminal.output)
    assert ENTER_ALT in output and HIDE_CURSOR in output  # it had taken the terminal over
    last = after_last(output, ENTER_ALT)
    assert LEAVE_ALT in last, terminal.tail()  # back to the main screen
    for mode in MOUSE:  # mouse tracking off, each after it was last turned on
        assert output.rfind(b"\x1b[?" + mode + b"l") > output.rfind(b"\x1b[?" + mode + b"h")
    assert output.rfind(SHOW_CURSOR) > output.rfind(HIDE_CURSOR)
    assert output.rfind(LEAVE_ALT) > output.rfind(ENTER_ALT)
    assert b"Traceback" not in output
    assert_given_back(home, sim)


def test_a_terminal_that_goes_away_still_gives_everything_back(
        sim: Simulator, downloading: tuple[Path, Terminal, Fault]) -> None:
    """The SSH connection drops: the terminal is hung up (SIGHUP, and every write to it
    fails from then on).  The dashboard still ends, promptly, and gives back."""
    home, terminal, _held = downloading
    terminal.close()
    assert terminal.wait() == 128 + signal.SIGHUP
    assert_given_back(home, sim)
