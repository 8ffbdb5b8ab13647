"""Export and import of the local history (JSON Lines; CSV for spreadsheets).

A JSONL line holds every stored field of a generation (but the local row id),
its tags and its status history, so ``export`` → ``import`` → ``export`` gives
the same lines.  Import is idempotent on task id.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any, TextIO

from storage import TaskStore
from storage.history import HistoryFilter
from storage.store import IMPORTABLE

FORMAT_VERSION = 1
IMPORT_BATCH = 2000


class ImportProblem(ValueError):
    pass


async def records(store: TaskStore, where: HistoryFilter | None = None
                  ) -> AsyncIterator[dict[str, Any]]:
    async for row in store.iterate(where):
        data = asdict(row)
        record: dict[str, Any] = {"format": FORMAT_VERSION}
        record.update({k: data[k] for k in IMPORTABLE})
        record["tags"] = await store.tags_of(row.id)
        record["history"] = [asdict(e) for e in await store.events(row.id)]
        yield record


async def export(store: TaskStore, out: TextIO, fmt: str = "jsonl",
                 where: HistoryFilter | None = None) -> int:
    count = 0
    writer = None
    async for record in records(store, where):
        if fmt == "jsonl":
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            flat = {k: v for k, v in record.items() if k not in ("history", "format")}
            flat["tags"] = ",".join(record["tags"])
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(flat))
                writer.writeheader()
            writer.writerow(flat)
        count += 1
    return count


def read_jsonl(source: TextIO, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportProblem(f"{name}, line {number}: not JSON ({exc.msg}); nothing after "
                                "it was imported") from None
        if not isinstance(record, dict) or not record.get("prompt") or not record.get(
                "created_at"):
            raise ImportProblem(f"{name}, line {number}: not an exported generation (no prompt"
                                " or created_at); nothing after it was imported")
        if record.get("format", FORMAT_VERSION) > FORMAT_VERSION:
            raise ImportProblem(f"{name}, line {number}: written by a newer pixverse-tui")
        record.setdefault("endpoint", "")
        record.setdefault("model", "pixverse/pixverse-v5.6-t2v")
        record.setdefault("submission", "tracked" if record.get("task_id") else "rejected")
        record.setdefault("updated_at", record["created_at"])
        for required in ("size", "duration"):
            if required not in record:
                raise ImportProblem(f"{name}, line {number}: {required} is missing")
        yield record


async def import_jsonl(store: TaskStore, source: TextIO, name: str) -> tuple[int, int]:
    """Returns (added, already present)."""
    added = seen = 0
    batch: list[dict[str, Any]] = []
    for record in read_jsonl(source, name):
        batch.append(record)
        if len(batch) >= IMPORT_BATCH:
            added += await store.import_many(batch)
            seen += len(batch)
            batch = []
    if batch:
        added += await store.import_many(batch)
        seen += len(batch)
    return added, seen - added

