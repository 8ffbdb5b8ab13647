"""The SQLite schema, versioned.  Each migration runs once, in order, inside one
transaction.

The version lives in ``PRAGMA user_version``; add a new function to
``MIGRATIONS`` to change the schema — never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

V1 = """
CREATE TABLE generations (
    id               INTEGER PRIMARY KEY,
    created_at       TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    model            TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    size             TEXT NOT NULL,
    duration         INTEGER NOT NULL,
    audio            INTEGER NOT NULL DEFAULT 0,
    watermark        INTEGER NOT NULL DEFAULT 0,
    seed             INTEGER,
    submission       TEXT NOT NULL,
    submission_note  TEXT,
    sending_since    TEXT,
    task_id          TEXT UNIQUE,
    status           TEXT,
    submit_time      TEXT,
    scheduled_time   TEXT,
    end_time         TEXT,
    video_url        TEXT,
    orig_prompt      TEXT,
    usage_duration   REAL,
    usage_size       TEXT,
    usage_fps        INTEGER,
    usage_sr         TEXT,
    usage_audio      INTEGER,
    usage_video_count INTEGER,
    error_code       TEXT,
    error_message    TEXT,
    create_request_id TEXT,
    last_request_id  TEXT,
    polls            INTEGER NOT NULL DEFAULT 0,
    poll_failures    INTEGER NOT NULL DEFAULT 0,
    last_polled_at   TEXT,
    next_poll_at     TEXT,
    lease_owner      TEXT,
    lease_until      TEXT,
    download_state   TEXT NOT NULL DEFAULT 'none',
    download_path    TEXT,
    download_bytes   INTEGER,
    download_total   INTEGER,
    download_sha256  TEXT,
    download_error   TEXT,
    updated_at       TEXT NOT NULL
);
CREATE INDEX generations_created ON generations(created_at DESC);
CREATE INDEX generations_status ON generations(status);
CREATE INDEX generations_due ON generations(next_poll_at) WHERE next_poll_at IS NOT NULL;

CREATE TABLE status_events (
    id             INTEGER PRIMARY KEY,
    generation_id  INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
    at             TEXT NOT NULL,
    status         TEXT NOT NULL,
    detail         TEXT
);
CREATE INDEX status_events_generation ON status_events(generation_id, id);

