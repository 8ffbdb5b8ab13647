"""The store interface: what the engine, the command line and the dashboard may ask of
a store, and what every backend (SQLite now, PostgreSQL next) must guarantee.

A ``TaskStore`` is made of parts, one per concern, reached as attributes
(``store.history.page(…)``, ``store.leases.hold(…)``), so a caller's dependencies
show and a function that needs one part can be given only that part.  Every
method's docstring is its contract; ``tests/store_contract`` checks it against
each backend.  Shared rules:

- Errors leave a store only as the ``storage.errors`` sentences (``StoreError``).
- A write is atomic: its effects, its status event and its change-feed entry are
  all stored or none is.  Writes are durable once the call returns.
- Several processes (and, for a server backend, machines) use one store at once;
  "never twice" and "at most one" guarantees hold across all of them.
- A generation's status only moves forward (``storage.records.can_advance``).
- Rows in the trash (``forgotten_at`` set) are left out of every read that lists
  rows, unless a ``HistoryFilter`` asks for the trash; reads by key still find them.
- Moments are ISO-8601 UTC text as ``storage.clock`` writes them.
- Error and note texts (the columns ``storage.redact.SCRUBBED`` names, and status
  events' details) are stored scrubbed of credentials (``storage.redact.scrub``),
  whichever method writes them, imports included.
- A store handle is opened for someone on some machine (``TaskStore.who``): intents
  record the person, downloads are the machine's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

# Forgotten generations stay restorable this long (a plain constant, kept beside the
# statuses: a page reader asks for it without loading these Protocols).
from storage.statuses import TRASH_DAYS as TRASH_DAYS

if TYPE_CHECKING:  # annotations only: importing the interface creates none of the records
    from storage.changes import ChangeFeed  # (and asyncio with it: a page reader never loads it)
    from storage.history import HistoryFilter
    from storage.records import (
        BatchSummary,
        Billable,
        CopyMark,
        Counts,
        Enqueued,
        ForeignTask,
        Generation,
        LeaseState,
        LiveTask,
        Observation,
        QueueEntry,
        QueueItem,
        QueuePause,
        StatusEvent,
        Tally,
        Who,
    )


class Generations(Protocol):
    """Single generations by key, and their status history."""

    async def get(self, generation_id: int) -> Generation | None:
        """The row with this local id as stored now (the trash included), or None."""
        ...

    async def get_many(self, generation_ids: Iterable[int]) -> list[Generation]:
        """The rows with these ids that exist, each once, in id order (any number of ids)."""
        ...

    async def by_task_id(self, task_id: str) -> Generation | None:
        """The row holding this service task id (a task id belongs to one row at most)."""
        ...

    async def by_sha256(self, sha256: str) -> list[Generation]:
        """The rows whose saved video has this SHA-256 (hex digits in any case; digests are
        recorded in lowercase): which generation a file is."""
        ...

    async def by_download_path(self, path: str) -> list[Generation]:
        """The rows that record this file (exactly this path text) as their download —
        saved, being saved, failed part-way or set aside in the trash; the trash
        included.  Asked before every download, so two generations never share a file:
        cheap however long the history."""
        ...

    async def find(self, ref: str) -> list[Generation]:
        """Rows a user's reference names: ``#12`` or ``12`` (local id), a full task id, or
        a task-id prefix of at least 4 characters (at most 5 rows, in id order)."""
        ...

    async def events(self, generation_id: int) -> list[StatusEvent]:
        """The row's status history, oldest first, in the order it was written."""
        ...

    async def known_task_ids(self, task_ids: Iterable[str]) -> set[str]:
        """Which of these task ids a row holds (the trash included: a task once known is
        never adopted as new again)."""
        ...


