"""The checked settings kept between runs (``tui.config.kept``, issue 15): a command
whose config.toml has not changed reads no TOML — and any change to the files, or to
the rules that check them, is read at once, as if nothing were kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_startup_imports import history_with, loaded_after
from tui.config import kept, settings
from tui.config.loaded import Settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
[downloads]
template = "{date}-{prompt}"

[polling]
concurrency = 3
max_interval = 999999

[colours]
accent = "red"
"""


def as_read(found: Settings) -> tuple[object, ...]:
    lines = found.lines
    return (found.values, found.problems, str(found.source),
            lines.headers if lines else None, lines.keys if lines else None)


def test_kept_settings_are_the_settings_the_file_makes(tmp_path: Path) -> None:
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    (tmp_path / "templates.toml").write_text('city = "a {fox|owl} in the city"\n')
    made = kept.settings(str(config), str(cache))
    assert cache.exists()
    again = kept.settings(str(config), str(cache))
    assert as_read(again) == as_read(made) == as_read(settings.load(str(config)))
    assert again.get("polling", "concurrency") == 3
    assert again.values["templates"]["city"] == "a {fox|owl} in the city"
    assert any("unknown section [colours]" in p for p in again.problems)
    assert again.at("polling", "concurrency") == f"{config}, line 5"  # where, for later


def test_every_change_to_the_files_is_read_at_once(tmp_path: Path) -> None:
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    first = kept.settings(str(config), str(cache))
    # the same size and the same modification time: an edit in place is still seen
    when = config.stat()
    config.write_text(CONFIG.replace("concurrency = 3", "concurrency = 4"))
    os.utime(config, ns=(when.st_atime_ns, when.st_mtime_ns))
    assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 4
    # a file put in place by a rename, as editors save
    (tmp_path / "new.toml").write_text("[polling]\nconcurrency = 2\n")
    os.replace(tmp_path / "new.toml", config)
    assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 2
    # templates.toml beside it, added and then removed
    (tmp_path / "templates.toml").write_text('owl = "an owl"\n')
    assert kept.settings(str(config), str(cache)).values["templates"] == {"owl": "an owl"}
    (tmp_path / "templates.toml").unlink()
    assert kept.settings(str(config), str(cache)).values["templates"] == {}
    # no config file any more: the defaults
    config.unlink()
    assert as_read(kept.settings(str(config), str(cache))) == as_read(
        settings.load(str(config)))
    assert first.get("polling", "concurrency") == 3


def test_a_cache_that_cannot_be_read_is_ignored_and_replaced(tmp_path: Path) -> None:
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    expected = as_read(settings.load(str(config)))
    import marshal

    for junk in (b"", b"\x00garbage\xff" * 50, marshal.dumps(("another", "shape")),
                 marshal.dumps((None, {}, [], {}, {})), b"\xe3" + b"\x01" * 3):
        cache.write_bytes(junk)
        assert as_read(kept.settings(str(config), str(cache))) == expected, junk
        assert cache.read_bytes() != junk  # replaced by what this run made
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_value_the_cache_cannot_hold_is_simply_not_kept(tmp_path: Path) -> None:
    """``[keys]`` is not checked here: TOML lets it hold a date, which marshal cannot
    write — those settings are read from the file each time."""
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text("[keys]\nquit = 1979-05-27\n")
    found = kept.settings(str(config), str(cache))
    assert str(found.get("keys", "quit")) == "1979-05-27"
    assert not cache.exists()


def test_no_data_folder_yet_costs_nothing_but_the_cache(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    found = kept.settings(str(config), str(tmp_path / "missing" / kept.FILE))
    assert found.get("polling", "concurrency") == 3
    assert not (tmp_path / "missing").exists()


def test_the_stamp_names_every_module_whose_rules_check_the_file() -> None:
    """A change to a rule (an upgrade, a developer's edit) must make the files read again:
    every module of this project that ``tui.config.settings`` loads is in ``RULES``."""
    probe = ("import json, sys\nimport tui.config.settings\n"
             "print(json.dumps([m.__file__ for n, m in sys.modules.items()"
             " if n.split('.')[0] in ('tui', 'storage') and not n.endswith('__init__')"
             " and getattr(m, '__file__', None) and not m.__file__.endswith('__init__.py')]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    loaded = {str(Path(f).resolve().relative_to(ROOT)) for f in json.loads(done.stdout)}
    assert loaded <= set(kept.RULES), sorted(loaded - set(kept.RULES))
    assert all((ROOT / module).is_file() for module in kept.RULES)
    assert kept.TEMPLATES_FILE == settings.TEMPLATES_FILE


def test_list_reads_no_toml_when_config_toml_has_not_changed(tmp_path: Path) -> None:
    history_with(tmp_path)
    (tmp_path / "config.toml").write_text(CONFIG)
    body = ("sys.argv = ['pixverse-tui', 'list']\n"
            "from tui.cli.main import main\n"
            "print('exit', main())")
    runs = [loaded_after(body, tmp_path) for _ in range(3)]
    for _modules, done in runs:
        assert "exit 0" in done.stdout and "a lighthouse" in done.stdout, done.stderr
        assert "unknown section [colours]" in done.stderr  # the warnings, every time
    assert "tomllib" in runs[0][0]  # the first reads the file and keeps what it made
    for modules, _ in runs[1:]:
        assert not {"tomllib", "tui.config.settings", "typing"} & modules
    (tmp_path / "config.toml").write_text(CONFIG.replace("[colours]", "[colors]"))
    modules, done = loaded_after(body, tmp_path)
    assert "tomllib" in modules and "unknown section [colors]" in done.stderr