CREATE VIRTUAL TABLE generations_fts USING fts5(
    prompt, content='generations', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
    INSERT INTO generations_fts(rowid, prompt) VALUES (new.id, new.prompt);
END;
CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
    INSERT INTO generations_fts(generations_fts, rowid, prompt)
        VALUES ('delete', old.id, old.prompt);
END;
CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt ON generations BEGIN
    INSERT INTO generations_fts(generations_fts, rowid, prompt)
        VALUES ('delete', old.id, old.prompt);
    INSERT INTO generations_fts(rowid, prompt) VALUES (new.id, new.prompt);
END;
"""

V2 = """
ALTER TABLE generations ADD COLUMN favourite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN note TEXT;
CREATE TABLE generation_tags (
    generation_id  INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
    tag            TEXT NOT NULL,
    PRIMARY KEY (generation_id, tag)
) WITHOUT ROWID;
CREATE INDEX generation_tags_tag ON generation_tags(tag);
CREATE INDEX generations_updated ON generations(updated_at);
CREATE INDEX generations_favourite ON generations(favourite) WHERE favourite = 1;
CREATE TABLE forgotten (
    generation_id  INTEGER NOT NULL,
    at             TEXT NOT NULL
);
"""

# v3: why a task is no longer followed (``poll_error``), and a trash: forgetting
# sets ``forgotten_at`` and hides the row; it is deleted for good weeks later.
# (The v2 ``forgotten`` table is no longer written.)
V3 = """
ALTER TABLE generations ADD COLUMN poll_error TEXT;
ALTER TABLE generations ADD COLUMN forgotten_at TEXT;
CREATE INDEX generations_forgotten ON generations(forgotten_at) WHERE forgotten_at IS NOT NULL;
"""

# v4: one poller per account (a lease any process can take over when its holder
# dies), the account's request budget shared by every process, and tasks of the
# account that no row knows (made by another client), as the task list shows them.
# An account is a fingerprint of endpoint and key — never the key.
V4 = """
CREATE TABLE poller_leases (
    account    TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    until      TEXT NOT NULL,
    nudged_at  TEXT
);
CREATE TABLE request_budgets (
    account  TEXT PRIMARY KEY,
    tokens   REAL NOT NULL,
    stamp    REAL NOT NULL
);
CREATE TABLE foreign_tasks (
    task_id     TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    status      TEXT NOT NULL,
    model       TEXT,
    created_at  TEXT,
    seen_at     TEXT NOT NULL
);
CREATE INDEX generations_live ON generations(status, next_poll_at) WHERE task_id IS NOT NULL;
"""

# v5: the status bar's figures from the store at any size: kept rows by creation
# (total, and the newest-first page), finished videos not saved yet; batches (the
# tasks of one ×N submission or one batch file share a ``batch_id``); status events
# by time (what ended since a moment, for signals).
V5 = """
CREATE INDEX generations_kept ON generations(created_at DESC) WHERE forgotten_at IS NULL;
CREATE INDEX generations_unsaved ON generations(end_time)
    WHERE status = 'SUCCEEDED' AND download_state != 'done' AND forgotten_at IS NULL;
CREATE INDEX generations_sending ON generations(id) WHERE submission = 'sending';
ALTER TABLE generations ADD COLUMN batch_id TEXT;
CREATE INDEX generations_batch ON generations(batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX status_events_at ON status_events(at);
"""

# v6: one row per intent of a batch file or template line, whichever process sends
# it: ``intent_key`` (the batch's content hash and the line) is unique, so running a
# batch again finds what was sent before instead of sending it twice.
V6 = """
ALTER TABLE generations ADD COLUMN intent_key TEXT;
CREATE UNIQUE INDEX generations_intent ON generations(intent_key) WHERE intent_key IS NOT NULL;
"""

# v7: which rows record a file as their download — two generations never share one
# (``generations.by_download_path``, asked before every download).
V7 = """
CREATE INDEX generations_download_path ON generations(download_path)
    WHERE download_path IS NOT NULL;
"""

# v8: the change feed.  Every write to a generation (one that sets ``updated_at``, as
# every visible change does; lease bookkeeping does not) and every move of a poller
# lease (holder, release, nudge — not a renewal) appends a row here, in the writer's
# own transaction, whichever process writes.  A reader that sees ``PRAGMA
# data_version`` move reads the rows after the last ``seq`` it read (see
# ``storage.sqlite.feed``).  ``figures``: the row's status, submission, task, end,
# download state or trash state moved (the status bar's counts may have).  The log
# keeps its newest 2,000–2,500 rows; a reader that falls further behind re-reads all.
V8 = """
CREATE TABLE changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    generation_id  INTEGER,
    figures        INTEGER NOT NULL DEFAULT 0,
    lease          INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER changes_pruned AFTER INSERT ON changes WHEN new.seq % 500 = 0 BEGIN
    DELETE FROM changes WHERE seq <= new.seq - 2000;
END;
CREATE TRIGGER generations_changed_insert AFTER INSERT ON generations BEGIN
    INSERT INTO changes (generation_id, figures) VALUES (new.id, 1);
END;
CREATE TRIGGER generations_changed_update AFTER UPDATE OF updated_at ON generations BEGIN
    INSERT INTO changes (generation_id, figures) VALUES (new.id,
        old.status IS NOT new.status OR old.submission IS NOT new.submission
        OR old.task_id IS NOT new.task_id OR old.end_time IS NOT new.end_time
        OR old.download_state IS NOT new.download_state
        OR old.forgotten_at IS NOT new.forgotten_at);
END;
CREATE TRIGGER generations_changed_delete AFTER DELETE ON generations BEGIN
    INSERT INTO changes (generation_id, figures) VALUES (old.id, 1);
END;
CREATE TRIGGER poller_leases_changed_insert AFTER INSERT ON poller_leases BEGIN
    INSERT INTO changes (lease) VALUES (1);
END;
CREATE TRIGGER poller_leases_changed_update AFTER UPDATE ON poller_leases
    WHEN old.owner IS NOT new.owner OR old.nudged_at IS NOT new.nudged_at
        OR (old.until = '') IS NOT (new.until = '')
BEGIN
    INSERT INTO changes (lease) VALUES (1);
END;
"""


# v9: the status bar's figures kept current by triggers, in the writer's own
# transaction, so reading them costs a few rows whatever the history's size.
# ``figures``: one count per name (``FIGURES``); ``ended_figures``: finished and
# failed kept rows by the quarter hour (UTC) they ended in — every time zone's
# midnight is on a quarter hour, so "today" is a sum over at most 96 buckets.
# ``displaced`` counts rows that came in (or were moved) out of creation order: while
# it is 0, the id orders rows as their creation time does, and a search walks the
# text index newest-first (``storage.sqlite.search``).
def _bucket(moment: str) -> str:
    return (f"COALESCE(strftime('%Y-%m-%dT%H:', {moment}) || printf('%02d',"
            f" CAST(strftime('%M', {moment}) AS INTEGER) / 15 * 15), '')")


def _figures_v9(row: str) -> dict[str, str]:
    """Whether a row counts in each figure (0 or 1), for ``new``, ``old`` or a table —
    as v9 counted them (its triggers are made from this; never change it)."""
    kept = f"{row}forgotten_at IS NULL"
    return {
        "kept": kept,
        "pending": f"{kept} AND {row}task_id IS NOT NULL AND {row}status IS 'PENDING'",
        "running": f"{kept} AND {row}task_id IS NOT NULL"
                   f" AND {row}status IN ('RUNNING', 'SUSPENDED')",
        "submitting": f"{kept} AND {row}submission IS 'sending'",
        "unsaved": f"{kept} AND {row}status IS 'SUCCEEDED' AND {row}download_state IS NOT 'done'",
    }


def _figures(row: str) -> dict[str, str]:
    """The figures as they are counted now: v9's, and (v11) what waits in the local queue."""
    return {**_figures_v9(row),
            "queued": f"{row}forgotten_at IS NULL AND {row}submission IS 'queued'"}


def _ended(row: str) -> str:
    return (f"{row}forgotten_at IS NULL AND {row}status IN ('SUCCEEDED', 'FAILED')"
            f" AND {row}end_time IS NOT NULL")


FIGURES = (*_figures(""), "displaced")
BUCKET = _bucket("?1")  # the bucket of a moment, the query's first parameter


def _moves(sign: str, row: str, figures: Callable[[str], dict[str, str]] = _figures_v9) -> str:
    cases = " ".join(f"WHEN '{name}' THEN ({test})" for name, test in figures(row).items())
    return f"{sign} IFNULL(CASE name {cases} ELSE 0 END, 0)"


def _v9() -> str:
    initial = ", ".join(f"('{name}', (SELECT COUNT(*) FROM generations WHERE {test}))"
                        for name, test in _figures_v9("").items())
    bump = ("INSERT INTO ended_figures (bucket, status, n) SELECT {b}, {r}status, {d} WHERE {t}"
            " ON CONFLICT (bucket, status) DO UPDATE SET n = n + excluded.n;")
    ended_new = bump.format(b=_bucket("new.end_time"), r="new.", d="1", t=_ended("new."))
    ended_old = bump.format(b=_bucket("old.end_time"), r="old.", d="-1", t=_ended("old."))
    watched = ("status", "submission", "task_id", "end_time", "download_state",
               "forgotten_at")
    moved = " OR ".join(f"old.{c} IS NOT new.{c}" for c in watched)
    return f"""
CREATE TABLE figures (
    name  TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO figures (name, n) VALUES {initial}, ('displaced', (SELECT COUNT(*) FROM
    (SELECT created_at, MAX(created_at) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING
     AND 1 PRECEDING) AS before FROM generations) WHERE created_at < before));
CREATE TABLE ended_figures (
    bucket  TEXT NOT NULL,
    status  TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (bucket, status)
) WITHOUT ROWID;
INSERT INTO ended_figures (bucket, status, n) SELECT {_bucket("end_time")}, status, COUNT(*)
    FROM generations WHERE {_ended("")} GROUP BY 1, 2;
CREATE TRIGGER figures_insert AFTER INSERT ON generations BEGIN
    UPDATE figures SET n = n {_moves("+", "new.")};
    UPDATE figures SET n = n + 1 WHERE name = 'displaced'
        AND new.created_at < (SELECT MAX(created_at) FROM generations);
    {ended_new}
END;
CREATE TRIGGER figures_update AFTER UPDATE OF status, submission, task_id, end_time,
    download_state, forgotten_at ON generations WHEN {moved}
BEGIN
    UPDATE figures SET n = n {_moves("+", "new.")} {_moves("-", "old.")};
    {ended_old}
    {ended_new}
END;
CREATE TRIGGER figures_moved AFTER UPDATE OF created_at ON generations
    WHEN old.created_at IS NOT new.created_at
BEGIN
    UPDATE figures SET n = n + 1 WHERE name = 'displaced';
END;
CREATE TRIGGER figures_delete AFTER DELETE ON generations BEGIN
    UPDATE figures SET n = n {_moves("-", "old.")};
    {ended_old}
END;
"""


V9 = _v9()

# v10: teams.  Who recorded each intent (``submitted_by``, for ``by:``).  Downloads of
# other machines (``machine_downloads``; the ``download_*`` columns stay this
# machine's — a SQLite file is one machine's, whoever opens it — so every row kept
# before belongs to this machine), which only a copy from a team database brings.
# ``copies``: how far each ``store copy`` into this store came, per source — in the
# copy's own transactions, so a copy killed half-way resumes where it stopped.
V10 = """
ALTER TABLE generations ADD COLUMN submitted_by TEXT;
CREATE INDEX generations_submitted_by ON generations(submitted_by COLLATE NOCASE)
    WHERE submitted_by IS NOT NULL;
CREATE TABLE machine_downloads (
    generation_id  INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
    machine        TEXT NOT NULL,
    state          TEXT NOT NULL,
    path           TEXT,
    bytes          INTEGER,
    total          INTEGER,
    sha256         TEXT,
    error          TEXT,
    PRIMARY KEY (generation_id, machine)
) WITHOUT ROWID;
CREATE TABLE copies (
    source  TEXT PRIMARY KEY,
    base    INTEGER NOT NULL,
    up_to   INTEGER NOT NULL,
    seen    INTEGER NOT NULL
) WITHOUT ROWID;
"""

# v11: a local queue (docs/queue.md).  A queued submission is a row whose
# ``submission`` is 'queued': its intent recorded, nothing sent.  It waits in the order
# ``queue_priority`` (higher first), then ``queue_order`` (a sequence: first in, first
# out; moves renumber it); ``queue_held`` keeps one back.  ``retries`` counts how often
# a failure was queued again, ``retry_of`` names the row this one replaces (once: it is
# unique).  ``queue_pauses``: the whole queue ('') or one batch (its id) is paused, with
# the sentence that says why; every change to it is a change of the figures.  The
# figures count what is queued (the triggers of v9 made again with ``queued``).
def _v11() -> str:
    watched = ("status", "submission", "task_id", "end_time", "download_state",
               "forgotten_at")
    moved = " OR ".join(f"old.{c} IS NOT new.{c}" for c in watched)
    ended_new = ("INSERT INTO ended_figures (bucket, status, n) SELECT {b}, new.status, 1"
                 " WHERE {t} ON CONFLICT (bucket, status) DO UPDATE SET n = n + excluded.n;"
                 ).format(b=_bucket("new.end_time"), t=_ended("new."))
    ended_old = ("INSERT INTO ended_figures (bucket, status, n) SELECT {b}, old.status, -1"
                 " WHERE {t} ON CONFLICT (bucket, status) DO UPDATE SET n = n + excluded.n;"
                 ).format(b=_bucket("old.end_time"), t=_ended("old."))
    queued = _figures("")["queued"]
    return f"""
ALTER TABLE generations ADD COLUMN queue_priority INTEGER;
ALTER TABLE generations ADD COLUMN queue_order INTEGER;
ALTER TABLE generations ADD COLUMN queue_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN retry_of INTEGER;
CREATE INDEX generations_queue ON generations(queue_priority DESC, queue_order)
    WHERE submission = 'queued';
CREATE UNIQUE INDEX generations_retry_of ON generations(retry_of) WHERE retry_of IS NOT NULL;
CREATE TABLE queue_pauses (
    scope   TEXT PRIMARY KEY,
    reason  TEXT,
    at      TEXT NOT NULL
);
CREATE TRIGGER queue_pauses_changed_insert AFTER INSERT ON queue_pauses BEGIN
    INSERT INTO changes (figures) VALUES (1);
END;
CREATE TRIGGER queue_pauses_changed_update AFTER UPDATE ON queue_pauses BEGIN
    INSERT INTO changes (figures) VALUES (1);
END;
CREATE TRIGGER queue_pauses_changed_delete AFTER DELETE ON queue_pauses BEGIN
    INSERT INTO changes (figures) VALUES (1);
END;
INSERT INTO figures (name, n) VALUES ('queued', (SELECT COUNT(*) FROM generations
    WHERE {queued}));
DROP TRIGGER figures_insert;
DROP TRIGGER figures_update;
DROP TRIGGER figures_delete;
CREATE TRIGGER figures_insert AFTER INSERT ON generations BEGIN
    UPDATE figures SET n = n {_moves("+", "new.", _figures)};
    UPDATE figures SET n = n + 1 WHERE name = 'displaced'
        AND new.created_at < (SELECT MAX(created_at) FROM generations);
    {ended_new}
END;
CREATE TRIGGER figures_update AFTER UPDATE OF status, submission, task_id, end_time,
    download_state, forgotten_at ON generations WHEN {moved}
BEGIN
    UPDATE figures SET n = n {_moves("+", "new.", _figures)} {_moves("-", "old.", _figures)};
    {ended_old}
    {ended_new}
END;
CREATE TRIGGER figures_delete AFTER DELETE ON generations BEGIN
    UPDATE figures SET n = n {_moves("-", "old.", _figures)};
    {ended_old}
END;
"""


V11 = _v11()

MIGRATIONS: Sequence[str] = (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11)
SCHEMA_VERSION = len(MIGRATIONS)