class Intents(Protocol):
    """Submissions: the intent recorded before a create is sent, its outcome, batches.

    Creating a task costs money, so an intent is stored (durably) before its create
    request leaves, and ``claim`` hands one batch line to one sender only, whichever
    process or machine asks.
    """

    async def add(self, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
                  audio: bool = False, watermark: bool = False, seed: int | None = None,
                  batch_id: str | None = None) -> Generation:
        """Record the intent to create a task — before the request is sent.  The row is
        ``sending`` (shown SUBMITTING) and names this process as its sender, so a sweep
        can tell an interrupted send from one in flight; ``submitted_by`` is the store's
        ``who.person``."""
        ...

    async def claim(self, key: str, *, endpoint: str, model: str, prompt: str, size: str,
                    duration: int, audio: bool = False, watermark: bool = False,
                    seed: int | None = None, batch_id: str | None = None,
                    tags: Iterable[str] = (), note: str | None = None,
                    ) -> tuple[Generation, bool]:
        """The row for one intent of a batch (``key`` is unique), and whether this caller
        is to send it.

        Never twice: of all callers for one ``key`` — concurrent, in other processes, or
        the same batch run again — exactly one gets True and records the intent (with
        its tags and note, ``submitted_by`` the store's ``who.person``) atomically.  The
        others get the row as it stands and False, unless the service refused it or the
        user settled that nothing was created: then exactly one caller takes the row over
        (True, ``submitted_by`` now its ``who.person``) to send it again.
        """
        ...

    async def with_prefix(self, prefix: str) -> dict[str, Generation]:
        """The rows of every intent whose key starts with ``prefix`` (one batch's), by key."""
        ...

    async def mark_accepted(self, generation_id: int, *, task_id: str, status: str,
                            request_id: str | None, next_poll_in: float) -> Generation:
        """The service created ``task_id`` for this intent: it is followed from now (first
        poll ``next_poll_in`` seconds on, none if ``status`` is final)."""
        ...

    async def mark_rejected(self, generation_id: int, *, code: str | None, message: str,
                            request_id: str | None) -> Generation:
        """The service refused the create: nothing was created, nothing is followed."""
        ...

    async def mark_unconfirmed(self, generation_id: int, note: str) -> Generation:
        """The outcome is unknown (a task may exist); ``note`` says why.  Never resent by
        itself: the user (or ``adopt_for``) settles it."""
        ...

    async def mark_abandoned(self, generation_id: int, note: str) -> Generation:
        """The user decided no task was created; the row is not followed."""
        ...

    async def adopt_for(self, generation_id: int, task_id: str) -> Generation:
        """Settle an unconfirmed intent: it did create ``task_id``, followed from now.
        Raises ``DuplicateTask`` (nothing written) if another row holds ``task_id``."""
        ...

    async def sweep_interrupted(self) -> list[Generation]:
        """Intents still ``sending`` whose sender died (or that are older than any create
        can take) become unconfirmed; returns them.  Live senders' intents are left."""
        ...

    async def billable_since(self, stamp: str) -> list[Billable]:
        """Generations created at or after ``stamp`` that cost money or may (made, in
        flight, or of unknown outcome) — the trash included: forgetting does not refund."""
        ...

    async def batch(self, batch_id: str) -> BatchSummary | None:
        """Where one batch's kept tasks are (None if it has none); the label is its first
        task's prompt."""
        ...

    async def batch_rows(self, batch_id: str) -> list[Generation]:
        """One batch's kept rows, in id order."""
        ...


