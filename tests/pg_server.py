"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

One server per test session, listening on 127.0.0.1 on a free port (and on a
socket in its own folder), data thrown away at the end; each test gets a fresh
database of its own (``CREATE DATABASE … TEMPLATE`` is a file copy: fast).

The binaries are found on PATH, through ``pg_config --bindir``, or in Debian's
``/usr/lib/postgresql/*/bin``.  PostgreSQL refuses to run as root, so as root
``initdb`` and ``pg_ctl`` run as the ``postgres`` system user (``runuser``, or
``su``) in a folder handed to that user.  Without the binaries the tests skip
with a loud reason; with ``PIXVERSE_TUI_REQUIRE_POSTGRES=1`` (CI sets it) that
skip is a failure instead.

No orphan server, however the run ends: a small guard process (this file run
with ``--guard``) holds a pipe from the test process and stops the server and
removes its folder when the pipe closes — at a normal end, on Ctrl-C, and when
the test process is killed with SIGKILL and can run no code of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REQUIRE_ENV = "PIXVERSE_TUI_REQUIRE_POSTGRES"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # who runs the server when the tests run as root
# UTF8 with a ctype that classifies CJK ideographs as letters, so pg_trgm keeps them
# in trigrams (see docs/team.md, "Server requirements", and test_search_locale.py).
ENCODING = "UTF8"
LOCALE = "C.UTF-8"
START_TIMEOUT = 60


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (one installation)."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # Debian links /usr/local/bin → lib
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout.strip()
            if out:
                candidates.append(Path(out))

    def major(path: Path) -> int:
        number = re.search(r"(\d+)", path.parent.name)
        return int(number.group(1)) if number else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[test]')"
    if find_bindir() is None:
        return ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH, from pg_config "
                "--bindir or in /usr/lib/postgresql/*/bin — install PostgreSQL "
                "(Debian: apt-get install postgresql)")
    if os.geteuid() == 0 and _system_uid() is None:
        return (f"running as root and there is no '{SYSTEM_USER}' system user to run the "
                "server as (PostgreSQL refuses to run as root)")
    return None


def _system_uid() -> tuple[int, int] | None:
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _as_server_user(command: list[str]) -> list[str]:
    """The command as the ``postgres`` system user when we are root, as is otherwise."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SYSTEM_USER, "--", *command]
    su = shutil.which("su") or "su"
    return [su, SYSTEM_USER, "-s", "/bin/sh", "-c", shlex.join(command)]


def _clean_env() -> dict[str, str]:
    """Our environment without the user's PG* variables (they would steer pg_ctl)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True,
                          env=_clean_env(), timeout=START_TIMEOUT * 2, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")


