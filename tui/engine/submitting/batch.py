"""Batch files: many prompts from one file, sent once each — however often the batch
is run, whichever process runs it, whatever interrupted it.

A file is plain text (one prompt per line; blank lines and ``#`` comments
skipped) or JSON Lines (one object per line: ``prompt`` and any of ``size``,
``duration``, ``audio``, ``watermark``, ``seed``, ``variations``, ``tags``,
``note``).  Command-line options are the defaults a line may override; ``{a|b}``
alternatives in a line expand into every combination (see ``templates``).

Each prompt the file makes is an *intent* keyed by the batch (a hash of the
file's name and content) and its place in the file.  The store holds one row
per key (``store.intents.claim``), so a second run finds what the first one sent:
accepted tasks are not sent again, those whose outcome is unknown are reported
as UNCONFIRMED for ``resolve`` to settle, and only lines never sent (or refused,
which created nothing) go out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from storage import Generation, TaskStore
from storage.records import (
    SUBMISSION_ABANDONED,
    SUBMISSION_QUEUED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    SUBMISSION_UNCONFIRMED,
)
from tui.dashscope import DashScopeError, GenerationRequest
from tui.dashscope.errors import Scope
from tui.dashscope.sizes import SEED_MAX, tier_and_ratio
from tui.dashscope.validation import check_request
from tui.engine.submitting import templates
from tui.engine.submitting.limits import MAX_TASKS, MAX_VARIATIONS
from tui.engine.submitting.submit import (
    CREATE_PACE,
    FIRST_POLL_AFTER,
    record_first,
    send_intent,
    variation_seeds,
)
from tui.text_input import BOM, BadText, decode, split_lines, unicode_problem

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient

FIELDS = ("prompt", "size", "duration", "audio", "watermark", "seed", "variations", "tags",
          "note")
RUNNING_AT_ONCE = 5  # the service runs five tasks per key at a time
TYPICAL_GENERATION = 90.0  # seconds, when the history has no figure for a tier
MAX_FILE = 20 * 1024 * 1024


class TooManyTasks(ValueError):
    """A submission would make more tasks than ``[batch] max_tasks``; ``str()`` is one
    sentence.  Said from a count, before a single prompt is built."""

    def __init__(self, what: str, count: int, cap: int, parts: str) -> None:
        super().__init__(
            f"{what} makes {templates.how_many(count)} tasks ({parts}), more than "
            f"[batch] max_tasks ({cap:,}); nothing was sent — split it, or raise max_tasks "
            "in config.toml")
        self.count = count


@dataclass(frozen=True)
class BatchItem:
    """One prompt the file makes: the request, its line, and its intent key."""

    key: str
    line: int
    request: GenerationRequest
    tags: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class BatchPlan:
    name: str
    batch_id: str
    items: list[BatchItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line 3: …": nothing is sent
    warnings: list[str] = field(default_factory=list)
    cap: int = MAX_TASKS
    planned: int = 0  # tasks the file makes, counted before expanding

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.items)

    @property
    def lines(self) -> int:
        return len({item.line for item in self.items})

    @property
    def over_cap(self) -> bool:
        """More tasks than ``cap``: then ``problems[0]`` says so, and nothing was built."""
        return self.planned > self.cap


def read_file(path: Path) -> str:
    """A batch file's text, read as the command line and the dashboard both read it:
    at most ``MAX_FILE`` bytes, decoded by ``tui.text_input.decode`` (``BadText``
    names the line that is not UTF-8; ``OSError`` when it cannot be read)."""
    with path.open("rb") as source:
        data = source.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise BadText(f"{path} is larger than {MAX_FILE // 2**20} MB; split it")
    return decode(data, path.name)


def read_stream(stream: BinaryIO, name: str) -> str:
    """The same for standard input (or any stream of bytes)."""
    data = stream.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise BadText(f"{name} holds more than {MAX_FILE // 2**20} MB; split it")
    return decode(data, name)


def batch_id_of(name: str, content: str) -> str:
    """The same file (by name and content) is the same batch, run after run."""
    digest = hashlib.sha256(f"{name}\0{content}".encode("utf-8", "surrogatepass"))
    return "f" + digest.hexdigest()[:15]


def read_batch(content: str, name: str, defaults: GenerationRequest, *,
               variations: int = 1, values: Mapping[str, str] | None = None,
               cap: int = MAX_TASKS) -> BatchPlan:
    """Every prompt of a batch file, validated; problems carry their line numbers.

    Lines × ``{a|b}`` alternatives × variations are counted before a line is expanded:
    past ``cap`` nothing more is built (the rest is only counted) and the plan holds
    one problem saying how many tasks the file makes."""
    content = content.removeprefix(BOM)  # an editor's BOM is not part of line 1
    plan = BatchPlan(name, batch_id_of(name, content), cap=cap)
    if len(content) > MAX_FILE:
        plan.problems.append(f"{name} is larger than {MAX_FILE // (1024 * 1024)} MB; split it")
        return plan
    lines = split_lines(content)
    jsonl = _looks_like_jsonl(lines, name)
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{name}, line {number}"
        try:
            fields = _json_line(text) if jsonl else {"prompt": text}
            _add_line(plan, number, fields, defaults, variations, values or {})
        except (ValueError, templates.TemplateError) as exc:
            plan.problems.append(f"{where}: {exc}")
    if plan.planned > cap:
        plan.items.clear()
        plan.problems.insert(0, str(TooManyTasks(
            name, plan.planned, cap, "lines × {a|b} alternatives × variations")))
    if not plan.items and not plan.problems:
        plan.problems.append(f"{name} holds no prompt (blank lines and # comments are skipped)")
    return plan


def _looks_like_jsonl(lines: list[str], name: str) -> bool:
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return True
    for raw in lines:
        text = raw.strip()
        if text and not text.startswith("#"):
            return text.startswith('{"')
    return False


def _json_line(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("not a JSON object (each line of a JSON Lines file is one "
                         '{"prompt": …} object)') from None
    if not isinstance(value, dict):
        raise ValueError('not a JSON object: expected {"prompt": …}')
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; a line may hold {', '.join(FIELDS)}")
    return value


def _typed(fields: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = fields.get(name, default)
    if value is default:
        return value
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {value!r}")
    if kind is str and (broken := unicode_problem(value)) is not None:
        raise ValueError(f"{name} {broken}")
    return value


def _add_line(plan: BatchPlan, number: int, fields: Mapping[str, Any],
              defaults: GenerationRequest, variations: int,
              values: Mapping[str, str]) -> None:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("no prompt")
    if (broken := unicode_problem(prompt)) is not None:  # in any {a|b} alternative too
        raise ValueError(f"the prompt {broken}")
    seed = fields.get("seed", defaults.seed)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be a whole number, not {seed!r}")
    count = _typed(fields, "variations", int, variations)
    if not 1 <= count <= MAX_VARIATIONS:
        raise ValueError(f"variations must be 1 to {MAX_VARIATIONS}, not {count}")
    tags = fields.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("tags must be a list of words")
    if (broken := next(filter(None, map(unicode_problem, tags)), None)) is not None:
        raise ValueError(f"a tag {broken}")
    note = _typed(fields, "note", str, None)
    base = replace(defaults, prompt=prompt, seed=seed,
                   size=_typed(fields, "size", str, defaults.size),
                   duration=_typed(fields, "duration", int, defaults.duration),
                   audio=_typed(fields, "audio", bool, defaults.audio),
                   watermark=_typed(fields, "watermark", bool, defaults.watermark))
    template = templates.is_template(prompt)
    made = (templates.count(prompt, values) if template else 1) * count
    checked = check_request(replace(base, prompt=templates.first(prompt, values)
                                    if template else prompt))
    if not checked.ok:
        raise ValueError(" ".join(checked.problems))
    plan.planned += made
    if plan.planned > plan.cap:
        return  # over the cap: counted, never built
    prompts = templates.expand(prompt, values, limit=plan.cap) if template else [prompt]
    for warning in checked.warnings:
        plan.warnings.append(f"{plan.name}, line {number}: {warning}")
    start = base.seed
    if count > 1 and start is None:  # the same seeds on every run of this batch
        start = random.Random(f"{plan.batch_id}:{number}").randint(0, SEED_MAX)
    for e, text in enumerate(prompts):
        for v in range(count):
            seed_v = base.seed if count == 1 else (start + v) % (SEED_MAX + 1)  # type: ignore[operator]
            plan.items.append(BatchItem(
                key=f"{plan.batch_id}:{number}:{e}:{v}", line=number,
                request=replace(base, prompt=text, seed=seed_v),
                tags=tuple(t.strip() for t in tags if t.strip()), note=note))


# -- where a batch stands ---------------------------------------------------------------


@dataclass
class Survey:
    """What became of each item in earlier runs."""

    to_send: list[BatchItem] = field(default_factory=list)
    queued: list[Generation] = field(default_factory=list)  # waiting in the local queue
    sent: list[Generation] = field(default_factory=list)  # a task exists (or existed)
    sending: list[Generation] = field(default_factory=list)  # a live process is sending it
    in_doubt: list[Generation] = field(default_factory=list)  # UNCONFIRMED
    again: int = 0  # of to_send: refused or abandoned before (nothing was created)

    def sentence(self) -> str:
        """``37 sent before, 63 to send`` (and what is in doubt)."""
        parts = []
        if self.sent:
            parts.append(f"{len(self.sent)} sent before")
        if self.queued:
            parts.append(f"{len(self.queued)} queued")
        parts.append(f"{len(self.to_send)} to send"
                     + (f" ({self.again} refused or abandoned before)" if self.again else ""))
        if self.sending:
            parts.append(f"{len(self.sending)} being sent now")
        if self.in_doubt:
            parts.append(f"{len(self.in_doubt)} in doubt (UNCONFIRMED: not sent again; "
                         "`pixverse-tui resolve` settles them)")
        return ", ".join(parts)


async def survey(store: TaskStore, plan: BatchPlan) -> Survey:
    known = await store.intents.with_prefix(f"{plan.batch_id}:")
    result = Survey()
    for item in plan.items:
        row = known.get(item.key)
        if row is None:
            result.to_send.append(item)
        elif row.submission in (SUBMISSION_REJECTED, SUBMISSION_ABANDONED):
            result.to_send.append(item)
            result.again += 1
        elif row.submission == SUBMISSION_QUEUED:
            result.queued.append(row)
        elif row.submission == SUBMISSION_SENDING:
            result.sending.append(row)
        elif row.submission == SUBMISSION_UNCONFIRMED:
            result.in_doubt.append(row)
        else:
            result.sent.append(row)
    return result


# -- how long it would take ----------------------------------------------------------------


def duration_estimate(items: list[BatchItem], typical: Mapping[str, float],
                      pace: float = CREATE_PACE) -> float:
    """Seconds until the last of ``items`` is done: five run at a time, each taking
    its tier's median generation time (from the history, else a typical figure)."""
    if not items:
        return 0.0
    times = sorted((typical.get((tier_and_ratio(i.request.size) or ("", ""))[0],
                                TYPICAL_GENERATION) for i in items), reverse=True)
    rounds = math.ceil(len(times) / RUNNING_AT_ONCE)
    average = sum(times) / len(times)
    return max(len(items) * pace, rounds * average)