class Queue(Protocol):
    """The local queue: submissions recorded as intents that wait here (QUEUED: nothing
    sent, nothing billed) until whoever polls the account sends them, as it has room.

    Order: a higher ``queue_priority`` first; within a priority, ``queue_order`` (first
    in, first out, unless moved).  A held item, the items of a paused batch and, while
    the whole queue is paused, every item wait.  Never twice: ``take`` hands each queued
    item to one sender only (across processes and machines), as ``Intents.claim`` does.
    """

    async def enqueue(self, entries: Sequence[QueueEntry], *, priority: int = 0,
                      batch_id: str | None = None) -> Enqueued:
        """Record these submissions as queued, in this order, behind what waits at their
        priority — atomically, any number at once (10,000 in seconds).

        An entry with a ``key`` is a batch line: a key no row holds is queued; a key whose
        row was refused or abandoned (nothing was created) is taken over and queued again;
        any other key (queued, being sent, sent, in doubt) is left as it is and counted
        as ``known``.  Tags and notes are stored with the rows; every row queued (or
        taken over) records ``who.person`` as its ``submitted_by``, as ``Intents.add``
        does."""
        ...

    async def take(self, *, capacity: int, endpoints: Sequence[str] | None = None,
                   only: Collection[int] | None = None,
                   paused_too: bool = False) -> Generation | None:
        """The next queued item for this process to send, now ``sending`` (as
        ``Intents.add`` writes it: a sweep tells a dead sender's from a live one's) — or
        None when nothing may go: the queue is paused, every item is held or of a paused
        batch, or ``capacity`` tasks are in flight already (``in_flight``).

        Atomic with the count: two processes taking at once never exceed ``capacity``
        together, and never get one item both.  ``endpoints``: only items made for these,
        counted against tasks at these; ``only``: only these ids; ``paused_too``: even
        while the whole queue is paused (not a paused batch, not a held item)."""
        ...

    async def put_back(self, generation_id: int, note: str) -> Generation:
        """A create that was refused for a reason not about the item (a key, a quota, a
        rate): nothing was created, so the item (``sending``) waits again at its place,
        ``note`` saying why.  Any other row is returned unchanged."""
        ...

    async def in_flight(self, endpoints: Sequence[str] | None = None) -> int:
        """Tasks being sent, or followed and not finished (PENDING, RUNNING, not polled
        yet), made at ``endpoints`` when given: what the service holds for the account."""
        ...

    async def lineup(self) -> list[QueueItem]:
        """Every queued item (the trash left out), in the order they would be sent if
        nothing were held or paused."""
        ...

    async def positions(self, generation_ids: Iterable[int]) -> dict[int, int]:
        """Where each queued one of these ids stands in the ``lineup`` (1: first to be
        sent); ids that are not queued are left out.  One read, however long the queue."""
        ...

    async def endpoints(self) -> list[str]:
        """The endpoints queued items were made for, each once."""
        ...

    async def pause(self, batch_id: str | None = None, reason: str | None = None) -> None:
        """Pause one batch (or, with None, the whole queue): its items wait until
        ``resume``.  ``reason``: why the program paused it (None: a user did), stored
        scrubbed of credentials.  Pausing what is paused replaces the reason.  Moves the
        change feed's ``figures``."""
        ...

    async def resume(self, batch_id: str | None = None) -> None:
        """Resume one batch (or the whole queue); resuming what runs changes nothing."""
        ...

    async def pauses(self) -> list[QueuePause]:
        """What is paused now: the whole queue first (if it is), then batches by time."""
        ...

    async def hold(self, generation_ids: Iterable[int], held: bool) -> int:
        """Hold queued items back (or let them go again), keeping their places; how many
        queued items there were among the ids."""
        ...

    async def move(self, generation_ids: Iterable[int], to: str) -> int:
        """Move queued items ``up`` or ``down`` one place each (past the item before or
        after them), or to the ``top`` (first to be sent) or the ``bottom`` (last); a
        group keeps its own order.  How many moved.  ValueError for another ``to``.

        A moved item goes where it is put, so it takes the priority of the place it
        goes to: past an item of another priority it takes that item's priority, to the
        top the highest waiting (if above its own), to the bottom the lowest (if below).
        Only the moved items' priorities change — an item passed keeps its own."""
        ...

    async def prioritise(self, generation_ids: Iterable[int], *, priority: int | None = None,
                         by: int = 0) -> int:
        """Give queued items this priority (or raise it ``by``, negative lowers), within
        -9…9; within their new priority they keep their order.  How many changed."""
        ...

    async def cancel(self, generation_ids: Iterable[int]) -> list[Generation]:
        """Take queued items off the queue: ABANDONED (nothing was sent, nothing is
        billed), never sent.  Returns the rows that were queued."""
        ...

    async def requeue(self, generation_id: int, *, retry: bool,
                      priority: int | None = None) -> Generation | None:
        """Queue a finished generation again as a new row, first in its priority (its own,
        unless ``priority``): the same prompt, settings, seed, batch, tags and note; the
        batch line's key moves to the new row; ``retries`` grows by one when ``retry``;
        ``submitted_by`` stays the old row's (whoever feeds, it is that person's intent).
        Only a row that ended with nothing to keep (CANCELED, FAILED, REJECTED); at most
        once per row (``retry_of`` is unique): None when it may not, or was already."""
        ...

    async def retryable(self, *, codes: Sequence[str], max_retries: int, since: str,
                        limit: int = 100) -> list[Generation]:
        """FAILED rows that came through the queue, ended (updated) at or after ``since``,
        queued again fewer than ``max_retries`` times and not yet, whose error code is one
        of ``codes`` or absent — the trash left out; oldest first."""
        ...


