"""Input from the user's own machine — an imported history, config.toml, a key file —
is text from outside: bad input gets one clear sentence and loses nothing else."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storage import TaskStore, open_store
from storage.records import IMPORTABLE
from tests.conftest import CLI, KEY, cli_env
from tui.config import credentials, settings
from tui.config.settings import GB, KB, MB, TB, parse_size
from tui.engine.history import transfer

WHEN = "2026-03-20T02:00:00.000+00:00"
GOOD = {"prompt": "a red fox in snow", "created_at": WHEN, "size": "1280*720", "duration": 5}
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def good(n: int, **fields: Any) -> dict[str, Any]:
    return {**GOOD, "prompt": f"generation {n}", "task_id": f"task-{n}",
            "submission": "accepted", **fields}


def jsonl(*lines: dict[str, Any] | bytes | str) -> bytes:
    """A file's bytes: dicts as JSON (NaN allowed, as Python writes it), the rest verbatim."""
    out = b""
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        out += (line.encode() if isinstance(line, str) else line) + b"\n"
    return out


async def import_bytes(store: TaskStore, data: bytes, name: str = "f.jsonl"
                       ) -> transfer.ImportReport:
    return await transfer.import_jsonl(store, io.BytesIO(data), name)


async def prompts(store: TaskStore) -> list[str]:
    return sorted(row.prompt for row in await store.history.page(None, limit=1000))


# -- import: garbage and hostile values ----------------------------------------

async def test_binary_garbage_is_reported_by_line_and_the_rest_imported(
        store: TaskStore, tmp_path: Path) -> None:
    data = jsonl(good(1), b"\xff\xfe\x00\x89PNG\r\x1a garbage", good(2))
    report = await import_bytes(store, data)
    assert (report.added, report.present, report.skipped) == (2, 0, [(2, "not UTF-8 text")])
    assert report.lines()[1] == "f.jsonl, line 2: not UTF-8 text"
    assert await prompts(store) == ["generation 1", "generation 2"]

    # a file opened as text (as the CLI opens it) is read the same way
    path = tmp_path / "h.jsonl"
    path.write_bytes(jsonl(good(3), b"\xc3\x28", good(4)))
    with open(path, encoding="utf-8") as source:
        report = await transfer.import_jsonl(store, source, "h.jsonl")
    assert (report.added, report.skipped) == (2, [(2, "not UTF-8 text")])


BAD_VALUES = [
    ("duration", "five"), ("duration", 7), ("duration", 5.0), ("duration", None),
    ("audio", "maybe"), ("audio", 1), ("watermark", None), ("favourite", "yes"),
    ("seed", -3), ("seed", 2_147_483_648), ("seed", 1.5), ("seed", True),
    ("task_id", "../../x"), ("task_id", 5), ("task_id", "a b"),
    ("tags", 5), ("tags", [""]), ("tags", [1]), ("tags", "keep"),
    ("history", "x"), ("history", [{"at": 1, "status": "PENDING"}]),
    ("history", [{"at": WHEN}]), ("history", [5]),
    ("created_at", 12), ("created_at", "yesterday"), ("created_at", "2026-03-20T02:00:00"),
    ("updated_at", None), ("end_time", "soon"),
    ("prompt", ""), ("prompt", "   "), ("prompt", 5), ("prompt", "\ud800 broken"),
    ("size", "huge"), ("size", 720), ("status", "DONE"), ("submission", "maybe"),
    ("endpoint", None), ("polls", -1), ("polls", 2**70), ("polls", float("nan")),
    ("usage_duration", float("inf")), ("usage_duration", float("nan")),
    ("usage_duration", "5"), ("video_url", "javascript:alert(1)"),
    ("download_state", "stolen"), ("download_sha256", "../../../../etc/x"),
    ("download_path", "/tmp/a\u0000b"), ("download_bytes", -5), ("note", ["x"]),
    ("format", 2), ("format", "1"), ("format", True),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v!r}" for n, v in BAD_VALUES])
