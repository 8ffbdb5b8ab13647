"""What changed between the page on screen and the page as the store has it now.

The table never clears and re-adds on a refresh: it removes the rows that left
the page, adds the ones that joined, updates the cells of the ones that
changed, and puts them in the new order — keeping the cursor on the row the
user chose.  Deciding which is which is this pure function's job (unit-tested
without a screen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from storage import Generation


@dataclass(frozen=True)
class PageDiff:
    removed: list[int] = field(default_factory=list)  # ids no longer on the page
    added: list[Generation] = field(default_factory=list)  # rows new to the page
    changed: list[Generation] = field(default_factory=list)  # rows whose content changed
    order: list[int] = field(default_factory=list)  # every id, in the page's new order
    reordered: bool = False  # the rows that stay are not in the same order as before

    @property
    def empty(self) -> bool:
        return not (self.removed or self.added or self.changed or self.reordered)

    def added_before(self, position: int) -> int:
        """How many added rows sit above ``position`` (in the new order): "3 new ↑"."""
        new = {row.id for row in self.added}
        return sum(1 for row_id in self.order[:position] if row_id in new)


def diff_page(shown: Sequence[Generation], fresh: Sequence[Generation]) -> PageDiff:
    """From the rows on screen (in their order) to the page the store gives now."""
    before = {row.id: row for row in shown}
    after = {row.id: row for row in fresh}
    removed = [row_id for row_id in before if row_id not in after]
    added = [row for row in fresh if row.id not in before]
    changed = [row for row in fresh if row.id in before and before[row.id] != row]
    kept_before = [row.id for row in shown if row.id in after]
    kept_after = [row.id for row in fresh if row.id in before]
    return PageDiff(removed, added, changed, [row.id for row in fresh],
                    reordered=kept_before != kept_after)