class Following(Protocol):
    """Polling: which tasks are due, who polls each, and what the service answered.

    A followed task has a task id, is not final, has a next poll time and is not in
    the trash.
    """

    async def track(self, *, task_id: str, endpoint: str, model: str, prompt: str,
                    size: str, duration: int, audio: bool) -> Generation:
        """Adopt a task created elsewhere and follow it; idempotent on ``task_id`` (the
        row that holds it is returned unchanged).  Nobody here submitted it:
        ``submitted_by`` stays None."""
        ...

    async def claim_due(self, owner: str, *, limit: int, lease_seconds: float,
                        include_future: bool = False,
                        endpoints: Sequence[str] | None = None) -> list[Generation]:
        """Lease up to ``limit`` followed tasks that are due for a poll (all followed ones
        with ``include_future``), oldest-due first, made at ``endpoints`` when given.

        At most one owner: a task leased to another owner, until its lease runs out
        (``lease_seconds``) or is released, is never handed out — across processes.
        """
        ...

    async def release(self, generation_id: int, owner: str) -> None:
        """Give back one task's lease, if ``owner`` holds it."""
        ...

    async def release_all(self, owner: str) -> None:
        """Give back every task lease ``owner`` holds (a poller that stops)."""
        ...

    async def apply(self, generation_id: int, seen: Observation,
                    next_poll_in: float | None) -> tuple[Generation, bool]:
        """Store one answer about a task; returns the row and whether its status moved.

        Status only moves forward: a late or out-of-order answer (PENDING after RUNNING,
        anything after a final status) only updates the poll bookkeeping; an answer with
        the status the row has updates the details it carries (times, video, usage).  The row's
        lease is released; it is polled again after ``next_poll_in`` seconds (never,
        if None or final).  A status move writes one status event.
        """
        ...

    async def record_poll_failure(self, generation_id: int, reason: str,
                                  next_poll_in: float) -> Generation:
        """A poll failed: count it, keep ``reason``, ask again after ``next_poll_in``
        seconds (unless the task is no longer followed), release its lease."""
        ...

    async def stop(self, generation_id: int, reason: str) -> Generation:
        """The service will never answer about this task usefully: stop following it and
        say why."""
        ...

    async def resume(self, generation_id: int) -> Generation:
        """The user asks to follow a task again (after ``stop`` or failures): due now, its
        failures forgotten.  A final or never-sent row is returned unchanged."""
        ...

    async def poll_now(self, generation_ids: Iterable[int], *, after: float = 0.0) -> None:
        """Make these followed tasks due ``after`` seconds from now."""
        ...

    async def live(self, endpoints: Sequence[str] | None = None) -> list[LiveTask]:
        """Every followed task (made at ``endpoints``, when given), oldest first, in the
        few columns a poller reads often."""
        ...

    async def endpoints(self) -> list[str]:
        """The endpoints the followed tasks were made at, each once."""
        ...

    async def unfinished(self) -> list[Generation]:
        """Every followed task, in id order."""
        ...


