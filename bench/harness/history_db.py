"""A large history, made fast: rows written straight into the store's own schema with
``executemany`` (the text index rebuilt and the figures counted once at the end, as the
schema's own migration counts them), cached as a file keyed by the schema version.

A million rows take a minute or two here, where ``pixverse-tui import`` takes most of an
hour; the file is made once per schema version and row count, then reused (the benches
that read it write nothing a later run would see).  Every row is a finished task, newest
last (the id orders rows as their creation time does); the newest row's prompt starts
with ``NEWEST_MARK`` so a bench can see it painted."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (this tree's code first on sys.path)
from storage.sqlite.db import statements
from storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

WORDS = ("fox", "whale", "city", "forest", "neon", "rain", "ocean", "desert", "robot", "dragon",
         "sunset", "snow", "mountain", "river", "lantern", "train", "garden", "storm")
CHINESE = ("一只小猫在月光下奔跑", "夜晚的城市霓虹灯", "山间的瀑布与薄雾", "海边的日落",
           "古老的寺庙")
SIZES = ("640*360", "1024*576", "1280*720", "720*1280", "1920*1080", "1808*1808")
NEWEST_MARK = "Newest-row-marker"
GENERATOR = 1  # bump when the rows below change: the cache key holds it
COLUMNS = ("id", "created_at", "updated_at", "endpoint", "model", "prompt", "size",
           "duration", "audio", "submission", "task_id", "status", "submit_time",
           "scheduled_time", "end_time", "video_url", "usage_size", "usage_duration",
           "error_code", "download_state", "favourite")
CHUNK = 20_000


def cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "pixverse-bench-cache"


def cached_home(rows: int) -> Path:
    """A home (``PIXVERSE_TUI_HOME``) holding a ``rows``-generation history at the current
    schema version, made on first use."""
    home = cache_dir() / f"history-v{SCHEMA_VERSION}-g{GENERATOR}-{rows}"
    database = home / "tasks.db"
    if not database.exists():
        home.mkdir(parents=True, exist_ok=True)
        partial = home / "tasks.db.partial"
        partial.unlink(missing_ok=True)
        make(partial, rows)
        partial.rename(database)
    return home


def _rows(count: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    start = time.time() - count * 60 - 3600
    for i in range(1, count + 1):
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 60))
        prompt = (rng.choice(CHINESE) if i % 7 == 0 else
                  " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
        if i == count:
            prompt = f"{NEWEST_MARK} {prompt}"
        status = rng.choices(("SUCCEEDED", "FAILED", "CANCELED"), (90, 8, 2))[0]
        size = rng.choice(SIZES)
        made = status == "SUCCEEDED"
        stamp = when + ".000+00:00"
        yield (i, stamp, stamp, "https://dashscope.aliyuncs.com/api/v1",
               "pixverse/pixverse-v5.6-t2v", f"{prompt} #{i}", size, rng.choice((5, 8)),
               int(rng.random() < 0.3), "accepted", f"bench-{i:08d}", status, stamp,
               when + ".500+00:00", when[:-2] + "59.000+00:00",
               "https://example.invalid/v.mp4" if made else None, size if made else None,
               5.0 if made else None, "InternalError" if status == "FAILED" else None,
               "done" if made and i % 3 else "none", int(i % 50 == 0))


def make(path: Path, rows: int) -> None:
    """The history at ``path``: the schema's migrations, the rows without the triggers
    (which would update the text index and the figures row by row), then the text index
    rebuilt, the figures counted by the schema's own statements, the triggers back."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")  # a new file: nothing to roll back to
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -200000")
    for version, script in enumerate(MIGRATIONS, start=1):
        db.execute("BEGIN")
        for statement in statements(script):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
        db.execute("COMMIT")
    triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                          " AND tbl_name = 'generations'").fetchall()
    # The figures' first counts, in the order the migrations made them (v9 counted the
    # figures and the ended rows; later versions add figures of their own, v11 'queued').
    counted = [s for script in MIGRATIONS for s in statements(script) if s.startswith(
        ("INSERT INTO figures", "INSERT INTO ended_figures"))]
    if not any(s.startswith("INSERT INTO ended_figures") for s in counted):
        # the schema changed: teach this function how it counts
        raise RuntimeError("the figures' first count was not found in the migrations")
    db.execute("BEGIN")
    for name, _ in triggers:
        db.execute(f"DROP TRIGGER {name}")
    insert = (f"INSERT INTO generations ({', '.join(COLUMNS)}) VALUES "
              f"({', '.join('?' for _ in COLUMNS)})")
    chunk: list[tuple[Any, ...]] = []
    for row in _rows(rows):
        chunk.append(row)
        if len(chunk) == CHUNK:
            db.executemany(insert, chunk)
            chunk = []
    db.executemany(insert, chunk)
    db.execute("INSERT INTO generation_tags (generation_id, tag) SELECT id, 'keep'"
               " FROM generations WHERE id % 100 = 0")
    db.execute("INSERT INTO generations_fts (generations_fts) VALUES ('rebuild')")
    db.execute("DELETE FROM figures")
    db.execute("DELETE FROM ended_figures")
    for statement in counted:
        db.execute(statement)
    for _, sql in triggers:
        db.execute(sql)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")  # as the store keeps it
    db.close()


def write_jsonl(rows: int, path: Path) -> None:
    """The same kind of history as JSON Lines, as ``pixverse-tui import`` reads it (for a
    bench that imports it the way a user would)."""
    rng = random.Random(7)
    start = time.time() - rows * 60
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 60))
            prompt = (rng.choice(CHINESE) if i % 7 == 0 else
                      " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
            status = rng.choices(("SUCCEEDED", "FAILED", "CANCELED"), (90, 8, 2))[0]
            size = rng.choice(SIZES)
            out.write(json.dumps({
                "created_at": when + ".000+00:00", "updated_at": when + ".000+00:00",
                "prompt": f"{prompt} #{i}", "size": size, "duration": rng.choice((5, 8)),
                "audio": rng.random() < 0.3, "task_id": f"bench-{i:08d}", "status": status,
                "submission": "accepted", "endpoint": "https://dashscope.aliyuncs.com/api/v1",
                "model": "pixverse/pixverse-v5.6-t2v",
                "submit_time": when + ".000+00:00", "scheduled_time": when + ".500+00:00",
                "end_time": when[:-2] + "59.000+00:00",
                "usage_size": size if status == "SUCCEEDED" else None,
                "usage_duration": 5.0 if status == "SUCCEEDED" else None,
                "error_code": "InternalError" if status == "FAILED" else None,
                "favourite": i % 50 == 0, "tags": ["keep"] if i % 100 == 0 else [],
            }, ensure_ascii=False) + "\n")