async def test_a_wrong_value_skips_its_line_and_says_which_field(
        store: TaskStore, name: str, value: Any) -> None:
    data = jsonl(good(1), good(2, **{name: value}), good(3))
    report = await import_bytes(store, data)
    assert report.added == 2 and report.skipped_count == 1
    [(line, reason)] = report.skipped
    assert line == 2
    assert name in reason or (name == "format" and "newer" in reason), reason
    assert await prompts(store) == ["generation 1", "generation 3"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_nan_and_infinity_are_refused(store: TaskStore, literal: str) -> None:
    line = json.dumps(good(1))[:-1] + f', "usage_duration": {literal}}}'
    report = await import_bytes(store, jsonl(line, good(2)))
    assert report.added == 1
    assert report.skipped == [(1, "usage_duration must be a number from 0 to 86400")]


@pytest.mark.parametrize(("line", "words"), [
    ("{oops", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('"just text"', "not a JSON object"),
    (json.dumps({"created_at": WHEN, "size": "1*1", "duration": 5}), "prompt is missing"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "size"}), "size is missing"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps(GOOD)[:-1] + ', "seed": ' + "9" * 5000 + "}", "number too long"),
], ids=["broken", "list", "string", "no-prompt", "no-size", "deep", "long-number"])
async def test_lines_that_are_not_generations(store: TaskStore, line: str, words: str) -> None:
    report = await import_bytes(store, jsonl(good(1), line, good(2)))
    assert report.added == 2 and len(report.skipped) == 1
    assert report.skipped[0][0] == 2 and words in report.skipped[0][1]


async def test_an_overlong_line_is_skipped_without_reading_it_whole(
        store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "MAX_LINE", 1000)
    huge = json.dumps(good(2, note="x" * 50_000))
    report = await import_bytes(store, jsonl(good(1), huge, good(3)))
    assert report.added == 2 and report.skipped[0][0] == 2
    assert "longer than" in report.skipped[0][1]


async def test_unknown_keys_are_ignored_and_a_bom_is_tolerated(store: TaskStore) -> None:
    data = b"\xef\xbb\xbf" + jsonl(good(1, mood="happy", id=99, lease_owner="someone"))
    report = await import_bytes(store, data)
    assert (report.added, report.skipped) == (1, [])
    [row] = await store.history.page(None)
    assert row.id != 99 and row.lease_owner is None


async def test_the_report_says_exactly_what_was_and_was_not_imported(
        store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "IMPORT_BATCH", 3)  # several batches, bad lines between
    lines: list[dict[str, Any] | bytes | str] = []
    for n in range(1, 41):
        lines.append(good(n, seed=-n) if n % 4 == 0 else good(n))
    lines.insert(5, good(1))  # a duplicate inside the file counts as already here
    lines.insert(7, "")  # blank lines are not reported
    report = await import_bytes(store, jsonl(*lines), "history.jsonl")
    assert (report.added, report.present, report.skipped_count) == (30, 1, 10)
    assert report.summary() == "imported 30 generations; 1 already here; 10 lines skipped"
    assert report.lines()[1] == ("history.jsonl, line 4: seed must be a whole number "
                                 "from 0 to 2147483647")
    assert list(report) == [30, 1]  # callers that unpack (added, present) keep working

    again = await import_bytes(store, jsonl(*lines), "history.jsonl")
    assert (again.added, again.present, again.skipped_count) == (0, 31, 10)
    assert len(await prompts(store)) == 30


async def test_many_bad_lines_are_listed_up_to_a_limit(store: TaskStore) -> None:
    report = await import_bytes(store, jsonl(*(["{oops"] * 25), good(1)))
    shown = report.lines()
    assert shown[0] == "imported 1 generation; 0 already here; 25 lines skipped"
    assert len(shown) == 1 + transfer.SHOWN_PROBLEMS + 1 and shown[-1] == "… and 5 more"


async def test_an_adopted_task_round_trips(store: TaskStore, tmp_path: Path) -> None:
    """Rows made by sync/track carry duration 0 and size "?"; their export must import."""
    await store.following.track(task_id="0a1b2c3d-adopted", endpoint="http://x/api/v1", model="m",
                                prompt="(created elsewhere; prompt not known yet)", size="?",
                                duration=0, audio=False)
    out = io.StringIO()
    await transfer.export(store, out)
    target = await open_store(tmp_path / "other.db")
    try:
        report = await transfer.import_jsonl(target, io.StringIO(out.getvalue()), "x")
        assert (report.added, report.skipped) == (1, [])
        again = io.StringIO()
        await transfer.export(target, again)
        assert again.getvalue() == out.getvalue()
    finally:
        await target.close()


