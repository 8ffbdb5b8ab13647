"""The test harness itself: the throw-away server and the proxy that cuts a machine off.

Other PostgreSQL tests trust these two, so they are checked like product code:
the server runs as the right user with the right locale, every test has a
database of its own, nothing is left running when the test process is killed,
and the proxy's cut and reset behave as a network does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests import pg_server as harness
from tests.pg_server import PostgresServer, database_name
from tests.tcp_proxy import TcpProxy


async def test_server_is_utf8_with_a_cjk_aware_locale(pg_dsn: str, pg_server: PostgresServer
                                                      ) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        assert await conn.fetchval("SELECT current_setting('lc_ctype')") == harness.LOCALE
    finally:
        await conn.close()
    pid = pg_server.postmaster_pid()
    assert pid is not None
    if os.geteuid() == 0:  # PostgreSQL refuses root: it must run as the postgres user
        import pwd

        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("postgres").pw_uid


async def test_each_test_gets_an_empty_database_of_its_own(pg_dsn: str,
                                                           pg_server: PostgresServer) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") != "postgres"
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        await conn.execute("CREATE TABLE mine (x int)")
    finally:
        await conn.close()
    other = pg_server.create_database()
    try:
        rows = pg_server.admin("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                               database=other)
        assert rows[0][0] == 0
    finally:
        pg_server.drop_database(other)


async def test_a_cut_holds_traffic_silently_and_restore_delivers_it(
        pg_dsn: str, pg_server: PostgresServer) -> None:
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        conn = await asyncpg.connect(pg_server.dsn(database_name(pg_dsn), port=proxy.port))
        try:
            assert await conn.fetchval("SELECT 1") == 1
            proxy.cut()
            query = asyncio.ensure_future(conn.fetchval("SELECT 2"))
            done, _ = await asyncio.wait({query}, timeout=0.5)  # nothing may come back
            assert not done
            proxy.restore()
            assert await asyncio.wait_for(query, 10) == 2
        finally:
            await conn.close()


async def test_a_new_connection_during_a_cut_hangs_until_restored(
        pg_dsn: str, pg_server: PostgresServer) -> None:
    database = database_name(pg_dsn)
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        proxy.cut()
        connecting = asyncio.ensure_future(
            asyncpg.connect(pg_server.dsn(database, port=proxy.port), timeout=20))
        done, _ = await asyncio.wait({connecting}, timeout=0.5)
        assert not done
        proxy.restore()
        conn = await asyncio.wait_for(connecting, 20)
        try:
            assert await conn.fetchval("SELECT 3") == 3
        finally:
            await conn.close()


async def test_a_reset_breaks_open_connections_at_once(pg_dsn: str,
                                                      pg_server: PostgresServer) -> None:
    database = database_name(pg_dsn)
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        conn = await asyncpg.connect(pg_server.dsn(database, port=proxy.port))
        try:
            assert await conn.fetchval("SELECT 1") == 1
            proxy.reset()
            with pytest.raises((asyncpg.PostgresConnectionError, ConnectionError, OSError,
                                asyncpg.InterfaceError)):
                await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)
        finally:
            conn.terminate()
        again = await asyncpg.connect(pg_server.dsn(database, port=proxy.port))
        assert await again.fetchval("SELECT 4") == 4
        await again.close()


def test_a_killed_test_run_leaves_no_server_behind(pg_server: PostgresServer) -> None:
    """SIGKILL gives the test process no chance to clean up: its guard must."""
    runner = subprocess.Popen(
        [sys.executable, harness.__file__, "--serve-until-killed"], stdout=subprocess.PIPE,
        text=True)
    assert runner.stdout is not None
    root, pid = runner.stdout.readline().split()
    assert Path(root).is_dir()
    os.kill(int(pid), 0)  # the server runs
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (_alive(int(pid)) or Path(root).exists()):
        time.sleep(0.05)
    assert not _alive(int(pid)), "the server outlived the killed test run"
    assert not Path(root).exists(), "the server's folder outlived the killed test run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent to reap it has stopped already
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_missing_binaries_skip_loudly_or_fail_when_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "find_bindir", lambda: None)
    reason = harness.missing()
    assert reason is not None and "initdb" in reason
    monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="POSTGRESQL TESTS SKIPPED"):
        harness._skip_or_fail(reason)
    monkeypatch.setenv(harness.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="cannot run"):
        harness._skip_or_fail(reason)
