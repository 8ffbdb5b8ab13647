"""A program in a real pseudo-terminal, as a user's terminal runs it: its output read
as it comes (so it never blocks on a full pipe), the moment a text first appears in
it, and an end by its id.

The terminal answers what a plain xterm-like terminal answers (``XTERM_ANSWERS``:
device attributes without graphics, the cell size); any other question goes
unanswered, as such a terminal leaves it (a Kitty graphics probe waits its timeout)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

from harness.processes import CHILDREN, cpu_seconds

XTERM_ANSWERS = {b"\x1b[c": b"\x1b[?62;22c", b"\x1b[16t": b"\x1b[6;20;10t"}


class PtyChild:
    """``argv`` on a ``columns``×``lines`` pseudo-terminal (its stdin, stdout and stderr:
    Textual draws on stderr), in its own session; ``log`` is kept for the caller's notes."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, *,
                 columns: int = 140, lines: int = 40, cwd: Path | None = None,
                 answers: dict[bytes, bytes] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {**env, "TERM": env.get("TERM", "xterm-256color"), "COLUMNS": str(columns),
               "LINES": str(lines)}
        for name in ("TMUX", "STY", "NO_COLOR"):
            env.pop(name, None)
        self.master = master
        self.answers = XTERM_ANSWERS if answers is None else answers
        self._answered = 0  # output before this offset holds no unanswered question
        self.output = bytearray()
        self.lock = threading.Lock()
        self.last_byte = 0.0  # monotonic time the last output arrived
        self.arrivals: list[tuple[int, float]] = []  # (end offset, time) of each read
        self.started = time.monotonic()
        self.cpu_then = float("nan")
        self.log = log
        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
            start_new_session=True, close_fds=True)
        os.close(slave)
        CHILDREN.append(self.proc)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.output += chunk
                self.last_byte = time.monotonic()
                self.arrivals.append((len(self.output), self.last_byte))
                asked = []
                for question, answer in self.answers.items():
                    found = self.output.find(question, self._answered)
                    if found >= 0:
                        asked.append(answer)
                        self._answered = max(self._answered, found + len(question))
            for answer in asked:
                with contextlib.suppress(OSError):
                    os.write(self.master, answer)

    def seen_at(self, text: str, timeout: float, *, after: int = 0) -> float:
        """Seconds from the start until ``text`` first appeared in the output (past byte
        ``after``); RuntimeError after ``timeout`` s without it.  ``cpu_then``: the CPU
        time the program had used when it was seen (within a few milliseconds) — on a
        shared machine, steadier than the wall clock."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = self.output.find(wanted, after)
                if found >= 0:
                    self.cpu_then = cpu_seconds(self.proc.pid) or float("nan")
                    end = found + len(wanted)
                    stamp = next(t for offset, t in self.arrivals if offset >= end)
                    return stamp - self.started  # when the read that completed it came
            if self.proc.poll() is not None:
                break
            time.sleep(0.002)
        raise RuntimeError(f"{text!r} was not painted within {timeout:.0f} s "
                           f"(exit {self.proc.poll()})")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def stop(self) -> None:
        """SIGTERM (the dashboard quits as on ctrl+q), then SIGKILL to its session."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.master)
        self._reader.join(2)
