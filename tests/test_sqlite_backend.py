"""The SQLite backend's own promises, beyond the contract (``tests/store_contract``):
a WAL file, a change feed that costs one tiny statement per tick while idle and nothing
when nobody listens, and a change log that stays small."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import StoreUnavailable, TaskStore, open_store
from storage.sqlite.feed import TICK
from storage.sqlite.schema import SCHEMA_VERSION


async def traced(store: TaskStore) -> tuple[list[str], list[str]]:
    """Every statement from now on: of the store's connection, and of its change feed's."""
    ran: list[str] = []
    looked: list[str] = []
    backend: Any = store
    await backend._db._db.set_trace_callback(ran.append)
    backend._feed._connection().set_trace_callback(looked.append)
    return ran, looked


async def test_the_file_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    await (await open_store(tmp_path / "a.db")).close()
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_teams_are_v10_and_the_queue_v11() -> None:
    """Two features, one numbering: the team's migration came first (v10), the queue's
    after it (v11) — a file either branch made at its own "v10" is not one of these."""
    from storage.sqlite.schema import MIGRATIONS

    assert SCHEMA_VERSION == 11
    assert "submitted_by" in MIGRATIONS[9] and "queue_priority" not in MIGRATIONS[9]
    assert "queue_priority" in MIGRATIONS[10] and "submitted_by" not in MIGRATIONS[10]


def _database_at(path: Path, version: int) -> None:
    """A SQLite file as pixverse-tui left it at schema ``version``: one finished
    generation, its video saved here (and, from v10 on, who submitted it)."""
    from storage.sqlite.db import statements
    from storage.sqlite.schema import MIGRATIONS

    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        for script in MIGRATIONS[:version]:
            for statement in statements(script):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
        stamp = "2026-01-02T03:04:05.000+00:00"
        db.execute(
            "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
            " submission, task_id, status, end_time, video_url, updated_at, download_state,"
            " download_path) VALUES (?, 'http://127.0.0.1:1/api/v1', 'm', 'an old fox',"
            " '1280*720', 5, 'accepted', 'old-1', 'SUCCEEDED', ?, 'http://127.0.0.1:1/v.mp4',"
            " ?, 'done', '/videos/old-1.mp4')", (stamp, stamp, stamp))
        if version >= 10:
            db.execute("UPDATE generations SET submitted_by = 'carol@studio-1'")
        db.execute("INSERT INTO status_events (generation_id, at, status) VALUES (1, ?,"
                   " 'SUCCEEDED')", (stamp,))
    finally:
        db.close()


@pytest.mark.parametrize("version", [9, 10])
async def test_an_older_file_is_upgraded_through_every_version(tmp_path: Path,
                                                               version: int) -> None:
    """v9 (before teams and the queue) upgrades v9 → v10 → v11 in one opening; a v10
    file (teams) upgrades to v11. Its rows, downloads and figures are kept; who submitted
    them, by: and the queue work at once."""
    from storage.history import parse_filter
    from storage.records import CopyMark, QueueEntry, Who

    path = tmp_path / f"v{version}" / "tasks.db"
    _database_at(path, version)
    async with await open_store(path, who=Who("dave@here", "here")) as store:
        [old] = await store.history.page()
        assert (old.prompt, old.download_state, old.saved_on) == ("an old fox", "done", ())
        assert old.submitted_by == (None if version == 9 else "carol@studio-1")
        assert (old.queue_priority, old.queue_held, old.retries, old.queued) == (
            None, False, 0, False)
        counts = await store.history.counts("2026-01-02T00:00:00.000+00:00")
        assert (counts.total, counts.queued, counts.not_downloaded) == (1, 0, 0)
        assert await store.history.copied_from("elsewhere") == CopyMark()
        done = await store.queue.enqueue([QueueEntry(
            endpoint="http://127.0.0.1:1/api/v1", model="m", prompt="queued after",
            size="1280*720", duration=5)], priority=1)
        assert (await store.history.counts("")).queued == 1  # v11's triggers count it
        assert [r.id for r in await store.history.page(parse_filter("by:me"))] == [
            *done.queued]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_idle_listening_costs_one_tiny_statement_a_tick(store: TaskStore) -> None:
    ran, looked = await traced(store)
    await asyncio.sleep(TICK * 4)
    assert ran == looked == []  # nobody listens: nothing runs
    feed = store.changes()
    await asyncio.sleep(TICK * 8)
    assert ran == []  # the store's own connection is left alone
    start, ticks = looked[:2], looked[2:]  # where the log ends, then a statement a tick
    assert start == ["PRAGMA data_version", "SELECT COALESCE(MAX(seq), 0) FROM changes"]
    assert ticks and set(ticks) == {"PRAGMA data_version"} and len(ticks) <= 8 + 2
    await feed.aclose()
    await asyncio.sleep(TICK * 3)
    looked.clear()
    await asyncio.sleep(TICK * 4)
    assert looked == []  # the last subscriber left: listening stopped


async def test_a_quiet_store_is_looked_at_less_often_and_still_heard(
        store: TaskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle means idle: once nothing has changed for a while the feed looks a few times a
    second, not ten — and another process's write is still heard."""
    from storage.sqlite import feed as sqlite_feed

    monkeypatch.setattr(sqlite_feed, "QUIET_AFTER", 0.2)
    monkeypatch.setattr(sqlite_feed, "QUIET_TICK", 0.5)
    changes = store.changes()
    await asyncio.sleep(TICK * 2)
    _, looked = await traced(store)
    await asyncio.sleep(2.0)
    assert 1 <= len(looked) <= 10  # ten a second would be twenty
    with sqlite3.connect(tmp_path / "tasks.db") as other:
        other.execute("INSERT INTO poller_leases (account, owner, until) VALUES ('a', 'o', 'x')")
    change = await asyncio.wait_for(anext(changes), 5)
    assert change.lease
    await changes.aclose()


