"""A store whose database can be cut off: every call of every part raises the store
interface's ``StoreUnavailable`` while ``down`` — as a SQLite file on a disk that went
away, or a PostgreSQL server that stopped answering, reach the engine and the UI."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from storage import StoreUnavailable, TaskStore

PARTS = ("generations", "intents", "following", "downloads", "history", "trash", "leases",
         "budget", "foreign", "queue")


class Cut:
    """Whether the database answers (shared by a store and its parts)."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0  # calls refused while down

    def check(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable("lost the connection to the team database (a test cut it)")


class _Part:
    def __init__(self, part: Any, cut: Cut) -> None:
        self._part, self._cut = part, cut

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._part, name)
        if not callable(found):
            return found
        cut = self._cut
        if inspect.isasyncgenfunction(found):
            def iterate(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                async def run() -> AsyncIterator[Any]:
                    cut.check()
                    async for item in found(*args, **kwargs):
                        cut.check()
                        yield item
                return run()
            return iterate
        return _checked(found, cut)


def _checked(method: Callable[..., Any], cut: Cut) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        cut.check()
        return await method(*args, **kwargs)
    return call


class CutOffStore:
    """``store`` behind a cable a test can pull (``cut.down = True``)."""

    def __init__(self, store: TaskStore) -> None:
        self.inner = store
        self.cut = Cut()
        for name in PARTS:
            setattr(self, name, _Part(getattr(store, name), self.cut))

    def __getattr__(self, name: str) -> Any:  # location, who, shared, changes, close
        return getattr(self.inner, name)

    async def __aenter__(self) -> CutOffStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.close()
