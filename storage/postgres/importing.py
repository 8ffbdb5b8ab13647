"""Importing exported records into the team database, set by set (``History.import_many``).

A batch goes in with a handful of statements whatever its size: the records are
checked and converted in Python (each value to its column's type, texts scrubbed
of credentials and of NUL, which PostgreSQL text cannot hold), sent with one
binary ``COPY`` per set of columns into a temporary staging table, and moved into
the real tables by ``INSERT … SELECT`` — so the change feed's statement triggers
fire once for the batch, not once per row, and the server does the work in bulk.

What is here already is found in SQL, under a transaction-scoped advisory lock (two
machines importing one file at once take turns, so the second finds the first's
rows and adds nothing): a record with a task id by that id, one that never got one
by creation time and prompt; the second of two alike in one batch is dropped before
anything is sent.  New rows take their ids from the table's sequence in the batch's
order, so their tags and status history follow in one statement each.  ``ON
CONFLICT DO NOTHING`` covers a row another process wrote meanwhile without the
lock (a poller adopting the same task): it is skipped, not an error.

Where the time goes (bench/team_bench.py, 1,000,000 rows): the index entries of the
new rows — the trigram index on prompts first — not the round trips or Python.  Into an
empty history a long import or copy therefore runs inside ``History.bulk``
(``storage.postgres.bulk``): the secondary indexes are built once, after the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from storage.errors import StoreError, StoreUnavailable
from storage.postgres.db import REPLACEMENT, Tx
from storage.records import COPIED, IMPORTABLE
from storage.redact import SCRUBBED, scrub

# pg_advisory_xact_lock's key for "importing" ('piximpt'): two machines importing one
# file at once take turns, so the second finds the first's rows and adds nothing.
IMPORT_LOCK = 0x706978696D7074
# Column types an import's values are made to fit (the rest are text).
BOOLEANS = frozenset({"audio", "watermark", "usage_audio", "favourite"})
INTEGERS = frozenset({"duration", "seed", "usage_fps", "usage_video_count", "polls",
                      "poll_failures", "download_bytes", "download_total"})
FLOATS = frozenset({"usage_duration"})
TRUE_TEXTS = frozenset({"1", "true", "yes", "t", "y", "on"})

ROWS = "pixverse_import_rows"  # the staging tables: temporary, emptied at each commit
EVENTS = "pixverse_import_events"
# The staging table has generations' columns and defaults (a column a record leaves out
# gets the default it would get in generations) but none of its constraints or indexes:
# a bad value fails when its row goes into generations, and only if it is new.
_STAGING = f"""
DO $$
DECLARE
    name text;
BEGIN
    IF to_regclass('pg_temp.{ROWS}') IS NULL THEN
        CREATE TEMPORARY TABLE {ROWS} (LIKE generations INCLUDING DEFAULTS,
            import_ord integer NOT NULL, import_by_task boolean NOT NULL,
            import_tags text[]) ON COMMIT DELETE ROWS;
        FOR name IN SELECT attname FROM pg_attribute WHERE attrelid = 'pg_temp.{ROWS}'::regclass
                AND attnum > 0 AND attnotnull AND attname NOT LIKE 'import\\_%' LOOP
            EXECUTE format('ALTER TABLE pg_temp.{ROWS} ALTER COLUMN %I DROP NOT NULL', name);
        END LOOP;
        CREATE TEMPORARY TABLE {EVENTS} (import_ord integer NOT NULL, n integer NOT NULL,
            at text, status text, detail text) ON COMMIT DELETE ROWS;
    END IF;
