"""The DashScope video-synthesis client: pure async httpx, no Textual.

The names below are loaded when first asked for (PEP 562): a program that only needs
the key, the request model or the errors — ``pixverse-tui list``, the dashboard before
its first request — does not import httpx (``tui.dashscope.client``)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any

    from tui.dashscope.client import DashScopeClient, RetryPolicy
    from tui.dashscope.errors import (
        ApiError,
        DashScopeError,
        Failure,
        NetworkError,
        ProtocolError,
        RequestInvalid,
        Scope,
    )
    from tui.dashscope.models import (
        CreatedTask,
        GenerationRequest,
        ListedTask,
        TaskInfo,
        TaskPage,
        Usage,
    )
    from tui.dashscope.secret import ApiKey

_WHERE = {
    "DashScopeClient": "client", "RetryPolicy": "client",
    "ApiError": "errors", "DashScopeError": "errors", "Failure": "errors",
    "NetworkError": "errors", "ProtocolError": "errors", "RequestInvalid": "errors",
    "Scope": "errors",
    "CreatedTask": "models", "GenerationRequest": "models", "ListedTask": "models",
    "TaskInfo": "models", "TaskPage": "models", "Usage": "models",
    "ApiKey": "secret",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tui.dashscope' has no attribute {name!r}")
    __import__(f"tui.dashscope.{module}")  # (not ``importlib``: it loads ``warnings``)
    value = getattr(sys.modules[f"tui.dashscope.{module}"], name)
    globals()[name] = value
    return value


__all__ = [
    "ApiError",
    "ApiKey",
    "CreatedTask",
    "DashScopeClient",
    "DashScopeError",
    "Failure",
    "GenerationRequest",
    "ListedTask",
    "NetworkError",
    "ProtocolError",
    "RequestInvalid",
    "RetryPolicy",
    "Scope",
    "TaskInfo",
    "TaskPage",
    "Usage",
]
