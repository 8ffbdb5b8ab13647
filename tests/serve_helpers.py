"""``pixverse-tui serve`` as a user starts it: a real process on a free port, the URL it
printed, and the app processes it runs (one per tab), seen from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import CLI

URL = re.compile(r"http://\S+/\?token=(\S+)")
START_TIMEOUT = 60.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def sessions_of(pid: int) -> list[int]:
    """The app processes (``tui.web.session``) whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        state = stat.rpartition(")")[2].split()[0]
        if ppid == pid and state != "Z" and b"tui.web.session" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str  # with the token
    token: str
    output: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    def sessions(self) -> list[int]:
        return sessions_of(self.process.pid)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 90.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def start_serve(env: dict[str, str], *args: str) -> Served:
    """``pixverse-tui serve --port 0 ARGS``, once it printed its URL."""
    process = subprocess.Popen([*CLI, "serve", "--port", "0", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    found: list[re.Match[str]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not found and (match := URL.search(line)):
                found.append(match)

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_until(lambda: bool(found) or process.poll() is not None, START_TIMEOUT,
                   "serve to print its URL")
    except AssertionError:
        process.kill()
        raise
    if not found:
        process.wait(10)
        raise AssertionError(f"serve ended before it served: {''.join(lines)}")
    return Served(process, found[0].group(0), found[0].group(1), lines)


@contextlib.contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[Served]:
    served = start_serve(env, *args)
    try:
        yield served
    finally:
        pids = served.sessions()
        served.stop()
        for pid in pids:  # an app process left behind is a failure (and is then killed)
            try:
                wait_until(lambda pid=pid: not alive(pid), 15, f"app process {pid} to end")
            except AssertionError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                raise

