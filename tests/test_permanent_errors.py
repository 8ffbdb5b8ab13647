"""Final errors end a wait; one bad task never stalls the others (issue 7, parts 5 and 8).

``wait`` and ``submit --wait`` used to loop forever on a 401, a redirect or a
task id the client refuses.  A final error now ends that task's wait with one
sentence and a non-zero exit, after a handful of requests at most; a failure
about one task slows only that task.  And whatever goes wrong, the API key
never shows up in a file under the home or in anything the program prints.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import TaskStore, open_store
from tests.conftest import CLI, KEY, cli_env, client_for, make_sim, submitted
from tui.dashscope import GenerationRequest
from tui.dashscope.sizes import MODEL_V56
from tui.engine.following import poller as poller_module
from tui.engine.following.poller import (
    WAIT_GIVE_UP,
    Health,
    PollScheduler,
    PollSettings,
    why_not_finished,
)
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
WRONG_KEY = "sk-revoked-9999999999999999"


def run(home: Path, sim: Simulator | None, *args: str, key: str | None = KEY,
        env_extra: dict[str, str] | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it.  A wait that loops forever fails here by timing out."""
    env = cli_env(home, sim, key)
    env.update(env_extra or {})
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)




def queries(sim: Simulator, task_id: str = "") -> int:
    return sum(1 for method, path in sim.requests
               if method == "GET" and path.startswith("/api/v1/tasks/") and task_id in path)


