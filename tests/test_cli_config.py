"""``pixverse-tui config path|show|check``: where the file is, what is in effect and
where it came from (the key masked), and a check that says what the dashboard says,
with lines, and exits 1 on a problem."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import CLI, KEY, cli_env
from tui.config import settings
from tui.ui.themes import load_themes

BROKEN = """\
[composer]
tier = "720P"
duraton = 8

[polling]
concurrency = 99

[ui]
theme = "pixverse-drak"
"""


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = cli_env(home, None, KEY)
    environ.update(env)
    return subprocess.run([*CLI, "config", *args], env=environ, capture_output=True,
                          text=True, timeout=120)


def test_path_names_the_file_whether_or_not_it_exists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "path")
    assert done.returncode == 0 and done.stdout.strip() == str(home / "config.toml")
    assert "does not exist yet" in done.stderr
    home.mkdir()
    (home / "config.toml").write_text("")
    shown = json.loads(run(home, "path", "--json").stdout)
    assert shown["config"] == str(home / "config.toml") and shown["exists"] is True


def test_show_tells_where_each_setting_came_from_and_masks_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[composer]\ntier = "1080P"\n[downloads]\n'
                                      'max_size = "1 GB"\n[store]\n'
                                      'url = "postgresql://me:hunter2@db/pix"\n')
    (home / "templates.toml").write_text('fox = "a {red|white} fox"\n')
    env = {"DASHSCOPE_HTTP_BASE_URL": "http://127.0.0.1:9/api/v1"}
    done = run(home, "show", "--json", **env)
    assert done.returncode == 0, done.stderr
    shown = {(e["section"], e["key"]): e for e in json.loads(done.stdout)["settings"]}
    assert shown["composer", "tier"]["value"] == "1080P"
    assert shown["composer", "tier"]["source"] == "file"
    assert shown["composer", "duration"] == {"section": "composer", "key": "duration",
                                             "value": 5, "source": "default"}
    assert shown["downloads", "max_size"]["source"] == "file"
    assert shown["templates", "fox"]["source"] == "templates.toml"
    assert shown["endpoint", "base_url"]["value"] == "http://127.0.0.1:9/api/v1"
    assert shown["endpoint", "base_url"]["source"] == "environment DASHSCOPE_HTTP_BASE_URL"
    assert shown["credentials", "api_key"]["source"] == "environment DASHSCOPE_API_KEY"
    text = run(home, "show", **env)
    assert text.returncode == 0 and "composer.tier" in text.stdout and "(file)" in text.stdout
    for out in (done.stdout, text.stdout, done.stderr, text.stderr):
        assert KEY not in out and "hunter2" not in out  # the key, a password: never shown
    assert KEY[-4:] in done.stdout  # masked: its last characters, to tell keys apart


def test_check_says_what_the_dashboard_says_with_lines(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "themes").mkdir(parents=True)
    (home / "config.toml").write_text(BROKEN)
    (home / "templates.toml").write_text('ok = "a fox"\n\nowl = "an {owl|bat in snow"\n')
    (home / "themes" / "mine.toml").write_text('name = "mine"\nprimary = "nope"\n')
    done = run(home, "check")
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    config = home / "config.toml"
    assert any(f"{config}, line 3: [composer] duraton" in line and '"duration"' in line
               for line in lines), lines
    assert any(f"{config}, line 6: [polling] concurrency" in line for line in lines)
    assert any(f"{home / 'templates.toml'}, line 3: owl is not a valid template" in line
               for line in lines), lines
    assert any("mine.toml, line 2" in line and "not a colour" in line for line in lines)
    assert any("'pixverse-drak' is not installed" in line and "pixverse-dark" in line
               for line in lines)
    # the same sentences the dashboard gathers at start (settings, themes)
    expected = [*settings.load(config).problems, *load_themes(home / "themes").problems]
    for sentence in expected:
        assert f"pixverse-tui: {sentence}" in lines
    as_json = run(home, "check", "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and len(report["problems"]) == len(lines)


def test_check_passes_a_good_config_and_a_missing_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = run(home, "check")
    assert missing.returncode == 0 and "no problems" in missing.stdout, missing.stderr
    home.mkdir()
    (home / "config.toml").write_text('[composer]\ntier = "540P"\n[ui]\ntheme = "pixverse-light"\n')
    good = run(home, "check", "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True


def test_check_names_the_line_of_each_keys_problem_as_the_dashboard_does(
        tmp_path: Path) -> None:
    from tui.ui import keymap

    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[ui]\ntheme = "pixverse-dark"\n\n[keys]\n"table.download" = "s"\n'
                      'submitt = "f6"\nsubmit = "q"\nquit = ""\n')
    done = run(home, "check")
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert any(f"{config}, line 6: [keys] submitt is not a binding id" in line
               and '"submit"' in line for line in lines), lines
    assert any(f'{config}, line 7: [keys] submit = "q" is refused' in line for line in lines)
    assert any(f"{config}, line 8: [keys] quit must be a key name" in line for line in lines)
    assert not any("table.download" in line for line in lines)
    # the sentences the dashboard shows at start: the same keymap, the same words
    for sentence in keymap.from_settings(settings.load(config)).problems:
        assert f"pixverse-tui: {sentence}" in lines
