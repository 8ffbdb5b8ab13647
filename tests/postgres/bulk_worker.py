"""A ``pixverse-tui import`` of JSON Lines read from standard input, as a machine runs one:
``python -m tests.postgres.bulk_worker URL``.  The test feeds it lines and kills it with
``kill -9`` while it waits for more, half-way through its load."""

from __future__ import annotations

import asyncio
import sys

from storage import open_store
from tui.engine.history.transfer import import_jsonl


async def main(url: str) -> None:
    async with await open_store(url) as store:
        report = await import_jsonl(store, sys.stdin.buffer, "-")
    print(f"added {report.added}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
