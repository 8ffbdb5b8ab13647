"""Usage statistics over the local history: what was made, how long it took, what it cost.

Prices come only from the user's config (``[prices]``); none is assumed.  Keys:
``"720P" = 0.5`` (per second of video), optionally ``"720P+audio" = 0.7``, and
``currency = "CNY"``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from storage import Generation, TaskStore
from storage.clock import parse_iso, utc_now
from storage.history import HistoryFilter
from tui.dashscope.explain import failure_class
from tui.dashscope.sizes import tier_and_ratio
from tui.engine.history import timeline
from tui.engine.submitting.prices import BudgetState, Prices, budget_state, price_per_second


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class TierStats:
    videos: int = 0
    seconds: float = 0.0
    audio_videos: int = 0
    queue: list[float] = field(default_factory=list)
    generation: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"videos": self.videos, "seconds": self.seconds,
                "with_audio": self.audio_videos, "without_audio": self.videos - self.audio_videos,
                "queue_median": percentile(self.queue, 0.5),
                "queue_p95": percentile(self.queue, 0.95),
                "generation_median": percentile(self.generation, 0.5),
                "generation_p95": percentile(self.generation, 0.95)}


@dataclass
class Stats:
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    per_day: dict[str, dict[str, float]] = field(default_factory=dict)
    tiers: dict[str, TierStats] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)  # failures by cause (FailureClass)
    cost: float | None = None
    currency: str | None = None
    unpriced: set[str] = field(default_factory=set)
    budget: BudgetState | None = None  # spent against [budget], when one is set
    budget_unpriced: bool = False  # a budget is set but no prices: nothing to compare

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total, "succeeded": self.succeeded, "failed": self.failed,
            "canceled": self.canceled, "success_rate": self.success_rate,
            "per_day": self.per_day,
            "tiers": {tier: s.summary() for tier, s in sorted(self.tiers.items(),
                                                              key=lambda kv: _tier_order(kv[0]))},
            "errors": self.errors.most_common(10),
            "failure_causes": dict(self.causes.most_common()),
            "estimated_cost": None if self.cost is None else round(self.cost, 4),
            "currency": self.currency, "unpriced_tiers": sorted(self.unpriced),
            "budget": None if self.budget is None else {
                p.name: {"limit": p.limit, "spent": round(p.spent, 4),
                         "in_flight": round(p.pending, 4), "left": round(p.left, 4)}
                for p in self.budget.periods},
        }


def _tier_order(tier: str) -> int:
    return int(tier.rstrip("P")) if tier.rstrip("P").isdigit() else 0


@dataclass(frozen=True, slots=True)
class StatRow:
    """The columns statistics need — reading only these keeps 100k rows fast."""

    status: str | None
    submission: str
    error_code: str | None
    size: str
    usage_size: str | None
    duration: int
    usage_duration: float | None
    audio: bool
    usage_audio: bool | None
    created_at: str
    submit_time: str | None
    scheduled_time: str | None
    end_time: str | None


STAT_COLUMNS = tuple(StatRow.__dataclass_fields__)


def add(stats: Stats, row: StatRow | Generation, prices: dict[str, Any]) -> None:
    stats.total += 1
    status = row.status
    if status == "CANCELED":
        stats.canceled += 1
    if status == "FAILED" or row.submission == "rejected":
        stats.failed += 1
        stats.errors[row.error_code or "(no code)"] += 1
        stats.causes[failure_class(row.error_code).value] += 1
    if status != "SUCCEEDED":
        return
    stats.succeeded += 1
    tier = (tier_and_ratio(row.usage_size or row.size) or ("other", ""))[0]
    seconds = float(row.usage_duration or row.duration or 0)
    audio = bool(row.usage_audio if row.usage_audio is not None else row.audio)
    t = stats.tiers.setdefault(tier, TierStats())
    t.videos += 1
    t.seconds += seconds
    t.audio_videos += int(audio)
    queue = timeline.queue_seconds(row)  # None for times that contradict each other
    work = timeline.generation_seconds(row)
    if queue is not None:
        t.queue.append(queue)
    if work is not None:
        t.generation.append(work)
    created = parse_iso(row.created_at)
    day = (created.astimezone().date() if created else date.min).isoformat()
    bucket = stats.per_day.setdefault(day, {"videos": 0, "seconds": 0.0})
    bucket["videos"] += 1
    bucket["seconds"] += seconds
    if prices:
        price = price_per_second(prices, tier, audio)
        if price is None:
            stats.unpriced.add(tier)
        else:
            stats.cost = (stats.cost or 0.0) + price * seconds


async def compute(store: TaskStore, prices: dict[str, Any] | None = None,
                  where: HistoryFilter | None = None,
                  budget: dict[str, Any] | None = None) -> Stats:
    """The figures over the rows ``where`` matches; with ``budget`` (the config's
    section), also what was spent against it today and this month."""
    table = Prices.from_settings(prices or {})
    prices = dict(table.table)
    stats = Stats(currency=table.currency or None)
    async for values in store.history.columns(STAT_COLUMNS, where):
        add(stats, StatRow(*values), prices)
    stats.per_day = dict(sorted(stats.per_day.items()))
    if budget and any(budget.get(name) is not None for name in ("daily", "monthly")):
        state = await budget_state(store, table, budget, utc_now())
        stats.budget = state if state.set else None
        stats.budget_unpriced = not table.set
    return stats


async def typical_generation_times(store: TaskStore) -> dict[str, float]:
    """The median generation time per tier in this history (what a batch will take)."""
    figures = await compute(store)
    return {tier: float(median) for tier, numbers in figures.tiers.items()
            if (median := numbers.summary()["generation_median"])}


def bar(value: float, top: float, width: int = 30) -> str:
    if top <= 0:
        return ""
    cells = value / top * width
    full = int(cells)
    part = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)]
    return ("█" * full + (part if part != " " else "")).ljust(width)


def report(stats: Stats) -> str:
    """The same figures as ``--json``, for people."""
    # Columns in terminal cells (a currency may be 元); imported here, where text is laid
    # out, so the engine's figures (which the dashboard's view model reads) need no rich.
    from tui.text_width import pad

    lines = [f"generations: {stats.total}  succeeded: {stats.succeeded}  failed: {stats.failed}"
             f"  canceled: {stats.canceled}"]
    if stats.success_rate is not None:
        lines.append(f"success rate: {stats.success_rate:.1%}")
    if stats.per_day:
        lines.append("")
        lines.append("per day (videos, seconds of video)")
        top = max(d["seconds"] for d in stats.per_day.values())
        for day, d in stats.per_day.items():
            lines.append(f"  {day}  {bar(d['seconds'], top)} {int(d['videos']):>4}  "
                         f"{d['seconds']:>6.0f} s")
    if stats.tiers:
        lines.append("")
        lines.append("per tier        videos  seconds  audio  queue p50/p95   generation p50/p95")
        for tier, t in sorted(stats.tiers.items(), key=lambda kv: _tier_order(kv[0])):
            s = t.summary()
            lines.append(f"  {pad(tier, 12)} {s['videos']:>7}  {s['seconds']:>7.0f}  "
                         f"{s['with_audio']:>5}  {_pair(s['queue_median'], s['queue_p95']):>14}"
                         f"  {_pair(s['generation_median'], s['generation_p95']):>18}")
    if stats.causes:
        lines.append("")
        lines.append("failures by cause (service errors and no reason: [queue] retry_failed "
                     "queues them again)")
        for cause, n in stats.causes.most_common():
            lines.append(f"  {n:>5}  {cause}")
    if stats.errors:
        lines.append("")
        lines.append("most common errors")
        for code, n in stats.errors.most_common(5):
            lines.append(f"  {n:>5}  {code}")
    lines.append("")
    if stats.cost is not None:
        lines.append(f"estimated cost: {stats.cost:,.2f} {stats.currency or ''}".rstrip())
        if stats.unpriced:
            lines.append(f"  (no price set for {', '.join(sorted(stats.unpriced))})")
    else:
        lines.append("estimated cost: set prices in config.toml [prices] to see it")
    if stats.budget is not None:
        money = stats.budget.prices.money
        lines.append("")
        lines.append("budget             limit        spent    in flight         left")
        for period in stats.budget.periods:
            name = "today" if period.name == "daily" else "this month"
            lines.append(f"  {pad(name, 12)} " + " ".join(
                pad(money(amount), 12, right=True)
                for amount in (period.limit, period.spent, period.pending, period.left)))
    elif stats.budget_unpriced:
        lines.append("budget: set prices in config.toml [prices] to compare spending with it")
    return "\n".join(lines)


def _pair(a: float | None, b: float | None) -> str:
    if a is None:
        return "—"
    return f"{a:.0f}/{b:.0f} s"

