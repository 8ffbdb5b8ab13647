"""The team store's change feed beyond what the contract suite asks of every store: a
notification lost with a connection, or lost without a word, is made up for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import Change, ChangeFeed, TaskStore, open_store
from storage.postgres import feed as notify_feed
from tests.pg_server import PostgresServer, database_name
from tests.store_contract.helpers import intent
from tests.tcp_proxy import TcpProxy

SOON = 15.0  # seconds: a reconnect after a reset, on a loaded machine


async def quiet(feed: ChangeFeed, seconds: float = 0.5) -> None:
    """Take whatever was said before (the store's own first writes) until it is quiet."""
    while True:
        try:
            await asyncio.wait_for(anext(feed), seconds)
        except TimeoutError:
            return


async def heard(feed: ChangeFeed, done: object, timeout: float = SOON) -> Change:
    """Changes merged until ``done(change)`` holds."""
    seen = Change()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done(seen):  # type: ignore[operator]
        seen = seen | await asyncio.wait_for(anext(feed), max(0.01, deadline - loop.time()))
    return seen


@pytest.fixture
async def writer(pg_dsn: str) -> AsyncIterator[TaskStore]:
    store = await open_store(pg_dsn)
    yield store
    await store.close()


async def test_what_was_said_while_the_connection_was_down_is_made_up_for(
        pg_server: PostgresServer, pg_dsn: str, writer: TaskStore) -> None:
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        far = await open_store(pg_server.dsn(database_name(pg_dsn), port=proxy.port))
        try:
            feed = far.changes()
            await quiet(feed)
            proxy.cut()  # the notification waits in the cut network…
            row = await intent(writer, "written while the other machine was cut off")
            await asyncio.sleep(0.2)
            proxy.reset()  # …and dies with the connection
            proxy.restore()
            change = await heard(feed, lambda c: c.everything or row.id in c.rows)
            assert change.everything  # the feed cannot know what it missed: re-read it all
            later = await intent(writer, "after the reconnect")
            assert later.id in (await heard(feed, lambda c: later.id in c.rows)).rows
        finally:
            await far.close()


async def test_a_change_number_that_moved_unheard_is_made_up_for(
        pg_server: PostgresServer, pg_dsn: str, writer: TaskStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_feed, "SAFETY_EVERY", 0.2)
    feed = writer.changes()
    await intent(writer, "heard")
    await quiet(feed)
    # A writer that took a number but whose notification never came (lost, or rolled
    # back): nothing heard, yet the number moved.
    pg_server.admin("SELECT nextval('change_seq')", database=database_name(pg_dsn))
    change = await heard(feed, lambda c: c.everything, timeout=10)
    assert change.everything
    await quiet(feed, 1.0)  # said once, not on every re-read


async def test_an_unanswered_safety_re_read_listens_again(
        pg_server: PostgresServer, pg_dsn: str, writer: TaskStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut nobody is told about (no reset): the re-read goes unanswered, the feed
    drops the connection and listens on a new one once the network is back."""
    monkeypatch.setattr(notify_feed, "SAFETY_EVERY", 0.2)
    monkeypatch.setattr(notify_feed, "ANSWER_WITHIN", 0.5)
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        far = await open_store(pg_server.dsn(database_name(pg_dsn), port=proxy.port))
        try:
            feed = far.changes()
            await quiet(feed)
            connections = proxy.connections
            proxy.cut()
            await asyncio.sleep(1.5)  # a few re-reads go unanswered meanwhile
            proxy.restore()
            change = await heard(feed, lambda c: c.everything)
            assert change.everything and proxy.connections > connections
            row = await intent(writer, "heard on the new connection")
            assert row.id in (await heard(feed, lambda c: row.id in c.rows)).rows
        finally:
            await far.close()
