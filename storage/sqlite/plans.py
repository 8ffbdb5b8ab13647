"""Reads written once and run two ways: by the store (aiosqlite, ``Database.run``) and
by the page reader (the standard library's sqlite3, synchronously: ``reader.run_now``).

A plan is a generator: it yields each query (SQL and parameters), is sent that query's
rows, and returns its answer — so the SQL, and the choices between queries that depend
on what an earlier one found, are written here once, whichever driver runs them.  No
driver is imported here.
"""

from __future__ import annotations

from collections.abc import Generator

from storage.clock import iso
from storage.history import HistoryFilter
from storage.records import Generation, Who
from storage.sqlite.search import (
    NEWEST_CUTOFF,
    SORTS,
    TEXT_WALK,
    WALK_FROM,
    order_by,
    text_match,
    where_sql,
)

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from storage.figures import Tally

    T = TypeVar("T")
    Query = tuple[str, tuple[Any, ...]]
    Plan = Generator[Query, list[Any], T]  # yields queries, is sent their rows, returns T


PLENTY = 500  # a status or tag with more rows than this: a page walks the newest rows
# A tally looks at no more than this many entries of the text index or newest rows, and
# counts through a status, tag or the favourites only when they have no more rows: a
# bounded amount of work at any size (a few milliseconds at a million rows).
TALLY_WALK = 10_000


SAVED_ON_CHUNK = 500  # ids per look-up of other machines' downloads


def generations(sql: str, params: tuple[Any, ...], machine: str) -> Plan[list[Generation]]:
    """Rows of ``generations`` (``SELECT *``) as records, each with the other machines its
    video is saved on (``saved_on``; ``machine`` is this one)."""
    found = [Generation.from_row(row) for row in (yield sql, params)]
    return (yield from with_saved_on(found, machine)) if found else found


def with_saved_on(found: list[Generation], machine: str) -> Plan[list[Generation]]:
    """``saved_on`` from ``machine_downloads`` (schema v10): one query per 500 rows,
    answered by its key; nothing to change in a history no copy brought machines into."""
    elsewhere: dict[int, list[str]] = {}
    ids = sorted({row.id for row in found})
    for start in range(0, len(ids), SAVED_ON_CHUNK):
        chunk = ids[start:start + SAVED_ON_CHUNK]
        for row in (yield ("SELECT generation_id, machine FROM machine_downloads WHERE"
                           f" generation_id IN ({', '.join('?' for _ in chunk)})"
                           " AND state = 'done' AND machine != ? ORDER BY machine",
                           (*chunk, machine))):
            elsewhere.setdefault(row[0], []).append(row[1])
    if not elsewhere:
        return found
    return [row._replace(saved_on=tuple(elsewhere[row.id])) if row.id in elsewhere
            else row for row in found]


def scalar(sql: str, params: tuple[Any, ...] = ()) -> Plan[Any]:
    found = yield sql, params
    return found[0][0] if found else None


def figures() -> Plan[dict[str, int]]:
    """The counters the triggers keep (schema v9)."""
    found = yield "SELECT name, n FROM figures", ()
    return {row[0]: int(row[1]) for row in found}


def newest_cutoff(where: HistoryFilter | None
                  ) -> Plan[tuple[HistoryFilter | None, str | None]]:
    """A filter bounded to its ``newest`` rows, as ``where_sql`` serves it best: without
    the bound, and where the bound falls (None: no bound — fewer rows than that, or none
    asked) — one walk of N entries of the index."""
    if where is None or where.newest is None:
        return where, None
    unbounded = where._replace(newest=None)
    if where.trash:
        return unbounded, None
    found = yield from scalar(NEWEST_CUTOFF, (where.newest - 1,))
    return unbounded, str(found) if found is not None else None


def page(where: HistoryFilter | None = None, *, who: Who, sort: str = "submitted",
         descending: bool = True, limit: int = 200, offset: int = 0
         ) -> Plan[list[Generation]]:
    """``History.page``, for ``who`` (``by:me``; this machine's downloads)."""
    where, cutoff = yield from newest_cutoff(where)
    match = text_match(where)
    by_creation = SORTS.get(sort, "created_at") == "created_at"
    if match is not None and by_creation and (yield from figures())["displaced"] == 0:
        # Creation order is rowid order: the text index's own, so the walk stops at
        # the page's last match, however rare the words.
        clause, params = where_sql(where, text_index=False, cutoff=cutoff,
                                   id_of="+generations_fts.rowid", me=who.person)
        if cutoff is not None:
            clause += f" AND {WALK_FROM}"
            params.append(cutoff)
        direction = "DESC" if descending else "ASC"
        return (yield from generations(
            f"SELECT generations.* FROM {TEXT_WALK} {clause} AND generations_fts"
            f" MATCH ? ORDER BY generations_fts.rowid {direction} LIMIT ? OFFSET ?",
            (*params, match, limit, offset), who.machine))
    clause, params = where_sql(where, cutoff=cutoff, me=who.person)
    source = "generations"
    if cutoff is not None:  # the newest rows only: their range of the creation index
        source = "generations INDEXED BY generations_kept"
    elif where is not None and where.trash:
        source = "generations INDEXED BY generations_forgotten"  # a small trash, sorted
    elif (where is not None and by_creation and not where.trash and match is None
            and ((yield from rarest_token(where, PLENTY)) or (0, ""))[0] > PLENTY):
        # Many rows of every status, tag or favourites asked for: walking the newest rows
        # finds a page soon, where an index would sort every one of its rows first.
        source = "generations INDEXED BY generations_kept"
    return (yield from generations(
        f"SELECT * FROM {source} {clause} {order_by(sort, descending)} LIMIT ? OFFSET ?",
        (*params, limit, offset), who.machine))


