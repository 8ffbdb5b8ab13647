"""Exit statuses and the basics a newcomer meets first: they tell the truth, quietly.

A pipe closed early (``| head -1``) ends the command as it ends git (status 141,
nothing on stderr); ``--version`` answers; a download that failed makes the
command fail, said once.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, KEY, cli_env
from tests.test_bad_local_input import history_of
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
SIGPIPE_STATUS = 141  # what a shell reports for git killed by SIGPIPE: 128 + 13


def run(home: Path, sim: Simulator | None, *args: str,
        key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim, key), capture_output=True,
                          text=True, timeout=120)


# -- --version -----------------------------------------------------------------------------


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    done = run(tmp_path / "home", None, "--version", key=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"pixverse-tui {importlib.metadata.version('pixverse-tui')}"
    assert not (tmp_path / "home").exists()  # answered without opening anything


# -- a closed pipe -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home whose list and export are far larger than a pipe's buffer (64 KiB)."""
    home = tmp_path_factory.mktemp("history") / "home"
    home.mkdir()
    asyncio.run(history_of(home / "tasks.db",
                           [f"prompt number {i} " + "x" * 300 for i in range(800)]))
    yield home


@pytest.mark.parametrize("args", [["list", "--limit", "5000"],
                                  ["list", "--json", "--limit", "5000"],
                                  ["export"], ["export", "--format", "csv"]],
                         ids=["list", "list-json", "export", "export-csv"])
def test_a_pipe_closed_early_ends_quietly_as_git_does(big_history: Path,
                                                      args: list[str]) -> None:
    """``pixverse-tui list | head -1``: the reader leaves after one line."""
    proc = subprocess.Popen([*CLI, *args], env=cli_env(big_history, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    status = proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert first
    assert status == SIGPIPE_STATUS, stderr
    assert "BrokenPipe" not in stderr and "bug" not in stderr and "Exception" not in stderr
    assert "Traceback" not in stderr


def test_a_pipe_closed_before_anything_is_written_ends_quietly(big_history: Path) -> None:
    """``pixverse-tui list | true``: the reader is gone before the first write."""
    done = subprocess.run(["bash", "-c", f"{' '.join(CLI)} list --limit 5000 | true; "
                           "echo status ${PIPESTATUS[0]} >&2"],
                          env=cli_env(big_history, None), capture_output=True, text=True,
                          timeout=60)
    assert done.stderr.strip() in (f"status {SIGPIPE_STATUS}", "status 0"), done.stderr


# -- a download that failed fails the command ---------------------------------------------


def _expire_media(sim: Simulator, times: int = 4) -> None:
    for _ in range(times):  # more than one attempt would consume: each is one-shot
        sim.inject(on="media", kind="expired", status=403)


def test_submit_wait_download_fails_when_the_download_failed(sim: Simulator,
                                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    _expire_media(sim)
    done = run(home, sim, "submit", "a fox", "--wait", "--download", "--json", *SCALE)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("expired") == 1, done.stderr  # one sentence, once
    assert done.stderr.count("\n") == 1, done.stderr
    [row] = json.loads(done.stdout)  # the result is still printed
    assert row["status"] == "SUCCEEDED" and row["download"]["state"] == "expired"
    media = [p for m, p in sim.requests if p.startswith("/media/")]
    assert len(media) == 1, media  # tried once, not twice


def test_wait_download_fails_when_the_download_failed(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run(home, sim, "submit", "a heron")
    assert made.returncode == 0, made.stderr
    _expire_media(sim)
    done = run(home, sim, "wait", "1", "--download", *SCALE)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("expired") == 1 and done.stderr.count("\n") == 1, done.stderr
    assert len([p for m, p in sim.requests if p.startswith("/media/")]) == 1


def test_wait_download_succeeds_when_every_video_is_saved(sim: Simulator,
                                                          tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, sim, "submit", "a lark", "--wait", "--download", *SCALE)
    assert done.returncode == 0, done.stderr
    assert list((home / "downloads").glob("*.mp4"))
    again = run(home, sim, "wait", "1", "--download", *SCALE)  # already saved: nothing to do
    assert again.returncode == 0, again.stderr
    assert len([p for m, p in sim.requests if p.startswith("/media/")]) == 1


def test_download_fails_when_the_download_failed(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, sim, "submit", "an owl", "--wait", *SCALE).returncode == 0
    _expire_media(sim)
    done = run(home, sim, "download", "1")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("expired") == 1 and done.stderr.count("\n") == 1, done.stderr
