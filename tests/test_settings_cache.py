"""The checked settings kept between runs (``tui.config.kept``, issue 15): a command
whose config.toml has not changed reads no TOML — and any change to the files, or to
the rules that check them, is read at once, as if nothing were kept."""

from __future__ import annotations

import builtins
import errno
import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The files these tests write are seconds old at most: kept as if settled (the rule
    for fresh files has its own test)."""
    monkeypatch.setattr(kept, "SETTLED", 0)


def settle(path: Path, seconds: float = 2.0) -> None:
    """Wait until ``path`` last changed ``seconds`` ago (``kept.SETTLED`` in a process of
    its own): what a fresher file made is not kept.  Its change time cannot be set back."""
    def age() -> float:
        found = path.stat()
        return time.time() - max(found.st_mtime, found.st_ctime)

    while age() < seconds:
        time.sleep(0.05)


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
    for junk in (b"", b"\x00garbage\xff" * 50, marshal.dumps(("another", "shape")),
                 marshal.dumps((None, {}, [], {}, {})), b"\xe3" + b"\x01" * 3):
        cache.write_bytes(junk)
        assert as_read(kept.settings(str(config), str(cache))) == expected, junk
        assert cache.read_bytes() != junk  # replaced by what this run made
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_pipe_or_a_huge_claim_in_the_cache_costs_nothing(tmp_path: Path) -> None:
    """A FIFO where the cache should be does not block the start, and a damaged file
    that claims a 2 GB string is not believed (it cost a MemoryError, for ever)."""
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    os.mkfifo(cache)
    assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 3
    assert cache.is_file()  # replaced by a cache
    for marker in (b"s", b"u", b"[", b"("):
        cache.write_bytes(marker + b"\x00\x00\xff\x7f")
        assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 3
    cache.unlink()
    cache.write_bytes(b"\x00" * (kept.LARGEST + 1))
    assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 3


def test_a_file_that_could_not_be_read_now_is_read_again_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many open files, a failing disk: "cannot be read" is the answer of the moment,
    not the file's — it is not kept."""
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    real_open = builtins.open

    def failing(file: object, *args: object, **kwargs: object) -> object:
        if str(file) == str(config):
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    with monkeypatch.context() as patched:
        patched.setattr(builtins, "open", failing)
        once = kept.settings(str(config), str(cache))
    assert any("cannot be read (Too many open files)" in p for p in once.problems)
    assert not cache.exists()
    assert kept.settings(str(config), str(cache)).get("polling", "concurrency") == 3


def test_settings_holding_a_password_are_not_copied(tmp_path: Path) -> None:
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text('[store]\nurl = "postgresql://ann:hunter2@db.example/studio"\n')
    found = kept.settings(str(config), str(cache))
    assert any("password" in p for p in found.problems)
    assert not cache.exists()


def test_a_file_changed_within_two_seconds_is_not_kept_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the clock of the file system ticks in seconds, an edit in the same second
    would get the same stamp: what so fresh a file made is read again next time."""
    monkeypatch.setattr(kept, "SETTLED", 2_000_000_000)
    config, cache = tmp_path / "config.toml", tmp_path / kept.FILE
    config.write_text(CONFIG)
    kept.settings(str(config), str(cache))
    assert not cache.exists()
    old = time.time_ns() - 10_000_000_000
    os.utime(config, ns=(old, old))  # (its change time stays now: still not kept)
    kept.settings(str(config), str(cache))
    assert not cache.exists()


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


def test_the_stamp_names_every_module_whose_rules_check_the_file(tmp_path: Path) -> None:
    """A change to a rule (an upgrade, a developer's edit) must make the files read again:
    every module of this project that ``tui.config.settings`` loads is in ``RULES``."""
    probe = ("import json, sys\nfrom tui.config import settings\n"
             "from tui.config.loaded import Settings\n"
             "settings.load(sys.argv[1])\n"
             "print(json.dumps([m.__file__ for n, m in sys.modules.items()"
             " if n.split('.')[0] in ('tui', 'storage') and not n.endswith('__init__')"
             " and getattr(m, '__file__', None) and not m.__file__.endswith('__init__.py')]))")
    config = tmp_path / "config.toml"  # every rule runs: a template's, a store URL's
    config.write_text('[templates]\nfox = "a {red|blue} fox"\n[store]\n'
                      'url = "postgresql://ann@db.example/studio"\n' + CONFIG)
    done = subprocess.run([sys.executable, "-c", probe, str(config)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    loaded = {str(Path(f).resolve().relative_to(ROOT)) for f in json.loads(done.stdout)}
    assert loaded <= set(kept.RULES), sorted(loaded - set(kept.RULES))
    assert all((ROOT / module).is_file() for module in kept.RULES)
    assert kept.TEMPLATES_FILE == settings.TEMPLATES_FILE


def test_list_reads_no_toml_when_config_toml_has_not_changed(tmp_path: Path) -> None:
    history_with(tmp_path)
    (tmp_path / "config.toml").write_text(CONFIG)
    settle(tmp_path / "config.toml")
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
    modules, done = loaded_after(body, tmp_path)  # (at once: read, not kept yet)
    assert "tomllib" in modules and "unknown section [colors]" in done.stderr
