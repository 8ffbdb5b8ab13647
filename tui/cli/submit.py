"""``pixverse-tui submit``: one prompt, a template, or a batch file — counted, priced and
checked against the budgets before anything is queued, then queued (docs/queue.md).

A prompt goes ahead of batch lines and is sent at once when the account has room (by
this command, when no other process feeds the queue); a batch file's lines wait in the
queue for whoever polls the account — the dashboard or ``watch`` — and the command
returns (``--wait`` follows them here, feeding the queue meanwhile)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from storage import Generation, StoreError, TaskStore, process_tag
from storage.clock import utc_now
from tui.cli.output import Problem, err, print_json, print_rows, say
from tui.cli.tasks import wait_for_rows
from tui.dashscope import GenerationRequest
from tui.dashscope.explain import explain
from tui.dashscope.validation import check_request
from tui.engine.history import stats
from tui.engine.submitting import batch, eta, queue, queue_state, templates
from tui.engine.submitting.limits import MAX_TASKS
from tui.engine.submitting.prices import Estimate, Prices, budget_state, estimate
from tui.engine.submitting.submit import record_first
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.text_input import BadText

T = TypeVar("T")
STDIN = "standard input"
SHOWN = 100  # queued rows listed on standard output; more are told in a sentence


@dataclass
class Intent:
    """What this command is asked to send: a batch file's plan (keyed: never twice), or
    the requests one prompt makes (a new intent each time the command is run)."""

    items: list[batch.BatchItem]
    plan: batch.BatchPlan | None = None
    warnings: list[str] = field(default_factory=list)


async def cmd_submit(args: argparse.Namespace, ws: Workspace) -> int:
    if args.download and not args.wait and not args.dry_run:
        raise Problem("--download needs --wait (a new task's video is not ready when it is "
                      "sent); nothing was sent")
    intent = _intent(args, ws)
    for warning in intent.warnings:
        err(f"warning: {warning}")
    prices = Prices.from_settings(ws.settings.section("prices"))

    def first(step: Awaitable[T]) -> Awaitable[T]:
        """A step before the intent is recorded (queued): a database that does not
        answer then means nothing was sent, and the command says so."""
        return step if args.dry_run else record_first(step)

    async with await first(ws.open_store()) as store:
        to_send = intent.items
        waiting: list[int] = []  # this batch's lines queued (or being sent) before
        if intent.plan is not None:
            found = await first(batch.survey(store, intent.plan))
            err(f"{printable(intent.plan.name)}: {intent.plan.lines} lines, "
                f"{len(intent.plan.items)} prompts — {found.sentence()}")
            to_send = found.to_send
            waiting = [row.id for row in [*found.queued, *found.sending]]
        cost = estimate((item.request for item in to_send), prices)
        if args.dry_run:
            await _dry_run(store, to_send, cost, args.json)
            return 0
        if not to_send and not (args.wait and waiting):
            err("nothing to send" + (f" ({len(waiting)} already queued: `pixverse-tui queue "
                                     "list` shows them)" if waiting else ""))
            return 0
        _confirm_count(args, ws, len(to_send))
        budget = await first(budget_state(store, prices, ws.settings.section("budget"),
                                          utc_now()))
        refusal = budget.refusal(cost)
        if refusal and not args.over_budget:
            raise Problem(refusal)
        if len(to_send) > 1 or prices.set:
            err(f"queueing {cost.sentence()}"
                + (f"; {budget.summary()} before this" if budget.set else ""))
        async with ws.client(store, time_scale=args.time_scale) as client:
            taken: list[Generation] = []
            if intent.plan is not None:
                queued = await first(queue.enqueue_plan(
                    store, client.base_url, intent.plan,
                    priority=queue.BATCH if args.priority is None else args.priority))
                taken = await _taken_meanwhile(store, intent.plan, to_send, queued.queued)
                waiting += [row.id for row in taken]
                if taken:
                    err(_taken_sentence(taken, len(to_send)))
            else:
                queued = await first(queue.enqueue_requests(
                    store, client.base_url, [item.request for item in intent.items],
                    priority=queue.PROMPT if args.priority is None else args.priority))
            ids = list(queued.queued)
            if args.wait:
                ids += [i for i in waiting if i not in ids]
                rows = await store.generations.get_many(ids)
                rows, ended = await wait_for_rows(store, client, ws, rows, args.time_scale,
                                                  args.download)
                failed = not ended
            else:
                if intent.plan is None:  # a prompt: sent now if the account has room
                    feeder = ws.feeder(store, client, time_scale=args.time_scale)
                    try:
                        await queue.send_own(store, feeder, ids, account=ws.account,
                                             owner=f"{process_tag()}:submit",
                                             over_budget=args.over_budget)
                    except StoreError as exc:  # not a create sent and unrecorded: queued
                        raise Problem(f"{_ids(ids)} queued, not sent yet: {exc}; it waits "
                                      "in the queue for whoever polls the account "
                                      "(`pixverse-tui queue list` shows it)") from None
                elif ws.account is not None:
                    with contextlib.suppress(StoreError):  # whoever feeds looks now
                        await store.leases.nudge(ws.account)
                if len(ids) > SHOWN and not args.json:  # a big batch: a sentence, not a list
                    await _tell_queue(store, ws, len(ids))
                    say(f"{len(ids):,} queued: `pixverse-tui queue list` shows them")
                    return 0
                rows = await store.generations.get_many(ids)
                failed = _tell_outcomes(rows)
                await _tell_queue(store, ws, sum(1 for row in rows if row.queued))
                if not rows and not args.json:  # every line taken by another: said above
                    return 0
    print_rows(rows, args.json)
    return 1 if failed else 0


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids[:5]) + (f" and {len(ids) - 5} more"
                                                   if len(ids) > 5 else "")


async def _taken_meanwhile(store: TaskStore, plan: batch.BatchPlan,
                           to_send: list[batch.BatchItem],
                           queued: tuple[int, ...]) -> list[Generation]:
    """The lines this run meant to queue that another run of the same batch file (on
    this machine or another) recorded between this one's look and its own queueing —
    each line is queued once, by whichever came first."""
    mine = set(queued)
    known = await store.intents.with_prefix(f"{plan.batch_id}:")
    return [row for item in to_send if (row := known.get(item.key)) is not None
            and row.id not in mine]


def _taken_sentence(taken: list[Generation], meant: int) -> str:
    """Who queued the lines first, in one sentence."""
    names = sorted({printable(row.submitted_by or "another process") for row in taken})
    who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    if len(taken) == meant:
        return (f"every line was already submitted (by {who}) while this ran; nothing was "
                "queued twice")
    return (f"{len(taken)} of the {meant} lines were already submitted (by {who}) while this "
            "ran; the others are queued")


def _tell_outcomes(rows: list[Generation]) -> bool:
    """One sentence for each row that was refused or whose create got no clear answer;
    whether there was any."""
    failed = False
    for row in rows:
        if row.display_status == "UNCONFIRMED":
            failed = True
            err(f"the create request for #{row.id} got no clear answer; a task may exist and "
                f"be billed. It was NOT re-sent. Run `pixverse-tui resolve {row.id}` to look "
                "for it.")
        elif row.queued and (row.submission_note or "").startswith("not sent:"):
            failed = True  # the service refused it for the account's sake: it waits again
            err(f"#{row.id} was {row.submission_note}; it waits in the queue")
        elif row.display_status == "REJECTED":
            failed = True
            meaning, action = explain(row.error_code)
            err(f"the service refused #{row.id}: {row.error_code or ''} {row.error_message or ''}"
                f" — {meaning} {action}".replace("  ", " "))
    return failed


async def _tell_queue(store: TaskStore, ws: Workspace, waiting: int) -> None:
    """What waits, who sends it, and when the queue should be done."""
    if not waiting:
        return
    state = await queue_state.queue_state(store, ws.account)
    who = state.sentence() or f"sent by {state.feeder} as the account has room"
    finish = ""
    with contextlib.suppress(StoreError):
        forecast = await eta.forecast(store)
        if forecast.queue is not None and state.sentence() is None:  # it moves: when done
            finish = (f"; the queue is done {eta.when(forecast.queue.p50)} (p90 "
                      f"{eta.when(forecast.queue.p90)})")
    err(f"{waiting:,} queued ({state.queued:,} in the queue) · {who}{finish}")


# -- what to send --------------------------------------------------------------------------


def _defaults(args: argparse.Namespace, prompt: str = "") -> GenerationRequest:
    return GenerationRequest(prompt=prompt, size=args.size, duration=args.duration,
                             audio=args.audio, watermark=args.watermark, seed=args.seed,
                             model=args.model)


def _intent(args: argparse.Namespace, ws: Workspace) -> Intent:
    cap = int(ws.settings.get("batch", "max_tasks") or MAX_TASKS)
    try:
        values = templates.parse_assignments(args.var or [])
    except templates.TemplateError as exc:
        raise Problem(str(exc)) from None
    if args.from_file is not None:
        if args.prompt is not None or args.template is not None:
            raise Problem("give either a prompt, --template or --from, not several")
        name, content = _read_batch_file(args.from_file)
        plan = batch.read_batch(content, name, _defaults(args), variations=args.variations,
                                values=values, cap=cap)
        if plan.over_cap:
            raise Problem(plan.problems[0])
        if plan.problems:
            for problem in plan.problems[:20]:
                err(problem)
            more = len(plan.problems) - 20
            raise Problem(f"{len(plan.problems)} problem{'s' if len(plan.problems) > 1 else ''}"
                          f" in {name}{f' ({more} more not shown)' if more > 0 else ''}; "
                          "nothing was sent")
        return Intent(plan.items, plan, plan.warnings)
    text = _prompt_text(args, ws)
    try:
        requests = batch.expand_prompt(_defaults(args, text), args.variations, values,
                                       cap=cap)
    except batch.TooManyTasks as exc:
        raise Problem(str(exc)) from None
    except templates.TemplateError as exc:
        raise Problem(f"the prompt is not a valid template: {exc}") from None
    verdicts = [check_request(request) for request in requests]
    problems = next((v.problems for v in verdicts if not v.ok), None)
    if problems:
        raise Problem(" ".join(problems))
    verdict = verdicts[0]
    prompts = list(dict.fromkeys(request.prompt for request in requests))
    if len(prompts) > 1 and not args.json and not args.dry_run:
        times = f" × {args.variations} variations" if args.variations > 1 else ""
        err(f"the prompt makes {len(prompts)} prompts{times}:")
        for prompt in prompts[:10]:
            err(f"  {prompt}")
        if len(prompts) > 10:
            err(f"  … and {len(prompts) - 10} more (--dry-run lists them all)")
    return Intent([batch.BatchItem("", 0, r) for r in requests], None, verdict.warnings)


def _prompt_text(args: argparse.Namespace, ws: Workspace) -> str:
    if args.template is not None:
        if args.prompt is not None:
            raise Problem("give either a prompt or --template, not both")
        saved = ws.settings.section("templates")
        if args.template not in saved:
            known = ", ".join(sorted(saved)) or "none yet"
            raise Problem(f"no template named {args.template!r} ([templates] in config.toml "
                          f"or templates.toml; known: {known})")
        return str(saved[args.template])
    if args.prompt is None:
        raise Problem("give a prompt (or - to read it from standard input), --template NAME "
                      "or --from FILE")
    return _read_prompt(args.prompt)


def _read_prompt(text: str) -> str:
    """The prompt argument; ``-`` reads it from standard input (a file, a pipe)."""
    if text != "-":
        return text
    if sys.stdin.isatty():
        raise Problem("`submit -` reads the prompt from standard input; pipe it in, e.g. "
                      "`pixverse-tui submit - < prompt.txt`")
    try:
        prompt = batch.read_stream(sys.stdin.buffer, STDIN).strip()
    except BadText as exc:
        raise Problem(f"{exc}; nothing was sent") from None
    except OSError as exc:
        raise Problem(f"cannot read the prompt from standard input ({exc})") from None
    if not prompt:
        raise Problem("standard input held no prompt; nothing was sent")
    return prompt


def _read_batch_file(source: str) -> tuple[str, str]:
    """The batch's name (the file's name: the same file from another folder is the
    same batch) and its text."""
    if source == "-":
        if sys.stdin.isatty():
            raise Problem("`--from -` reads the batch from standard input; pipe it in")
        try:
            return "stdin", batch.read_stream(sys.stdin.buffer, STDIN)
        except BadText as exc:
            raise Problem(f"{exc}; nothing was sent") from None
        except OSError as exc:
            raise Problem(f"cannot read the batch from standard input ({exc})") from None
    path = Path(source).expanduser()
    try:
        return path.name, batch.read_file(path)
    except BadText as exc:
        raise Problem(f"{exc}; nothing was sent") from None
    except FileNotFoundError:
        raise Problem(f"{source} does not exist") from None
    except IsADirectoryError:
        raise Problem(f"{source} is a folder; give a file of prompts") from None
    except OSError as exc:
        raise Problem(f"cannot read {source} ({exc.strerror or exc})") from None


def _confirm_count(args: argparse.Namespace, ws: Workspace, count: int) -> None:
    """Above ``[batch] ask_above`` prompts, ask (on a terminal) or want ``--yes``."""
    cap = int(ws.settings.get("batch", "ask_above") or 50)
    if count <= cap or args.yes:
        return
    if not sys.stdin.isatty() or args.from_file == "-" or args.prompt == "-":
        raise Problem(f"this queues {count} tasks, more than [batch] ask_above ({cap}); "
                      "pass --yes to queue them (each one is billed when it is sent)")
    answer = input(f"Queue {count} tasks (each one is billed when it is sent)? [y/N] "
                   ).strip().lower()
    if answer not in ("y", "yes"):
        raise Problem("nothing was queued")


# -- dry run --------------------------------------------------------------------------------


async def _dry_run(store: TaskStore, to_send: list[batch.BatchItem], cost: Estimate,
                   as_json: bool = False) -> None:
    """What would be sent, how long it would take, and what it would cost."""
    typical = await stats.typical_generation_times(store)
    took = batch.duration_estimate(to_send, typical)
    if as_json:
        print_json({
            "tasks": [{"line": item.line or None, "prompt": item.request.prompt,
                       "size": item.request.size, "duration": item.request.duration,
                       "audio": item.request.audio, "watermark": item.request.watermark,
                       "seed": item.request.seed, "model": item.request.model}
                      for item in to_send],
            "count": len(to_send), "seconds": took, "running_at_once": batch.RUNNING_AT_ONCE,
            "times_from_history": bool(typical),
            "cost": {"total": cost.total, "currency": cost.prices.currency or None,
                     "unpriced_tiers": list(cost.unpriced)},
            "sent": False})
        err("nothing was sent (--dry-run)")
        return
    width = len(str(len(to_send)))
    for n, item in enumerate(to_send, 1):
        request = item.request
        line = f"line {item.line}: " if item.line else ""
        seed = "random" if request.seed is None else str(request.seed)
        say(f"{n:>{width}}. {line}{request.size} {request.duration}s"
            f"{' audio' if request.audio else ''} seed {seed}  {request.prompt}")
    say(f"would send {len(to_send)} task{'s' if len(to_send) != 1 else ''}: about "
        f"{batch.human_duration(took)} with {batch.RUNNING_AT_ONCE} running at a time"
        f"{' (times from your history)' if typical else ' (typical times: no history yet)'}")
    say(f"cost: {cost.sentence()}")
    say("nothing was sent (--dry-run)")
