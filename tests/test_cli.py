"""The command line, run as a user runs it: a subprocess against the simulator."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, KEY, cli_env, same_video
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]


def run(home: Path, sim: Simulator | None, *args: str, key: str | None = KEY,
        env_extra: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = cli_env(home, sim, key)
    env.update(env_extra or {})
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def sim_tasks(sim: Simulator) -> list[str]:
    return [t for a in sim.world.accounts.values() for t in a.tasks]


def test_submit_wait_download_show_list(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, sim, "submit", "a fox [bold]in[/] snow", "--size", "720*1280",
               "--duration", "8", "--seed", "7", "--audio", "--wait", "--json", *SCALE)
    assert done.returncode == 0, done.stderr
    [task] = json.loads(done.stdout)
    for field in ("task_id", "status", "prompt", "size", "duration", "video_url", "local_path"):
        assert field in task
    assert task["status"] == "SUCCEEDED" and task["prompt"] == "a fox [bold]in[/] snow"
    assert (task["size"], task["duration"], task["seed"], task["audio"]) == (
        "720*1280", 8, 7, True)

    got = run(home, sim, "download", task["task_id"][:8], "--json")
    assert got.returncode == 0, got.stderr
    [downloaded] = json.loads(got.stdout)
    path = Path(downloaded["local_path"])
    assert path.is_file() and path.parent == home / "downloads"
    assert same_video(path.read_bytes(), sim.clip("9x16"))

    shown = run(home, sim, "show", task["task_id"])
    assert shown.returncode == 0 and "queue time" in shown.stdout and "SUCCEEDED" in shown.stdout
    listed = json.loads(run(home, sim, "list", "--status", "SUCCEEDED", "--json").stdout)
    assert [t["task_id"] for t in listed] == [task["task_id"]]
    assert json.loads(run(home, sim, "list", "--search", "fox", "--json").stdout)

    for file in home.rglob("*"):
        if file.is_file():
            assert KEY.encode() not in file.read_bytes(), file


def test_errors_are_one_sentence_on_stderr(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = run(home, sim, "submit", "x", "--size", "1920*1080", "--duration", "10")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "1080P" in bad.stderr
    no_key = run(home, sim, "submit", "x", key=None)
    assert no_key.returncode == 1 and "DASHSCOPE_API_KEY" in no_key.stderr
    missing = run(home, sim, "show", "nope")
    assert missing.returncode == 1 and "no task matches" in missing.stderr
    sim.inject(on="create", kind="status", status=400, code="DataInspectionFailed",
               message="Input data may contain inappropriate content.")
    refused = run(home, sim, "submit", "x")
    assert refused.returncode == 1 and "Rephrase the prompt" in refused.stderr
    assert "Traceback" not in bad.stderr + no_key.stderr + missing.stderr + refused.stderr


def test_key_file_path_is_honoured_and_never_stored(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    done = run(home, sim, "submit", "x", "--wait", *SCALE, key=None,
               env_extra={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})
    assert done.returncode == 0, done.stderr
    located = run(home, sim, "locate", key=None,
                  env_extra={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})
    assert str(home) in located.stdout and KEY not in located.stdout
    for file in home.rglob("*"):
        if file.is_file():
            assert KEY.encode() not in file.read_bytes()


def test_cancel_and_track(slow_sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run(home, slow_sim, "submit", "cancel me", "--json")
    task_id = json.loads(made.stdout)[0]["task_id"]
    canceled = run(home, slow_sim, "cancel", task_id)
    assert canceled.returncode == 0 and "CANCELED" in canceled.stdout
    again = run(home, slow_sim, "cancel", task_id)
    assert again.returncode == 1 and "only a PENDING task" in again.stderr

    other = tmp_path / "other-home"
    tracked = run(other, slow_sim, "track", task_id, "--json")
    assert tracked.returncode == 0, tracked.stderr
    assert json.loads(tracked.stdout)[0]["status"] == "CANCELED"
    unknown = run(other, slow_sim, "track", "no-such-task")
    assert unknown.returncode == 1 and "unknown" in unknown.stderr


def test_a_crash_between_send_and_answer_loses_nothing_and_duplicates_nothing(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    sim.inject(on="create", kind="hang_after", seconds=5)  # killed long before it answers
    proc = subprocess.Popen([*CLI, "submit", "the only one"], env=cli_env(home, sim),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not sim_tasks(sim):  # the server has it; the client is waiting for the answer
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    listed = json.loads(run(home, sim, "list", "--json").stdout)
    assert [t["status"] for t in listed] == ["UNCONFIRMED"]  # not lost, and not re-sent
    resolved = run(home, sim, "resolve")
    assert resolved.returncode == 0 and "found it" in resolved.stdout, resolved.stdout
    [row] = json.loads(run(home, sim, "list", "--json").stdout)
    assert row["task_id"] == sim_tasks(sim)[0] and len(sim_tasks(sim)) == 1
    waited = run(home, sim, "wait", row["task_id"], *SCALE)
    assert waited.returncode == 0


def test_resolve_when_nothing_was_created(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    sim.inject(on="create", kind="status", status=500)  # no task behind it
    first = run(home, sim, "submit", "x")
    assert first.returncode == 1 and "NOT re-sent" in first.stderr
    looked = run(home, sim, "resolve")
    assert looked.returncode == 1 and "nothing was created" in looked.stdout
    [row] = json.loads(run(home, sim, "list", "--json").stdout)
    dropped = run(home, sim, "resolve", str(row["id"]), "--abandon")
    assert dropped.returncode == 0
    assert json.loads(run(home, sim, "list", "--json").stdout)[0]["status"] == "ABANDONED"
    assert sim_tasks(sim) == []


def test_simulate_command_prints_its_port(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "simulate", "--port", "0", "--speed", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base = line.split(" on ", 1)[1].split()[0]
        import httpx

        answer = httpx.get(base + "/tasks/x", headers={"Authorization": "Bearer sk-1"})
        assert answer.json()["output"]["task_status"] == "UNKNOWN"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("args", [["--help"], ["submit", "--help"]])
def test_help(tmp_path: Path, args: list[str]) -> None:
    shown = run(tmp_path, None, *args)
    assert shown.returncode == 0 and "usage:" in shown.stdout


def test_sync_adopts_tasks_made_by_other_clients(sim: Simulator, tmp_path: Path) -> None:
    import httpx

    home = tmp_path / "home"
    mine = run(home, sim, "submit", "made here", "--json")
    assert mine.returncode == 0
    for prompt in ("made by the SDK", "made in the console"):  # same key, another client
        answer = httpx.post(sim.base_url + "/services/aigc/video-generation/video-synthesis",
                            headers={"Authorization": f"Bearer {KEY}",
                                     "X-DashScope-Async": "enable"},
                            json={"model": "pixverse/pixverse-v5.6-t2v",
                                  "input": {"prompt": prompt},
                                  "parameters": {"size": "640*360", "duration": 5}})
        assert answer.status_code == 200
    sim.clock.advance(400)
    synced = run(home, sim, "sync")
    assert synced.returncode == 0 and "adopted 2 tasks" in synced.stdout
    prompts = {t["prompt"] for t in json.loads(run(home, sim, "list", "--json").stdout)}
    assert prompts == {"made here", "made by the SDK", "made in the console"}
    again = run(home, sim, "sync")
    assert "adopted 0 tasks" in again.stdout
