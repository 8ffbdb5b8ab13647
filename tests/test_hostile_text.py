"""Text from outside never drives the user's terminal (issue 7, part 1).

Server fields (message, code, task_id, request_id, video_url, usage values) and
prompts (typed, imported, synced) reach the terminal only as visible, inert
stand-ins; Chinese and emoji stay as they are, and ``--json`` stays exact.
Task ids that cannot go into a URL path are refused wherever they enter: a
create answer, ``track``, ``resolve --task``, ``import`` and ``sync``.

Every command runs as a subprocess against the simulator over loopback.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage import Generation, open_store
from tests.conftest import CLI, KEY, cli_env, client_for, submitted
from tui.dashscope import GenerationRequest
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"

# What a terminal obeys: C0 controls (but tab and newline), DEL, C1 (0x9B is a
# one-byte CSI), and the characters that reorder text.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         "\u2066-\u2069]")
ESC, BEL = "\u241b", "\u2407"  # the stand-ins the user sees: ␛ and ␇

HOSTILE_MESSAGE = "boom \x1b]0;pwned\x07 \u202egnp.exe 月光 🎬"
HOSTILE_REQUEST_ID = "\x1b]52;c;aGVsbG8=\x07"  # OSC 52: write the user's clipboard
HOSTILE_PROMPT = "月光 🎬 \x1b]0;owned\x07\x1b[2J\x9b31m \u202etxt.exe, (ok!)"


def run(home: Path, sim: Simulator | None, *args: str, key: str | None = KEY,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim, key), capture_output=True,
                          text=True, timeout=timeout)


def assert_inert(*outputs: subprocess.CompletedProcess[str]) -> None:
    """Nothing a terminal would act on, and never a traceback."""
    for out in outputs:
        for name, text in (("stdout", out.stdout), ("stderr", out.stderr)):
            raw = sorted({f"U+{ord(c):04X}" for c in RAW_CONTROL.findall(text)})
            assert not raw, f"{out.args[3:]} wrote {raw} raw to {name}: {text!r}"
            assert "Traceback" not in text




async def stored(home: Path) -> list[Generation]:
    """What the history holds now."""
    async with await open_store(home / "tasks.db") as store:
        return await store.history.page(limit=100)


def sim_tasks(sim: Simulator) -> list[str]:
    return [t for a in sim.world.accounts.values() for t in a.tasks]


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE_PATH)


def queried_paths(sim: Simulator) -> list[str]:
    return [path for method, path in sim.requests if method == "GET" and "/tasks/" in path]


# -- server fields -------------------------------------------------------------------


def failed_answer(task_id: str) -> dict[str, Any]:
    return {"request_id": HOSTILE_REQUEST_ID,
            "output": {"task_id": task_id, "task_status": "FAILED", "code": "X\x1b[2J",
                       "message": HOSTILE_MESSAGE}}


def succeeded_answer(task_id: str) -> dict[str, Any]:
    return {"request_id": "req\x9b2J",
            "output": {"task_id": task_id, "task_status": "SUCCEEDED",
                       "submit_time": "2026-03-20 10:34:41.630",
                       "scheduled_time": "2026-03-20 10:34:41.655",
                       "end_time": "2026-03-20 10:35:12.725",
                       "orig_prompt": "a quiet harbour",
                       "video_url": "https://media.example/v.mp4\x1b]8;;https://evil\x07 月光"},
            "usage": {"duration": 5, "size": "1280*720\x1b[8m", "fps": 24, "video_count": 1,
                      "audio": False, "SR": "720\u202e🎬"}}


async def test_hostile_server_fields_are_shown_harmlessly_and_kept_exactly(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    failed = await submitted(home, sim, "a quiet harbour at night")
    done = await submitted(home, sim)
    sim.inject(on="query", kind="answer", status=200, task_id=failed, body=failed_answer(failed))
    sim.inject(on="query", kind="answer", status=200, task_id=done, body=succeeded_answer(done))
    waited = run(home, sim, "wait", failed, done, *SCALE)
    shown_failed = run(home, sim, "show", failed)
    shown_done = run(home, sim, "show", done)
    listed = run(home, sim, "list")
    as_json = run(home, sim, "list", "--json")
    assert_inert(waited, shown_failed, shown_done, listed, as_json)
    assert waited.returncode == 1  # one of them failed
    assert shown_failed.returncode == shown_done.returncode == listed.returncode == 0

    # the user still reads what the server said, made visible, Chinese and emoji intact
    assert f"boom {ESC}]0;pwned{BEL} <U+202E>gnp.exe 月光 🎬" in shown_failed.stdout
    assert f"X{ESC}[2J" in shown_failed.stdout
    assert f"{ESC}]52;c;aGVsbG8={BEL}" in shown_failed.stdout
    assert "月光 🎬" in waited.stderr and f"{ESC}]0;pwned" in waited.stderr
    assert f"v.mp4{ESC}]8;;https://evil{BEL} 月光" in shown_done.stdout
    assert f"1280*720{ESC}[8m" in shown_done.stdout and "SR 720<U+202E>🎬" in shown_done.stdout
    assert "req<9B>2J" in shown_done.stdout

    stored = {row["task_id"]: row for row in json.loads(as_json.stdout)}  # kept exactly
    assert stored[failed]["status"] == "FAILED"
    assert stored[failed]["error_code"] == "X\x1b[2J"
    assert stored[failed]["error_message"] == HOSTILE_MESSAGE
    assert stored[failed]["last_request_id"] == HOSTILE_REQUEST_ID
    assert stored[done]["status"] == "SUCCEEDED"
    assert stored[done]["video_url"] == "https://media.example/v.mp4\x1b]8;;https://evil\x07 月光"
    assert stored[done]["usage"]["size"] == "1280*720\x1b[8m"
    assert stored[done]["usage"]["SR"] == "720\u202e🎬"
    assert stored[done]["last_request_id"] == "req\x9b2J"


def test_a_server_error_sentence_cannot_drive_the_terminal(sim: Simulator,
                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    sim.inject(on="create", kind="answer", status=400,
               body={"request_id": HOSTILE_REQUEST_ID, "code": "InvalidParameter",
                     "message": "bad \x1b]0;pwned\x07\x1b[2J 月光 🎬 \u202eok"})
    refused = run(home, sim, "submit", "a fox")
    assert refused.returncode == 1
    assert_inert(refused)
    assert refused.stderr.count("\n") == 1 and "REJECTED" in refused.stdout
    assert f"bad {ESC}]0;pwned{BEL}{ESC}[2J 月光 🎬 <U+202E>ok" in refused.stderr


def test_a_typed_prompt_is_shown_harmlessly_and_kept_exactly(sim: Simulator,
                                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, sim, "submit", HOSTILE_PROMPT, "--wait", "--json", *SCALE)
    listed = run(home, sim, "list")
    shown = run(home, sim, "show", "1")
    assert done.returncode == 0, done.stderr
    assert_inert(done, listed, shown)
    [row] = json.loads(done.stdout)
    assert row["prompt"] == HOSTILE_PROMPT and row["status"] == "SUCCEEDED"  # exact
    visible = f"月光 🎬 {ESC}]0;owned{BEL}{ESC}[2J<9B>31m <U+202E>txt.exe, (ok!)"
    assert visible in shown.stdout
    assert "月光 🎬" in listed.stdout and f"{ESC}]0;owned" in listed.stdout
    [task] = sim.world.accounts[KEY].tasks.values()
    assert task.prompt == HOSTILE_PROMPT  # sent as typed: only the display is changed


async def test_imported_and_synced_prompts_are_shown_harmlessly(sim: Simulator,
                                                          tmp_path: Path) -> None:
    home = tmp_path / "home"
    synced_prompt = "from the SDK \x1b]52;c;cm0gLXJmIH4=\x07 \x1bP+q\x1b\\ 雪 ❄️"
    answer = httpx.post(sim.base_url + "/services/aigc/video-generation/video-synthesis",
                        headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"},
                        json={"model": "pixverse/pixverse-v5.6-t2v",
                              "input": {"prompt": synced_prompt},
                              "parameters": {"size": "640*360", "duration": 5}})
    assert answer.status_code == 200
    sim.clock.advance(400)  # finished: the service now reports its prompt
    imported_prompt = "imported \x1b_APC\x1b\\ \x1b[?1049h \u2066中文\u2069 🎥"
    history = tmp_path / "history.jsonl"
    history.write_text(json.dumps({"prompt": imported_prompt, "size": "1280*720",
                                   "duration": 5, "created_at": "2026-03-20T02:00:00.000+00:00",
                                   "task_id": "imported-1", "submission": "accepted",
                                   "status": "SUCCEEDED"}) + "\n", encoding="utf-8")
    did_import = run(home, sim, "import", str(history))
    did_sync = run(home, sim, "sync")
    listed = run(home, sim, "list")
    assert did_import.returncode == 0 and did_sync.returncode == 0, did_sync.stderr
    assert_inert(did_import, did_sync, listed)
    assert "雪 ❄️" in listed.stdout and "中文" in listed.stdout and "🎥" in listed.stdout
    assert f"{ESC}]52;c;cm0gLXJmIH4={BEL}" in listed.stdout
    assert {row.prompt for row in await stored(home)} == {synced_prompt, imported_prompt}


# -- task ids a URL cannot carry --------------------------------------------------------

UNUSABLE_IDS = ["../../admin", "abc\x1b]0;t\x07", "x" * 300]


@pytest.mark.parametrize("bad_id", UNUSABLE_IDS, ids=["dot-dot", "control", "absurd-length"])
async def test_an_unusable_id_in_a_create_answer_leaves_it_unconfirmed_and_never_resent(
        sim: Simulator, tmp_path: Path, bad_id: str) -> None:
    home = tmp_path / "home"
    sim.inject(on="create", kind="answer", status=200, handle=True,  # it really is created
               body={"request_id": "r-1", "output": {"task_id": bad_id,
                                                      "task_status": "PENDING"}})
    sent = run(home, sim, "submit", "a lighthouse at dusk")
    assert sent.returncode == 1 and "NOT re-sent" in sent.stderr
    assert creates(sim) == 1 and len(sim_tasks(sim)) == 1
    [row] = await stored(home)
    assert row.display_status == "UNCONFIRMED" and row.task_id is None
    assert not any(bad_id[:20] in path for path in queried_paths(sim))
    if bad_id == UNUSABLE_IDS[0]:  # and the task the service did create is still found
        found = run(home, sim, "resolve")
        assert found.returncode == 0 and "found it" in found.stdout, found.stdout
        [row] = await stored(home)
        assert row.task_id == sim_tasks(sim)[0]
        assert_inert(found)
    assert creates(sim) == 1
    assert_inert(sent)


async def test_track_refuses_unusable_ids_without_asking_the_service(sim: Simulator,
                                                                     tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = ["../../admin", "a/b", "q?x=1", "x#y", "%2e%2e", "..", "a b", "id\x1b[2J",
           "z" * 300]
    tracked = run(home, sim, "track", *bad)
    assert tracked.returncode == 1
    assert_inert(tracked)
    assert tracked.stderr.count("is not a task id") == len(bad)
    assert sim.requests == []  # none of them went near the service
    assert await stored(home) == []


async def test_resolve_task_refuses_an_unusable_id_without_asking(sim: Simulator,
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "home"
    sim.inject(on="create", kind="status", status=500)  # unconfirmed, nothing behind it
    async with await open_store(home / "tasks.db") as store, client_for(sim) as client:
        lost = await submit(store, client, GenerationRequest("a mill by a stream"))
    assert lost.generation.submission == "unconfirmed"
    picked = run(home, sim, "resolve", str(lost.generation.id), "--task", "../tasks/x\x1b[2J")
    assert picked.returncode == 1 and "is not a task id" in picked.stderr
    assert picked.stderr.count("\n") == 1
    assert_inert(picked)
    assert queried_paths(sim) == []
    [row] = await stored(home)
    assert row.display_status == "UNCONFIRMED" and row.task_id is None


async def test_import_refuses_unusable_ids_by_line_and_keeps_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    base = {"prompt": "p", "size": "1280*720", "duration": 5, "submission": "accepted",
            "created_at": "2026-03-20T02:00:00.000+00:00"}
    lines = [{**base, "prompt": "good one", "task_id": "good-1"},
             {**base, "task_id": "id\x1b]0;pwned\x07"},
             {**base, "task_id": "a/../../b"},
             {**base, "task_id": "y" * 300},
             {**base, "prompt": "good two", "task_id": "good-2"}]
    history = tmp_path / "h.jsonl"
    history.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    done = run(home, None, "import", str(history), key=None)
    assert done.returncode == 1
    assert_inert(done)
    for number in (2, 3, 4):
        assert f"line {number}: task_id" in done.stderr
    assert sorted(str(row.task_id) for row in await stored(home)) == ["good-1", "good-2"]


async def test_sync_leaves_out_listed_tasks_with_unusable_ids(sim: Simulator,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    answer = httpx.post(sim.base_url + "/services/aigc/video-generation/video-synthesis",
                        headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"},
                        json={"model": "pixverse/pixverse-v5.6-t2v", "input": {"prompt": "real"},
                              "parameters": {"size": "640*360", "duration": 5}})
    real_id = answer.json()["output"]["task_id"]
    row = {"status": "SUCCEEDED", "model_name": "pixverse/pixverse-v5.6-t2v",
           "gmt_create": 1745568428109, "region": "cn-beijing"}
    sim.inject(on="list", kind="answer", status=200, body={
        "request_id": "r", "total": 4, "total_page": 1, "page_no": 1, "page_size": 50,
        "data": [{**row, "task_id": "../../etc/passwd"}, {**row, "task_id": "a\x1b[2Jb"},
                 {**row, "task_id": "w" * 500}, {**row, "task_id": real_id}]})
    synced = run(home, sim, "sync")
    assert synced.returncode == 0, synced.stderr
    assert_inert(synced)
    assert "adopted 1 task" in synced.stdout
    assert "3 listed tasks were left out" in synced.stderr
    assert queried_paths(sim) == [f"/api/v1/tasks/{real_id}"]
    [adopted] = await stored(home)
    assert adopted.task_id == real_id