class Downloads(Protocol):
    """Where each finished video is on this machine.

    A download is kept per generation *and machine* (``TaskStore.who.machine``): a
    ``Generation``'s ``download_*`` fields are this machine's, and its ``saved_on``
    names the other machines where the video is saved (state ``done``), so another
    machine shows "saved on studio-2" and saves its own copy.  Every read of a row here
    (``by_sha256``, ``by_download_path``, ``unsaved``, the ``dl:`` filter, the
    ``download`` sort, ``Counts.not_downloaded``) is about this machine's download.
    A store that is not ``shared`` (SQLite) is one machine's: whoever opens it is that
    machine, so a renamed host keeps its downloads.  A download moving on any machine
    is a change of its row (the change feed reports it).
    """

    async def set(self, generation_id: int, *, state: str, path: str | None = None,
                  done: int | None = None, total: int | None = None,
                  sha256: str | None = None, error: str | None = None) -> Generation:
        """Record this machine's download state (``none``, ``downloading``, ``done``,
        ``failed``, ``expired``, ``refused``, ``trashed``, …) and its details, all
        replaced at once; other machines' are left as they are."""
        ...

    async def progress(self, generation_id: int, done: int, total: int | None) -> None:
        """Bytes saved so far of a download in progress."""
        ...

    async def unsaved(self, where: HistoryFilter | None = None, *,
                      ended_after: str | None = None, ended_before: str | None = None,
                      limit: int | None = None) -> list[Generation]:
        """Finished videos not saved yet (nor expired, refused or set aside) among the
        rows ``where`` admits (default: the kept ones), optionally only those that ended
        after/at-or-before a moment; the soonest to expire first (end time, then id)."""
        ...


