"""Another process on the same store: ``python -m tests.store_contract.actor LOCATION ACTION
[ARGS…]`` does one thing through ``storage.open_store`` and prints what it saw as JSON.

Actions:
  claim KEY…           claim each intent key; prints the keys this process is to send
  write PROMPT         record one intent and accept it; prints its id
  hold ACCOUNT OWNER   hold the poller lease (2 s), print "held", then keep renewing
  intent-and-die       record an intent, print its id, and die (os._exit) without a word
  take ACCOUNT N RATE  reserve N requests one by one; prints each wait
  feed CAPACITY        take queued items until none may go; prints their ids
  take-and-die         take one queued item, print its id, and die (os._exit)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from storage import open_store


async def main(location: str, action: str, args: list[str]) -> None:
    store = await open_store(location)
    if action == "claim":
        mine = []
        for key in args:
            _, claimed = await store.intents.claim(
                key, endpoint="http://127.0.0.1:1/api/v1", model="m", prompt=f"line {key}",
                size="1280*720", duration=5)
            if claimed:
                mine.append(key)
        print(json.dumps(mine), flush=True)
    elif action == "write":
        row = await store.intents.add(endpoint="http://127.0.0.1:1/api/v1", model="m",
                                      prompt=args[0], size="1280*720", duration=5)
        await store.intents.mark_accepted(row.id, task_id=f"other-{row.id}", status="PENDING",
                                          request_id=None, next_poll_in=0)
        print(json.dumps(row.id), flush=True)
    elif action == "hold":
        account, owner = args
        lease = await store.leases.hold(account, owner, 2.0)
        print(json.dumps("held" if lease.held_by(owner) else "refused"), flush=True)
        while True:
            await asyncio.sleep(0.5)
            await store.leases.hold(account, owner, 2.0)
    elif action == "intent-and-die":
        row = await store.intents.add(endpoint="http://127.0.0.1:1/api/v1", model="m",
                                      prompt="sent by a process that died", size="1280*720",
                                      duration=5)
        print(json.dumps(row.id), flush=True)
        os._exit(9)  # as kill -9 would: nothing closed, nothing said
    elif action == "feed":
        ids = []
        while (row := await store.queue.take(capacity=int(args[0]))) is not None:
            ids.append(row.id)
        print(json.dumps(ids), flush=True)
    elif action == "take-and-die":
        row = await store.queue.take(capacity=100)
        print(json.dumps(row.id if row else None), flush=True)
        os._exit(9)
    elif action == "take":
        account, n, rate = args[0], int(args[1]), float(args[2])
        waits = [await store.budget.take(account, rate, 1.0) for _ in range(n)]
        print(json.dumps(waits), flush=True)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