END $$"""
# A team database keeps every machine's download in ``machine_downloads`` (schema v4):
# an imported record's ``download_*`` go there, as the importing machine's (``$1``).
_COLUMNS = ", ".join(c for c in IMPORTABLE if not c.startswith("download_"))
# One statement moves the batch: the staged records this history does not hold yet
# take new ids in the batch's order, go into generations, and their tags and status
# history follow (the foreign keys are checked at the statement's end, when the rows
# are there).  A row another process wrote meanwhile is skipped with its tags.
_MOVE = f"""
WITH fresh AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('generations', 'id')) AS new_id, r.*
      FROM (SELECT * FROM pg_temp.{ROWS} AS s
             WHERE CASE WHEN s.import_by_task
                   THEN NOT EXISTS (SELECT 1 FROM generations AS g WHERE g.task_id = s.task_id)
                   ELSE NOT EXISTS (SELECT 1 FROM generations AS g WHERE g.task_id IS NULL
                                       AND g.created_at = s.created_at AND g.prompt = s.prompt)
                   END
             ORDER BY s.import_ord) AS r
), added AS (
    INSERT INTO generations (id, {_COLUMNS})
    SELECT new_id, {_COLUMNS} FROM fresh ORDER BY new_id
    ON CONFLICT DO NOTHING RETURNING id
), tagged AS (
    INSERT INTO generation_tags (generation_id, tag)
    SELECT f.new_id, t.tag FROM fresh AS f JOIN added AS a ON a.id = f.new_id
     CROSS JOIN LATERAL unnest(f.import_tags) AS t (tag)
     ORDER BY f.new_id, t.tag
), logged AS (
    INSERT INTO status_events (generation_id, at, status, detail)
    SELECT f.new_id, e.at, e.status, e.detail FROM pg_temp.{EVENTS} AS e
      JOIN fresh AS f ON f.import_ord = e.import_ord JOIN added AS a ON a.id = f.new_id
     ORDER BY e.import_ord, e.n
), saved AS (
    INSERT INTO machine_downloads (generation_id, machine, state, path, bytes, total,
                                   sha256, error)
    SELECT f.new_id, $1, coalesce(f.download_state, 'none'), f.download_path,
           f.download_bytes, f.download_total, f.download_sha256, f.download_error
      FROM fresh AS f JOIN added AS a ON a.id = f.new_id
     WHERE coalesce(f.download_state, 'none') <> 'none' OR f.download_path IS NOT NULL
        OR f.download_bytes IS NOT NULL OR f.download_total IS NOT NULL
        OR f.download_sha256 IS NOT NULL OR f.download_error IS NOT NULL
)
SELECT count(*) FROM added"""


async def import_batch(tx: Tx, records: Iterable[dict[str, Any]], *,
                       read_only: bool = False) -> int:
    """Import one batch inside ``tx``; returns how many rows were new.  ``read_only``:
    the role may only read (a refusal then says so, not that it lacks TEMPORARY)."""
    try:
        staged = _Staged.of(records)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"an imported record does not fit the team database ({exc})") from None
    if not staged.count:
        return 0
    await tx.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK)
    await _make_staging(tx, read_only)
    for columns, rows in staged.rows.items():
        await tx.copy(ROWS, ("import_ord", "import_by_task", "import_tags", *columns), rows)
    if staged.events:
        await tx.copy(EVENTS, ("import_ord", "n", "at", "status", "detail"), staged.events)
    return int(await tx.scalar(_MOVE, tx.machine))


async def _make_staging(tx: Tx, read_only: bool) -> None:
    import asyncpg

    try:
        await tx.execute(_STAGING)
    except asyncpg.InsufficientPrivilegeError as exc:
        if read_only or "temporary" not in str(exc):
            raise
        raise StoreUnavailable(
            "this database role may not make the temporary table an import stages its rows "
            "in: it needs TEMPORARY on the database (GRANT CONNECT, TEMPORARY ON DATABASE …, "
            "as docs/team.md's writer role has it)") from None


class _Staged:
    """A batch as staging rows: one list of rows per set of columns the records carry
    (each row: its place in the batch, whether it is known by task id, its tags, then
    its values), and the status events as rows of their own."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, ...], list[list[Any]]] = {}
        self.events: list[tuple[int, int, str | None, str | None, str | None]] = []
        self.count = 0
        self.tagged = False

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]]) -> _Staged:
        staged = cls()
        seen: set[tuple[str | None, ...]] = set()
        shapes: dict[tuple[str, ...],
                     tuple[tuple[str, ...], list[tuple[str, Callable[[Any], Any]]]]] = {}
        for record in records:
            keys = tuple(record)
            shape = shapes.get(keys)
            if shape is None:
                columns = tuple(c for c in IMPORTABLE if c in record)
                shape = shapes[keys] = (columns, [(c, CONVERT[c]) for c in columns])
            columns, converters = shape
            task_id = record.get("task_id")
            key = ("t", str(task_id)) if task_id else \
                ("p", _text(record.get("created_at")), _text(record.get("prompt")))
            if key in seen:  # the second of two alike in one batch
                continue
            seen.add(key)
            ord_ = staged.count
            staged.count += 1
            tags = record.get("tags")
            tag_list = sorted({_text(str(t)) or "" for t in tags}) if tags else None
            staged.tagged = staged.tagged or bool(tag_list)
            staged.rows.setdefault(columns, []).append(
                [ord_, bool(task_id), tag_list,
                 *[convert(record[c]) for c, convert in converters]])
            for n, event in enumerate(record.get("history") or ()):
                staged.events.append((ord_, n, _text(event.get("at")),
                                      _text(event.get("status")),
                                      _scrubbed(event.get("detail"))))
        return staged