class History(Protocol):
    """Browsing, searching, counting, annotating, exporting and importing generations.

    Search semantics (``HistoryFilter``, from ``storage.history.parse_filter``): every
    word must occur in the prompt as a substring, case-insensitively for Latin letters
    (so Chinese substrings are found); a "quoted phrase" is one word; tokens
    (``status:``, ``since:``, ``until:``, ``tier:``, ``dur:``, ``audio:``, ``dl:``,
    ``fav``, ``tag:``, ``by:``, ``in:trash``) narrow the rows as their docs say
    (``by:``: ``storage.history.submitter_terms``, ``me`` being ``who.person``).
    """

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        """One page of the rows ``where`` admits, sorted by ``sort`` (a key of the table's
        columns: ``submitted``, ``status``, ``prompt``, ``task``, ``size``, ``duration``,
        ``audio``, ``download``, ``took``; unknown: ``submitted``) with the id as a
        tie-breaker in the same direction, so pages never overlap or skip.  ``took`` is
        submitted → ended; a row whose service times contradict each other (ended before
        it was submitted, scheduled outside the two) sorts with the rows where it is
        unknown, as SQL sorts NULL (first ascending, last descending)."""
        ...

    async def count(self, where: HistoryFilter | None = None, *,
                    at_most: int | None = None) -> int:
        """How many rows ``where`` admits — or, with ``at_most``, ``at_most + 1`` when there
        are more (a search matching half the history need not count all of it)."""
        ...

    async def tally(self, where: HistoryFilter | None = None, *, at_most: int) -> Tally:
        """How many rows ``where`` admits, as far as a bounded amount of work can tell —
        the count a view shows on every keystroke: exactly, when there are at most
        ``at_most`` and counting them was cheap (and always for everything kept); else
        at least how many (``exact`` False): ``at_most + 1`` when there are more, or the
        matches among the rows looked at before the backend's bound on the work was
        reached (a common word with rare tokens) — never more than there are."""
        ...

    async def ids(self, where: HistoryFilter) -> list[int]:
        """The ids of every row ``where`` admits, on every page."""
        ...

    def rows(self, where: HistoryFilter | None = None) -> AsyncIterator[Generation]:
        """Every row ``where`` admits, oldest first (by id), read a page at a time so
        writers are never held up by a long read."""
        ...

    def columns(self, names: tuple[str, ...], where: HistoryFilter | None = None
                ) -> AsyncIterator[tuple[Any, ...]]:
        """Just these columns (names from ``storage.records.IMPORTABLE``; another name
        raises ValueError) of every row ``where`` admits, oldest first, read in pages."""
        ...

    async def counts(self, day_start: str) -> Counts:
        """The status bar's figures over the kept rows: in flight by status, finished and
        failed since ``day_start`` (the user's midnight), not downloaded, and the total."""
        ...

    async def import_many(self, records: Iterable[dict[str, Any]]) -> int:
        """Import exported records (``IMPORTABLE`` columns plus ``tags`` and ``history``)
        in one transaction; returns how many were new.  A record already here (by task id,
        or for one never sent, by creation time and prompt) is skipped, as is the second
        of two alike in one batch: importing twice adds nothing."""
        ...

    def bulk(self) -> AbstractAsyncContextManager[None]:
        """Around a long load (an import, ``store copy`` into this store): the store may
        make the rows it is about to receive cheaper to write — PostgreSQL, into an empty
        history, builds its secondary indexes once at the end instead of row by row —
        while every read and write stays correct meanwhile, on any machine, and a load
        killed half-way leaves nothing to repair by hand (the next open does it).  Rows
        go in as always, by ``import_many`` and ``copy_in``; a backend may do nothing."""
        ...

    async def copy_out(self, after: int = 0, limit: int = 2000) -> list[dict[str, Any]]:
        """Up to ``limit`` rows whose id is above ``after``, in id order, the trash
        included, each whole as ``copy_in`` takes it: ``id``, the ``storage.records.COPIED``
        columns, ``tags`` (sorted), ``history`` (status events as ``{at, status, detail}``,
        oldest first) and ``downloads`` (machine → ``{state, path, bytes, total, sha256,
        error}``, every machine whose state is not plain ``none``).  For ``store copy``."""
        ...

    async def copy_in(self, source: str, records: Sequence[dict[str, Any]]) -> int:
        """Add records ``copy_out`` gave from the store at ``source`` (its ``location``),
        in its id order, in one transaction; returns how many rows were added.

        Resumable and idempotent: the transaction also records the highest source id of
        the batch and how many records it took (``copied_from``), and a record at or
        below the highest id recorded before is skipped (not counted) — a copy run again,
        or after it was killed, adds exactly what is missing.
        Merging: a record is skipped when a row here holds its task id or its intent key,
        or, for one that was never sent (neither), when a row that was here before the
        first copy from ``source`` has its ``created_at`` and ``prompt``.  Into a store
        that was empty when the first copy from ``source`` began, a row keeps its id
        (unless a row written meanwhile took it); otherwise it takes the next free one.
        Its downloads keep their machines (this machine's become its ``download_*``);
        texts are scrubbed as every write's are."""
        ...

    async def copied_from(self, source: str) -> CopyMark:
        """How far copies from ``source`` came: the highest source id ``copy_in``
        recorded and how many records it took in all (both 0: none yet)."""
        ...

    async def set_favourite(self, generation_id: int, favourite: bool) -> Generation:
        """Star or unstar a row."""
        ...

    async def set_note(self, generation_id: int, note: str | None) -> Generation:
        """Replace a row's note (blank clears it; surrounding spaces dropped)."""
        ...

    async def set_tags(self, generation_id: int, tags: Iterable[str]) -> Generation:
        """Replace a row's tags (trimmed, blanks and repeats dropped)."""
        ...

    async def tags_of(self, generation_id: int) -> list[str]:
        """A row's tags, sorted."""
        ...

    async def all_tags(self) -> list[tuple[str, int]]:
        """Every tag of the kept rows with how many rows carry it, sorted by tag."""
        ...