def count(where: HistoryFilter | None = None, *, me: str,
          at_most: int | None = None) -> Plan[int]:
    """``History.count``; ``me``: who ``by:me`` is."""
    found = where or HistoryFilter()
    if found._replace(folded=()).empty:  # everything kept (batches folded or not)
        kept = (yield from figures())["kept"]
        return kept - (yield from folded_away(found.folded)) if found.folded else kept
    bounded, cutoff = yield from newest_cutoff(found)
    found = bounded or found
    match = text_match(found)
    clause, params = where_sql(found, text_index=match is None, cutoff=cutoff,
                               id_of="id" if match is None else "+generations_fts.rowid",
                               me=me)
    rows = "generations INDEXED BY generations_kept" if cutoff is not None else "generations"
    source = f"{TEXT_WALK} {clause} AND generations_fts MATCH ?" if match is not None \
        else f"{rows} {clause}"
    params += [match] if match is not None else []
    if match is not None and cutoff is not None \
            and (yield from figures())["displaced"] == 0:  # (as a page walks)
        source += f" AND {WALK_FROM}"
        params.append(cutoff)
    if at_most is None:
        return int((yield from scalar(f"SELECT COUNT(*) FROM {source}", tuple(params))))
    newest = " ORDER BY generations_fts.rowid DESC" if match is not None else ""
    return int((yield from scalar(  # the newest matches first: a recent filter stops soon
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {source}{newest} LIMIT ?)",
        (*params, at_most + 1))))


def rarest_token(where: HistoryFilter, at_most: int) -> Plan[tuple[int, str] | None]:
    """The indexed token of ``where`` that admits the fewest rows — its statuses, a tag,
    the favourites — as (at most how many rows, where to read them from); each token's
    index entries counted up to ``at_most + 1``, never a row read (an upper bound: the
    trash and the unsent are in the indexes too).  None when ``where`` has no such token.
    """
    cap = at_most + 1
    queries: list[tuple[Query, str]] = []
    if where.statuses:
        marks = ", ".join("?" for _ in where.statuses)
        queries.append(((f"SELECT COUNT(*) FROM (SELECT 1 FROM generations WHERE status IN"
                         f" ({marks}) OR status IS NULL LIMIT ?)", (*where.statuses, cap)),
                        "generations"))
    # A tag's rows are found by id: no index of ``generations`` may come first.
    queries += [(("SELECT COUNT(*) FROM (SELECT 1 FROM generation_tags WHERE tag = ?"
                  " LIMIT ?)", (tag, cap)), "generations NOT INDEXED") for tag in where.tags]
    if where.favourite:
        queries.append((("SELECT COUNT(*) FROM (SELECT 1 FROM generations WHERE favourite = 1"
                         " LIMIT ?)", (cap,)), "generations"))
    rarest: tuple[int, str] | None = None
    for query, source in queries:
        rows = int((yield from scalar(*query)))
        if rarest is None or rows < rarest[0]:
            rarest = rows, source
    return rarest


def tally(where: HistoryFilter | None = None, *, me: str, at_most: int) -> Plan[Tally]:
    """``History.tally``: ``count`` with a bound on the work as well as on the answer.

    Counted as ``count`` counts: everything kept (the figures), the trash, a search
    bounded to the newest rows, and one token alone (through its index, up to
    ``at_most + 1`` matches).  Without words, through the rarest status, tag or the
    favourites when it has at most ``TALLY_WALK`` rows.  Otherwise the newest
    ``TALLY_WALK`` entries of the text index (words) or of the kept rows (in the
    ``since:``/``until:`` range) are looked at: the matches among them, "at least" when
    the walk did not reach the end."""
    from storage.figures import Tally  # (here: a page read makes none)

    found = where or HistoryFilter()
    alone = found._replace(folded=())
    if alone.empty:  # the figures (and the batch index): exact, at once
        return Tally((yield from count(found, me=me)))
    if found.trash or found.newest is not None or alone in (
            HistoryFilter(statuses=found.statuses), HistoryFilter(favourite=True),
            *(HistoryFilter(tags=(tag,)) for tag in found.tags[:1])):
        counted = yield from count(found, me=me, at_most=at_most)
        return Tally(counted, exact=counted <= at_most)
    match = text_match(found)
    clause, params = where_sql(found, text_index=False, id_of="+walked.entry", me=me)
    rarest = None if match is not None else (yield from rarest_token(found, TALLY_WALK))
    if rarest is not None and rarest[0] <= TALLY_WALK:
        clause, params = where_sql(found, me=me)
        counted = int((yield from scalar(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {rarest[1]} {clause} LIMIT ?)",
            (*params, at_most + 1))))
        return Tally(counted, exact=counted <= at_most)
    if match is not None:
        walk = ("SELECT rowid AS entry FROM generations_fts WHERE generations_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?")
        walked: tuple[Any, ...] = (match, TALLY_WALK)
    else:
        walk, walked = ("SELECT id AS entry FROM generations INDEXED BY generations_kept WHERE"
                        " forgotten_at IS NULL"), ()
        for bound, test in ((found.since, ">="), (found.until, "<")):
            if bound is not None:
                walk += f" AND created_at {test} ?"
                walked += (iso(bound),)
        walk += " ORDER BY created_at DESC LIMIT ?"
        walked += (TALLY_WALK,)
    counted = int((yield from scalar(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM ({walk}) AS walked CROSS JOIN generations"
        f" ON generations.id = walked.entry {clause} LIMIT ?)", (*walked, *params, at_most + 1))))
    if counted > at_most:
        return Tally(counted, exact=False)
    entries = int((yield from scalar(f"SELECT COUNT(*) FROM ({walk})", walked)))
    return Tally(counted, exact=entries < TALLY_WALK)


