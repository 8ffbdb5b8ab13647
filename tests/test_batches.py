"""Batch files, templates, cost and budgets — as a user meets them, over loopback.

The promise under test: however a batch is interrupted, running it again sends
only what was never sent; every line reaches the service exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from storage import open_store
from tests.conftest import CLI, cli_env
from tests.test_cli import run, sim_tasks
from tui.dashscope import GenerationRequest
from tui.engine.submitting import batch, templates
from tui.simulator import Simulator

SCALE = ["--time-scale", "20"]


def sim_prompts(sim: Simulator) -> Counter[str]:
    return Counter(task.prompt for a in sim.world.accounts.values() for task in a.tasks.values())


def creates(sim: Simulator) -> int:
    return sim.traffic.count("create", 200)


# -- templates (pure) -----------------------------------------------------------------------


def test_a_template_expands_into_every_combination_in_reading_order() -> None:
    assert templates.expand("a red {fox|owl} in {snow|rain}") == [
        "a red fox in snow", "a red fox in rain", "a red owl in snow", "a red owl in rain"]
    assert templates.count("{a|b|c} {d|e}") == 6
    assert templates.expand("braces {{kept}} and {x|y}") == ["braces {kept} and x",
                                                             "braces {kept} and y"]
    assert templates.expand("a {|very }big dog") == ["a big dog", "a very big dog"]
    assert templates.expand("a {subject} in {place}", {"subject": "fox|owl",
                                                       "place": "snow"}) == [
        "a fox in snow", "a owl in snow"]
    assert templates.variables("a {subject} in {place|town} by {subject}") == ["subject"]
    for bad, said in [("a {fox", "not closed"), ("a fox}", "closes nothing"),
                      ("a {not a name}", "neither"), ("a {subject}", "no value for subject")]:
        with pytest.raises(templates.TemplateError, match=said):
            templates.expand(bad)


def test_a_batch_file_is_read_with_defaults_overrides_and_line_numbers() -> None:
    defaults = GenerationRequest("", size="1280*720", duration=5)
    text = ("# a comment\n\nA red fox\nA {small|huge} whale\n")
    plan = batch.read_batch(text, "ideas.txt", defaults)
    assert [(i.line, i.request.prompt) for i in plan.items] == [
        (3, "A red fox"), (4, "A small whale"), (4, "A huge whale")]
    assert len({i.key for i in plan.items}) == 3
    assert batch.read_batch(text, "ideas.txt", defaults).batch_id == plan.batch_id
    assert batch.read_batch(text + "x\n", "ideas.txt", defaults).batch_id != plan.batch_id

    jsonl = "\n".join(json.dumps(line) for line in [
        {"prompt": "koi", "variations": 3, "seed": 10, "tags": ["pond"], "note": "best?"},
        {"prompt": "storm", "size": "1920*1080", "duration": 8, "audio": True}])
    plan = batch.read_batch(jsonl, "ideas.jsonl", defaults)
    assert [i.request.seed for i in plan.items[:3]] == [10, 11, 12]
    assert plan.items[0].tags == ("pond",) and plan.items[0].note == "best?"
    assert (plan.items[3].request.size, plan.items[3].request.duration,
            plan.items[3].request.audio) == ("1920*1080", 8, True)

    bad = batch.read_batch('{"prompt": "a", "duration": 10, "size": "1920*1080"}\n'
                           '{"prompt": "b", "colour": "red"}\nnot json\n', "bad.jsonl",
                           defaults)
    assert [p.split(":")[0] for p in bad.problems] == [
        "bad.jsonl, line 1", "bad.jsonl, line 2", "bad.jsonl, line 3"]
    assert "1080P" in bad.problems[0] and "colour" in bad.problems[1]


# -- a batch over loopback, interrupted and run again ---------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="kill -9")
def test_a_batch_whose_feeder_is_killed_again_and_again_sends_each_line_exactly_once(
        sim: Simulator, tmp_path: Path) -> None:
    """``submit --from`` queues and returns; ``watch`` feeds the queue and is killed with
    -9 at any moment, four times; the rest is sent by ``submit --wait``.  Every line
    reaches the service once: a create in flight at a kill is in doubt, never resent."""
    home = tmp_path / "home"
    lines = [f"Scene {n:03d}: a lantern drifting on a river" for n in range(100)]
    source = tmp_path / "lanterns.txt"
    source.write_text("# a hundred lanterns\n" + "\n".join(lines) + "\n", encoding="utf-8")

    queued = run(home, sim, "submit", "--from", str(source), "--yes", *SCALE)
    assert queued.returncode == 0, queued.stderr
    assert "100 queued" in queued.stderr and "nobody is feeding the queue" in queued.stderr
    assert creates(sim) == 0  # queued: nothing sent, nothing billed

    for kill in range(4):
        before = len(sim_tasks(sim))
        feeder = subprocess.Popen([*CLI, "watch", *SCALE], env=cli_env(home, sim),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while (len(sim_tasks(sim)) < before + 7 + kill and feeder.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.002)
        feeder.send_signal(signal.SIGKILL)  # kill -9, mid-queue
        feeder.wait()
        assert len(sim_tasks(sim)) > before, feeder.stderr.read() if feeder.stderr else ""
    assert len(sim_tasks(sim)) < 100

    rest = run(home, sim, "submit", "--from", str(source), "--yes", "--wait", *SCALE,
               timeout=180)
    head = rest.stderr.splitlines()[0]
    assert "lanterns.txt: 100 lines, 100 prompts" in head and "0 to send" in head, head
    assert rest.returncode == 0, rest.stderr
    # A create in flight at a kill is in doubt (UNCONFIRMED), never sent again: resolve
    # looks for it in the service's list — found, or nothing was created (then the line
    # is queued again by the next run).
    settled = run(home, sim, "resolve")
    abandoned = [line.split(":")[0].lstrip("#") for line in settled.stdout.splitlines()
                 if "nothing was created" in line]
    # (exit 1 says some need the user: a kill before the create reached the service)
    assert settled.returncode == (1 if abandoned else 0), settled.stdout + settled.stderr
    for ref in abandoned:
        assert run(home, sim, "resolve", ref, "--abandon").returncode == 0
    if abandoned:
        again = run(home, sim, "submit", "--from", str(source), "--yes", "--wait", *SCALE,
                    timeout=180)
        assert again.returncode == 0, again.stderr

    counted = sim_prompts(sim)
    assert set(counted) == set(lines)  # 0 lost
    assert max(counted.values()) == 1, [p for p, n in counted.items() if n > 1]  # 0 twice
    assert creates(sim) == 100

    last = run(home, sim, "submit", "--from", str(source), "--yes", *SCALE)
    assert "100 sent before, 0 to send" in last.stderr and creates(sim) == 100


def test_the_same_batch_run_by_two_processes_at_once_is_sent_once(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = tmp_path / "pairs.txt"
    source.write_text("\n".join(f"Pair {n}: two herons" for n in range(30)) + "\n")
    args = [*CLI, "submit", "--from", str(source), "--wait", *SCALE]
    both = [subprocess.Popen(args, env=cli_env(home, sim), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in both:
        proc.wait(timeout=120)
    counted = sim_prompts(sim)
    assert len(counted) == 30 and max(counted.values()) == 1
    assert creates(sim) == 30


def test_a_refused_line_does_not_stop_the_batch_and_is_sent_on_the_next_run(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = tmp_path / "three.txt"
    source.write_text("one cat\ntwo cats\nthree cats\n")
    sim.inject(on="create", kind="status", status=400, code="DataInspectionFailed",
               message="Input data may contain inappropriate content.")
    done = run(home, sim, "submit", "--from", str(source), "--wait", *SCALE)
    assert done.returncode == 1 and "refused" in done.stderr, done.stderr
    assert sorted(sim_prompts(sim)) == ["three cats", "two cats"]
    again = run(home, sim, "submit", "--from", str(source), "--wait", *SCALE)
    assert "2 sent before, 1 to send (1 refused or abandoned before)" in again.stderr
    assert sorted(sim_prompts(sim)) == ["one cat", "three cats", "two cats"]


def test_a_refused_key_pauses_the_queue_and_the_rest_waits_for_a_resume(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = tmp_path / "five.txt"
    source.write_text("".join(f"bird {n}\n" for n in range(5)))
    sim.inject(on="create", kind="status", status=401, code="InvalidApiKey",
               message="Invalid API-key provided.")
    done = run(home, sim, "submit", "--from", str(source), "--wait", *SCALE)
    assert done.returncode == 1 and "queue paused: key refused" in done.stderr, done.stderr
    assert "InvalidApiKey" in done.stderr and "5 of these still queued" in done.stderr
    assert len(sim_prompts(sim)) == 0
    listed = run(home, sim, "list")
    assert "queue paused: key refused" in listed.stderr.lower()
    assert run(home, sim, "queue", "resume").returncode == 0
    again = run(home, sim, "submit", "--from", str(source), "--wait", *SCALE)
    assert again.returncode == 0, again.stderr
    assert "5 queued, 0 to send" in again.stderr
    assert sorted(sim_prompts(sim)) == [f"bird {n}" for n in range(5)]


def test_problems_in_a_batch_file_are_listed_by_line_and_nothing_is_sent(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"prompt": "fine"}\n{"prompt": "long", "size": "1920*1080", '
                      '"duration": 10}\n{"prompt": ""}\n')
    done = run(home, sim, "submit", "--from", str(source))
    assert done.returncode == 1 and creates(sim) == 0
    assert "mixed.jsonl, line 2" in done.stderr and "mixed.jsonl, line 3: no prompt" \
        in done.stderr and "nothing was sent" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_batch_from_standard_input_and_a_dry_run(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home).mkdir()
    (home / "config.toml").write_text('[prices]\ncurrency = "CNY"\n"720P" = 0.5\n')
    text = "a {red|blue} kite\na green kite\n"
    dry = subprocess.run([*CLI, "submit", "--from", "-", "--dry-run"], input=text,
                         env=cli_env(home, sim), capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "line 1: 1280*720 5s seed random  a red kite" in dry.stdout
    assert "would send 3 tasks" in dry.stdout and "5 running at a time" in dry.stdout
    assert "about 7.50 CNY for 3 videos" in dry.stdout and creates(sim) == 0
    sent = subprocess.run([*CLI, "submit", "--from", "-", "--wait", *SCALE], input=text,
                          env=cli_env(home, sim), capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert sorted(sim_prompts(sim)) == ["a blue kite", "a green kite", "a red kite"]


# -- templates and budgets on the command line --------------------------------------------


def test_a_template_prompt_and_a_saved_template_with_variables(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[templates]\nanimal = "a {subject} in {place}"\n')
    done = run(home, sim, "submit", "a red {fox|owl} in {snow|rain}", *SCALE)
    assert done.returncode == 0, done.stderr
    assert "the prompt makes 4 prompts" in done.stderr
    assert sorted(sim_prompts(sim)) == ["a red fox in rain", "a red fox in snow",
                                        "a red owl in rain", "a red owl in snow"]
    saved = run(home, sim, "submit", "--template", "animal", "--var", "subject=heron",
                "--var", "place=fog|dusk", *SCALE)
    assert saved.returncode == 0, saved.stderr
    assert {"a heron in fog", "a heron in dusk"} <= set(sim_prompts(sim))
    missing = run(home, sim, "submit", "--template", "animal", *SCALE)
    assert missing.returncode == 1 and "no value for subject, place" in missing.stderr
    unknown = run(home, sim, "submit", "--template", "animl", *SCALE)
    assert unknown.returncode == 1 and "known: animal" in unknown.stderr


def test_more_prompts_than_the_cap_need_yes(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[batch]\nask_above = 3\n")
    refused = run(home, sim, "submit", "{a|b} {c|d}", *SCALE)
    assert refused.returncode == 1 and "more than [batch] ask_above (3)" in refused.stderr
    assert creates(sim) == 0
    assert run(home, sim, "submit", "{a|b} {c|d}", "--yes", *SCALE).returncode == 0
    assert creates(sim) == 4


def test_a_budget_refuses_the_submission_that_would_cross_it(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[prices]\ncurrency = "CNY"\n"720P" = 0.5\n"1080P" = 1.0\n[budget]\ndaily = 10\n')
    first = run(home, sim, "submit", "a fox", "--variations", "3", *SCALE)  # 7.50
    assert first.returncode == 0, first.stderr
    assert "about 7.50 CNY for 3 videos" in first.stderr
    crossing = run(home, sim, "submit", "an owl", "--size", "1920*1080", *SCALE)  # 5.00
    assert crossing.returncode == 1 and creates(sim) == 3
    assert "cross the daily budget" in crossing.stderr
    assert "2.50 CNY of 10.00 CNY is left" in crossing.stderr
    assert "--over-budget" in crossing.stderr
    fits = run(home, sim, "submit", "a wren", "--size", "640*360", *SCALE)  # no 360P price
    assert fits.returncode == 0 and creates(sim) == 4
    forced = run(home, sim, "submit", "an owl", "--size", "1920*1080", "--over-budget",
                 *SCALE)
    assert forced.returncode == 0 and creates(sim) == 5
    figures = run(home, sim, "stats")  # spent (or still in flight) against the budget
    assert "budget" in figures.stdout and "10.00 CNY" in figures.stdout
    today = next(line for line in figures.stdout.splitlines() if "today" in line)
    assert "12.50 CNY" in today and "-2.50 CNY" in today, today  # 7.50 + 5.00: over by 2.50
    as_json = json.loads(run(home, sim, "stats", "--json").stdout)
    assert as_json["budget"]["daily"]["limit"] == 10


def test_without_prices_nothing_is_invented(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    dry = run(home, sim, "submit", "a fox", "--variations", "2", "--dry-run")
    assert "cost unknown: prices are not set" in dry.stdout and creates(sim) == 0


async def test_failed_and_canceled_tasks_cost_nothing_against_the_budget(tmp_path: Path) -> None:
    from datetime import timedelta

    from storage import Observation
    from storage.clock import utc_now
    from tui.engine.submitting.prices import Prices, budget_state

    async with await open_store(tmp_path / "tasks.db") as store:
        for n, status in enumerate(["SUCCEEDED", "FAILED", "CANCELED", "RUNNING"]):
            row = await store.intents.add(endpoint="x", model="m", prompt=f"p{n}",
                                          size="1280*720", duration=5)
            row = await store.intents.mark_accepted(row.id, task_id=f"t{n}", status="PENDING",
                                                    request_id=None, next_poll_in=0)
            await store.following.apply(row.id, Observation(status=status), None)
        await store.intents.add(endpoint="x", model="m", prompt="in doubt", size="1280*720",
                                duration=5)  # still sending: may be billed
        prices = Prices.from_settings({"currency": "CNY", "720P": 1.0})
        state = await budget_state(store, prices, {"daily": 100, "monthly": 1000}, utc_now())
        daily = state.periods[0]
        assert (daily.spent, daily.pending) == (5.0, 10.0)
        assert state.summary() == "85.00 of 100.00 CNY left today"
        tomorrow = await budget_state(store, prices, {"daily": 100},
                                      utc_now() + timedelta(days=2))
        assert tomorrow.periods[0].left == 100


def test_the_example_files_in_the_readme_are_real(sim: Simulator, tmp_path: Path) -> None:
    """docs/examples hold the files the README shows: each reads cleanly."""
    examples = Path(__file__).resolve().parents[1] / "docs" / "examples"
    for name, prompts in (("storyboard.txt", 6), ("shots.jsonl", 7)):
        dry = run(tmp_path / "home", sim, "submit", "--from", str(examples / name),
                  "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would send {prompts} tasks" in dry.stdout, dry.stdout
    assert creates(sim) == 0


async def test_a_survey_tells_a_send_in_flight_from_one_in_doubt(tmp_path: Path) -> None:
    """Opening a batch again while its last create is on its way says "being sent now";
    only an outcome nobody knows is "in doubt" — and neither is offered again."""
    plan = batch.read_batch("a lantern\na kite\na boat\n", "shots.txt",
                            GenerationRequest("x"))
    async with await open_store(tmp_path / "tasks.db") as store:
        claimed = []
        for item in plan.items[:2]:
            row, mine = await store.intents.claim(item.key, endpoint="x", model="m",
                                                  prompt=item.request.prompt,
                                                  size="1280*720", duration=5)
            assert mine
            claimed.append(row)
        await store.intents.mark_unconfirmed(claimed[1].id, "the answer never came")
        found = await batch.survey(store, plan)
    assert [len(found.sending), len(found.in_doubt), len(found.to_send)] == [1, 1, 1]
    assert found.sentence() == ("1 to send, 1 being sent now, 1 in doubt (UNCONFIRMED: not "
                                "sent again; `pixverse-tui resolve` settles them)")
