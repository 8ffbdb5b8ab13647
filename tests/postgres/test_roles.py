"""Least privilege, as docs/team.md tells an administrator to set it up: the roles block
there is run as written (names made unique), then a writer works, a viewer reads
everything live and changes nothing, and the dashboard of a viewer runs read-only by
itself."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storage import StoreUnavailable, open_store
from tests.conftest import client_for
from tests.pg_server import PostgresServer, database_name
from tests.store_contract.helpers import accepted, intent
from tests.ui.helpers import app_for, table, until
from tests.ui.test_live_views import status_text
from tui.dashscope import GenerationRequest
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("pixverse_owner", "pixverse_writer", "pixverse_viewer", "alice", "guest")
PASSWORD = "change me"  # as the docs write it


def roles_block() -> str:
    """The SQL block docs/team.md marks as the roles an administrator runs."""
    text = (ROOT / "docs" / "team.md").read_text(encoding="utf-8")
    after = text[text.index("<!-- roles"):]
    return after.split("```sql\n", 1)[1].split("```", 1)[0]


@dataclass
class Team:
    owner: str
    writer: str  # alice's URL
    viewer: str  # guest's URL


@pytest.fixture
def team(pg_server: PostgresServer, pg_dsn: str) -> Iterator[Team]:
    """A database owned by its own role, its schema made by the owner's pixverse-tui,
    then the docs' roles block run by the superuser."""
    database = database_name(pg_dsn)
    suffix = f"_{uuid.uuid4().hex[:8]}"
    names = {role: role + suffix for role in ROLES}

    def url(role: str) -> str:
        return (f"postgresql://{names[role]}:{PASSWORD.replace(' ', '%20')}@{pg_server.host}:"
                f"{pg_server.port}/{database}?sslmode=disable")

    pg_server.admin(f"CREATE ROLE {names['pixverse_owner']} LOGIN PASSWORD '{PASSWORD}'",
                    f'ALTER DATABASE "{database}" OWNER TO {names["pixverse_owner"]}')
    try:
        async def make_schema() -> None:
            await (await open_store(url("pixverse_owner"))).close()

        asyncio.run(make_schema())
        block = re.sub(r"\b(" + "|".join(ROLES) + r")\b", lambda m: names[m.group(1)],
                       roles_block())
        block = block.replace("ON DATABASE pixverse", f'ON DATABASE "{database}"')
        asyncio.run(_run_script(pg_server.dsn(database), block))
        yield Team(url("pixverse_owner"), url("alice"), url("guest"))
    finally:
        pg_server.admin(f'ALTER DATABASE "{database}" OWNER TO postgres')
        existing = {row[0] for row in pg_server.admin("SELECT rolname FROM pg_roles")}
        mine = [names[role] for role in reversed(ROLES) if names[role] in existing]
        if mine:
            pg_server.admin(f"DROP OWNED BY {', '.join(mine)} CASCADE", database=database)
            pg_server.admin(*(f"DROP ROLE {role}" for role in mine))