def folded_away(batches: tuple[str, ...]) -> Plan[int]:
    """Kept rows that folding these batches hides: each batch's kept rows but the one
    that stands for it (its first, when kept) — read through the batch index."""
    marks = ", ".join("?" for _ in batches)
    inside = yield from scalar(
        f"SELECT COUNT(*) FROM generations WHERE batch_id IN ({marks})"
        " AND forgotten_at IS NULL", batches)
    standing = yield from scalar(
        f"SELECT COUNT(*) FROM generations WHERE id IN (SELECT MIN(id) FROM generations"
        f" WHERE batch_id IN ({marks}) GROUP BY batch_id) AND forgotten_at IS NULL",
        batches)
    return int(inside) - int(standing)


def unsaved(where: HistoryFilter | None = None, *, who: Who, ended_after: str | None = None,
            ended_before: str | None = None, limit: int | None = None
            ) -> Plan[list[Generation]]:
    """``Downloads.unsaved``, for ``who`` (``by:me``; this machine's downloads)."""
    rows, params = _unsaved_rows(where, who, ended_after, ended_before)
    return (yield from generations(
        f"SELECT * {rows} ORDER BY end_time, id" + (" LIMIT ?" if limit is not None else ""),
        (*params, *(() if limit is None else (limit,))), who.machine))


def unsaved_tally(*, who: Who, ended_after: str | None = None, ended_before: str | None = None,
                  at_most: int, first: int) -> Plan[tuple[int, list[tuple[int, str | None]]]]:
    """How many videos ``unsaved`` lists (counted up to ``at_most``) and the id and task id
    of its ``first`` ones — one query through the same index, no record made (the warning
    about videos about to expire)."""
    rows, params = _unsaved_rows(None, who, ended_after, ended_before)
    found = yield (f"SELECT counted.n, firsts.id, firsts.task_id FROM (SELECT COUNT(*) AS n"
                   f" FROM (SELECT 1 {rows} LIMIT ?)) AS counted LEFT JOIN (SELECT id, task_id,"
                   f" end_time {rows} ORDER BY end_time, id LIMIT ?) AS firsts ON 1"
                   " ORDER BY firsts.end_time, firsts.id", (*params, at_most, *params, first))
    return int(found[0][0]), [(row[1], row[2]) for row in found if row[1] is not None]


def _unsaved_rows(where: HistoryFilter | None, who: Who, ended_after: str | None,
                  ended_before: str | None) -> tuple[str, list[Any]]:
    """``FROM … WHERE …`` of the finished videos not saved on ``who``'s machine."""
    clause, params = where_sql(where, me=who.person)
    # The partial index ``generations_unsaved`` is used only when SQLite sees the
    # query imply its condition: its terms, literally.
    clauses = ["status = 'SUCCEEDED'", "download_state != 'done'", "video_url IS NOT NULL",
               "download_state NOT IN ('expired', 'refused', 'trashed')"]
    if ended_after is not None:
        clauses.append("end_time > ?")
        params.append(ended_after)
    if ended_before is not None:
        clauses.append("end_time <= ?")
        params.append(ended_before)
    # Named too: the planner would rather take the index on status.
    source = "generations" if where is not None and where.trash \
        else "generations INDEXED BY generations_unsaved"
    return f"FROM {source} {clause} AND {' AND '.join(clauses)}", params


def untidy(forgotten_before: str) -> Plan[bool]:
    """``PageReader.untidy``: a send still marked as being sent (through
    ``generations_sending``), or a row in the trash since before ``forgotten_before``
    (through ``generations_forgotten``)."""
    found = yield from scalar(
        "SELECT EXISTS (SELECT 1 FROM generations WHERE submission = 'sending')"
        " OR EXISTS (SELECT 1 FROM generations WHERE forgotten_at <= ?)",
        (forgotten_before,))
    return bool(found)