class PostgresServer:
    """A throw-away server; ``dsn(name)`` is a URL for one of its databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pixverse-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.host = "127.0.0.1"
        self.port = 0
        self._guard: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        ids = _system_uid() if os.geteuid() == 0 else None
        if ids is not None:
            os.chown(self.root, *ids)
        self._start_guard()
        _run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
              "--auth=trust", f"--encoding={ENCODING}", f"--locale={LOCALE}", "--no-sync"],
             "initdb")
        # Trust for the superuser (the tests' admin); passwords for every other role, so
        # tests can check how a password is found (URL, PGPASSWORD, ~/.pgpass).
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all all trust\nhost all {SUPERUSER} 127.0.0.1/32 trust\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        if ids is not None:
            os.chown(hba, *ids)
        for _attempt in range(5):  # another process may take the free port first
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1"
                       f" -k {shlex.quote(str(self.root))} -c fsync=off"
                       " -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=150")
            try:
                _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                      "-w", "-t", str(START_TIMEOUT), "-o", options, "start"], "pg_ctl start")
                return
            except RuntimeError:
                if "already in use" not in self.log_tail():
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}") from None
        raise RuntimeError(f"PostgreSQL found no free port:\n{self.log_tail()}")

    def _start_guard(self) -> None:
        self._guard = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--guard", str(self.bindir),
             str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # Ctrl-C in the terminal must not stop it first

    def stop(self) -> None:
        """Stop the server and remove its folder (the guard does both, then exits)."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        assert guard.stdin is not None
        guard.stdin.close()
        try:
            guard.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            guard.kill()
            _stop_server(self.bindir, self.root)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # -- databases -------------------------------------------------------------------

    def dsn(self, database: str = "postgres", user: str = SUPERUSER,
            host: str | None = None, port: int | None = None) -> str:
        """A URL to one database, as the superuser by default (the server trusts it)."""
        return (f"postgresql://{user}@{host or self.host}:{port or self.port}/{database}"
                "?sslmode=disable")

    def admin(self, *statements: str, database: str = "postgres") -> list[Any]:
        """Run statements as the superuser from synchronous code; the last one's rows."""
        async def run() -> list[Any]:
            import asyncpg

            conn = await asyncpg.connect(self.dsn(database), timeout=30)
            try:
                rows: list[Any] = []
                for statement in statements:
                    rows = list(await conn.fetch(statement))
                return rows
            finally:
                await conn.close()

        # A thread of its own: the caller may be inside (or beside) an event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result(timeout=120)

    def create_database(self, template: str = "template1") -> str:
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(dsn: str) -> str:
    """The database a URL from ``PostgresServer.dsn`` points at."""
    return dsn.rsplit("/", 1)[1].split("?", 1)[0]


def _stop_server(bindir: Path, root: Path) -> None:
    data = root / "data"
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m",
                                            "immediate", "-w", "-t", "30", "stop"]),
                           capture_output=True, env=_clean_env(), timeout=60, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _guard(bindir: Path, root: Path) -> None:
    """Wait for the test process's pipe to close (however it ended), then clean up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(4096):
            pass
    _stop_server(bindir, root)


# -- what the fixtures do (tests/pg_fixtures.py) ------------------------------------------

def _skip_or_fail(reason: str) -> None:
    import pytest

    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL tests cannot run: {reason} ({REQUIRE_ENV}=1 makes this a "
                    "failure, not a skip)", pytrace=False)
    pytest.skip(f"!!! POSTGRESQL TESTS SKIPPED: {reason}")


_shared: PostgresServer | None = None
_unusable: str | None = None  # why the shared server could not be had (said once per test)


def shared_server() -> PostgresServer:
    """This process's one server (started on first use, stopped when the process ends:
    by ``atexit``, else by its guard), for every fixture and backend that needs one —
    so a worker running tests/postgres and the contract suite starts one, not two.
    Skips (or, with PIXVERSE_TUI_REQUIRE_POSTGRES=1, fails) when there is none."""
    global _shared, _unusable
    if _shared is not None:
        return _shared
    if _unusable is None:
        _unusable = missing()
    if _unusable is not None:
        _skip_or_fail(_unusable)
    bindir = find_bindir()
    assert bindir is not None
    server = PostgresServer(bindir)
    try:
        server.start()
        if not server.admin("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"):
            _unusable = (f"the server in {bindir} has no pg_trgm extension (Debian: "
                         "postgresql-contrib)")
    except BaseException:
        server.stop()
        raise
    if _unusable is not None:
        server.stop()
        _skip_or_fail(_unusable)
    atexit.register(server.stop)
    _shared = server
    return server


def serve_for_session() -> Iterator[PostgresServer]:
    yield shared_server()


def fresh_database(server: PostgresServer) -> Iterator[str]:
    name = server.create_database()
    try:
        yield server.dsn(name)
    finally:
        server.drop_database(name)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--guard":
        _guard(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] == "--serve-until-killed":
        # For the no-orphan test: start a server, say where it is, then wait to be killed.
        found = find_bindir()
        assert found is not None
        started = PostgresServer(found)
        started.start()
        print(started.root, started.postmaster_pid(), flush=True)
        time.sleep(3600)
    else:
        sys.exit("usage: pg_server.py --guard BINDIR ROOT")
