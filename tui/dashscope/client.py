"""Async DashScope client for the video-synthesis task API.

One shared :class:`httpx.AsyncClient` carries every call (connection reuse).
Query, list and cancel retry transient failures with jittered exponential
back-off that honours ``Retry-After``.  Create is retried only when the failure
provably happened before the request left this machine (or the server said
"throttled", which means nothing was created); anything else that may have
reached the server surfaces as ``Failure.AMBIGUOUS`` — never re-sent.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from tui import __version__
from tui.dashscope.endpoints import BEIJING_URL, base_url_problem
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
    BEIJING,
    CreatedTask,
    GenerationRequest,
    TaskInfo,
    TaskPage,
    parse_created,
    parse_page,
    parse_task,
)
from tui.dashscope.secret import ApiKey
from tui.dashscope.task_ids import task_id_problem
from tui.dashscope.validation import check_request

CREATE_PATH = "/services/aigc/video-generation/video-synthesis"
RETRY_AFTER_CAP = 300.0  # a server asking for more than 5 minutes is not waited for
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=30.0)
MAX_ANSWER_BYTES = 4 * 1024 * 1024  # the largest answer (a list page) is a few KB
ANSWER_DEADLINE = 60.0  # seconds for a whole answer: a trickling server counts as stalled

T = TypeVar("T")

# Failures that provably happened before a byte of the request was sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential back-off, never shorter than ``Retry-After``."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, RETRY_AFTER_CAP))
        return wait


Observer = Callable[[DashScopeError, float], None]


class DashScopeClient:
    """Create, query, list and cancel PixVerse tasks."""

    def __init__(
        self,
        api_key: ApiKey,
        base_url: str = BEIJING_URL,
        *,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: Observer | None = None,
        answer_deadline: float = ANSWER_DEADLINE,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        problem = base_url_problem(base_url)
        if problem is not None:
            raise RequestInvalid([f"the base URL {base_url!r} (DASHSCOPE_HTTP_BASE_URL or "
                                  f"[endpoint] base_url) cannot be used: {problem}"],
                                 scope=Scope.ACCOUNT)
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
            headers={"User-Agent": f"pixverse-tui/{__version__}"},
        )
        self.retry = retry or RetryPolicy()
        self.answer_deadline = answer_deadline
        # Awaited before every query, list or cancel request (retries included): the
        # account's shared budget of 20 per second.  Creates have their own limit.
        self.pace = pace
        self._sleep = sleep
        self.on_retry = on_retry

    async def __aenter__(self) -> DashScopeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    def __repr__(self) -> str:
        return f"DashScopeClient(base_url={self.base_url!r}, key={self._key.masked})"

    # -- operations ---------------------------------------------------------

    async def create(self, req: GenerationRequest) -> CreatedTask:
        """Submit one task.  Raises ``RequestInvalid`` before sending if the request is bad."""
        verdict = check_request(req)
        if not verdict.ok:
            raise RequestInvalid(verdict.problems)

        async def once() -> CreatedTask:
            body = await self._send("POST", CREATE_PATH, json_body=req.body(), creating=True,
                                    extra_headers={"X-DashScope-Async": "enable"})
            try:
                return parse_created(body)
            except ProtocolError as exc:
                raise _as_ambiguous(exc) from None

        return await self._with_retries(once)

    async def query(self, task_id: str) -> TaskInfo:
        path = f"/tasks/{_safe(task_id)}"
        return await self._with_retries(
            lambda: self._parsed(self._send("GET", path), lambda body: parse_task(body, task_id)))

    async def list_tasks(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        model: str | None = None,
        task_id: str | None = None,
        page_no: int = 1,
        page_size: int = 10,
    ) -> TaskPage:
        params: dict[str, str] = {"page_no": str(page_no), "page_size": str(page_size)}
        if start is not None:
            params["start_time"] = _list_time(start)
        if end is not None:
            params["end_time"] = _list_time(end)
        if status:
            params["status"] = status
        if model:
            params["model_name"] = model
        if task_id:
            params["task_id"] = task_id
        return await self._with_retries(
            lambda: self._parsed(self._send("GET", "/tasks", params=params), parse_page))

    async def cancel(self, task_id: str) -> str | None:
        """Cancel a PENDING task; returns the request id."""
        body = await self._with_retries(
            lambda: self._send("POST", f"/tasks/{_safe(task_id)}/cancel"))
        return body.get("request_id") if isinstance(body, dict) else None

    # -- plumbing -----------------------------------------------------------

    @staticmethod
    async def _parsed(answer: Awaitable[Any], parse: Callable[[Any], T]) -> T:
        """Parse inside the retry loop: an answer of the wrong shape is retried like a
        broken connection (it is the server's fault, and it may pass)."""
        return parse(await answer)

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except DashScopeError as exc:
                attempt += 1
                if not exc.retryable or attempt >= self.retry.attempts:
                    raise
                wait = self.retry.delay(attempt - 1, exc.retry_after)
                if self.on_retry is not None:
                    self.on_retry(exc, wait)
                await self._sleep(wait)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        creating: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        # The key joins the headers only inside ``_build``: no frame that can still be in a
        # traceback (the dashboard's crash report shows locals) holds it.
        headers = {"Accept": "application/json; charset=utf-8"}
        if extra_headers:
            headers.update(extra_headers)
        content = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            try:
                content = json.dumps(json_body, ensure_ascii=False).encode()
            except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" escape
                raise _not_sent("the prompt holds text that is not valid Unicode") from None
        request = self._build(method, path, headers, content, params)
        if self.pace is not None and not creating:
            await self.pace()
        try:
            async with asyncio.timeout(self.answer_deadline):
                return await self._exchange(request, creating)
        except httpx.LocalProtocolError:
            # h11 refuses a request line or header it cannot write before writing a byte
            # of it (the body is bytes of a length it knows): nothing left this machine.
            raise _not_sent("the HTTP library refused to write it (a header or the URL "
                            "holds a character HTTP cannot carry)") from None
        except TimeoutError:
            raise NetworkError(
                f"{self.base_url} did not finish its answer within {self.answer_deadline:g} s",
                failure=Failure.AMBIGUOUS if creating else Failure.RETRYABLE) from None
        except _NOT_SENT as exc:
            raise NetworkError(f"could not connect to {self.base_url} ({_describe(exc)})",
                               failure=Failure.RETRYABLE) from None
        except httpx.TimeoutException as exc:
            raise NetworkError(
                f"{self.base_url} did not answer in time ({_describe(exc)})",
                failure=Failure.AMBIGUOUS if creating else Failure.RETRYABLE) from None
        except httpx.TransportError as exc:
            raise NetworkError(
                f"the connection to {self.base_url} broke ({_describe(exc)})",
                failure=Failure.AMBIGUOUS if creating else Failure.RETRYABLE) from None

    def _build(self, method: str, path: str, headers: dict[str, str],
               content: bytes | None, params: dict[str, str] | None) -> httpx.Request:
        """The request, checked before any connection is made: a header or URL that HTTP
        cannot carry means the request is *not sent* (refused here, never ambiguous) —
        and the error names the problem, never the header (it holds the key)."""
        headers = {"Authorization": f"Bearer {self._key.reveal()}", **headers}
        for name, value in headers.items():
            if any(not (" " <= char <= "~" or char == "\t") for char in value):
                what = ("the API key holds a character an HTTP header cannot carry; fix "
                        "DASHSCOPE_API_KEY or the key file" if name == "Authorization"
                        else f"the {name} header holds a character HTTP cannot carry")
                raise _not_sent(what)
        try:
            return self.http.build_request(method, self.base_url + path, headers=headers,
                                           content=content, params=params)
        except (httpx.InvalidURL, UnicodeError, ValueError):
            raise _not_sent("the HTTP library refused to build it (a header or the URL "
                            "holds a character HTTP cannot carry)") from None

    async def _exchange(self, request: httpx.Request, creating: bool) -> Any:
        """Send, then read the answer — at most ``MAX_ANSWER_BYTES`` of it."""
        response = await self.http.send(request, stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                raise _too_big(creating)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _too_big(creating)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return _decode(response, b"".join(chunks), creating)


def _not_sent(why: str) -> RequestInvalid:
    """A request that could not be sent at all: final (the same request fails the same
    way), about every request of the account, and certain to have created nothing."""
    return RequestInvalid([f"the request was not sent: {why}"], scope=Scope.ACCOUNT)


def _too_big(creating: bool) -> ProtocolError:
    return ProtocolError(f"the server's answer is larger than {MAX_ANSWER_BYTES >> 20} MB, "
                         "which no DashScope answer is; it was not read",
                         failure=Failure.AMBIGUOUS if creating else Failure.RETRYABLE)


def _decode(response: httpx.Response, data: bytes, creating: bool) -> Any:
    """JSON body of a 2xx answer, or the matching typed error."""
    try:
        body = json.loads(data) if data else None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        body = None
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location", "")
        raise ApiError(
            f"the endpoint answered HTTP {status}, redirecting to {where[:200] or 'nowhere'}; "
            "DashScope does not redirect, so the base URL (DASHSCOPE_HTTP_BASE_URL or "
            "[endpoint] base_url) is probably wrong", status=status, failure=Failure.FINAL,
            scope=Scope.ACCOUNT)
    if 200 <= status < 300:
        if not isinstance(body, dict):
            raise ProtocolError(
                f"the server answered {status} with a body that is not JSON "
                f"({_snippet(response, data)})", status=status,
                failure=Failure.AMBIGUOUS if creating else Failure.RETRYABLE)
        return body
    code = message = request_id = None
    if isinstance(body, dict):
        code = _str_or_none(body.get("code"), 100)
        message = _str_or_none(body.get("message"), 2000)
        request_id = _str_or_none(body.get("request_id"), 200)
    if message is None:
        message = (f"HTTP {status} {response.reason_phrase or ''}".strip()
                   + (f" ({_snippet(response, data)})" if body is None and data else ""))
    failure = _classify(status, code, creating)
    raise ApiError(message, status=status, code=code, request_id=request_id,
                   failure=failure, scope=_scope(status, code, failure),
                   retry_after=_retry_after(response))


def _classify(status: int, code: str | None, creating: bool) -> Failure:
    if status == 429:
        return Failure.FINAL if code == "Throttling.AllocationQuota" else Failure.RETRYABLE
    if status >= 500 or status == 408:
        return Failure.AMBIGUOUS if creating else Failure.RETRYABLE
    return Failure.FINAL


# Final answers about one request's content, not about the account or endpoint.
_TASK_CODES = frozenset({"InvalidParameter", "DataInspectionFailed", "IPInfringementSuspect",
                         "UnsupportedOperation"})


def _scope(status: int, code: str | None, failure: Failure) -> Scope:
    """Whether an error is about this task, the whole account, or a passing state."""
    if failure is not Failure.FINAL:
        return Scope.TRANSIENT
    if status == 400 and code is not None and code.split(".")[0] in _TASK_CODES:
        return Scope.TASK
    return Scope.ACCOUNT  # 401/403, quota, arrears, or an endpoint that is not DashScope


def _as_ambiguous(exc: ProtocolError) -> ProtocolError:
    return ProtocolError(exc.message, status=exc.status, failure=Failure.AMBIGUOUS)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def _snippet(response: httpx.Response, data: bytes) -> str:
    kind = response.headers.get("Content-Type", "unknown type").split(";")[0][:60]
    text = data[:60].decode("utf-8", "replace").replace("\n", " ").strip()
    return f"{kind}: {text!r}" if text else kind


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _str_or_none(value: Any, limit: int) -> str | None:
    """The server's text, cut at ``limit`` characters (an error code is not a novel)."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _safe(task_id: str) -> str:
    """Task ids go into the URL path; refuse anything that could change the path."""
    problem = task_id_problem(task_id)
    if problem is not None:
        raise RequestInvalid([f"{problem[0].upper()}{problem[1:]}, so it is not used."],
                             scope=Scope.TASK)
    return task_id


def _list_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
