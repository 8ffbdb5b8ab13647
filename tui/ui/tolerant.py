"""Callbacks that meet a failing database say so in a toast and let the next tick try
again — a busy or broken database never crashes the dashboard."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from storage import StoreError
from tui.ui.messages import StoreFailed

P = ParamSpec("P")
R = TypeVar("R")


def tolerant(method: Callable[Concatenate[Any, P], Awaitable[R]]
             ) -> Callable[Concatenate[Any, P], Awaitable[R | None]]:
    """For a screen's (or a widget's) async callbacks and actions: the App hears of it."""
    @functools.wraps(method)
    async def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return await method(self, *args, **kwargs)
        except StoreError as exc:
            self.post_message(StoreFailed(exc))
            return None

    return run
