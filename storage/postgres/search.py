"""A ``HistoryFilter`` and a sort order as PostgreSQL SQL, with the meaning SQLite's
(``storage.sqlite.search``) has.

Text search: every word (a "quoted phrase" is one) must occur in the prompt —
``prompt ILIKE '%word%'``, which the ``pg_trgm`` index (``generations_prompt_trgm``)
serves for words with three letters or digits in a row, Chinese ones included when
the database's ctype keeps them in trigrams (``schema.cjk_trigram_problem``).  A
word without a trigram (``z``, ``小猫``, ``#1``) is written so that the index cannot
serve it — ``texticlike(prompt, '%word%')``, the function behind ``ILIKE`` (an
operator is what an index takes, a function call is not), or ``strpos(prompt, word)``
when the word has no letter that has a case (a third of the time): the index has
nothing to narrow such a search by, and would read every one of its entries to find
out (seconds at 1,000,000 rows) where walking the newest rows finds a common word at
once.
``ILIKE`` folds case by the database's ctype: Latin letters in any case, accented
ones too.
"""

from __future__ import annotations

from storage.clock import iso
from storage.history import (
    SIZES_BY_TIER,
    SORT_KEYS,
    HistoryFilter,
    split_words,
    submitter_terms,
)
from storage.postgres.rows import Args
from storage.sql import SHOWN_STATUS, containing, like_escaped


def _took() -> str:
    """Submitted → ended; NULL (with the unknown) when the service's times contradict
    each other — as ``storage.sqlite.search.TOOK`` has it."""
    submit, end, scheduled = (f"pixverse_moment({c})" for c in
                              ("submit_time", "end_time", "scheduled_time"))
    return (f"(CASE WHEN {submit} <= {end} AND (scheduled_time IS NULL OR {scheduled}"
            f" BETWEEN {submit} AND {end}) THEN {end} - {submit} END)")


SORTS = {
    "submitted": "created_at", "status": "COALESCE(status, UPPER(submission))",
    # SQLite's NOCASE: case folded, then byte order
    "prompt": 'lower(prompt) COLLATE "C"', "task": "task_id", "size": "size",
    "duration": "duration", "audio": "audio", "download": "download_state",
    "took": _took(),
}
assert set(SORTS) == set(SORT_KEYS)


# The creation time of the Nth newest kept row (with ``OFFSET N - 1``): a walk of N
# entries of ``generations_kept``, once per statement (the ``newest`` bound).
NEWEST_CUTOFF = ("SELECT created_at FROM generations WHERE forgotten_at IS NULL"
                 " ORDER BY created_at DESC LIMIT 1")


def newest_rows(where: HistoryFilter | None, args: Args) -> str | None:
    """The ``newest`` bound as the rows a statement reads from (``FROM … AS
    generations``), or None when there is none: the newest N kept rows and those created
    at the same moment as the Nth (``WITH TIES``: the rows ``created_at >= cutoff``
    admits).  Written this way the bound is a walk of ``generations_kept`` that the
    planner cannot trade for the trigram index of a word beside a short one — with the
    cutoff as a condition it may read every "rain" to find "ti" (2 s at 1,000,000 rows),
    and it cannot know the cutoff's value when it plans.  ``where_sql(…, windowed=True)``
    then leaves the bound out."""
    if where is None or where.newest is None or where.trash:
        return None
    return (f"(SELECT * FROM generations WHERE forgotten_at IS NULL ORDER BY created_at"
            f" DESC FETCH FIRST {args.add(where.newest)} ROWS WITH TIES) AS generations")


def words(where: HistoryFilter | None) -> list[str]:
    return split_words(where.text.strip()) if where is not None else []


def has_trigram(term: str) -> bool:
    """Whether pg_trgm finds a trigram in ``%term%``: three letters or digits in a row
    (it splits words on everything else, and pads none at a wildcard)."""
    run = 0
    for ch in term:
        run = run + 1 if ch.isalnum() else 0
        if run == 3:
            return True
    return False


def download_state(args: Args, machine: str) -> str:
    """The state of ``machine``'s download of each row (``machine_downloads``, schema
    v4): what ``dl:``, the ``download`` sort and the unsaved rows read."""
    return ("coalesce((SELECT d.state FROM machine_downloads AS d WHERE d.generation_id ="
            f" generations.id AND d.machine = {args.add(machine)}), 'none')")