def human_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchStep:
    """What happened to one item: sent now, or found sent (or in doubt) before."""

    item: BatchItem
    generation: Generation
    sent: bool
    error: DashScopeError | None = None

    @property
    def stops(self) -> bool:
        """Whether the rest of the batch must wait: an unclear answer, or a refusal
        that is not about this prompt (key, quota, rate, endpoint)."""
        return self.error is not None and (self.error.ambiguous
                                           or self.error.scope is not Scope.TASK)


async def send_batch(store: TaskStore, client: DashScopeClient, plan: BatchPlan, *,
                     first_poll_after: float = FIRST_POLL_AFTER,
                     pace: float = CREATE_PACE) -> AsyncIterator[BatchStep]:
    """Send every item not sent before, paced under the create limit, one batch id for
    all; stops at the first step that ``stops`` (the rest wait for the next run)."""
    sent_any = False
    for item in plan.items:
        request = item.request
        row, mine = await record_first(store.intents.claim(
            item.key, endpoint=client.base_url, model=request.model, prompt=request.prompt,
            size=request.size, duration=request.duration, audio=request.audio,
            watermark=request.watermark, seed=request.seed, batch_id=plan.batch_id,
            tags=item.tags, note=item.note))
        if not mine:
            yield BatchStep(item, row, sent=False)
            continue
        if sent_any:
            await asyncio.sleep(pace)
        sent_any = True
        outcome = await send_intent(store, client, row, request,
                                    first_poll_after=first_poll_after)
        step = BatchStep(item, outcome.generation, sent=True, error=outcome.error)
        yield step
        if step.stops:
            return


