"""The prompt composer: prompt, resolution tier × aspect ratio, duration, toggles, seed.

Only valid combinations can be submitted: durations offered follow the tier
(1080P: 5 or 8 s), and anything else wrong is spelled out under the controls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, TextArea

from storage import Generation
from tui.dashscope.sizes import (
    MODEL_V56,
    PROMPT_LIMITS,
    RATIOS,
    SEED_MAX,
    TIERS,
    durations_for,
    size_for,
    tier_and_ratio,
)
from tui.engine.submitting.limits import MAX_TASKS, MAX_VARIATIONS
from tui.engine.submitting.prices import Estimate, Prices, estimate
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.bound_keys import OrderedInput, OrderedTextArea
from tui.ui.commands.submit import Draft

if TYPE_CHECKING:
    from tui.dashscope import GenerationRequest

LIMIT = PROMPT_LIMITS[MODEL_V56]
# What the options show when nothing was remembered (and what ``draft`` reads before they
# are mounted, with the settings given meanwhile).
FIRST_TIER, FIRST_RATIO, FIRST_DURATION = "720P", "16:9", 5


class Composer(Vertical):
    PLACE = Where.COMPOSER
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    class SubmitRequested(Message):
        def __init__(self, draft: Draft) -> None:
            super().__init__()
            self.draft = draft

    class SettingsChanged(Message):
        """A setting (not the prompt) changed: what to remember for the next run."""

        def __init__(self, settings: dict[str, Any]) -> None:
            super().__init__()
            self.settings = settings

    def __init__(self, *children: Any, **kwargs: Any) -> None:
        super().__init__(*children, **kwargs)
        self.prices = Prices({})  # the screen sets them from [prices]
        self.max_tasks = MAX_TASKS  # and this from [batch] max_tasks
        self.values: dict[str, str] = {}  # template variables filled in so far
        self.starts = ""  # where a prompt typed now would start ("starts in ~4 min")
        self.complete = False  # the options are mounted (``add_options``)
        self._waiting: dict[str, Any] = {}  # settings given before that
        self._submit_waiting = False  # a submit key pressed before that

    def compose(self) -> ComposeResult:
        prompt = OrderedTextArea(id="prompt", soft_wrap=True, show_line_numbers=False,
                                 tab_behavior="focus", compact=False,
                                 placeholder="Describe the video you want…")
        prompt.border_title = "Prompt"
        yield prompt
        yield Horizontal(id="options")  # its row is kept; filled by ``add_options``
        yield Label("", id="problems")

    async def add_options(self) -> None:
        """Tier, ratio, duration, the toggles, seed and variations — a dozen widgets (three
        Selects with their overlays) whose styling and drawing would keep the history from
        the screen: mounted once the first page is painted (the screen says when), in the
        row the layout kept for them, with the settings given meanwhile."""
        if self.complete:
            return
        await self.query_one("#options", Horizontal).mount_all([
            Select([(t, t) for t in TIERS], value=FIRST_TIER, allow_blank=False,
                   id="tier", compact=True),
            Select([(r, r) for r in RATIOS], value=FIRST_RATIO, allow_blank=False,
                   id="ratio", compact=True),
            Select([("5 s", 5), ("8 s", 8), ("10 s", 10)], value=FIRST_DURATION,
                   allow_blank=False, id="duration", compact=True),
            Checkbox("audio", id="audio", compact=True),
            Checkbox("watermark", id="watermark", compact=True),
            OrderedInput(placeholder="seed: random", id="seed", compact=True,
                         restrict=r"[0-9]*", max_length=10),
            Label("×", id="times"),
            OrderedInput(value="1", id="variations", compact=True, restrict=r"[0-9]*",
                         max_length=3,
                         tooltip="variations: submit N tasks with different seeds"),
        ])
        self.complete = True
        self.apply_settings(self._waiting)
        if self._submit_waiting:
            self._submit_waiting = False
            self._submit_typed()

    def on_mount(self) -> None:
        self.refresh_state()

    def show_submit_keys(self, keys: str) -> None:
        """The prompt's title names the keys that really submit (they can be rebound)."""
        shown = " or ".join(k.strip() for k in keys.split(",") if k.strip())
        self.prompt.border_title = f"Prompt  ({shown} submits)" if shown else "Prompt"

    def on_descendant_focus(self) -> None:
        self.set_class(False, "-folded")

    def on_descendant_blur(self) -> None:
        """Fold to one line once the focus has left for good (not just moved inside)."""
        self.call_after_refresh(self._fold_if_left)

    def _fold_if_left(self) -> None:
        focused = self.screen.focused if self.is_attached else None
        self.set_class(focused is None or self not in focused.ancestors_with_self, "-folded")

    # -- state ------------------------------------------------------------------

    @property
    def prompt(self) -> TextArea:
        return self.query_one("#prompt", TextArea)

    def _value(self, selector: str) -> Any:
        return self.query_one(selector, Select).value

    def _chosen(self) -> Chosen:
        """What the options say — or, until they are mounted (``add_options``), what they
        will say: a batch file opened, or a draft read, in the first moments is made with
        the settings they will show, not refused."""
        if not self.complete:
            return _to_be_shown(self._waiting)
        return Chosen(str(self._value("#tier")), str(self._value("#ratio")),
                      int(self._value("#duration")),
                      self.query_one("#audio", Checkbox).value,
                      self.query_one("#watermark", Checkbox).value,
                      self.query_one("#seed", Input).value,
                      self.query_one("#variations", Input).value)

    def settings(self) -> dict[str, Any]:
        """The composer's choices, to persist between runs."""
        chosen = self._chosen()
        return {"tier": chosen.tier, "ratio": chosen.ratio, "duration": chosen.duration,
                "audio": chosen.audio, "watermark": chosen.watermark,
                "seed": int(chosen.seed) if chosen.seed.isdigit() else "random",
                "variations": _count(chosen.variations) or 1}

    def apply_settings(self, values: dict[str, Any]) -> None:
        if not self.complete:  # applied when the options are there
            self._waiting.update(values)
            return
        if values.get("tier") in TIERS:
            self.query_one("#tier", Select).value = values["tier"]
        if values.get("ratio") in RATIOS:
            self.query_one("#ratio", Select).value = values["ratio"]
        self._offer_durations()
        if values.get("duration") in durations_for(str(self._value("#tier"))):
            self.query_one("#duration", Select).value = values["duration"]
        for name in ("audio", "watermark"):
            if isinstance(values.get(name), bool):
                self.query_one(f"#{name}", Checkbox).value = values[name]
        seed = values.get("seed")
        self.query_one("#seed", Input).value = str(seed) if isinstance(seed, int) else ""
        variations = values.get("variations")
        if isinstance(variations, int):
            self.query_one("#variations", Input).value = str(variations)
        self.refresh_state()

    def reuse(self, row: Generation) -> None:
        """Load a past generation's prompt and settings (same seed, for a re-run)."""
        place = tier_and_ratio(row.size)
        settings: dict[str, Any] = {"audio": row.audio, "watermark": row.watermark,
                                    "seed": row.seed if row.seed is not None else "random",
                                    "variations": 1, "duration": row.duration}
        if place is not None:
            settings["tier"], settings["ratio"] = place
        self.apply_settings(settings)
        self.values.clear()
        # What was sent is literal text: its braces must not turn into a template.
        self.prompt.load_text(row.prompt.replace("{", "{{").replace("}", "}}"))
        self.prompt.focus()
        self.refresh_state()

    def clear_prompt(self, *, if_still: str | None = None) -> None:
        """Empty the prompt — unless it changed since ``if_still`` was sent."""
        if if_still is None or self.prompt.text == if_still:
            self.prompt.load_text("")
            self.values.clear()

    # -- validation ---------------------------------------------------------------

    def draft(self, *, expand: bool = True) -> Draft:
        """What ctrl+j would send.  The live state (``expand=False``, on every keystroke)
        only counts: a template's tasks are multiplied out, checked against
        ``max_tasks`` and priced from its first prompt — none is built."""
        from tui.dashscope import GenerationRequest  # (imported by the first draft)
        from tui.dashscope.validation import check_request
        from tui.engine.submitting import templates
        from tui.engine.submitting.batch import count_prompt, expand_prompt

        problems: list[str] = []
        text = self.prompt.text
        chosen = self._chosen()
        seed = int(chosen.seed) if chosen.seed.isdigit() else None
        if seed is not None and seed > SEED_MAX:
            problems.append(f"Seed must be 0 to {SEED_MAX}.")
            seed = None
        variations = _count(chosen.variations)
        if variations is None or not 1 <= variations <= MAX_VARIATIONS:
            problems.append(f"Variations must be 1 to {MAX_VARIATIONS}.")
            variations = 1
        base = GenerationRequest(prompt=text, size=size_for(chosen.tier, chosen.ratio),
                                 duration=chosen.duration, audio=chosen.audio,
                                 watermark=chosen.watermark, seed=seed)
        needs: tuple[str, ...] = ()
        requests: list[GenerationRequest] = []
        count, first = 1, base
        try:
            template = templates.is_template(text)
            wanted = templates.variables(text) if template else []
            needs = tuple(name for name in wanted if name not in self.values)
            if not needs:
                count = count_prompt(base, variations, self.values)
                if template:
                    first = replace(base, prompt=templates.first(text, self.values))
                if count > self.max_tasks:
                    problems.append(f"This makes {templates.how_many(count)} tasks, more than "
                                    f"[batch] max_tasks ({self.max_tasks:,}); use fewer "
                                    "alternatives or variations.")
                elif expand:
                    requests = expand_prompt(base, variations, self.values, cap=self.max_tasks)
        except templates.TemplateError as exc:
            problems.append(f"Template: {exc}.")
            requests = []
        verdicts = [check_request(r) for r in requests] or [check_request(first)]
        first_bad = next((v for v in verdicts if not v.ok), verdicts[0])
        problems = first_bad.problems + problems
        one = estimate([first], self.prices)
        cost = Estimate(count, None if one.total is None else one.total * count,
                        one.unpriced, self.prices)
        return Draft(requests, problems, verdicts[0].warnings, max(1, count // variations),
                     needs, None if needs or problems else cost, text, count)

    def _offer_durations(self) -> None:
        select = self.query_one("#duration", Select)
        allowed = durations_for(str(self._value("#tier")))
        current = select.value
        select.set_options([(f"{d} s", d) for d in allowed])
        select.value = current if current in allowed else allowed[-1]

    def refresh_state(self) -> None:
        count = len(self.prompt.text)
        over = count > LIMIT
        self.prompt.border_subtitle = f"{count}/{LIMIT}" + (" — will be truncated" if over
                                                            else "")
        self.prompt.set_class(over, "-over")
        if not self.complete:  # the summary and the problems come with the options
            return
        draft = self.draft(expand=False)  # on every keystroke: count, never expand
        problems = self.query_one("#problems", Label)
        lines = [p for p in draft.problems if not (p.startswith("The prompt is empty") and
                                                   not self.prompt.text)]
        if lines:
            problems.update(Text("✘ " + " ".join(lines), style="bold"))
            problems.set_class(True, "-error")
        else:
            problems.update(Text(self._summary(draft) + ("  ⚠ " + " ".join(draft.warnings)
                                                         if draft.warnings else "")))
            problems.set_class(False, "-error")

    def _summary(self, draft: Draft) -> str:
        """``1280*720 · 5 s · 4 prompts × 2 = 8 tasks · about 20.00 CNY`` — what ctrl+j
        would send, and what it would cost."""
        size = size_for(str(self._value("#tier")), str(self._value("#ratio")))
        parts = [f"{size} · {self._value('#duration')} s"]
        if draft.needs:
            parts.append(f"template: {', '.join(draft.needs)} asked when you submit")
            return " · ".join(parts)
        n = draft.count
        variations = n // max(draft.prompts, 1)
        if draft.prompts > 1:
            parts.append(f"{draft.prompts} prompts" + (f" × {variations} = {n} tasks"
                                                       if variations > 1 else ""))
        elif n > 1:
            parts.append(f"{n} variations")
        if draft.cost is not None and draft.cost.total is not None:
            parts.append(draft.cost.sentence().replace(f" for {n} videos", "")
                         .replace(" for 1 video", ""))
        elif not self.prices.set and n > 1:
            parts.append("cost: no [prices] set")
        if self.starts:
            parts.append(self.starts)
        return " · ".join(parts)

    def show_starts(self, starts: str) -> None:
        """Where a prompt typed now would start in the queue (the screen tells)."""
        if starts != self.starts:
            self.starts = starts
            self.refresh_state()

    @on(Select.Changed, "#tier")
    def _tier_changed(self) -> None:
        self._offer_durations()
        self.refresh_state()

    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self.refresh_state()

    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _settings_changed(self) -> None:
        self.post_message(self.SettingsChanged(self.settings()))

    def request_submit(self) -> None:
        """Ask for the draft to be sent — once the prompt has applied every key typed before
        the submit key.  The submit key is a priority binding: it runs as it arrives, while
        the keys before it may still wait in the prompt's queue (a burst: a browser tab's
        keys over a WebSocket, a fast typist over SSH), and the draft would miss them."""
        self.prompt.call_later(self._submit_typed)

    def _submit_typed(self) -> None:
        if not self.complete:  # (in the first frame or two: sent once the options are there)
            self._submit_waiting = True
            return
        self.post_message(self.SubmitRequested(self.draft()))


class Chosen(NamedTuple):
    """The options' values: the tier, ratio and duration, the toggles, and the seed's and
    the variations' text as typed."""

    tier: str
    ratio: str
    duration: int
    audio: bool
    watermark: bool
    seed: str
    variations: str


def _to_be_shown(given: dict[str, Any]) -> Chosen:
    """What ``add_options`` will show once ``apply_settings(given)`` has run."""
    tier = given["tier"] if given.get("tier") in TIERS else FIRST_TIER
    ratio = given["ratio"] if given.get("ratio") in RATIOS else FIRST_RATIO
    allowed = durations_for(tier)
    duration = (given["duration"] if given.get("duration") in allowed
                else FIRST_DURATION if FIRST_DURATION in allowed else allowed[-1])
    audio, watermark = (given[name] if isinstance(given.get(name), bool) else False
                        for name in ("audio", "watermark"))
    seed, variations = given.get("seed"), given.get("variations")
    return Chosen(tier, ratio, duration, audio, watermark,
                  str(seed) if isinstance(seed, int) else "",
                  str(variations) if isinstance(variations, int) else "1")


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else None