async def test_adopted_rows_may_carry_any_duration(store: TaskStore) -> None:
    report = await import_bytes(store, jsonl(good(1, submission="tracked", duration=15),
                                             good(2, submission="tracked", duration=0,
                                                  size="?")))
    assert (report.added, report.skipped) == (2, [])


def test_every_importable_column_has_a_rule() -> None:
    assert set(transfer.FIELDS) == set(IMPORTABLE)


# -- import through the command line --------------------------------------------

def run_import(tmp_path: Path, data: bytes) -> tuple[subprocess.CompletedProcess[str],
                                                     subprocess.CompletedProcess[str]]:
    path = tmp_path / "h.jsonl"
    path.write_bytes(data)
    env = cli_env(tmp_path / "home", None, key=None)
    done = subprocess.run([*CLI, "import", str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    exported = subprocess.run([*CLI, "export"], env=env, capture_output=True, text=True,
                              timeout=120)
    return done, exported


WRONG_TYPES = jsonl(good(1), good(2, duration="five"), good(3, audio="maybe"),
                    good(4, seed=-3), good(5, task_id="../../x"), good(6, tags=5),
                    good(7, history="x"), good(8, created_at=12), good(9))


@pytest.mark.parametrize(("data", "kept"), [
    (jsonl(good(1), b"\x00\xff\xfe garbage \x80", good(2)), ["generation 1", "generation 2"]),
    (WRONG_TYPES, ["generation 1", "generation 9"])], ids=["binary", "wrong-types"])
def test_cli_import_of_bad_lines_keeps_the_good_ones(tmp_path: Path, data: bytes,
                                                     kept: list[str]) -> None:
    done, exported = run_import(tmp_path, data)
    assert "Traceback" not in done.stderr + done.stdout
    imported = sorted(json.loads(line)["prompt"] for line in exported.stdout.splitlines())
    assert imported == kept


def test_cli_import_names_the_binary_line_and_fails(tmp_path: Path) -> None:
    done, _ = run_import(tmp_path, jsonl(good(1), b"\x00\xff\xfe garbage \x80", good(2)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "imported 2 generations; 0 already here; 1 line skipped" in done.stdout
    assert "h.jsonl, line 2: not UTF-8 text" in done.stderr


def test_cli_import_names_each_wrong_field_and_fails(tmp_path: Path) -> None:
    done, _ = run_import(tmp_path, WRONG_TYPES)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "imported 2 generations; 0 already here; 7 lines skipped" in done.stdout
    for number, name in enumerate(("duration", "audio", "seed", "task_id", "tags",
                                   "history", "created_at"), 2):
        assert f"line {number}: {name}" in done.stderr


def test_cli_import_of_clean_file_still_succeeds(tmp_path: Path) -> None:
    done, exported = run_import(tmp_path, jsonl(good(1), good(2)))
    assert done.returncode == 0 and "imported 2 generations; 0 already here" in done.stdout
    assert len(exported.stdout.splitlines()) == 2


# -- config.toml ---------------------------------------------------------------

def load(tmp_path: Path, text: str) -> settings.Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return settings.load(path)


def test_a_config_with_16000_keys_loads_and_names_each_line(tmp_path: Path) -> None:
    body = "".join(f"setting_{n} = {n}\n" for n in range(16_000))
    config = load(tmp_path, "[polling]\n" + body + "concurrency = 4\n")
    assert len(config.problems) == 16_000
    assert config.problems[0].startswith(f"{tmp_path / 'config.toml'}, line 2: [polling] "
                                         "setting_0 is not a known setting")
    assert ", line 16001: [polling] setting_15999 " in config.problems[-1]
    assert config.get("polling", "concurrency") == 4


@pytest.mark.parametrize(("key", "value"), [
    ("min_interval", "inf"), ("min_interval", "nan"), ("min_interval", "0.5"),
    ("min_interval", "601"), ("max_interval", "inf"), ("max_interval", "-inf"),
    ("max_interval", "4000"), ("queries_per_second", "nan"), ("queries_per_second", "inf"),
    ("queries_per_second", "0"), ("queries_per_second", "21"), ("concurrency", "0"),
    ("concurrency", "33"), ("concurrency", "99999999999999999999999"),
    ("concurrency", "4.0"), ("min_interval", "true"),
])
def test_polling_values_out_of_range_fall_back_to_the_default(
        tmp_path: Path, key: str, value: str) -> None:
    config = load(tmp_path, f"[polling]\n{key} = {value}\n")
    assert config.get("polling", key) == settings.defaults()["polling"][key]
    [problem] = config.problems
    assert f"line 2: [polling] {key}" in problem and "using" in problem


def test_max_interval_below_min_interval_uses_both_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "[polling]\nmin_interval = 20\nmax_interval = 10\n")
    assert (config.get("polling", "min_interval"), config.get("polling", "max_interval")) == (
        3.0, 30.0)
    [problem] = config.problems
    assert "line 3" in problem and "below min_interval" in problem


def test_good_polling_values_are_kept(tmp_path: Path) -> None:
    config = load(tmp_path, "[polling]\nmin_interval = 600\nmax_interval = 3600\n"
                            "queries_per_second = 0.5\nconcurrency = 32\n")
    assert config.problems == []
    assert config.section("polling") == {"min_interval": 600, "max_interval": 3600,
                                         "queries_per_second": 0.5, "concurrency": 32,
                                         "adopt_foreign": False}


@pytest.mark.parametrize(("given", "size"), [
    ("2GB", 2 * GB), ("500 MB", 500 * MB), ("1.5 GB", int(1.5 * GB)), (1048576, MB),
    ("1 kb", KB), (" 3 tb ", 3 * TB), ("10 MiB", 10 * MB), ("100", 100), ("7 B", 7),
])
def test_parse_size_reads_units(given: int | str, size: int) -> None:
    assert parse_size(given) == size


@pytest.mark.parametrize("given", ["lots", "", "-1 MB", "5 PB", "1,5 GB", "GB", -1, 2.5, True])
def test_parse_size_refuses_what_is_not_a_size(given: Any) -> None:
    with pytest.raises(ValueError):
        parse_size(given)


def test_download_limits_default_and_parse(tmp_path: Path) -> None:
    assert load(tmp_path, "").section("downloads") | {} == {
        **settings.defaults()["downloads"], "max_size": 2 * GB, "min_speed": KB,
        "stall_seconds": 30}
    config = load(tmp_path, '[downloads]\nmax_size = "500 MB"\nmin_speed = "10 KB/s"\n'
                            "stall_seconds = 60\n")
    assert config.problems == []
    assert (config.get("downloads", "max_size"), config.get("downloads", "min_speed"),
            config.get("downloads", "stall_seconds")) == (500 * MB, 10 * KB, 60)


@pytest.mark.parametrize(("line", "words"), [
    ('max_size = "lots"', "must be a size"), ("max_size = 10", "from 1 MB to 1 TB"),
    ('max_size = "2 TB"', "from 1 MB to 1 TB"), ("max_size = 1.5", "must be int or str"),
    ('min_speed = "2 GB"', "from 1 B to 1 GB"), ("min_speed = 0", "from 1 B"),
    ("stall_seconds = 2", "at least 5"), ("stall_seconds = nan", "at least 5"),
])
def test_bad_download_limits_fall_back(tmp_path: Path, line: str, words: str) -> None:
    config = load(tmp_path, f"[downloads]\n{line}\n")
    key = line.split()[0]
    assert config.get("downloads", key) == settings.defaults()["downloads"][key]
    [problem] = config.problems
    assert "line 2" in problem and words in problem, problem


def test_prices_are_checked_and_bad_ones_dropped(tmp_path: Path) -> None:
    config = load(tmp_path, '[prices]\ncurrency = "CNY"\n"720P" = 0.5\n"1080P" = -1\n'
                            '"540P" = nan\n"360P" = true\n"720P+audio" = "cheap"\n'
                            '"1080P+audio" = inf\n"540P+audio" = 2\n')
    assert config.section("prices") == {"currency": "CNY", "720P": 0.5, "540P+audio": 2}
    dropped = zip((4, 5, 6, 7, 8), ("1080P", "540P", "360P", "720P+audio", "1080P+audio"),
                  config.problems, strict=True)
    for line, key, problem in dropped:
        assert f"line {line}: [prices] {key} must be a price per second" in problem
        assert problem.endswith("it is ignored.")
    bad_currency = load(tmp_path, '[prices]\ncurrency = "a very long currency name"\n')
    assert bad_currency.section("prices") == {} and "line 2" in bad_currency.problems[0]


def test_keys_stay_unchecked_here(tmp_path: Path) -> None:
    config = load(tmp_path, '[keys]\nsubmit = "f6"\nwhatever = 5\n')
    assert config.problems == [] and config.section("keys") == {"submit": "f6", "whatever": 5}


def test_existing_messages_keep_their_did_you_mean(tmp_path: Path) -> None:
    config = load(tmp_path, '[composr]\n[composer]\ntierr = "1080P"\nduration = 11\n')
    assert 'line 1: unknown section [composr] (did you mean "composer"?)' in config.problems[0]
    assert 'line 3: [composer] tierr is not a known setting (did you mean "tier"?)' in (
        config.problems[1])
    assert "line 4: [composer] duration must be 5, 8 or 10" in config.problems[2]


@pytest.mark.parametrize("make", ["directory", "latin-1", "deep", "huge-int", "broken"])
def test_a_config_that_cannot_be_used_gives_one_sentence(tmp_path: Path, make: str) -> None:
    path = tmp_path / "config.toml"
    if make == "directory":
        path.mkdir()
    else:
        path.write_bytes({"latin-1": "[ui]\ntheme = \"caf\xe9\"\n".encode("latin-1"),
                          "deep": b"a = " + b"[" * 50_000 + b"]" * 50_000,
                          "huge-int": b"[polling]\nconcurrency = " + b"9" * 5000,
                          "broken": b"[composer\n"}[make])
    config = settings.load(path)
    [problem] = config.problems
    assert problem.startswith(str(path)) and problem.endswith("using the defaults"
                                                              + ("" if make != "broken"
                                                                 else " until it is fixed") + ".")
    assert config.values == settings.defaults()


@POSIX_ONLY
@pytest.mark.skipif(IS_ROOT, reason="root reads any file")
@pytest.mark.parametrize("locked", ["file", "folder"])
def test_an_unreadable_config_gives_one_sentence(tmp_path: Path, locked: str) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text("[polling]\nconcurrency = 4\n")
    target = path if locked == "file" else folder
    target.chmod(0)
    try:
        config = settings.load(path)
    finally:
        target.chmod(0o700)
    [problem] = config.problems
    assert "cannot be read" in problem and config.values == settings.defaults()


def test_a_missing_config_is_silent(tmp_path: Path) -> None:
    config = settings.load(tmp_path / "nowhere" / "config.toml")
    assert config.problems == [] and config.values == settings.defaults()


# -- the key file ----------------------------------------------------------------

def key_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "dashscope_key"
    path.write_text(KEY + "\n")
    path.chmod(mode)
    return path


@POSIX_ONLY
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_others_can_open_is_warned_about(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, mode)
    [warning] = credentials.key_file_warnings({credentials.KEY_FILE_ENV: str(path)})
    assert f"the key file {path} is" in warning and f"(mode {mode:04o})" in warning
    assert f"run chmod 600 {path}" in warning
    assert KEY not in warning and KEY[3:11] not in warning
    # and the key is still used, as before
    assert credentials.api_key({credentials.KEY_FILE_ENV: str(path)}).reveal() == KEY


@POSIX_ONLY
def test_a_private_key_file_gets_no_warning(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600)
    assert credentials.key_file_warnings({credentials.KEY_FILE_ENV: str(path)}) == []
    assert credentials.key_file_warnings({credentials.KEY_FILE_ENV: str(path.with_suffix(
        ".missing"))}) == []


@POSIX_ONLY
def test_no_warning_when_the_file_is_not_used(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o644)
    both = {credentials.KEY_ENV: KEY, credentials.KEY_FILE_ENV: str(path)}
    assert credentials.key_file_warnings(both) == []
    assert credentials.key_file_warnings({}) == []


@POSIX_ONLY
def test_the_chmod_advice_keeps_a_tilde_path_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    key_file(tmp_path, 0o644)
    [warning] = credentials.key_file_warnings({credentials.KEY_FILE_ENV: "~/dashscope_key"})
    assert warning.endswith("run chmod 600 ~/dashscope_key")
    assert stat.S_IMODE((tmp_path / "dashscope_key").stat().st_mode) == 0o644