# -- one prompt from the composer or the command line --------------------------------------


def count_prompt(request: GenerationRequest, variations: int = 1,
                 values: Mapping[str, str] | None = None) -> int:
    """How many requests ``expand_prompt`` would make — arithmetic, nothing built."""
    template = templates.is_template(request.prompt)
    return (templates.count(request.prompt, values) if template else 1) * max(1, variations)


def expand_prompt(request: GenerationRequest, variations: int = 1,
                  values: Mapping[str, str] | None = None, *,
                  cap: int = MAX_TASKS) -> list[GenerationRequest]:
    """The requests one prompt makes: every combination of its ``{a|b}`` alternatives,
    each ``variations`` times with seeds s, s+1, … (``TemplateError`` if malformed;
    ``TooManyTasks``, before building any, above ``cap``)."""
    total = count_prompt(request, variations, values)
    if total > cap:
        parts = "{a|b} alternatives × variations" if variations > 1 else "{a|b} alternatives"
        raise TooManyTasks("the prompt", total, cap, parts)
    prompts = templates.expand(request.prompt, values, limit=cap) \
        if templates.is_template(request.prompt) else [request.prompt]
    seeds = variation_seeds(request.seed, variations)
    return [replace(request, prompt=text, seed=seed) for text in prompts for seed in seeds]
