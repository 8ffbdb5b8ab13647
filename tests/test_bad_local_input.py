"""A broken machine gets one sentence, never a traceback (issue 7, part 6).

A truncated, garbage or directory database, a home that cannot be created, a
full database, ``download --to FILE``, an imported file of binary garbage or
wrong types: each is one sentence on stderr and a non-zero exit — and nothing
is sent to the service that could not be recorded.  A broken config.toml gives
the same warnings the dashboard shows, on stderr, and the command goes on with
the defaults.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storage import StoreFull, TaskStore, open_store
from tests.conftest import CLI, KEY, cli_env, client_for
from tui.config import settings
from tui.dashscope import GenerationRequest
from tui.dashscope.sizes import MODEL_V56
from tui.engine.submitting.submit import IntentNotRecorded, submit
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"


def run(home: Path, sim: Simulator | None, *args: str, key: str | None = KEY,
        no_room: bool = False,
        env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it; ``no_room``: no file may grow (``ulimit -f 0``)."""
    command = [*CLI, *args]
    if no_room:
        command = ["sh", "-c", 'ulimit -f 0 && exec "$@"', "sh", *command]
    env = {**cli_env(home, sim, key), **(env_extra or {})}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def one_sentence(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 1, out.stdout
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE_PATH)


async def history_of(database: Path, prompts: list[str]) -> None:
    """A database holding these generations (big enough to span many pages)."""
    async with await open_store(database) as store:
        for prompt in prompts:
            row = await store.intents.add(endpoint="https://dashscope.aliyuncs.com/api/v1",
                                          model=MODEL_V56, prompt=prompt, size="1280*720",
                                          duration=5)
            await store.intents.mark_rejected(row.id, code="InvalidParameter", message="no",
                                              request_id=None)


# -- the database ---------------------------------------------------------------------


