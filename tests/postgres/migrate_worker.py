"""One "machine" upgrading the team database: connects, waits for the word, migrates.

Run as ``python -m tests.postgres.migrate_worker URL real|slow``; prints the version
it found the schema at afterwards, or the one sentence it was refused with.
"""

from __future__ import annotations

import asyncio
import sys

from storage.errors import StoreError
from storage.postgres.connect import connect, masked
from storage.postgres.schema import MIGRATIONS, migrate

# Two migrations, the first slow: whoever comes second certainly waits on the lock.
SLOW = (MIGRATIONS[0] + "\nSELECT pg_sleep(0.5);\n", "CREATE TABLE second_step (x int);")


async def main(url: str, which: str) -> None:
    conn = await connect(url)
    try:
        print("ready", flush=True)
        sys.stdin.readline()  # every worker connected: go
        try:
            version = await migrate(conn, masked(url), SLOW if which == "slow" else MIGRATIONS)
        except StoreError as exc:
            print(f"refused: {exc}", flush=True)
            return
        print(f"version {version}", flush=True)
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
