"""The team database's schema: what SQLite holds, values that read back as written,
upgrades that several machines may start at once, and a newer schema refused."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from storage import open_store
from storage.errors import SchemaTooNew, StoreUnavailable
from storage.postgres.schema import SCHEMA_VERSION, current_version, migrate
from storage.records import Generation
from tests.pg_server import PostgresServer, database_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_dsn)
    yield connection
    await connection.close()


async def _columns(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch("SELECT column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema() AND table_name = $1", table)
    return {row[0] for row in rows}


async def test_the_schema_holds_what_the_sqlite_one_does(conn: asyncpg.Connection,
                                                         tmp_path: Path) -> None:
    assert await migrate(conn, "test") == SCHEMA_VERSION
    async with await open_store(tmp_path / "tasks.db"):
        pass  # created at the newest schema
    with contextlib.closing(sqlite3.connect(tmp_path / "tasks.db")) as sqlite:
        for table in ("generations", "status_events", "generation_tags", "poller_leases",
                      "request_budgets", "foreign_tasks"):
            rows = sqlite.execute(f"PRAGMA table_info({table})").fetchall()
            assert await _columns(conn, table) == {row[1] for row in rows}, table
    computed = {"saved_on"}  # from the downloads of other machines, not a column
    assert set(Generation._fields) - computed <= await _columns(conn,
                                                                              "generations")
    assert await conn.fetchval(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == 1


async def test_migrating_again_changes_nothing(conn: asyncpg.Connection) -> None:
    await migrate(conn, "test")
    assert await migrate(conn, "test") == SCHEMA_VERSION
    assert await conn.fetchval("SELECT count(*) FROM schema_version") == SCHEMA_VERSION
    version, by = await current_version(conn)
    assert version == SCHEMA_VERSION and by is not None and by.startswith("pixverse-tui ")


async def test_values_read_back_exactly_as_written(conn: asyncpg.Connection) -> None:
    """Text times stay as written (ours, the service's, an import's), byte order rules."""
    await migrate(conn, "test")
    values = {
        "created_at": "2026-03-01T12:00:00.123+00:00", "endpoint": "https://x", "model": "m",
        "prompt": "一只小猫 in the snow — \"quoted\" %_\\", "size": "1280*720",
        "duration": 2**62, "submission": "accepted",
        "submit_time": "2026-03-01 20:00:00.123",  # the service's own spelling and zone
        "scheduled_time": "not a time at all", "usage_duration": 5.000000000000001,
        "updated_at": "2026-03-01T12:00:00.123+00:00", "audio": True, "seed": -1,
        "intent_key": "batch:\U0010fffe", "favourite": False,
    }
    columns = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    row_id = await conn.fetchval(f"INSERT INTO generations ({columns}) VALUES ({marks})"
                                 " RETURNING id", *values.values())
    row = await conn.fetchrow(f"SELECT {columns} FROM generations WHERE id = $1", row_id)
    assert row is not None and dict(row) == values
    # Byte order, as SQLite's: the prefix range of one batch's keys finds its key.
    found = await conn.fetchval("SELECT count(*) FROM generations WHERE intent_key >= $1"
                                " AND intent_key < $2", "batch:", "batch:\U0010ffff")
    assert found == 1
    assert await conn.fetchval("SELECT 'B' < 'a' COLLATE \"C\"") is True


async def test_intent_keys_and_task_ids_are_unique(conn: asyncpg.Connection) -> None:
    await migrate(conn, "test")
    insert = ("INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
              " submission, updated_at, intent_key, task_id) VALUES ('t', 'e', 'm', 'p', 's',"
              " 5, 'sending', 't', $1, $2)")
    await conn.execute(insert, "k1", None)
    await conn.execute(insert, None, None)
    await conn.execute(insert, None, None)  # many rows without a key
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(insert, "k1", None)
    await conn.execute(insert, "k2", "task-1")
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(insert, "k3", "task-1")


def _workers(url: str, which: str, count: int) -> list[str]:
    """``count`` processes connect, then migrate at the same moment; what each said."""
    procs = [subprocess.Popen([sys.executable, "-m", "tests.postgres.migrate_worker", url,
                               which], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(count)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        said = [proc.communicate(timeout=120)[0].strip() for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * count, said
        return said
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.parametrize("which", ["real", "slow"])
async def test_machines_upgrading_at_once_end_with_one_schema(
        pg_dsn: str, conn: asyncpg.Connection, which: str) -> None:
    expected = SCHEMA_VERSION if which == "real" else 2
    assert _workers(pg_dsn, which, 3) == [f"version {expected}"] * 3
    assert [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY 1")
            ] == list(range(1, expected + 1))
    assert await conn.fetchval("SELECT count(*) FROM pg_class WHERE relname = 'generations'"
                               " AND relkind = 'r'") == 1


async def test_a_newer_schema_is_refused_in_one_sentence(pg_dsn: str,
                                                         conn: asyncpg.Connection) -> None:
    await migrate(conn, "test")
    await conn.execute("INSERT INTO schema_version (version, applied_by) VALUES ($1, $2)",
                       SCHEMA_VERSION + 1, "pixverse-tui 9.9 on studio-9")
    with pytest.raises(SchemaTooNew) as refused:
        await migrate(conn, "postgresql://alice:***@db/team")
    message = str(refused.value)
    assert message == (
        f"the team database postgresql://alice:***@db/team was set up by a newer pixverse-tui"
        f" (schema {SCHEMA_VERSION + 1}, by pixverse-tui 9.9 on studio-9; this one knows "
        f"{SCHEMA_VERSION}); upgrade pixverse-tui.")
    # The same sentence from another process, through the whole path a machine takes.
    said = _workers(pg_dsn, "real", 1)
    assert said == [f"refused: {message.replace('postgresql://alice:***@db/team', pg_dsn)}"]


async def test_a_read_only_role_opens_a_current_schema_but_cannot_upgrade_one(
        pg_server: PostgresServer, pg_dsn: str, conn: asyncpg.Connection) -> None:
    role = f"viewer_{uuid.uuid4().hex[:8]}"
    db = database_name(pg_dsn)
    pg_server.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'",
                    f'GRANT CONNECT ON DATABASE "{db}" TO {role}',
                    f"GRANT USAGE ON SCHEMA public TO {role}",
                    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
                    database=db)
    url = f"postgresql://{role}:pw@{pg_server.host}:{pg_server.port}/{db}?sslmode=disable"
    try:
        viewer = await asyncpg.connect(url)
        try:
            with pytest.raises(StoreUnavailable, match="may not change it"):
                await migrate(viewer, "the db")  # nothing there yet: it would have to create
            await migrate(conn, "test")
            assert await migrate(viewer, "the db") == SCHEMA_VERSION  # read, not locked
        finally:
            await viewer.close()
    finally:
        pg_server.admin(f"DROP OWNED BY {role}", database=db)
        pg_server.admin(f"DROP ROLE {role}")


ODD_STAMPS = [
    "2026-03-01T12:00:00.123+00:00", "2026-03-01 20:00:00.123", "2026-03-01T12:00:00Z",
    "2026-03-01t12:00:00z", "2026-03-01T12:00+08:00", "2026-03-01T12:00:00.1234567+00:00",
    "2026-03-01 12:00:00 +0800", "2026-03-01T12:00:00+14:00", "2026-03-01T12:00:00+99:99",
    "2026-03-01T24:00:00", "2026-03-01T23:59:60Z", "2026-03-01T12:00", "2026-03-01",
    "2026-03-01T25:00:00", "2026-13-01T00:00:00", "0000-01-01T00:00:00", "1999-12-31T23:59:59",
    "2026-03-01T12:00:00.5-03:30", "2026-03-01T12:00:00 garbage", " 2026-03-01T12:00:00",
    "garbage", "", "2026/03/01 12:00:00", "2026-03-01T12:00:00+08",
    *[f"{year}-{month:02d}-{day:02d}T10:20:30{zone}" for year in (2024, 2026)
      for month in range(1, 13) for day in (1, 28, 29, 30, 31, 32) for zone in ("", "Z")],
]


async def test_moments_read_as_the_previous_version_read_them(
        conn: asyncpg.Connection) -> None:
    """v3 reads most stamps without its EXCEPTION block: every value must be v2's, or
    the index on when rows ended (and the figures) would disagree with the rows."""
    from storage.postgres.schema import V2

    await migrate(conn, "test")
    start = V2.index("CREATE FUNCTION pixverse_moment(")
    previous = V2[start:V2.index("END $$;", start) + len("END $$;")]
    await conn.execute(previous.replace("pixverse_moment(", "previous_moment(", 1))
    different = await conn.fetch(
        "SELECT t, pixverse_moment(t), previous_moment(t) FROM unnest($1::text[]) AS t"
        " WHERE pixverse_moment(t) IS DISTINCT FROM previous_moment(t)", ODD_STAMPS)
    assert different == []
    assert await conn.fetchval("SELECT count(*) FROM unnest($1::text[]) AS t"
                               " WHERE pixverse_moment(t) IS NULL", ODD_STAMPS) > 10


async def test_a_parallel_plan_may_read_moments(pg_dsn: str) -> None:
    """v2 declared pixverse_moment parallel safe although its EXCEPTION block starts a
    subtransaction: a sort by "took" on a large history (which PostgreSQL runs in
    parallel) failed.  Forced into parallel workers, it must still work."""
    from storage.postgres.search import order_by

    stamps = ["2026-03-01T10:00:00.000+00:00", "2026-03-01 18:00:07.123", "2026-02-29T10:00:00Z"]
    async with await open_store(pg_dsn) as store:
        await store.history.import_many(
            {"created_at": f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}.000+00:00",
             "updated_at": "2026-03-01T10:00:00.000+00:00", "endpoint": "e", "model": "m",
             "prompt": f"p {n}", "size": "1280*720", "duration": 5, "submission": "accepted",
             "task_id": f"t{n}", "status": "SUCCEEDED", "submit_time": stamps[n % 3],
             "end_time": stamps[(n + 1) % 3]} for n in range(600))
    conn = await asyncpg.connect(pg_dsn)
    try:
        for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                        "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2",
                        "force_parallel_mode = on"):
            await conn.execute(f"SET {setting}")
        found = await conn.fetch(f"SELECT id FROM generations WHERE forgotten_at IS NULL"
                                 f" {order_by('took', True)} LIMIT 5")
        assert len(found) == 5
        assert await conn.fetchval("SELECT count(*) FROM generations"
                                   " WHERE pixverse_moment(end_time) IS NULL") == 200  # 29 Feb
    finally:
        await conn.close()
