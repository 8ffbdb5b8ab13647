"""State and cache in the platform's state and cache folders: an earlier version's
``state.toml`` and preview cache, in the data folder, are moved there once — never over
a file already there, never through a link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLI
from tui.config.paths import app_paths
from tui.engine.workspace import Workspace

ENTRY = "ab" * 32 + "-14x16.json"  # a cached preview's name: SHA-256, size


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A Linux home whose four XDG folders are temporary."""
    if sys.platform in ("darwin", "win32"):
        pytest.skip("the XDG folders are Linux's")
    monkeypatch.delenv("PIXVERSE_TUI_HOME", raising=False)
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY_FILE_PATH"):
        monkeypatch.delenv(name, raising=False)
    folders = {}
    for kind in ("CONFIG", "DATA", "STATE", "CACHE"):
        folders[kind] = tmp_path / kind.lower()
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(folders[kind]))
    return folders


def old_layout(data: Path, state: str = 'theme = "pixverse-light"\n') -> None:
    """What an earlier version left: state.toml and previews/ in the data folder."""
    for root in (data, data / "demo"):
        (root / "previews").mkdir(parents=True)
        (root / "state.toml").write_text(state)
        (root / "previews" / ENTRY).write_text("[]")


def test_the_state_and_the_cache_move_to_their_folders_once(xdg: dict[str, Path]) -> None:
    data = xdg["DATA"] / "pixverse-tui"
    old_layout(data)
    (data / "previews" / "notes.txt").write_text("not ours")  # not a cache entry: left
    ws = Workspace.load()
    state, cache = xdg["STATE"] / "pixverse-tui", xdg["CACHE"] / "pixverse-tui"
    assert ws.paths.state_file == state / "state.toml"
    assert ws.paths.previews_dir == cache / "previews"
    assert (state / "state.toml").read_text() == 'theme = "pixverse-light"\n'
    assert (cache / "previews" / ENTRY).read_text() == "[]"
    assert (state / "demo" / "state.toml").is_file()
    assert (cache / "demo" / "previews" / ENTRY).is_file()
    assert not (data / "state.toml").exists() and not (data / "demo" / "state.toml").exists()
    assert sorted(p.name for p in (data / "previews").iterdir()) == ["notes.txt"]
    assert not (data / "demo" / "previews").exists()  # emptied, so removed
    assert ws.warnings == []
    # once: the next start finds nothing to move and changes nothing
    (state / "state.toml").write_text('theme = "pixverse-contrast"\n')
    Workspace.load()
    assert (state / "state.toml").read_text() == 'theme = "pixverse-contrast"\n'
    assert Workspace.load(demo=True).paths.state_file == state / "demo" / "state.toml"


def test_a_state_file_already_in_place_is_never_overwritten(xdg: dict[str, Path]) -> None:
    data = xdg["DATA"] / "pixverse-tui"
    old_layout(data, state='theme = "pixverse-light"\n')
    state = xdg["STATE"] / "pixverse-tui" / "state.toml"
    state.parent.mkdir(parents=True)
    state.write_text('theme = "pixverse-contrast"\n')  # written by this version
    os.utime(state, (1, 1))  # even when it looks older than the old one
    cache = xdg["CACHE"] / "pixverse-tui" / "previews"
    cache.mkdir(parents=True)
    (cache / ENTRY).write_text('[{"kept": true}]')
    Workspace.load()
    assert state.read_text() == 'theme = "pixverse-contrast"\n'
    assert (data / "state.toml").read_text() == 'theme = "pixverse-light"\n'  # left, not lost
    assert (cache / ENTRY).read_text() == '[{"kept": true}]'


def test_links_at_the_old_names_are_not_followed(xdg: dict[str, Path], tmp_path: Path) -> None:
    data = xdg["DATA"] / "pixverse-tui"
    data.mkdir(parents=True)
    victim = tmp_path / "victim.toml"
    victim.write_text("secret")
    (data / "state.toml").symlink_to(victim)
    Workspace.load()
    assert not (xdg["STATE"] / "pixverse-tui" / "state.toml").exists()
    assert victim.read_text() == "secret" and (data / "state.toml").is_symlink()


def test_pixverse_tui_home_keeps_everything_under_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "previews").mkdir(parents=True)
    (home / "previews" / ENTRY).write_text("[]")
    (home / "state.toml").write_text('theme = "pixverse-light"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "XDG_"))}
    env["PIXVERSE_TUI_HOME"] = str(home)
    done = subprocess.run([*CLI, "locate", "--json"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    where = json.loads(done.stdout)
    assert where["state"] == str(home / "state.toml") and where["cache"] == str(home / "cache")
    assert (home / "state.toml").is_file()  # already where it belongs
    assert (home / "cache" / "previews" / ENTRY).is_file() and not (home / "previews").exists()
    paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
    assert paths.demo().state_file == home / "demo" / "state.toml"