def one_sentence(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


# -- account-wide refusals halt the wait ------------------------------------------------


async def test_wait_with_a_refused_key_stops_at_once_and_resumes_with_the_right_one(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    with make_sim(api_key=KEY) as sim:  # only KEY is accepted
        task_id = await submitted(home, sim)
        before = queries(sim)
        refused = run(home, sim, "wait", task_id, *SCALE, key=WRONG_KEY)
        assert refused.returncode == 1
        sentence = one_sentence(refused)
        assert "stopped waiting" in sentence and "401" in sentence and "API key" in sentence
        assert WRONG_KEY not in refused.stdout + refused.stderr
        assert queries(sim) - before <= 3  # not hundreds of refused queries
        fixed = run(home, sim, "wait", task_id, *SCALE)  # the user fixes the key
        assert fixed.returncode == 0, fixed.stderr
        assert "SUCCEEDED" in fixed.stdout


def test_submit_wait_stops_when_polling_is_forbidden(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for _ in range(30):  # every query is refused for as long as this test runs
        sim.inject(on="query", kind="status", status=403, code="AccessDenied.Unpurchased",
                   message="The model is not activated for this account.")
    done = run(home, sim, "submit", "a paper boat", "--wait", *SCALE)
    assert done.returncode == 1
    sentence = one_sentence(done)
    assert "stopped waiting" in sentence and "403" in sentence
    assert queries(sim) <= 3
    [row] = json.loads(run(home, sim, "list", "--json").stdout)
    assert row["task_id"] is not None  # the task that was created is not lost


class _Redirecting(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(301)
        self.send_header("Location", "https://example.com/console/login")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    """An endpoint that is not DashScope: it redirects every request elsewhere."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    _Redirecting.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()
    server.server_close()


async def test_wait_against_a_redirecting_endpoint_says_the_base_url_is_wrong(
        sim: Simulator, tmp_path: Path, redirecting: str) -> None:
    home = tmp_path / "home"
    task_id = await submitted(home, sim)
    waited = run(home, None, "wait", task_id, *SCALE,
                 env_extra={"DASHSCOPE_HTTP_BASE_URL": redirecting})
    assert waited.returncode == 1
    sentence = one_sentence(waited)
    assert "301" in sentence and "base URL" in sentence
    assert 1 <= _Redirecting.hits <= 3


# -- task-specific final errors end only that task's wait -----------------------------------


async def test_wait_on_a_task_id_the_client_refuses_ends_with_a_sentence(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = await submitted(home, sim)
    async with await open_store(home / "tasks.db") as store:  # e.g. from an old database
        bad = await store.following.track(task_id="bad id/..", endpoint=sim.base_url,
                                          model=MODEL_V56,
                                          prompt="from an old history", size="1280*720", duration=5,
                                          audio=False)
    waited = run(home, sim, "wait", f"#{bad.id}", good, *SCALE)
    assert waited.returncode == 1
    sentence = one_sentence(waited)
    assert sentence.startswith("pixverse-tui: bad id/.. is not followed any more")
    assert "SUCCEEDED" in waited.stdout  # the other task was followed to its end
    assert not any("bad" in path for _, path in sim.requests)  # never sent anywhere
    [shown] = [r for r in json.loads(run(home, sim, "list", "--json").stdout)
               if r["id"] == bad.id]
    assert shown["status"] == "TRACKED"


async def test_wait_on_an_expired_task_ends_with_a_sentence_and_never_asks_again(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    task_id = await submitted(home, sim)
    sim.clock.advance(25 * 3600)  # the service forgot it
    first = run(home, sim, "wait", task_id, *SCALE)
    assert first.returncode == 1
    assert "UNKNOWN" in one_sentence(first) and "UNKNOWN" in first.stdout
    asked = queries(sim, task_id)
    again = run(home, sim, "wait", task_id, *SCALE)
    assert again.returncode == 1 and "UNKNOWN" in again.stdout
    assert queries(sim, task_id) == asked  # UNKNOWN is final: not polled again


async def test_garbled_answers_about_one_task_slow_only_that_task(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    health: list[Health] = []
    async with await open_store(home / "tasks.db") as store, client_for(sim) as client:
        sick = (await submit(store, client, GenerationRequest("a garbled one"),
                             first_poll_after=0)).generation
        well = (await submit(store, client, GenerationRequest("a healthy one"),
                             first_poll_after=0)).generation
        assert sick.task_id is not None
        for _ in range(client.retry.attempts * WAIT_GIVE_UP):  # every answer about it broken
            sim.inject(on="query", kind="malformed", task_id=sick.task_id)
        settings = PollSettings(time_scale=600.0, min_interval=3.0, max_interval=6.0)
        poller = PollScheduler(store, client, settings,
                               on_health=lambda state, _detail: health.append(state))
        rows = {row.id: row for row in await poller.wait_for({sick.id, well.id})}
    assert rows[well.id].status == "SUCCEEDED"  # followed to its end meanwhile
    assert Health.BACKING_OFF not in health and Health.HALTED not in health
    assert Health.OFFLINE not in health
    gave_up = rows[sick.id]
    assert gave_up.poll_failures == WAIT_GIVE_UP and gave_up.followed
    reason = why_not_finished(gave_up)
    assert reason is not None and "gave up waiting" in reason
    assert f"pixverse-tui wait {sick.task_id[:8]}" in reason
    resumed = run(home, sim, "wait", sick.task_id, *SCALE)  # asking again follows it again
    assert resumed.returncode == 0, resumed.stderr
    assert "SUCCEEDED" in resumed.stdout


# -- the key never leaks ----------------------------------------------------------------------


def test_the_key_never_appears_after_error_paths(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    debug = {"PIXVERSE_TUI_DEBUG": "1"}  # tracebacks on: they must not carry it either
    outputs = []
    sim.inject(on="create", kind="drop_after")  # an ambiguous create: a task may exist
    outputs.append(run(home, sim, "submit", "lost answer", env_extra=debug))
    outputs.append(run(home, sim, "submit", "a video", "--wait", *SCALE, env_extra=debug))
    sim.inject(on="media", kind="expired", status=403)  # a failed download
    outputs.append(run(home, sim, "download", "2", env_extra=debug))
    sim.inject(on="query", kind="status", status=401, code="InvalidApiKey",
               message="Invalid API-key provided.")  # a refused key
    outputs.append(run(home, sim, "track", "0385dc79-0000-4000-8000-000000000000",
                       env_extra=debug))
    assert [o.returncode for o in outputs] == [1, 0, 1, 1], [o.stderr for o in outputs]
    for out in outputs:
        assert KEY not in out.stdout + out.stderr, out.args
        assert KEY[3:] not in out.stdout + out.stderr, out.args  # not even without "sk-"
    files = [f for f in home.rglob("*") if f.is_file()]
    assert any(f.name == "tasks.db" for f in files)
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file
        assert KEY[3:].encode() not in file.read_bytes(), file


async def test_one_refused_answer_halts_honestly_and_polling_resumes(
        sim: Simulator, store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 401 about one task among answers that succeed: the poller says it is halted
    (never "ok" while it waits), and tries again by itself — it does not sit silent."""
    monkeypatch.setattr(poller_module, "HALTED_RETRY", (0.3, 1.0))
    health: list[Health] = []
    settings = PollSettings(time_scale=600.0, sweeps=False)
    async with client_for(sim) as client:
        rows = [(await submit(store, client, GenerationRequest(f"race {i}"),
                              first_poll_after=0)).generation for i in range(4)]
        assert rows[0].task_id is not None
        sim.inject(on="query", kind="status", status=401, code="InvalidApiKey",
                   message="Invalid API-key provided.", task_id=rows[0].task_id)
        poller = PollScheduler(store, client, settings,
                               on_health=lambda state, _detail: health.append(state))
        await poller.poll_once()  # the 401 and the others' answers, in one round
        assert poller.health is Health.HALTED and poller.halted is not None
        run = asyncio.create_task(poller.run(stop_when_idle=True))
        await asyncio.wait_for(run, 30)
    ended = await store.generations.get_many(r.id for r in rows)
    assert all(row.status == "SUCCEEDED" for row in ended)
    assert health[0] is Health.HALTED and health[-1] is Health.OK
