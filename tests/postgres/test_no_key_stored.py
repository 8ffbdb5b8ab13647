"""The API key is never written to the team database: after a run with a key — tasks
submitted, refused, followed to the end, polls that failed with the key quoted back by a
hostile server, the account's lease and budget — a dump of the whole database does not
hold it; the account is there only as a fingerprint the key cannot be recovered from."""

from __future__ import annotations

import hashlib
import subprocess

from storage import open_store
from tests.conftest import KEY, client_for
from tests.pg_server import PostgresServer, database_name
from tui.dashscope import ApiKey, GenerationRequest
from tui.engine.following.account import SharedBudget, account_id
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

QUOTED = f"the gateway refused the header Authorization: Bearer {KEY}"


def dump(server: PostgresServer, database: str) -> str:
    """Everything in the database, as pg_dump writes it (schema and data)."""
    done = subprocess.run([str(server.bindir / "pg_dump"), "--no-owner", "-h", server.host,
                           "-p", str(server.port), "-U", "postgres", database],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


async def test_a_dump_after_a_run_with_a_key_does_not_hold_it(
        pg_server: PostgresServer, pg_dsn: str, sim: Simulator) -> None:
    account = account_id(sim.base_url, ApiKey(KEY))
    async with await open_store(pg_dsn) as store, client_for(sim) as client:
        client.pace = SharedBudget(store.budget, account, 10.0, time_scale=600).take
        made = [await submit(store, client, GenerationRequest(f"a kite over dunes {n}"),
                             first_poll_after=0) for n in range(2)]
        sim.inject(on="create", kind="status", status=400, code="InvalidParameter",
                   message=QUOTED)
        refused = await submit(store, client, GenerationRequest("refused"), first_poll_after=0)
        assert not refused.ok
        sim.inject(on="query", kind="status", status=500, code="InternalError",
                   message=QUOTED)
        poller = PollScheduler(store, client, PollSettings(time_scale=600, sweeps=False),
                               account=account)
        ended = await poller.wait_for({m.generation.id for m in made})
        assert all(row.status == "SUCCEEDED" for row in ended)
        await store.leases.nudge(account)
        texts = [e.detail or "" for m in [*made, refused]
                 for e in await store.generations.events(m.generation.id)]
        rows = await store.generations.get_many(m.generation.id for m in [*made, refused])
        texts += [r.error_message or "" for r in rows]
    assert any("[key hidden]" in text for text in texts), texts  # the key was quoted back

    everything = dump(pg_server, database_name(pg_dsn))
    assert "kite over dunes" in everything and "generations" in everything  # a real dump
    secret = KEY.removeprefix("sk-")
    assert KEY not in everything and secret not in everything
    assert account in everything  # the lease and the budget name the account this way…
    assert account != KEY and secret not in account  # …which is not the key…
    assert len(account) == 24 and account == hashlib.sha256(  # …but a cut SHA-256
        f"pixverse-tui account\n{sim.base_url.rstrip('/')}\n{KEY}".encode()).hexdigest()[:24]
