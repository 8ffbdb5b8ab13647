"""A ``HistoryFilter`` and a sort order as SQLite SQL.

Text search uses FTS5's trigram tokenizer (so Chinese substrings are found);
terms under three characters fall back to ``LIKE``.
"""

from __future__ import annotations

from typing import Any

from storage.clock import iso
from storage.history import SIZES_BY_TIER, SORT_KEYS, HistoryFilter, split_words

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


def where_sql(where: HistoryFilter | None) -> tuple[str, list[Any]]:
    """``WHERE …`` (never empty: the trash is always either in or out) and its parameters."""
    found = where or HistoryFilter()
    clauses: list[str] = ["forgotten_at IS NOT NULL" if found.trash
                          else "forgotten_at IS NULL"]
    params: list[Any] = []
    if found.statuses:
        marks = ", ".join("?" for _ in found.statuses)
        clauses.append(f"COALESCE(status, CASE submission WHEN 'sending' THEN 'SUBMITTING'"
                       f" ELSE UPPER(submission) END) IN ({marks})")
        params += list(found.statuses)
    text = found.text.strip()
    if text:
        for term in split_words(text):
            if len(term) >= 3:
                clauses.append("id IN (SELECT rowid FROM generations_fts"
                               " WHERE generations_fts MATCH ?)")
                params.append('"' + term.replace('"', '""') + '"')
            else:
                clauses.append("prompt LIKE ? ESCAPE '\\'")
                params.append("%" + term.replace("\\", "\\\\").replace("%", "\\%")
                              .replace("_", "\\_") + "%")
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
        clauses.append("id IN (SELECT generation_id FROM generation_tags WHERE tag = ?)")
        params.append(tag)
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
