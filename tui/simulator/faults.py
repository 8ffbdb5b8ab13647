"""Fault injection: rates that apply to every request, and one-shot faults.

One-shot faults are queued (from the command line, from tests in-process, or
through ``POST /_sim/faults``) and each is used by the first request that
matches its endpoint.  Kinds:

- ``status``: answer ``status``/``code``/``message`` (optionally ``retry_after``)
- ``drop_before``: close the connection without handling the request
- ``drop_after``: handle it (a create really creates), then close without answering
- ``hang_after``: handle it, then wait ``seconds`` before answering
- ``latency``: wait ``seconds`` (real time) before answering
- ``malformed``: 200 with a truncated JSON body
- ``html``: 502 with an HTML page, as a proxy would
- ``truncate`` (media): send half the body, then close
- ``stall`` (media): send part of the body, then stop sending for ``seconds``
- ``fail_early`` (``on: "moderate"``): the next task created FAILS ``seconds`` later
  while still PENDING, as content moderation does
- ``answer``: send exactly this: ``status``, a JSON ``body`` (or ``raw`` text),
  ``content_type`` and extra ``headers`` — hostile or odd answers on demand.
  With ``handle`` set, the request is carried out first (a create creates).
- ``endless``: 200 with a JSON body that never ends (chunked, no length)
- ``trickle``: the real answer, sent ``rate`` bytes per second (media too)
- ``pages`` (``on: "list"``): the real list page, but claiming ``total_page`` pages
  (if given) and, with ``repeat``, always the first page whatever ``page_no`` asked
  for — a list that never ends.  Pair it with ``times``.

Any fault applies to ``times`` requests (default 1; 0: every matching request
until the plan is cleared).

Media kinds (``on: "media"``; ``answer``, ``status`` and ``html`` work there too):

- ``lie``: 200 with the clip's ``Content-Type`` and ``Content-Length``, but the
  body is ``raw`` (default: an HTML page) repeated to that length
- ``ignore_range``: 200 with the whole clip, whatever ``Range`` asked for
- ``wrong_range``: 206 with the clip from byte ``offset`` (default 0) and a
  ``Content-Range`` saying so, whatever ``Range`` asked for
- ``endless``: 200 with no ``Content-Length`` (chunked): the clip, then zeros
  until the client hangs up
- ``false_length``: the real body under ``Content-Length: length`` (default
  3 GiB), then the connection closes — a claim larger or smaller than the body
- ``expired``: ``status`` 403, 404 or 410 (403 unless one of those is given)
  with an object-storage XML error, as a CDN answers an expired signed URL
- ``redirect``: ``status`` 301/302/303/307/308 (302 unless one of those is
  given) to ``location`` (default: the same clip again)
- ``hold``: send half the body, then wait until ``release()`` is called on the
  fault (or ``seconds`` pass), then send the rest — for tests that need two
  downloads to overlap; push it with ``FaultPlan.push`` to keep a handle
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("create", "query", "list", "cancel", "media", "moderate", "any")
KINDS = ("fail_early", "status", "drop_before", "drop_after", "hang_after", "latency",
         "malformed", "html", "truncate", "stall", "answer", "endless", "trickle",
         "lie", "ignore_range", "wrong_range", "false_length", "expired", "redirect", "hold",
         "pages")


@dataclass
class Fault:
    kind: str
    on: str = "any"
    status: int = 500
    code: str = "InternalError"
    message: str = "An internal error has occured, please try again later."
    seconds: float = 0.0
    retry_after: float | None = None
    body: Any = None
    raw: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    handle: bool = False
    task_id: str | None = None  # only requests about this task (query, cancel, media)
    rate: float = 64.0
    location: str = ""
    length: int | None = None
    offset: int = 0
    total_page: int | None = None  # pages: the total a list answer claims
    repeat: bool = False  # pages: every page is the first one
    times: int = 1  # requests it applies to; 0: all of them, until cleared
    gate: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def release(self) -> None:
        """Let a ``hold`` fault's answer finish."""
        self.gate.set()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        fault = cls(**{k: v for k, v in data.items()
                       if k in cls.__dataclass_fields__ and k != "gate"})
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {', '.join(KINDS)}")
        if fault.on not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {fault.on!r}; use one of {', '.join(ENDPOINTS)}")
        return fault


@dataclass
class FaultRates:
    """Probabilities per API request (media requests use the last two)."""

    error500: float = 0.0
    error503: float = 0.0
    drop: float = 0.0
    malformed: float = 0.0
    html: float = 0.0
    latency: float = 0.0  # seconds added to every API answer
    truncate: float = 0.0
    stall: float = 0.0
    stall_seconds: float = 30.0


@dataclass
class FaultPlan:
    rates: FaultRates = field(default_factory=FaultRates)
    rng: random.Random = field(default_factory=random.Random)
    queue: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, fault: Fault) -> None:
        with self.lock:
            self.queue.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.queue.clear()

    def take(self, endpoint: str, task_id: str | None = None) -> Fault | None:
        """The next fault for this request: a queued one-shot first, then the rates.

        A fault with a ``task_id`` applies only to requests about that task.
        """
        with self.lock:
            for index, fault in enumerate(self.queue):
                matches = fault.on == endpoint or (fault.on == "any" and endpoint != "moderate")
                if matches and fault.task_id in (None, task_id):
                    if fault.times == 1:
                        return self.queue.pop(index)
                    if fault.times > 1:
                        fault.times -= 1
                    return fault
        if endpoint == "moderate":
            return None  # only one-shot faults; rates are drawn by the world itself
        r = self.rates
        roll = self.rng.random()
        if endpoint == "media":
            if roll < r.truncate:
                return Fault("truncate", on="media")
            if roll < r.truncate + r.stall:
                return Fault("stall", on="media", seconds=r.stall_seconds)
            return None
        for chance, fault in (
            (r.error500, Fault("status")),
            (r.error503, Fault("status", status=503, code="ModelUnavailable",
                               message="Model is unavailable, please try again later.")),
            (r.drop, Fault("drop_before")),
            (r.malformed, Fault("malformed")),
            (r.html, Fault("html")),
        ):
            if roll < chance:
                return fault
            roll -= chance
        return None