class Trash(Protocol):
    """Forgetting: rows leave every view at once and are deleted for good weeks later."""

    async def forget(self, generation_id: int) -> Generation | None:
        """Move a row to the trash: hidden from every listing and no longer followed,
        restorable for ``TRASH_DAYS``.  Forgetting a forgotten row changes nothing; None
        if there is no such row.  (Its file is the caller's business.)"""
        ...

    async def restore(self, generation_id: int) -> Generation | None:
        """Take a row back out of the trash, followed again if it is live and was
        followed; restoring a kept row changes nothing; None if there is no such row."""
        ...

    async def purge(self, days: float = TRASH_DAYS) -> list[Generation]:
        """Delete for good what was forgotten more than ``days`` ago, with its history and
        tags; returns those rows as they were."""
        ...


class Leases(Protocol):
    """One poller per account among every process (and machine) using the store."""

    async def hold(self, account: str, owner: str, seconds: float) -> LeaseState:
        """Take or renew the account's poller lease for ``seconds`` if it is free, expired
        or ``owner``'s — atomically: two owners never both hold it — and return it as it
        is then (another holder, if the lease was theirs)."""
        ...

    async def current(self, account: str) -> LeaseState:
        """The lease as it is now; an expired one shows no holder."""
        ...

    async def release(self, account: str, owner: str) -> None:
        """Give the lease up at once if ``owner`` holds it (another may take it now)."""
        ...

    async def nudge(self, account: str) -> None:
        """Ask whoever polls the account to look now (a task was submitted elsewhere): the
        lease's ``nudged_at`` moves."""
        ...


class Budget(Protocol):
    """The account's request budget, shared by every process (and machine)."""

    async def take(self, account: str, rate: float, burst: float, count: int = 1) -> float:
        """Reserve ``count`` requests from the account's token bucket (``rate`` a second,
        at most ``burst`` saved up); returns the seconds the caller must wait before
        sending them (0 when the bucket had them).

        A reservation, not a try: reservations are atomic and ordered, the bucket may go
        below zero, so every caller learns its own wait at once and all callers
        together never exceed ``rate``.
        """
        ...


