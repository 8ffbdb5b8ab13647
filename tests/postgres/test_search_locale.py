"""Chinese in search: pg_trgm keeps CJK characters in trigrams only when the database's
ctype calls them letters.  The test server is made with C.UTF-8 (see tests/pg_server.py
and docs/team.md, "Server requirements"); a C ctype is shown to lose them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage.postgres.schema import cjk_trigram_problem, migrate
from tests.pg_server import PostgresServer

PROMPTS = ["一只小猫在雪地里", "a fox in the snow", "小狗 and a cat", "Été à Paris"]


async def _search_db(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await migrate(conn, "test")
    await conn.executemany(
        "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
        " submission, updated_at) VALUES ('t', 'e', 'm', $1, 's', 5, 'accepted', 't')",
        [(p,) for p in PROMPTS])
    return conn


async def _found(conn: asyncpg.Connection, term: str) -> list[str]:
    rows = await conn.fetch("SELECT prompt FROM generations WHERE prompt ILIKE $1 ORDER BY id",
                            f"%{term}%")
    return [row[0] for row in rows]


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await _search_db(pg_dsn)
    yield connection
    await connection.close()


async def test_chinese_characters_are_kept_in_trigrams(conn: asyncpg.Connection) -> None:
    assert len(await conn.fetchval("SELECT show_trgm('一只小猫')")) == 5
    assert await cjk_trigram_problem(conn) is None


async def test_words_chinese_substrings_and_accents_are_found(conn: asyncpg.Connection) -> None:
    assert await _found(conn, "小猫") == ["一只小猫在雪地里"]
    assert await _found(conn, "只小猫在") == ["一只小猫在雪地里"]
    assert await _found(conn, "SNOW") == ["a fox in the snow"]
    assert await _found(conn, "été") == ["Été à Paris"]  # case folded beyond ASCII


async def test_a_chinese_search_is_narrowed_by_the_trigram_index(
        conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM generations WHERE prompt ILIKE '%只小猫%'"))
    assert "generations_prompt_trgm" in plan


async def test_a_c_ctype_would_lose_them(pg_server: PostgresServer) -> None:
    """Why the server's locale matters: with LC_CTYPE=C the same search reads every row
    (the answers stay right) and the store can say so."""
    name = f"c_ctype_{uuid.uuid4().hex[:10]}"
    pg_server.admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
    try:
        conn = await _search_db(pg_server.dsn(name))
        try:
            assert await conn.fetchval("SELECT show_trgm('一只小猫')") == []
            assert await _found(conn, "小猫") == ["一只小猫在雪地里"]
            problem = await cjk_trigram_problem(conn)
            assert problem is not None and "(C)" in problem and "C.UTF-8" in problem
        finally:
            await conn.close()
    finally:
        pg_server.drop_database(name)
