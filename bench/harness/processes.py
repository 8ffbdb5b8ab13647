"""Child processes of a bench: each in its own process group, every one ended (by its
id) when the bench ends; their environment, memory and CPU."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import subprocess
from pathlib import Path

from harness import BENCH, ROOT

KEY = "sk-bench-0123456789"  # any key: the simulator accepts it
CHILDREN: list[subprocess.Popen[bytes]] = []  # every process started; all killed at the end


def child_env(home: Path, base_url: str, key: str = KEY, **more: str) -> dict[str, str]:
    """The environment of a product process in its own home, against a simulator: no
    DASHSCOPE_/PIXVERSE_ setting of the caller leaks in, no colour, this tree's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "PIXVERSE_"))}
    env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_HTTP_BASE_URL=base_url,
               DASHSCOPE_API_KEY=key, PYTHONPATH=bench_path(), NO_COLOR="1", **more)
    return env


def bench_path() -> str:
    """PYTHONPATH for a child that imports the product and the harness."""
    return os.pathsep.join((str(ROOT), str(BENCH)))


def start_child(argv: list[str], log: Path, env: dict[str, str] | None = None,
                stdin: bool = True) -> subprocess.Popen[bytes]:
    """A child in its own session (so it and its own children end together); stdout is
    a pipe to talk over (``read_line``), stderr goes to ``log``."""
    with log.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True,
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=stderr)
    CHILDREN.append(proc)
    return proc


def read_line(proc: subprocess.Popen[bytes], timeout: float, what: str) -> str:
    """The child's next line of stdout, or RuntimeError if none came within ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().decode() if ready else ""
    if not line:
        raise RuntimeError(f"{what} did not answer within {timeout:.0f} s "
                           f"(exit {proc.poll()})")
    return line.strip()


def tell(proc: subprocess.Popen[bytes], text: str) -> None:
    """One line to the child's stdin."""
    assert proc.stdin is not None
    proc.stdin.write(text.encode() + b"\n")
    proc.stdin.flush()


def kill(proc: subprocess.Popen[bytes]) -> None:
    """End the child and its own children (its process group) if it still runs."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own group (start_new_session)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def kill_all() -> None:
    for proc in CHILDREN:
        kill(proc)


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MB (VmRSS from /proc), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU time a process has used (/proc/<pid>/stat), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """User + system CPU time of this process, all its threads (getrusage)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def children_cpu() -> float:
    """User + system CPU time of every child process this one has waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
