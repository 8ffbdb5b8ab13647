"""Bulk loads into an empty team history (``History.bulk``, storage/postgres/bulk.py): the
secondary indexes are dropped while the rows go in and built once at the end; a load
killed half-way leaves their definitions for the next client that opens the database,
which builds them first; a history in use keeps every index throughout."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import open_store
from storage.clock import now_iso
from storage.history import parse_filter
from storage.postgres.schema import migrate
from tests.pg_server import PostgresServer
from tests.store_contract.helpers import finished
from tui.engine.history.copying import copy_history
from tui.engine.history.transfer import IMPORT_BATCH, check_record, import_jsonl

ROOT = Path(__file__).resolve().parents[2]
_INDEXES = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " ORDER BY indexname")


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_dsn)
    yield connection
    await connection.close()


async def indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in await conn.fetch(_INDEXES)]


async def fresh_indexes(server: PostgresServer) -> list[tuple[str, str]]:
    """The indexes of a schema just made, in a database of its own."""
    name = server.create_database()
    try:
        other = await asyncpg.connect(server.dsn(name))
        try:
            await migrate(other, "a fresh database")
            return await indexes(other)
        finally:
            await other.close()
    finally:
        server.drop_database(name)


async def recorded(conn: asyncpg.Connection) -> list[str]:
    return [row[0] for row in await conn.fetch("SELECT name FROM dropped_indexes ORDER BY 1")]


def line(n: int) -> dict[str, Any]:
    """One exported generation; every seventh never sent."""
    sent = n % 7 != 0
    return {"created_at": f"2026-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
                          f".{n // 86400:03d}+00:00",
            "prompt": f"imported fox {n}" if n % 2 else f"imported owl {n} 小猫",
            "size": "1280*720", "duration": 5, "task_id": f"bulk-{n}" if sent else None,
            "submission": "tracked" if sent else "rejected",
            "status": "SUCCEEDED" if sent else None, "tags": ["keep"] if n % 4 == 0 else [],
            "history": [{"at": now_iso(), "status": "SUCCEEDED"}] if sent else []}


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_copy_into_an_empty_store_ends_with_every_index_and_the_same_rows(
        pg_dsn: str, pg_server: PostgresServer, conn: asyncpg.Connection,
        tmp_path: Path) -> None:
    everything = await indexes(conn) or await fresh_indexes(pg_server)
    async with await open_store(tmp_path / "mine" / "tasks.db") as source:
        assert await source.history.import_many(
            [check_record(line(n)) for n in range(1, 1201)]) == 1200
        for n in range(3):
            await finished(source, f"made here {n}")
        during: list[tuple[list[str], set[str]]] = []
        looks: list[asyncio.Task[None]] = []

        async def look() -> None:  # another machine's view of the database meanwhile
            during.append((await recorded(conn), {name for name, _ in await indexes(conn)}))

        def progress(_: object) -> None:
            looks.append(asyncio.ensure_future(look()))

        async with await open_store(pg_dsn) as target:
            report = await copy_history(source, target, batch=200, progress=progress)
            await asyncio.gather(*looks)
            assert report.added == 1203
            assert [await target.history.count(parse_filter(t)) for t in ("", "fox", "小猫")] \
                == [await source.history.count(parse_filter(t)) for t in ("", "fox", "小猫")]
    # Mid-way the trigram index was gone and recorded; at the end all is as a fresh schema.
    assert any("generations_prompt_trgm" in names for names, _ in during)
    assert any("generations_prompt_trgm" not in present for _, present in during)
    assert all("generations_pkey" in present and "generations_task_id_key" in present
               for _, present in during)
    assert await indexes(conn) == everything == await fresh_indexes(pg_server)
    assert await recorded(conn) == []


async def test_a_load_killed_mid_way_is_finished_by_the_next_open(
        pg_dsn: str, pg_server: PostgresServer, conn: asyncpg.Connection,
        tmp_path: Path) -> None:
    async with await open_store(pg_dsn):
        pass  # the schema
    everything = await indexes(conn)
    lines = [json.dumps(line(n)) + "\n" for n in range(1, 2 * IMPORT_BATCH + 1)]
    worker = subprocess.Popen([sys.executable, "-m", "tests.postgres.bulk_worker", pg_dsn],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert worker.stdin is not None
        worker.stdin.writelines(lines[:IMPORT_BATCH + 1])  # one batch full, and more
        worker.stdin.flush()

        async def first_batch_in() -> bool:
            return await conn.fetchval("SELECT count(*) FROM generations") == IMPORT_BATCH

        await until(first_batch_in, "the first batch to go in")
        assert "generations_prompt_trgm" in await recorded(conn)
        # Another machine opening the database meanwhile leaves the indexes to the load
        # (and still finds what is there).
        async with await open_store(pg_dsn) as other:
            assert await other.history.count(parse_filter("小猫")) == IMPORT_BATCH // 2
        assert "generations_prompt_trgm" in await recorded(conn)
        worker.kill()  # kill -9, half-way
        worker.wait(timeout=30)
    finally:
        worker.kill()
        worker.wait(timeout=30)
    assert await indexes(conn) != everything
    async with await open_store(pg_dsn) as store:  # the next open builds them first
        assert await indexes(conn) == everything == await fresh_indexes(pg_server)
        assert await recorded(conn) == []
        # The import run again adds exactly what is missing.
        path = tmp_path / "export.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        with path.open("rb") as source:
            report = await import_jsonl(store, source, path.name)
        assert (report.added, report.present) == (IMPORT_BATCH, IMPORT_BATCH)
        assert await store.history.count() == 2 * IMPORT_BATCH


async def test_an_import_into_a_store_in_use_drops_nothing(
        pg_dsn: str, conn: asyncpg.Connection, tmp_path: Path) -> None:
    async with await open_store(pg_dsn) as store:
        await finished(store, "already here")
        everything = await indexes(conn)
        seen: list[tuple[list[str], list[tuple[str, str]]]] = []
        original = store.history.import_many

        async def watched(records: Any) -> int:  # what another machine sees meanwhile
            seen.append((await recorded(conn), await indexes(conn)))
            return await original(records)

        store.history.import_many = watched  # type: ignore[method-assign]
        path = tmp_path / "export.jsonl"
        path.write_text("".join(json.dumps(line(n)) + "\n"
                                for n in range(1, 2 * IMPORT_BATCH + 2)), encoding="utf-8")
        with path.open("rb") as source:
            report = await import_jsonl(store, source, path.name)
        assert report.added == 2 * IMPORT_BATCH + 1
    assert len(seen) == 3 and all(found == ([], everything) for found in seen)
    assert await indexes(conn) == everything


async def test_two_openers_after_a_killed_load_build_once(
        pg_dsn: str, conn: asyncpg.Connection) -> None:
    async with await open_store(pg_dsn):
        pass
    everything = await indexes(conn)
    # What a killed load leaves: definitions recorded, their indexes gone.
    for name, definition in everything:
        if name in ("generations_prompt_trgm", "generations_ended", "status_events_at"):
            await conn.execute("INSERT INTO dropped_indexes (name, definition) VALUES ($1, $2)",
                               name, definition)
            await conn.execute(f"DROP INDEX {name}")
    stores = await asyncio.gather(open_store(pg_dsn), open_store(pg_dsn))
    for store in stores:
        await store.close()
    assert await indexes(conn) == everything and await recorded(conn) == []