def damage(home: Path, how: str) -> bytes | None:
    """Damage the database the way a crash, a bad copy or a mistake would; its bytes."""
    database = home / "tasks.db"
    home.mkdir(parents=True)
    if how == "directory":
        database.mkdir()
        (database / "keep.txt").write_text("mine")
        return None
    if how == "garbage":
        database.write_bytes(os.urandom(64 * 1024))
    else:  # truncated: a real history cut in half, as a full disk or a bad copy leaves it
        asyncio.run(history_of(database, [f"generation {n} " + "x" * 400 for n in range(300)]))
        data = database.read_bytes()
        database.write_bytes(data[: len(data) // 2])
    return database.read_bytes()


@pytest.mark.parametrize(("how", "words"), [
    ("garbage", "is not a pixverse-tui database or is damaged"),
    ("truncated", "is not a pixverse-tui database or is damaged"),
    ("directory", "is a folder, not a database"),
], ids=["garbage", "truncated", "directory"])
def test_a_broken_database_is_one_sentence_and_nothing_is_sent(
        sim: Simulator, tmp_path: Path, how: str, words: str) -> None:
    home = tmp_path / "home"
    before = damage(home, how)
    sentence = one_sentence(run(home, sim, "submit", "a fox in the snow"))
    assert words in sentence and str(home / "tasks.db") in sentence
    assert creates(sim) == 0  # a task nobody could record is never created
    if before is None:
        assert (home / "tasks.db" / "keep.txt").read_text() == "mine"
    else:
        assert (home / "tasks.db").read_bytes() == before  # left as it was, to be rescued


def test_a_home_that_cannot_be_created_is_one_sentence(sim: Simulator,
                                                       tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("I am a file, not a folder")
    home = blocker / "pixverse"  # works for root too, unlike a read-only folder
    for args in (["list"], ["submit", "a fox in the snow"]):
        sentence = one_sentence(run(home, sim, *args))
        assert f"{blocker} is a file, not a folder" in sentence
        assert "PIXVERSE_TUI_HOME" in sentence
    assert creates(sim) == 0
    assert blocker.read_text() == "I am a file, not a folder"


async def fill_up(store: TaskStore) -> None:
    """No room left: the database may not grow, and its free space is used up."""
    pages = (await (await store._db.execute("PRAGMA page_count")).fetchone())[0]
    await store._db.execute(f"PRAGMA max_page_count = {pages}")
    for size in (2000, 200, 20, 1):
        for _ in range(10_000):
            try:
                await store.intents.add(endpoint="filler", model=MODEL_V56, prompt="f" * size,
                                        size="1280*720", duration=5)
            except StoreFull:
                break
        else:
            raise AssertionError("the database never filled up")


async def test_a_full_database_refuses_a_submission_before_sending_it(
        sim: Simulator, tmp_path: Path) -> None:
    async with await open_store(tmp_path / "tasks.db") as store, \
            client_for(sim) as client:
        kept = await submit(store, client, GenerationRequest("made before the disk filled"))
        await fill_up(store)
        with pytest.raises(IntentNotRecorded) as caught:
            await submit(store, client, GenerationRequest("one more"))
        assert isinstance(caught.value.cause, StoreFull)
        assert creates(sim) == 1  # the second one was never sent: nothing billed unrecorded
        sentence = str(caught.value)
        assert sentence.startswith("nothing was sent") and "\n" not in sentence
        assert "is full" in sentence and "nothing was lost" in sentence
        still = await store.generations.get(kept.generation.id)
        assert still is not None and still.task_id == kept.generation.task_id


@pytest.mark.skipif(os.name != "posix", reason="needs sh and ulimit -f")
async def test_a_disk_that_refuses_writes_is_one_sentence_and_nothing_is_sent(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    await history_of(home / "tasks.db", ["an old one"])
    sent = run(home, sim, "submit", "a fox in the snow", no_room=True)
    sentence = one_sentence(sent)
    assert str(home / "tasks.db") in sentence
    assert creates(sim) == 0
    listed = run(home, sim, "list", "--json")  # room again: nothing was lost
    assert [row["prompt"] for row in json.loads(listed.stdout)] == ["an old one"]


# -- downloads -------------------------------------------------------------------------


def test_download_to_a_file_is_one_sentence_and_leaves_it_alone(sim: Simulator,
                                                                tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, sim, "submit", "a fox in the snow", "--wait", *SCALE)
    assert done.returncode == 0, done.stderr
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes")
    refused = run(home, sim, "download", "1", "--to", str(mine))
    sentence = one_sentence(refused)
    assert f"--to {mine} is a file" in sentence and "folder" in sentence
    assert mine.read_text() == "my notes"
    assert not any(path.startswith("/media/") for _, path in sim.requests)


# -- imports -------------------------------------------------------------------------------

GOOD: dict[str, Any] = {"prompt": "the one good line", "size": "1280*720", "duration": 5,
                        "created_at": "2026-03-20T02:00:00.000+00:00", "task_id": "t-good",
                        "submission": "accepted", "status": "SUCCEEDED"}
WRONG_TYPES = [{"prompt": ["a", "list"]}, {"duration": {"seconds": 5}}, {"history": [1, 2]},
               {"tags": [1, None]}, {"audio": "yes"}, {"seed": 1e400},
               {"created_at": "yesterday"}, {"usage_fps": "24fps"}]


def test_importing_garbage_names_the_lines_and_keeps_the_good_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    blob = tmp_path / "video.mp4.jsonl"  # the wrong file picked by mistake
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 40)
    typed = tmp_path / "typed.jsonl"
    typed.write_text("".join(json.dumps({**GOOD, "task_id": f"t-{n}", **fields}) + "\n"
                             for n, fields in enumerate(WRONG_TYPES))
                     + json.dumps(GOOD) + "\n", encoding="utf-8")
    folder = tmp_path / "a-folder.jsonl"
    folder.mkdir()

    from_blob = run(home, None, "import", str(blob), key=None)
    from_typed = run(home, None, "import", str(typed), key=None)
    from_folder = run(home, None, "import", str(folder), key=None)
    for out in (from_blob, from_typed, from_folder):
        assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert "imported 0 generations" in from_blob.stdout
    assert f"{blob}, line 1: not UTF-8 text" in from_blob.stderr
    assert f"imported 1 generation; 0 already here; {len(WRONG_TYPES)} lines skipped" in (
        from_typed.stdout)
    for number, fields in enumerate(WRONG_TYPES, 1):
        assert f"line {number}: {next(iter(fields))}" in from_typed.stderr
    assert f"{folder} holds no videos (.mp4) or sidecars (.json)" in one_sentence(from_folder)
    listed = run(home, None, "list", "--json", key=None)
    assert [row["prompt"] for row in json.loads(listed.stdout)] == ["the one good line"]


# -- config.toml -----------------------------------------------------------------------------

BROKEN_CONFIGS = {
    "misspelt": '[composr]\ntier = "720P"\n[polling]\nconcurency = 4\nmax_interval = -5\n'
                '[downloads]\nauto = "sometimes"\n',
    "not-toml": '[polling\nconcurrency = 4\n',
}


@pytest.mark.parametrize("name", list(BROKEN_CONFIGS))
def test_a_broken_config_warns_like_the_dashboard_and_goes_on(
        sim: Simulator, tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text(BROKEN_CONFIGS[name], encoding="utf-8")
    warnings = settings.load(config).problems  # what the dashboard shows at start
    assert warnings

    listed = run(home, sim, "list")
    done = run(home, sim, "submit", "a fox in the snow", "--wait", *SCALE)
    for out in (listed, done):
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert out.stderr.splitlines() == [f"pixverse-tui: {w}" for w in warnings]
    assert "SUCCEEDED" in done.stdout  # polled with the default settings
    assert config.read_text(encoding="utf-8") == BROKEN_CONFIGS[name]  # never rewritten


async def test_a_base_url_that_is_not_a_url_is_one_sentence_and_nothing_is_unconfirmed(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    sent = run(home, None, "submit", "a fox in the snow",
               env_extra={"DASHSCOPE_HTTP_BASE_URL": "https://[::1/api/v1"})  # a typo
    sentence = one_sentence(sent)
    assert "this is a bug" not in sentence
    assert "base URL" in sentence or "DASHSCOPE_HTTP_BASE_URL" in sentence
    async with await open_store(home / "tasks.db") as store:
        rows = await store.history.page(limit=10)
    assert not [row for row in rows if row.submission == "unconfirmed"]  # nothing went out
