"""The DashScope video-synthesis client: pure async httpx, no Textual."""

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
