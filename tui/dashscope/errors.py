"""Typed errors.  Each says whether trying again is safe.

``Failure.AMBIGUOUS`` is the one that costs money if handled wrongly: the
create request may have reached the server, so a task may exist and be billed.
Nothing in this package ever retries it.
"""

from __future__ import annotations

import enum


class Failure(enum.Enum):
    RETRYABLE = "retryable"  # nothing happened on the server; trying again is safe
    FINAL = "final"  # the server said no; trying again gives the same answer
    AMBIGUOUS = "ambiguous"  # the request may have taken effect; do not repeat blindly


class Scope(enum.Enum):
    """What a failure is about — so a poller slows down or stops the right thing."""

    TRANSIENT = "transient"  # the service or network, for now (429, 5xx, timeouts)
    TASK = "task"  # this one task or request (a refused id, a garbled answer about it)
    ACCOUNT = "account"  # every request would fail alike (key, quota, wrong endpoint)


class DashScopeError(Exception):
    """Base class.  Never carries the API key: messages are built from server text."""

    def __init__(
        self,
        message: str,
        *,
        failure: Failure,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure
        if scope is None:
            scope = Scope.ACCOUNT if failure is Failure.FINAL else Scope.TRANSIENT
        self.scope = scope
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.failure is Failure.RETRYABLE

    @property
    def ambiguous(self) -> bool:
        return self.failure is Failure.AMBIGUOUS

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request_id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
                f"message={self.message!r}, request_id={self.request_id!r}, "
                f"failure={self.failure.value!r})")


class ApiError(DashScopeError):
    """The server answered with an error status and (usually) a JSON error body."""


class NetworkError(DashScopeError):
    """No usable answer: refused, timed out, or the connection dropped."""


class ProtocolError(DashScopeError):
    """An answer arrived but is not what the protocol promises (HTML, broken JSON)."""

    def __init__(self, message: str, **kwargs: object) -> None:
        kwargs.setdefault("failure", Failure.RETRYABLE)
        kwargs.setdefault("scope", Scope.TASK)
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class RequestInvalid(DashScopeError):
    """Our own validation refused the request before anything was sent."""

    def __init__(self, problems: list[str], *, scope: Scope = Scope.TASK) -> None:
        self.problems = problems
        super().__init__("; ".join(problems), failure=Failure.FINAL, scope=scope)
