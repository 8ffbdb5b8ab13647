"""What a submission would cost, and whether it fits the user's budgets.

Prices come only from the user's config (``[prices]``: a price per second of
video per tier, optionally ``"720P+audio"``, and ``currency``); none is assumed,
and without them every figure here says so instead of inventing one.  Budgets
(``[budget] daily``/``monthly``) are in the same currency.

What counts against a budget: videos made (SUCCEEDED) in the period, plus what
may still be billed — tasks in flight and submissions whose outcome is unknown
— at their estimated price.  Failed, canceled and refused ones cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from storage import TaskStore
from storage.clock import iso
from tui.dashscope.sizes import tier_and_ratio

if TYPE_CHECKING:
    from tui.dashscope import GenerationRequest


def price_per_second(prices: Mapping[str, Any], tier: str, audio: bool) -> float | None:
    """The configured price of one second of video (``"720P+audio"`` first, with audio)."""
    for key in ([f"{tier}+audio"] if audio else []) + [tier]:
        value = prices.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


class Prices(NamedTuple):
    table: Mapping[str, Any]
    currency: str = ""

    @classmethod
    def from_settings(cls, section: Mapping[str, Any]) -> Prices:
        table = dict(section)
        currency = str(table.pop("currency", "") or "")
        return cls(table, currency)

    @property
    def set(self) -> bool:
        return bool(self.table)

    def of(self, size: str, duration: float, audio: bool) -> float | None:
        """One video's estimated price; None when its tier has no price."""
        tier = (tier_and_ratio(size) or ("other", ""))[0]
        per_second = price_per_second(self.table, tier, audio)
        return None if per_second is None else per_second * duration

    def money(self, amount: float) -> str:
        return f"{amount:,.2f} {self.currency}".rstrip()


class Estimate(NamedTuple):
    """The price of some requests: the priced total, and the tiers without a price."""

    videos: int
    total: float | None  # None: no prices set at all
    unpriced: tuple[str, ...] = ()
    prices: Prices = Prices({})  # (never changed: shared by the estimates without one)

    def sentence(self) -> str:
        """``about 12.50 CNY for 10 videos`` — or why there is no figure."""
        videos = f"{self.videos} video{'s' if self.videos != 1 else ''}"
        if self.total is None:
            return f"{videos}; cost unknown: prices are not set ([prices] in config.toml)"
        text = f"about {self.prices.money(self.total)} for {videos}"
        if self.unpriced:
            text += f" (no price set for {', '.join(self.unpriced)})"
        return text


def estimate(requests: Iterable[GenerationRequest], prices: Prices) -> Estimate:
    videos, total, unpriced = 0, 0.0, set()
    for request in requests:
        videos += 1
        cost = prices.of(request.size, request.duration, request.audio)
        if cost is None:
            unpriced.add((tier_and_ratio(request.size) or ("other", ""))[0])
        else:
            total += cost
    return Estimate(videos, total if prices.set else None, tuple(sorted(unpriced)), prices)


class Period(NamedTuple):
    name: str  # "daily", "monthly"
    limit: float
    spent: float  # made in the period
    pending: float  # may still be billed: in flight, or unknown outcome

    @property
    def left(self) -> float:
        return self.limit - self.spent - self.pending


class BudgetState(NamedTuple):
    prices: Prices
    periods: tuple[Period, ...]

    @property
    def set(self) -> bool:
        return bool(self.periods)

    def refusal(self, cost: Estimate,
                override: str = "pass --over-budget to send anyway") -> str | None:
        """One sentence when ``cost`` would cross a budget; None when it fits (or when
        nothing can be judged: no budget, or no prices).  ``override`` says how to go on
        regardless, in the caller's words."""
        period = self.crossed(cost)
        if period is None:
            return None
        money = self.prices.money
        return (f"this would cross the {period.name} budget: {cost.sentence()}, and "
                f"{money(max(period.left, 0))} of {money(period.limit)} is left "
                f"({money(period.spent)} spent, {money(period.pending)} in flight). "
                f"Send fewer, raise [budget] {period.name} in config.toml, or {override}")

    def crossed(self, cost: Estimate) -> Period | None:
        """The first budget ``cost`` would cross, if any (none can be judged without
        prices)."""
        if cost.total is None:
            return None
        return next((p for p in self.periods if cost.total > p.left + 1e-9), None)

    @property
    def low(self) -> bool:
        """Less than a tenth of some budget left."""
        return any(p.left < p.limit / 10 for p in self.periods)

    def summary(self) -> str:
        """``12.40 of 20.00 CNY left today`` — the tightest budget."""
        if not self.periods:
            return ""
        tightest = min(self.periods, key=lambda p: p.left)
        when = "today" if tightest.name == "daily" else "this month"
        return (f"{max(tightest.left, 0):,.2f} of "
                f"{self.prices.money(tightest.limit)} left {when}")


def period_starts(now: datetime) -> dict[str, str]:
    """The user's local midnight and first of the month, as stored timestamps."""
    local = now.astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"daily": iso(day), "monthly": iso(day.replace(day=1))}


async def budget_state(store: TaskStore, prices: Prices, budget: Mapping[str, Any],
                       now: datetime) -> BudgetState:
    """Each set budget with what was spent and what is still in flight in its period."""
    limits = {name: float(budget[name]) for name in ("daily", "monthly")
              if isinstance(budget.get(name), int | float) and not isinstance(
                  budget.get(name), bool)}
    if not limits or not prices.set:
        return BudgetState(prices, ())
    starts = period_starts(now)
    earliest = min(starts[name] for name in limits)
    rows = await store.intents.billable_since(earliest)
    periods = []
    for name, limit in limits.items():
        spent = pending = 0.0
        for row in rows:
            if row.created_at < starts[name]:
                continue
            cost = prices.of(row.size, row.duration, row.audio) or 0.0
            if row.settled:
                spent += cost
            else:
                pending += cost
        periods.append(Period(name, limit, spent, pending))
    return BudgetState(prices, tuple(periods))
