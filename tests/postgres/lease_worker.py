"""A machine that polls an account, for the kill -9 test: holds the lease, renewing it
as a poller would, and says "holding" once it has it.

``python -m tests.postgres.lease_worker URL ACCOUNT OWNER``
"""

from __future__ import annotations

import asyncio
import sys

from storage.postgres.connect import connect
from storage.postgres.lease import RENEW_EVERY, LeaseKeeper, hold


async def main(url: str, account: str, owner: str) -> None:
    conn = await connect(url)
    keeper = LeaseKeeper()
    said = False
    while True:
        keeper.sending()
        keeper.granted(await hold(conn, account, owner))
        if keeper.may_poll() and not said:
            print("holding", flush=True)
            said = True
        await asyncio.sleep(RENEW_EVERY)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
