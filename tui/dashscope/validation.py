"""Checks made before any request is sent, in words a person understands."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.dashscope.models import GenerationRequest
from tui.dashscope.sizes import ALL_SIZES, DURATIONS, PROMPT_LIMITS, SEED_MAX, tier_and_ratio
from tui.text_input import unicode_problem


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_request(req: GenerationRequest) -> Verdict:
    verdict = Verdict()
    limit = PROMPT_LIMITS.get(req.model, 2048)
    broken = unicode_problem(req.prompt)
    if broken is not None:
        verdict.problems.append(f"The prompt {broken}; type it again.")
    elif not req.prompt.strip():
        verdict.problems.append("The prompt is empty: describe the video you want.")
    elif len(req.prompt) > limit:
        verdict.warnings.append(
            f"The prompt has {len(req.prompt)} characters; the service keeps only the first "
            f"{limit} and silently drops the rest."
        )
    place = tier_and_ratio(req.size)
    if place is None:
        verdict.problems.append(
            f"Size {req.size!r} is not offered by PixVerse v5.6; choose one of "
            f"{', '.join(ALL_SIZES)}."
        )
    if req.duration not in DURATIONS:
        verdict.problems.append(
            f"Duration {req.duration} s is not offered; choose 5, 8 or 10 seconds."
        )
    elif place is not None and place[0] == "1080P" and req.duration == 10:
        verdict.problems.append(
            "1080P videos can be 5 or 8 seconds long, not 10; pick a shorter duration "
            "or a lower resolution."
        )
    if req.seed is not None and not 0 <= req.seed <= SEED_MAX:
        verdict.problems.append(f"Seed {req.seed} is out of range; use 0 to {SEED_MAX}.")
    return verdict