class ForeignTasks(Protocol):
    """Tasks of an account that no row holds (made by the SDK, the console, a script)."""

    async def record(self, account: str,
                     tasks: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """Note tasks the task list showed: (task id, status, model, created).  A task seen
        again has its status and sighting time updated."""
        ...

    async def recent(self, account: str) -> list[ForeignTask]:
        """The account's foreign tasks seen in the last 24 hours that still no row holds,
        newest first."""
        ...


class TaskStore(Protocol):
    """A store of generations, made of its parts; open one with ``storage.open_store``."""

    @property
    def location(self) -> str:
        """Where the store lives, for messages (an absolute path, or a URL without its
        password) — also how ``History.copy_in`` names a source."""
        ...

    @property
    def who(self) -> Who:
        """Who this handle was opened for (``storage.open_store(…, who=…)``): the person
        its intents record and ``by:me`` means, the machine whose downloads it reads."""
        ...

    @property
    def shared(self) -> bool:
        """Whether several machines use this store (a team database): forgetting a row
        then forgets it for everyone.  A SQLite file is one machine's: False."""
        ...

    @property
    def read_only(self) -> bool:
        """Whether this store only reads: the history may be shown, nothing changed (a
        viewer's database role, a standby; a SQLite file this user cannot write).  Every
        write then raises ``StoreUnavailable``; a caller offers no action that writes."""
        ...

    @property
    def generations(self) -> Generations:
        """Rows by key and their status history."""
        ...

    @property
    def intents(self) -> Intents:
        """Submissions: intents, their outcomes, batches."""
        ...

    @property
    def queue(self) -> Queue:
        """The local queue: waiting, taking, pausing, ordering."""
        ...

    @property
    def following(self) -> Following:
        """Polling: due tasks, row leases, answers."""
        ...

    @property
    def downloads(self) -> Downloads:
        """Where each video is on this machine."""
        ...

    @property
    def history(self) -> History:
        """Browsing, searching, counting, annotating, importing."""
        ...

    @property
    def trash(self) -> Trash:
        """Forgetting, restoring, deleting for good."""
        ...

    @property
    def leases(self) -> Leases:
        """One poller per account."""
        ...

    @property
    def budget(self) -> Budget:
        """One request budget per account."""
        ...

    @property
    def foreign(self) -> ForeignTasks:
        """The account's tasks no row holds."""
        ...

    def changes(self) -> ChangeFeed:
        """A new subscription to what changes in the store, whoever writes it (this
        process, another process, another machine).

        Each subscriber has its own feed; every write committed after ``changes()``
        returns is reported at least once (writes from before may be reported too —
        re-reading costs a subscriber nothing but time), bursts merge into one
        ``Change``, and a subscriber that fell behind gets ``everything``.  Reads, and
        writes nobody sees (a renewed lease), are not changes.  This process's writes
        arrive at once, other writers' within a fraction of a second.  With nobody
        subscribed, listening costs nothing; while nothing changes, it costs at most one
        cheap statement per tick — never a scan.
        """
        ...

    async def close(self) -> None:
        """Close the store; every change feed ends."""
        ...

    async def __aenter__(self) -> TaskStore:
        """``async with await open_store(…) as store``: the store itself."""
        ...

    async def __aexit__(self, *exc: object) -> None:
        """Closes the store (``close``), whatever happened inside."""
        ...


class PageReader(Protocol):
    """A synchronous, read-only look at a store, for a command that only prints a page
    (``list``): no event loop, no thread — started and done in the time a plain script
    takes.  A backend that can offer one does (``storage.open_page_reader``); elsewhere
    the caller opens the ``TaskStore``.

    It reads what the store reads, with the same meaning (``History.page``,
    ``Downloads.unsaved``) for the same ``who`` (``by:me``, this machine's downloads and
    ``saved_on``), and never writes: what the store would tidy on opening it
    (``untidy``) is the caller's reason to open the store instead.  Errors leave it as
    the ``storage.errors`` sentences.
    """

    @property
    def location(self) -> str:
        """Where the store lives, for messages."""
        ...

    @property
    def who(self) -> Who:
        """Who this reader was opened for, as ``TaskStore.who``."""
        ...

    def untidy(self, trash_days: float) -> bool:
        """Whether tidying would find anything: a submission still marked as being sent
        (a crash may have interrupted it — ``Intents.sweep_interrupted`` decides, and a
        listing must then show it UNCONFIRMED), or a row forgotten more than
        ``trash_days`` ago (``Trash.purge``'s).  Cheap at any size (through indexes)."""
        ...

    def queued(self) -> int:
        """How many wait in the local queue (``Counts.queued``), read in O(1)."""
        ...

    def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
             descending: bool = True, limit: int = 200, offset: int = 0) -> list[Generation]:
        """``History.page``: the same rows, in the same order."""
        ...

    def unsaved(self, where: HistoryFilter | None = None, *, ended_after: str | None = None,
                ended_before: str | None = None, limit: int | None = None
                ) -> list[Generation]:
        """``Downloads.unsaved``: the same rows, in the same order."""
        ...

    def unsaved_tally(self, *, ended_after: str | None = None, ended_before: str | None = None,
                      at_most: int, first: int) -> tuple[int, list[tuple[int, str | None]]]:
        """How many rows ``unsaved`` gives (counted up to ``at_most``), and the id and task id
        of its ``first`` rows, in its order — read through its index at once, no record
        made (what a warning about them says)."""
        ...

    def close(self) -> None:
        """Let go of the store."""
        ...

    def __enter__(self) -> PageReader:
        """``with reader:`` — the reader itself."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Closes the reader (``close``), whatever happened inside."""
        ...
