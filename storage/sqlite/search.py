"""A ``HistoryFilter`` and a sort order as SQLite SQL.

Text search uses FTS5's trigram tokenizer (so Chinese substrings are found): every
word of three characters or more goes into ONE ``MATCH`` (FTS5 ands them); shorter
words fall back to ``LIKE``.  A newest-first page of a search walks the text index by
rowid, newest first, and stops at the page's last match (``TEXT_WALK``): the id orders
rows as their creation time does while no row came in out of order (the ``displaced``
figure, schema v9).
"""

from __future__ import annotations

from storage.clock import iso
from storage.history import (
    MIN_INDEXED,
    SIZES_BY_TIER,
    SORT_KEYS,
    HistoryFilter,
    split_words,
    submitter_terms,
)
from storage.sql import SHOWN_STATUS, containing, like_escaped

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any

# Submitted → ended; NULL (with the unknown) when the service's times contradict each
# other — as ``tui.engine.history.timeline`` has it for what is shown.
TOOK = ("(CASE WHEN julianday(submit_time) <= julianday(end_time) AND (scheduled_time IS NULL"
        " OR julianday(scheduled_time) BETWEEN julianday(submit_time) AND julianday(end_time))"
        " THEN julianday(end_time) - julianday(submit_time) END)")
SORTS = {
    "submitted": "created_at", "status": "COALESCE(status, UPPER(submission))",
    "prompt": "prompt COLLATE NOCASE", "task": "task_id", "size": "size",
    "duration": "duration", "audio": "audio", "download": "download_state",
    "took": TOOK,
}
assert set(SORTS) == set(SORT_KEYS)


# The rows of a search, from the text index out: ``… {TEXT_WALK} WHERE … AND
# generations_fts MATCH ? ORDER BY generations_fts.rowid DESC`` — CROSS JOIN keeps the
# index the outer loop, so the walk stops with the LIMIT.
TEXT_WALK = ("generations_fts CROSS JOIN generations"
             " ON generations.id = generations_fts.rowid")


# Where a walk of ``TEXT_WALK`` newest first may stop when the rows are bounded to those
# created at the cutoff or later (parameter: the cutoff): the first id created then.
# While the id orders rows as their creation time does, no row older than the cutoff
# has a later id — and without it the walk goes on through every entry of the words
# beside a short one (``rain ti``: every "rain" read, none newer than the cutoff past it).
WALK_FROM = ("generations_fts.rowid >= (SELECT MIN(rowid) FROM generations WHERE created_at ="
             " (SELECT MIN(created_at) FROM generations WHERE created_at >= ?))")


# The creation time of the Nth newest kept row (parameter: N - 1), from the index.
NEWEST_CUTOFF = ("SELECT created_at FROM generations INDEXED BY generations_kept"
                 " WHERE forgotten_at IS NULL ORDER BY created_at DESC LIMIT 1 OFFSET ?")


def text_match(where: HistoryFilter | None) -> str | None:
    """The words of three characters or more as one FTS5 query (each a quoted string, so
    a substring: the trigram index), or None if there is none."""
    words = split_words(where.text.strip()) if where is not None else []
    long = ['"' + w.replace('"', '""') + '"' for w in words if len(w) >= MIN_INDEXED]
    return " ".join(long) or None


def where_sql(where: HistoryFilter | None, *, text_index: bool = True,
              cutoff: str | None = None, id_of: str = "id",
              me: str = "") -> tuple[str, list[Any]]:
    """``WHERE …`` (never empty: the trash is always either in or out) and its parameters.
    ``text_index=False``: the caller matches ``text_match`` itself (``TEXT_WALK``).
    ``id_of``: where a row's id is known first — a walk of an index says it before the
    row is read, so tags are checked without reading the rows that lack them (``+``: as a
    check, never as a way into the text index, which would look up each id alone).
    ``cutoff``: the creation time of the ``newest``-th newest kept row, read beforehand
    (``plans.newest_cutoff``); without it the bound is a subquery the planner serves less
    well.  ``me``: who ``by:me`` is (the store's ``who.person``)."""
    found = where or HistoryFilter()
    clauses: list[str] = ["forgotten_at IS NOT NULL" if found.trash
                          else "forgotten_at IS NULL"]
    params: list[Any] = []
    if found.statuses:
        marks = ", ".join("?" for _ in found.statuses)
        # A service status, or (none yet) what became of the submission: each side of
        # the OR can use an index on status.
        clauses.append(f"(status IN ({marks}) OR (status IS NULL AND {SHOWN_STATUS}"
                       f" IN ({marks})))")
        params += [*found.statuses, *found.statuses]
    match = text_match(found)
    if match is not None and text_index:
        clauses.append("id IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?)")
        params.append(match)
    text = found.text.strip()
    if text:
        for term in split_words(text):
            if len(term) < MIN_INDEXED:
                clauses.append("generations.prompt LIKE ? ESCAPE '\\'")
                params.append(containing(term))
    if found.since is not None:
        clauses.append("created_at >= ?")
        params.append(iso(found.since))
    if found.until is not None:
        clauses.append("created_at < ?")
        params.append(iso(found.until))
    if found.tiers:
        sizes = [s for t in found.tiers for s in SIZES_BY_TIER.get(t, ())]
        clauses.append(f"size IN ({', '.join('?' for _ in sizes) or 'NULL'})")
        params += sizes
    if found.durations:
        clauses.append(f"duration IN ({', '.join('?' for _ in found.durations)})")
        params += list(found.durations)
    if found.audio is not None:
        clauses.append("audio = ?")
        params.append(int(found.audio))
    if found.downloaded is not None:
        clauses.append("download_state = 'done'" if found.downloaded
                       else "download_state != 'done'")
    if found.favourite is not None:
        clauses.append("favourite = ?")
        params.append(int(found.favourite))
    for tag in found.tags:
        clauses.append(f"{id_of} IN (SELECT generation_id FROM generation_tags WHERE tag = ?)")
        params.append(tag)
    if found.submitters:
        terms = []
        for name, whole in submitter_terms(found, me):
            terms.append("submitted_by = ? COLLATE NOCASE")
            params.append(name)
            if not whole:  # LIKE ignores the case of Latin letters
                terms.append("submitted_by LIKE ? ESCAPE '\\'")
                params.append(like_escaped(name) + "@%")
        clauses.append(f"({' OR '.join(terms)})")
    if cutoff is not None:
        clauses.append("created_at >= ?")  # the walk of the newest rows stops there
        params.append(cutoff)
    elif found.newest is not None and not found.trash:  # (fewer rows than that: no bound)
        clauses.append(f"created_at >= COALESCE(({NEWEST_CUTOFF}), '')")
        params.append(found.newest - 1)
    if found.folded:
        marks = ", ".join("?" for _ in found.folded)
        clauses.append(f"(batch_id IS NULL OR batch_id NOT IN ({marks}) OR id IN (SELECT"
                       f" MIN(id) FROM generations WHERE batch_id IN ({marks})"
                       " GROUP BY batch_id))")
        params += [*found.folded, *found.folded]
    return "WHERE " + " AND ".join(clauses), params


def order_by(column: str, descending: bool) -> str:
    expression = SORTS.get(column, "created_at")
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY {expression} {direction}, id {direction}"
