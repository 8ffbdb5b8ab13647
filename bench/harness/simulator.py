"""The simulator in a process of its own (so its CPU is not mixed into anyone's).

``SimChild`` starts this module as ``python -m harness.simulator CONFIG``: a
simulator that counts every answer by kind, status and simulated second, and on
``report PATH`` writes what it saw (with every task's life) as JSON.
``plain_simulator`` starts ``pixverse-tui simulate`` itself, as a user would."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness import ROOT
from harness.processes import (
    bench_path,
    kill,
    own_cpu,
    read_line,
    start_child,
    tell,
)


class SimChild:
    """A counting simulator in its own process; ``report()`` asks what it saw."""

    def __init__(self, work: Path, name: str, *, speed: float, failure_rate: float,
                 seed: int, min_work: float, max_work: float,
                 log_requests: bool = False) -> None:
        self.work = work
        self.name = name
        options: dict[str, Any] = {"speed": speed, "failure_rate": failure_rate,
                                   "seed": seed, "min_work": min_work, "max_work": max_work}
        if log_requests:
            options["log_requests"] = True
        env = {**os.environ, "PYTHONPATH": bench_path()}
        self.proc = start_child([sys.executable, "-m", "harness.simulator", json.dumps(options)],
                                work / f"{name}-simulator.err", env)
        line = read_line(self.proc, 30, "the simulator")
        if not line.startswith("listening on "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = line.split(" on ", 1)[1]

    @classmethod
    def from_args(cls, args: argparse.Namespace, work: Path, name: str) -> SimChild:
        """From a bench's options: ``--speed``, ``--failure-rate``, ``--seed``,
        ``--min-work``, ``--max-work``."""
        return cls(work, name, speed=args.speed, failure_rate=args.failure_rate,
                   seed=args.seed, min_work=args.min_work, max_work=args.max_work)

    def senders(self, pids: list[int]) -> None:
        """The processes whose requests the log should name (``log_requests``): a request
        from any other process is logged with the pid found by a search of /proc."""
        tell(self.proc, "pids " + " ".join(str(pid) for pid in pids))
        if read_line(self.proc, 30, "the simulator") != "noted":
            raise RuntimeError("the simulator did not note the pids")

    def report(self) -> dict[str, Any]:
        path = self.work / f"{self.name}-simulator.json"
        tell(self.proc, f"report {path}")
        if read_line(self.proc, 60, "the simulator") != "reported":
            raise RuntimeError("the simulator did not report")
        report: dict[str, Any] = json.loads(path.read_text())
        return report

    def close(self) -> None:
        with contextlib.suppress(OSError):
            tell(self.proc, "quit")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        kill(self.proc)


def plain_simulator(speed: float, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``pixverse-tui simulate --port 0`` in its own process; its base URL from line one
    (the rest of its output is read and dropped, so it never blocks)."""
    proc = start_child([sys.executable, "-m", "tui", "simulate", "--port", "0",
                        "--speed", f"{speed:g}"], log, stdin=False)
    try:
        line = read_line(proc, 30, "the simulator")
    except RuntimeError:
        line = ""
    if "listening on http://" not in line:
        kill(proc)
        raise SystemExit(f"the simulator did not start: {line!r}")
    stream = proc.stdout
    assert stream is not None
    threading.Thread(target=stream.read, daemon=True).start()
    return proc, line.split(" on ", 1)[1].split()[0]


def counting_simulator(config_json: str) -> int:
    """The child: a simulator counting every answer; stdin: ``report PATH`` / ``quit``."""
    from tui.simulator import Simulator, SimulatorConfig

    options = json.loads(config_json)
    log_requests = bool(options.pop("log_requests", False))
    sim = Simulator(SimulatorConfig(port=0, **options))
    requests: list[tuple[float, float, str, int, int | None]] = []  # wall, sim, kind, code, pid
    senders: list[int] = []
    kinds: Counter[str] = Counter()  # "kind status" -> answers
    per_second: Counter[int] = Counter()  # queries + lists + cancels per simulated second
    creates_per_second: Counter[int] = Counter()
    lock = threading.Lock()
    handler: Any = sim.httpd.RequestHandlerClass
    original = handler.send_response

    def send_response(self: Any, code: int, message: str | None = None) -> None:
        endpoint = self._endpoint
        if endpoint is not None and endpoint != "media":
            now = self.sim.clock.now()
            kind = endpoint
            if endpoint == "list":
                status = parse_qs(urlsplit(self.path).query).get("status", ["(any)"])[0]
                kind = f"list {status}"
            pid = None
            if log_requests:
                if not hasattr(self, "_sender"):  # one lookup per connection (keep-alive)
                    self._sender = sender_pid(self.client_address[1],
                                              self.server.server_address[1], senders)
                pid = self._sender
            with lock:
                kinds[f"{kind} {code}"] += 1
                (creates_per_second if endpoint == "create" else per_second)[int(now)] += 1
                if log_requests:
                    requests.append((time.time(), now, kind, code, pid))
        original(self, code, message)

    handler.send_response = send_response
    answered_as: Counter[str] = Counter()  # what each query found: the task's status
    world_get = sim.world.get

    def get(key: str, task_id: str) -> Any:
        task = world_get(key, task_id)
        with lock:
            answered_as[task.status if task is not None else "UNKNOWN"] += 1
        return task

    sim.world.get = get  # type: ignore[method-assign]
    sim.start()
    print(f"listening on {sim.base_url}", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "report":
            with sim.world.lock:
                tasks = []
                for key in sim.world.accounts:
                    sim.world.listing(key)  # brings every task's life up to now
                for account in sim.world.accounts.values():
                    tasks += [{"task_id": t.task_id, "status": t.status, "created": t.created,
                               "started": t.started, "ended": t.ended}
                              for t in account.tasks.values()]
            with lock:
                report = {"kinds": dict(kinds), "per_second": dict(per_second),
                          "answered_as": dict(answered_as),
                          "creates_per_second": dict(creates_per_second),
                          "requests": list(requests)}
            report.update(tasks=tasks, start_wall=sim.clock._start_wall, speed=sim.clock.speed,
                          drift=sim.clock.now() - sim.clock.sim(time.time()),
                          traffic=sim.traffic.snapshot(), cpu=own_cpu())
            Path(arg).write_text(json.dumps(report))
            print("reported", flush=True)
        elif command == "pids":
            with lock:
                senders[:] = [int(pid) for pid in arg.split()]
            print("noted", flush=True)
        elif command == "quit":
            break
    sim.stop()
    return 0


def sender_pid(client_port: int, server_port: int, candidates: list[int]) -> int | None:
    """The process on this machine whose TCP socket is the client end of a connection to
    ``server_port`` from ``client_port``: its inode from /proc/net/tcp, then the process
    holding that socket (the candidates first, then every process we may look into)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if int(local.rsplit(":", 1)[1], 16) == client_port \
                        and int(remote.rsplit(":", 1)[1], 16) == server_port:
                    inode = fields[9]
                    break
        if inode:
            break
    if inode is None:
        return None
    socket_link = f"socket:[{inode}]"
    others = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    for pid in [*candidates, *others]:
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == socket_link:
                        return pid
    return None


if __name__ == "__main__":
    assert str(ROOT) in sys.path
    raise SystemExit(counting_simulator(sys.argv[1]))