async def _run_script(url: str, script: str) -> None:
    """Several statements at once, as psql -f runs them."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(script)
    finally:
        await conn.close()


async def test_a_writer_writes_and_a_viewer_reads_live_and_changes_nothing(team: Team) -> None:
    async with await open_store(team.writer) as alice, \
            await open_store(team.viewer) as guest:
        assert not alice.read_only and guest.read_only
        feed = guest.changes()
        row = await accepted(alice, "a heron at dawn")
        _, mine = await alice.intents.claim("batch:1", endpoint="e", model="m", prompt="p",
                                            size="1280*720", duration=5)
        assert mine
        seen = await asyncio.wait_for(anext(feed), 10)
        while row.id not in seen.rows and not seen.everything:
            seen = seen | await asyncio.wait_for(anext(feed), 10)
        assert [r.prompt for r in await guest.history.page()][-1] == "a heron at dawn"
        assert (await guest.history.counts("2026-01-01T00:00:00.000+00:00")).total == 2
        for write in (intent(guest, "refused"), guest.history.set_note(row.id, "no"),
                      guest.trash.forget(row.id), guest.leases.hold("acct", "guest", 10),
                      guest.budget.take("acct", 10, 1)):
            with pytest.raises(StoreUnavailable, match="may only read the team database"):
                await write
        assert (await guest.generations.get(row.id)) == await alice.generations.get(row.id)


async def test_a_writer_imports_on_a_server_that_keeps_temporary_tables_from_everyone(
        team: Team, pg_server: PostgresServer) -> None:
    """An import stages its batch in a temporary table: the docs' writer role may make
    one even where PUBLIC may not (a hardened server)."""
    database = database_name(team.owner)
    pg_server.admin(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    record = {"created_at": "2026-01-01T00:00:00.000+00:00", "endpoint": "e", "model": "m",
              "prompt": "imported", "size": "1280*720", "duration": 5,
              "submission": "accepted", "task_id": "imp-1", "status": "SUCCEEDED",
              "updated_at": "2026-01-01T00:00:00.000+00:00"}
    async with await open_store(team.writer) as alice, \
            await open_store(team.viewer) as guest:
        assert await alice.history.import_many([record]) == 1
        with pytest.raises(StoreUnavailable, match="may only read the team database"):
            await guest.history.import_many([{**record, "task_id": "imp-2"}])
    owner = urlsplit(team.owner).username or ""
    writer = "pixverse_writer" + owner.removeprefix("pixverse_owner")
    pg_server.admin(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM {writer}')
    async with await open_store(team.writer) as alice:
        with pytest.raises(StoreUnavailable, match="needs TEMPORARY on the database"):
            await alice.history.import_many([{**record, "task_id": "imp-3"}])


async def test_a_viewers_dashboard_runs_read_only_by_itself(team: Team, sim: Simulator,
                                                            tmp_path: Path) -> None:
    async with await open_store(team.writer) as alice, client_for(sim) as client:
        await submit(alice, client, GenerationRequest("a lantern in the fog"),
                     first_poll_after=0)
    app = app_for(tmp_path, sim)
    app.ws.settings.values["store"]["url"] = team.viewer
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="alice's row")
        await until(pilot, lambda: status_text(app).startswith(" READ-ONLY "),
                    what="the status bar to say READ-ONLY")
        assert app.services.read_only and app.poller is None  # nothing to write answers to
        assert app.focused is table(app)
        await pilot.press("x")  # forget: refused before anything is written
        await until(pilot, lambda: any(n.message.startswith("read-only: ")
                                       for n in app._notifications), what="the refusal")
        assert app.screen is app.main


async def test_only_the_owner_drops_indexes_for_a_bulk_load(team: Team) -> None:
    """A writer's or a viewer's role may not drop or build indexes: a writer's load into
    an empty history writes as always, and neither fails to open a database whose
    indexes a killed load left to build — the owner's next open builds them."""
    import asyncpg

    conn = await asyncpg.connect(team.owner)
    try:
        listed = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        everything = [row[0] for row in await conn.fetch(listed)]
        async with await open_store(team.writer) as alice, alice.history.bulk():
            assert [row[0] for row in await conn.fetch(listed)] == everything
            await accepted(alice, "written during a writer's load")
        assert await conn.fetchval("SELECT count(*) FROM dropped_indexes") == 0
        # What a load killed half-way leaves: a definition recorded, its index gone.
        definition = await conn.fetchval("SELECT pg_get_indexdef('generations_status'::regclass)")
        await conn.execute("INSERT INTO dropped_indexes (name, definition) VALUES"
                           " ('generations_status', $1)", definition)
        await conn.execute("DROP INDEX generations_status")
        for url in (team.writer, team.viewer):
            async with await open_store(url) as store:
                assert [r.prompt for r in await store.history.page()] == [
                    "written during a writer's load"]
            assert "generations_status" not in [row[0] for row in await conn.fetch(listed)]
        await (await open_store(team.owner)).close()
        assert [row[0] for row in await conn.fetch(listed)] == everything
        assert await conn.fetchval("SELECT count(*) FROM dropped_indexes") == 0
    finally:
        await conn.close()
