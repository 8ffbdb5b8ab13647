"""Which store a run uses: the team database named by PIXVERSE_TUI_DATABASE_URL or
``[store] url`` (the environment wins), this home's SQLite file otherwise, and always the
demo's own file for the demo; the command line then works on the team's history."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import open_store
from storage.postgres.connect import ENV_URL
from tests.conftest import CLI, KEY, cli_env
from tests.pg_server import PostgresServer, database_name
from tests.store_contract.helpers import accepted
from tests.tcp_proxy import TcpProxy
from tui.dashscope import ApiKey
from tui.engine.workspace import Workspace
from tui.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]


def test_the_team_database_is_chosen_by_config_or_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PIXVERSE_TUI_HOME", str(home))
    monkeypatch.delenv(ENV_URL, raising=False)
    ws = Workspace.load(key=ApiKey(KEY))
    assert ws.store_location == ws.paths.database  # nothing said: the SQLite file
    ws.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    ws.paths.config_file.write_text('[store]\nurl = "postgresql://alice@db.studio/team"\n')
    assert Workspace.load(key=ApiKey(KEY)).store_location == "postgresql://alice@db.studio/team"
    monkeypatch.setenv(ENV_URL, "postgresql://bob@db.studio/other")
    assert Workspace.load(key=ApiKey(KEY)).store_location == "postgresql://bob@db.studio/other"
    demo = Workspace.load(demo=True, key=ApiKey(KEY))
    assert demo.store_location == demo.paths.database  # the demo never touches the team's


async def test_the_command_line_works_on_the_team_history(pg_dsn: str,
                                                          tmp_path: Path) -> None:
    async with await open_store(pg_dsn) as store:
        await accepted(store, "a lighthouse seen from the team database")
    env = {**os.environ, "PIXVERSE_TUI_HOME": str(tmp_path / "home"), ENV_URL: pg_dsn}
    listed = subprocess.run([sys.executable, "-m", "tui", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "a lighthouse seen from the team database" in listed.stdout
    assert not list((tmp_path / "home").rglob("*.db"))  # no SQLite history beside it


def test_locate_names_the_team_database_without_its_password(tmp_path: Path) -> None:
    """In team mode ``locate`` said where a SQLite file would be — not the history in use:
    it names the team's database, its password hidden."""
    url = "postgresql://alice:s3cret-pw@db.studio.lan:5433/pixverse?sslmode=require"
    env = {**os.environ, "PIXVERSE_TUI_HOME": str(tmp_path / "home"), ENV_URL: url}
    env.pop("DASHSCOPE_API_KEY", None)
    for json in (False, True):
        located = subprocess.run([sys.executable, "-m", "tui", "locate",
                                  *(["--json"] if json else [])], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert located.returncode == 0, located.stderr
        assert "s3cret-pw" not in located.stdout + located.stderr
        assert "postgresql://alice:***@db.studio.lan:5433/pixverse?sslmode=require" \
            in located.stdout
        assert "tasks.db" not in located.stdout


def test_submit_during_an_outage_says_that_nothing_was_sent(
        pg_server: PostgresServer, pg_dsn: str, sim: Simulator, tmp_path: Path) -> None:
    """The team's database stops answering (a network cut): ``submit`` — a prompt, a
    batch file — sends nothing, says so in one sentence and exits 1."""
    async def make_schema() -> None:
        await (await open_store(pg_dsn)).close()

    asyncio.run(make_schema())
    lines = tmp_path / "owls.txt"
    lines.write_text("an owl\na heron\n")
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        proxy.cut()
        url = pg_server.dsn(database_name(pg_dsn), port=proxy.port) + "&connect_timeout=2"
        env = {**cli_env(tmp_path / "home", sim), ENV_URL: url}
        for what in (["a fox"], ["--from", str(lines)]):
            done = subprocess.run([*CLI, "submit", *what], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 1 and done.stdout == ""
            assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
            assert done.stderr.startswith("pixverse-tui: nothing was sent: "), done.stderr
    assert sim.traffic.count("create") == 0


async def test_forget_on_the_team_database_says_it_forgets_for_the_whole_team(
        pg_dsn: str, tmp_path: Path) -> None:
    async with await open_store(pg_dsn) as store:
        row = await accepted(store, "a lighthouse everyone sees")
    env = {**os.environ, "PIXVERSE_TUI_HOME": str(tmp_path / "home"), ENV_URL: pg_dsn}

    def forget(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tui", "forget", f"#{row.id}", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    asked = forget()  # not a terminal: refused, and the sentence says what it would do
    assert asked.returncode == 1 and "for the whole team" in asked.stderr
    assert "stops following it on every machine" in asked.stderr  # (it still runs)
    done = forget("--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("forgot 1 generation for the whole team;")
    async with await open_store(pg_dsn) as store:
        kept = await store.generations.get(row.id)
        assert kept is not None and kept.forgotten_at is not None