def where_sql(where: HistoryFilter | None, args: Args, *, me: str = "",
              machine: str = "", windowed: bool = False) -> str:
    """``WHERE …`` (never empty: the trash is always either in or out); its parameters
    are added to ``args``.  ``me``: who ``by:me`` is (the store's ``who.person``);
    ``machine``: whose downloads ``dl:`` reads (``who.machine``); ``windowed``: the rows
    read are ``newest_rows`` already (the ``newest`` bound is left out)."""
    found = where or HistoryFilter()
    clauses = ["forgotten_at IS NOT NULL" if found.trash else "forgotten_at IS NULL"]
    if found.statuses:
        # A service status, or (none yet) what became of the submission: each side of
        # the OR can use an index on status.
        wanted = args.add(list(found.statuses))
        clauses.append(f"(status = ANY({wanted}::text[]) OR (status IS NULL AND"
                       f" {SHOWN_STATUS} = ANY({wanted}::text[])))")
    for term in words(found):
        if has_trigram(term):
            clauses.append(f"prompt ILIKE {args.add(containing(term))}")
        elif term.lower() == term == term.upper():  # 小猫, #1: nothing to fold
            clauses.append(f"strpos(prompt, {args.add(term)}) > 0")
        else:  # ILIKE called as the function it is: the same test, which no index takes
            clauses.append(f"texticlike(prompt, {args.add(containing(term))})")
    if found.since is not None:
        clauses.append(f"created_at >= {args.add(iso(found.since))}")
    if found.until is not None:
        clauses.append(f"created_at < {args.add(iso(found.until))}")
    if found.tiers:
        sizes = [s for t in found.tiers for s in SIZES_BY_TIER.get(t, ())]
        clauses.append(f"size = ANY({args.add(sizes)}::text[])")
    if found.durations:
        clauses.append(f"duration = ANY({args.add(list(found.durations))}::bigint[])")
    if found.audio is not None:
        clauses.append(f"audio = {args.add(found.audio)}")
    if found.downloaded is not None:
        state = download_state(args, machine)
        clauses.append(f"{state} = 'done'" if found.downloaded else f"{state} <> 'done'")
    if found.favourite is not None:
        clauses.append(f"favourite = {args.add(found.favourite)}")
    for tag in found.tags:
        clauses.append("id IN (SELECT generation_id FROM generation_tags WHERE tag ="
                       f" {args.add(tag)})")
    if found.submitters:
        terms = []
        for name, whole in submitter_terms(found, me):
            terms.append(f"lower(submitted_by) = lower({args.add(name)})")
            if not whole:  # alice on any machine: alice@…
                terms.append(f"lower(submitted_by) LIKE lower({args.add(like_escaped(name))})"
                             " || '@%'")
        clauses.append(f"({' OR '.join(terms)})")
    if found.newest is not None and not found.trash and not windowed:  # (fewer: no bound)
        clauses.append(f"created_at >= COALESCE(({NEWEST_CUTOFF}"
                       f" OFFSET {args.add(found.newest - 1)}), '')")
    if found.folded:
        folded = args.add(list(found.folded))
        clauses.append(f"(batch_id IS NULL OR NOT batch_id = ANY({folded}::text[]) OR id IN"
                       f" (SELECT min(id) FROM generations WHERE batch_id = ANY({folded}::text[])"
                       " GROUP BY batch_id))")
    return "WHERE " + " AND ".join(clauses)


NULLABLE = frozenset({"task", "took"})  # the other sort keys are never NULL


def order_by(column: str, descending: bool, args: Args | None = None,
             machine: str = "") -> str:
    """SQLite's order: NULL first ascending, last descending (said only where a value
    can be NULL: an index on a column sorts as the plain order does); the id breaks
    ties in the same direction.  The ``download`` sort is ``machine``'s downloads'
    (its parameter added to ``args``)."""
    key = column if column in SORTS else "submitted"
    direction = "DESC" if descending else "ASC"
    nulls = (" NULLS LAST" if descending else " NULLS FIRST") if key in NULLABLE else ""
    expression = download_state(args, machine) if key == "download" and args is not None \
        else SORTS[key]
    return f"ORDER BY {expression} {direction}{nulls}, id {direction}"