async def test_another_processes_write_is_read_from_the_log_only(store: TaskStore,
                                                                 tmp_path: Path) -> None:
    feed = store.changes()
    await asyncio.sleep(TICK * 2)
    ran, looked = await traced(store)
    with sqlite3.connect(tmp_path / "tasks.db") as other:  # e.g. the sqlite3 shell
        other.execute("UPDATE generations SET note = 'x'")  # no rows: nothing to say
        other.execute("INSERT INTO poller_leases (account, owner, until) VALUES ('a', 'o', 'x')")
    change = await asyncio.wait_for(anext(feed), 5)
    assert change.lease and not change.rows and ran == []
    assert all(s == "PRAGMA data_version" or s.startswith("SELECT seq") for s in looked)


async def test_the_change_log_stays_small(store: TaskStore, tmp_path: Path) -> None:
    records = [{"created_at": f"2026-01-01T00:00:00.{n % 1000:03d}+00:00", "endpoint": "e",
                "model": "m", "prompt": f"p{n}", "size": "1280*720", "duration": 5,
                "submission": "accepted", "task_id": f"t{n}", "updated_at": "x"}
               for n in range(6000)]
    await store.history.import_many(records)
    with sqlite3.connect(tmp_path / "tasks.db") as db:
        kept = db.execute("SELECT COUNT(*), MAX(seq) FROM changes").fetchone()
    assert kept[1] == 6000 and kept[0] <= 2500


async def test_a_url_of_another_database_is_refused_in_one_sentence() -> None:
    with pytest.raises(StoreUnavailable, match=r"^mysql:// stores are not supported; give a "
                                               r"postgresql:// URL or the path of a SQLite file$"):
        await open_store("mysql://alice@db.example/pixverse")


def test_the_store_lives_only_behind_the_interface() -> None:
    """Nothing outside storage/ names the SQLite backend (benchmarks of its locks and the
    contract suite's backend fixture excepted)."""
    root = Path(__file__).resolve().parents[1]
    allowed = {root / "tests" / "store_contract" / "backends.py",
               root / "tests" / "test_sqlite_backend.py", root / "tests" / "test_sqlite_plans.py",
               root / "bench" / "contention_bench.py",
               root / "bench" / "harness" / "history_db.py"}
    naming = [path for folder in ("tui", "tests", "bench") for path in (root / folder).rglob("*.py")
              if path not in allowed and ("storage.sqlite" in path.read_text(encoding="utf-8")
                                          or "SqliteStore" in path.read_text(encoding="utf-8"))]
    assert naming == []


@pytest.mark.skipif(os.name != "posix", reason="elsewhere the URI is Path.as_uri()'s itself")
def test_the_page_readers_uri_is_path_as_uris(tmp_path: Path) -> None:
    """The page reader opens its file read-only by a ``file:`` URI made without pathlib
    (``list`` loads none): the one ``Path.as_uri()`` makes, whatever the name holds — and
    a file at such a name opens and reads."""
    from storage.sqlite.reader import SqlitePageReader, read_only_uri

    for name in ("a b/c?d#e%f/é.db", "ü€/x.db", "plain.db", "~/q.db"):
        for path in (str(tmp_path / name), name):
            assert read_only_uri(path) == Path(path).absolute().as_uri() + "?mode=ro"
    odd = tmp_path / "a b?c#d%e" / "tasks.db"
    odd.parent.mkdir()
    asyncio.run(_close(open_store(odd)))
    reader = SqlitePageReader.open(str(odd))
    assert reader is not None
    with reader:
        assert reader.page() == []


async def _close(opening: Any) -> None:
    await (await opening).close()
