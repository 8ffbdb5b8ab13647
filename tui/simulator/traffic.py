"""What the simulated service was asked and what it answered — for tests and benchmarks
that count requests, 429s and the busiest second (on the service's own clock)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Traffic:
    """Thread-safe counters: answers by endpoint and status, requests per simulated second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.answers: Counter[tuple[str, int]] = Counter()
        self.per_second: Counter[int] = Counter()

    def answered(self, endpoint: str, status: int, sim_time: float) -> None:
        with self._lock:
            self.answers[(endpoint, status)] += 1
            if endpoint != "media":
                self.per_second[int(sim_time)] += 1

    def count(self, endpoint: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(n for (e, s), n in self.answers.items()
                       if endpoint in (None, e) and status in (None, s))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"answers": [{"endpoint": e, "status": s, "count": n}
                                for (e, s), n in sorted(self.answers.items())],
                    "peak_per_second": max(self.per_second.values(), default=0),
                    "total": sum(n for (e, _), n in self.answers.items() if e != "media")}

    def reset(self) -> None:
        with self._lock:
            self.answers.clear()
            self.per_second.clear()
