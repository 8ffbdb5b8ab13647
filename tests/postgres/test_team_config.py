"""Which store a run uses: the team database named by PIXVERSE_TUI_DATABASE_URL or
``[store] url`` (the environment wins), this home's SQLite file otherwise, and always the
demo's own file for the demo; the command line then works on the team's history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import open_store
from storage.postgres.connect import ENV_URL
from tests.conftest import KEY
from tests.store_contract.helpers import accepted
from tui.dashscope import ApiKey
from tui.engine.workspace import Workspace

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