def _text(value: Any) -> str | None:
    """A value as text PostgreSQL can hold: NUL characters become U+FFFD."""
    if value is None:
        return None
    text = value if value.__class__ is str else str(value)
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def _scrubbed(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else scrub(text)


def _boolean(value: Any) -> bool | None:
    """An exported boolean: SQLite's exports hold 0 and 1, hand-made ones any text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in TRUE_TEXTS
    return bool(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


CONVERT: dict[str, Callable[[Any], Any]] = {
    column: _boolean if column in BOOLEANS else _integer if column in INTEGERS
    else _float if column in FLOATS else _scrubbed if column in SCRUBBED else _text
    for column in IMPORTABLE}


# -- copying a whole history in (``History.copy_in``) ---------------------------------

DOWNLOADS = "pixverse_copy_downloads"  # a copied batch's downloads, machine by machine
_DOWNLOAD_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {DOWNLOADS} (import_ord integer NOT NULL,
    machine text NOT NULL, state text NOT NULL, path text, bytes bigint, total bigint,
    sha256 text, error text) ON COMMIT DELETE ROWS"""
_COPIED_COLUMNS = ", ".join(COPIED)
_SEQUENCE = "pg_get_serial_sequence('generations', 'id')"
# The sequence past every id here and every id a copy keeps: the rows that cannot keep
# theirs (and every row written later) take the next ones.
_PAST_KEPT = (f"SELECT setval({_SEQUENCE}, GREATEST((SELECT max(id) FROM generations),"
              f" (SELECT max(id) FROM pg_temp.{ROWS}), 1))")
# ``$1``: whether copied rows keep their ids (this database was empty when the first
# copy from the source began); ``$2``: the highest id here before that first copy.
_COPY_MOVE = f"""
WITH fresh AS MATERIALIZED (
    SELECT CASE WHEN r.kept IS NOT NULL THEN r.kept
                ELSE nextval({_SEQUENCE}) END AS new_id, r.*
      FROM (SELECT CASE WHEN $1 AND NOT EXISTS (SELECT 1 FROM generations AS g
                                                  WHERE g.id = s.id)
                        THEN s.id END AS kept, s.*
              FROM pg_temp.{ROWS} AS s
             WHERE NOT (s.task_id IS NOT NULL AND EXISTS (
                        SELECT 1 FROM generations AS g WHERE g.task_id = s.task_id))
               AND NOT (s.intent_key IS NOT NULL AND EXISTS (
                        SELECT 1 FROM generations AS g WHERE g.intent_key = s.intent_key))
               AND NOT (s.task_id IS NULL AND s.intent_key IS NULL AND EXISTS (
                        SELECT 1 FROM generations AS g WHERE g.task_id IS NULL
                           AND g.created_at = s.created_at AND g.prompt = s.prompt
                           AND g.id <= $2))
             ORDER BY s.import_ord) AS r
), added AS (
    INSERT INTO generations (id, {_COPIED_COLUMNS})
    SELECT new_id, {_COPIED_COLUMNS} FROM fresh ORDER BY import_ord
    ON CONFLICT DO NOTHING RETURNING id
), tagged AS (
    INSERT INTO generation_tags (generation_id, tag)
    SELECT f.new_id, t.tag FROM fresh AS f JOIN added AS a ON a.id = f.new_id
     CROSS JOIN LATERAL unnest(f.import_tags) AS t (tag)
    ON CONFLICT DO NOTHING
), logged AS (
    INSERT INTO status_events (generation_id, at, status, detail)
    SELECT f.new_id, e.at, e.status, e.detail FROM pg_temp.{EVENTS} AS e
      JOIN fresh AS f ON f.import_ord = e.import_ord JOIN added AS a ON a.id = f.new_id
     ORDER BY e.import_ord, e.n
), saved AS (
    INSERT INTO machine_downloads (generation_id, machine, state, path, bytes, total,
                                   sha256, error)
    SELECT f.new_id, d.machine, d.state, d.path, d.bytes, d.total, d.sha256, d.error
      FROM pg_temp.{DOWNLOADS} AS d
      JOIN fresh AS f ON f.import_ord = d.import_ord JOIN added AS a ON a.id = f.new_id
)
SELECT count(*) FROM added"""
_COPY_CONVERT: dict[str, Callable[[Any], Any]] = {
    column: CONVERT.get(column) or (_scrubbed if column in SCRUBBED else _text)
    for column in COPIED}


async def copy_batch(tx: Tx, source: str, records: Sequence[dict[str, Any]], *,
                     read_only: bool = False) -> int:
    """``History.copy_in`` inside ``tx``: the batch staged by COPY (rows, status events,
    downloads of every machine), moved by one statement, the source's mark moved on.
    Under the import lock: two copies (or an import) never race for one row."""
    await tx.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK)
    mark = await tx.fetchrow("SELECT base, up_to FROM copies WHERE source = $1", source)
    if mark is not None:
        base, up_to = int(mark[0]), int(mark[1])
    else:
        base = int(await tx.scalar("SELECT coalesce(max(id), 0) FROM generations"))
        up_to = 0
    batch = [r for r in records if int(r["id"]) > up_to]
    if not batch:
        return 0
    staged, events, downloads = [], [], []
    tasks: set[str] = set()
    keys: set[str] = set()
    try:
        for ord_, record in enumerate(batch):
            task, key = record.get("task_id"), record.get("intent_key")
            if (task and task in tasks) or (key and key in keys):
                continue  # the second of two alike in one batch
            if task:
                tasks.add(task)
            if key:
                keys.add(key)
            tags = sorted({_text(str(t)) or "" for t in record.get("tags") or ()}) or None
            staged.append([ord_, bool(task), tags, int(record["id"]),
                           *(convert(record.get(c)) for c, convert in _COPY_CONVERT.items())])
            for n, event in enumerate(record.get("history") or ()):
                events.append((ord_, n, _text(event.get("at")), _text(event.get("status")),
                               _scrubbed(event.get("detail"))))
            for machine, d in (record.get("downloads") or {}).items():
                downloads.append((ord_, _text(machine), _text(d.get("state")) or "none",
                                  _text(d.get("path")), _integer(d.get("bytes")),
                                  _integer(d.get("total")), _text(d.get("sha256")),
                                  _scrubbed(d.get("error"))))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"a copied record does not fit the team database ({exc})") from None
    await _make_staging(tx, read_only)
    await tx.execute(_DOWNLOAD_STAGING)
    await tx.copy(ROWS, ("import_ord", "import_by_task", "import_tags", "id", *COPIED), staged)
    if events:
        await tx.copy(EVENTS, ("import_ord", "n", "at", "status", "detail"), events)
    if downloads:
        await tx.copy(DOWNLOADS, ("import_ord", "machine", "state", "path", "bytes", "total",
                                  "sha256", "error"), downloads)
    keep = base == 0
    if keep:
        await tx.execute(_PAST_KEPT)
    added = int(await tx.scalar(_COPY_MOVE, keep, base))
    await tx.execute(
        "INSERT INTO copies (source, base, up_to, seen) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (source) DO UPDATE SET up_to = excluded.up_to,"
        " seen = copies.seen + excluded.seen",
        source, base, max(int(r["id"]) for r in batch), len(batch))
    return added
