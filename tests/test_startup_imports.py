"""What starting costs (issue 15): the command line's entry point and ``list`` import
neither the HTTP client, the media libraries, Textual, the simulator nor the PostgreSQL
store (asyncpg), and a command's module is imported only when that command runs.
Checked in a fresh interpreter (this one has imported everything already) by reading
``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("httpx", "av", "PIL", "textual", "rich", "statistics", "tui.simulator.server",
         "tui.dashscope.client", "tui.engine.following.poller", "tui.engine.media.download",
         "importlib.metadata",
         # team mode's store: only a postgresql:// location loads it
         "asyncpg", "storage.postgres.store", "storage.postgres.db", "storage.postgres.schema")
OTHER_COMMANDS = ("tui.cli.submit", "tui.cli.tasks", "tui.cli.watch", "tui.cli.config",
                  "tui.cli.store", "tui.cli.queue",
                  "tui.web")

# What the body loaded: the modules the interpreter had before it ran are left out — a
# development install's import hook (setuptools' editable finder, which loads importlib,
# contextlib and pathlib into every process of that environment) is not the program's.
PROBE = """
import json, sys
_before = set(sys.modules)
{body}
print(json.dumps(sorted(set(sys.modules) - _before)), file=sys.stderr)
"""


def loaded_after(body: str, home: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "PIXVERSE_"))}
    env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_API_KEY="sk-test-0123456789")
    done = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    return set(json.loads(last)), done


def found(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules
            or any(m.startswith(name + ".") for m in modules)]


def test_importing_the_command_line_loads_nothing_heavy(tmp_path: Path) -> None:
    modules, _ = loaded_after("import tui.cli.main", tmp_path)
    assert found(modules, HEAVY) == []
    assert found(modules, ("tui.cli.history", *OTHER_COMMANDS)) == []  # not even list's


# What printing a page of rows does not need (issue 15: ``list`` costs ≤ 2× a plain
# script): the records no page read makes, the team store's connection rules, the
# other commands' parsers, what only help, JSON, ``show`` or a warning about a key
# file uses, and the socket module (the host name comes from ``os.uname``).
NOT_FOR_A_PAGE = ("storage.tracking", "storage.queueing", "storage.figures", "storage.postgres",
                  "tui.simulator", "tui.cli.serve", "tui.dashscope.explain",
                  "tui.engine.history.timeline", "socket", "textwrap", "shlex", "string")
# What ``list`` does without (issue 15): ``dataclasses`` loads ``inspect`` and with it
# ``ast``, ``dis`` and ``tokenize`` — more than reading the page costs — so the records on
# its way are named tuples or plain classes; and the store's interface is Protocols,
# needed for annotations alone.  Nor shutil (and the compression modules it loads) for
# the terminal's width: argparse asks for it with every option added.
# Nor ``typing`` (3–4 ms: the records are ``storage.tuples`` named tuples, and the
# annotations' names are imported for the type checker alone), ``contextlib``,
# ``importlib`` and ``warnings`` (a lazy name is imported with ``__import__``) or
# ``getpass`` (with ``termios``: the login name is read from the environment).
NOT_FOR_LISTING = ("dataclasses", "inspect", "ast", "dis", "tokenize", "storage.interface",
                   "shutil", "bz2", "lzma", "typing", "contextlib", "importlib", "warnings",
                   "getpass", "termios")
MADE = """
made = sorted(f"{v.__module__}.{v.__qualname__}" for m in list(sys.modules.values())
              if getattr(m, "__name__", "").startswith(("tui", "storage"))
              for v in vars(m).values()
              if isinstance(v, type) and (hasattr(v, "__dataclass_fields__")
                                          or getattr(v, "_is_protocol", False))
              and v.__module__ == m.__name__)
print("made", json.dumps(made))
"""


def test_list_loads_only_what_listing_needs(tmp_path: Path) -> None:
    history_with(tmp_path)
    body = ("sys.argv = ['pixverse-tui', 'list']\n"
            "from tui.cli.main import main\n"
            "status = main()\n"
            "print('exit', status)" + MADE)
    modules, done = loaded_after(body, tmp_path)
    assert "exit 0" in done.stdout, done.stderr
    assert "a lighthouse" in done.stdout  # a page was printed
    assert found(modules, HEAVY) == []
    assert found(modules, OTHER_COMMANDS) == []
    assert found(modules, NOT_FOR_A_PAGE) == []
    assert found(modules, NOT_FOR_LISTING) == []
    made = json.loads(done.stdout.split("made ", 1)[1])
    assert made == [], "a dataclass or Protocol made on list's way"
    assert "tui.cli.history" in modules  # it did run


# What ``list`` and ``list --json`` do without (issue 15, ≤ 2× a plain script): the
# parser (argparse, with gettext, and locale when it is built — a tenth of the run), and
# pathlib (with urllib.parse and ipaddress on Python 3.11): its files are read by their text.
NOT_FOR_A_PLAIN_LIST = ("argparse", "gettext", "locale", "tui.cli.parser", "tui.cli.help_text",
                        "pathlib", "urllib", "ipaddress")


def test_list_in_its_common_forms_loads_no_parser(tmp_path: Path) -> None:
    history_with(tmp_path)
    for argv in (["list"], ["list", "--json"]):
        body = (f"sys.argv = ['pixverse-tui', *{argv!r}]\n"
                "from tui.cli.main import main\n"
                "print('exit', main())")
        modules, done = loaded_after(body, tmp_path)
        assert "exit 0" in done.stdout and "a lighthouse" in done.stdout, done.stderr
        assert found(modules, NOT_FOR_A_PLAIN_LIST) == [], argv


def test_list_in_a_users_own_folders_loads_no_platformdirs(tmp_path: Path) -> None:
    """Without ``PIXVERSE_TUI_HOME`` (a user's own XDG folders), ``list`` finds its config
    and its database by itself; platformdirs — the state and cache folders, with
    ``tempfile``, ``random`` and ``hashlib`` — comes only when one of those is used."""
    if sys.platform in ("darwin", "win32"):
        pytest.skip("the XDG folders are Linux's")
    data = tmp_path / "data" / "pixverse-tui"
    data.mkdir(parents=True)
    history_with(data)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "PIXVERSE_", "XDG_"))}
    env.update(HOME=str(tmp_path), DASHSCOPE_API_KEY="sk-test-0123456789",
               **{f"XDG_{kind}_HOME": str(tmp_path / kind.lower())
                  for kind in ("CONFIG", "DATA", "STATE", "CACHE")})
    body = ("sys.argv = ['pixverse-tui', 'list']\n"
            "from tui.cli.main import main\n"
            "print('exit', main())")
    done = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "exit 0" in done.stdout and "a lighthouse" in done.stdout, done.stderr
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert found(modules, ("platformdirs", "tempfile", "random", "hashlib",
                           *NOT_FOR_A_PLAIN_LIST)) == []


def test_the_common_forms_of_list_read_as_the_parser_reads_them() -> None:
    """The forms read without argparse give every attribute the parser gives, with the
    same value (the whole parser's and ``list``'s alone); any other form is the parser's."""
    from tui.cli.commands import quick_arguments
    from tui.cli.main import build_parser

    for argv in (["list"], ["list", "--json"]):
        quick = quick_arguments(argv)
        assert quick is not None
        assert vars(quick) == vars(build_parser().parse_args(argv)), argv
        assert vars(quick) == vars(build_parser(only="list").parse_args(argv)), argv
    for argv in ([], ["list", "--limit", "5"], ["list", "--json", "--json"], ["--json", "list"],
                 ["list", "-h"], ["show", "x"], ["list", "--status", "FAILED"]):
        assert quick_arguments(argv) is None, argv


def test_the_garbage_collector_is_off_only_while_a_command_starts(tmp_path: Path) -> None:
    """Off while ``list`` imports and prints (its objects live to the end), on again for
    the store's way (an event loop) and for whoever called ``main``."""
    history_with(tmp_path, queued=True)  # the queue waits: list runs on the event loop
    body = ("import gc\n"
            "import tui.engine.following.rescue as rescue\n"
            "seen = []\n"
            "expiring = rescue.expiring\n"
            "async def noting(store, *args):\n"
            "    seen.append(gc.isenabled())\n"
            "    return await expiring(store, *args)\n"
            "rescue.expiring = noting\n"
            "sys.argv = ['pixverse-tui', 'list']\n"
            "from tui.cli.main import main\n"
            "print('exit', main(), seen, gc.isenabled())")
    _, done = loaded_after(body, tmp_path)
    assert "exit 0 [True] True" in done.stdout, done.stderr


def test_the_records_on_lists_way_are_named_tuples_as_typing_makes_them() -> None:
    """Declared against ``storage.tuples.NamedTuple`` (no ``typing`` on ``list``'s way),
    they are what ``typing.NamedTuple`` makes: their fields in order, their defaults,
    their methods and documents."""
    from storage.history import HistoryFilter
    from storage.records import Generation, Who

    for record in (Generation, Who, HistoryFilter):
        assert issubclass(record, tuple) and record.__bases__ == (tuple,), record
        assert record._fields == tuple(record.__annotations__), record
        assert record.__doc__ and record.__module__.startswith("storage."), record
    assert Who("ann@studio", "studio")._replace(machine="m2") == Who("ann@studio", "m2")
    assert HistoryFilter(text="fox") == HistoryFilter(text="fox", problems=("ignored",))
    assert HistoryFilter._field_defaults["trash"] is False


LIST_JSON = ("sys.argv = ['pixverse-tui', 'list', '--json']\n"
             "from tui.cli.main import main\n"
             "print('exit', main())")


def history_with(home: Path, *, sending: bool = False, queued: bool = False) -> None:
    """A store holding one finished generation — and, with ``sending``, a send whose
    process died long ago (a crash between recording the intent and the answer); with
    ``queued``, a prompt waiting in the local queue."""
    import asyncio
    import sqlite3

    from storage import open_store
    from storage.records import QueueEntry

    async def build() -> None:
        async with await open_store(home / "tasks.db") as store:
            stamp = "2026-01-01T00:00:00.000+00:00"
            await store.history.import_many([{
                "created_at": stamp, "updated_at": stamp, "endpoint": "e", "model": "m",
                "prompt": "a lighthouse", "size": "1280*720", "duration": 5,
                "submission": "accepted", "task_id": "t-1", "status": "FAILED"}])
            if sending:
                await store.intents.add(endpoint="e", model="m", prompt="interrupted",
                                        size="1280*720", duration=5)
            if queued:
                await store.queue.enqueue([QueueEntry(endpoint="e", model="m",
                                                      prompt="waiting", size="1280*720",
                                                      duration=5)])

    asyncio.run(build())
    if sending:
        db = sqlite3.connect(home / "tasks.db")
        with db:
            db.execute("UPDATE generations SET sending_since = '2020-01-01T00:00:00.000+00:00'"
                       " WHERE submission = 'sending'")
        db.close()


def test_list_of_a_tidy_history_reads_without_an_event_loop(tmp_path: Path) -> None:
    """Issue 15: ``list`` costs what a plain script printing the rows costs — no asyncio,
    no aiosqlite and its thread, no store; a page reader's synchronous read."""
    history_with(tmp_path)
    modules, done = loaded_after(LIST_JSON, tmp_path)
    assert "exit 0" in done.stdout, done.stderr
    assert [row["prompt"] for row in json.loads(done.stdout.split("exit")[0])] == [
        "a lighthouse"]
    assert found(modules, ("asyncio", "aiosqlite", "ssl", "storage.changes",
                           "tui.stopping")) == []


def test_list_tidies_first_when_a_send_was_interrupted(tmp_path: Path) -> None:
    """A send a crash interrupted is listed UNCONFIRMED (the store is tidied first): the
    quick read gives way to the store when there is anything to tidy."""
    history_with(tmp_path, sending=True)
    _, done = loaded_after(LIST_JSON, tmp_path)
    assert "exit 0" in done.stdout, done.stderr
    listed = json.loads(done.stdout.split("exit")[0])
    assert [(row["prompt"], row["status"]) for row in listed] == [
        ("interrupted", "UNCONFIRMED"), ("a lighthouse", "FAILED")]


def test_list_says_why_the_queue_waits_as_before(tmp_path: Path) -> None:
    """While something waits in the local queue, ``list`` says why it does not move
    (nobody feeds it, or it is paused) — which the store knows (its lease, its pauses):
    the quick read gives way to the store then."""
    history_with(tmp_path, queued=True)
    modules, done = loaded_after(LIST_JSON, tmp_path)
    assert "exit 0" in done.stdout, done.stderr
    listed = json.loads(done.stdout.split("exit")[0])
    assert [(row["prompt"], row["status"]) for row in listed] == [
        ("waiting", "QUEUED"), ("a lighthouse", "FAILED")]
    assert "Waiting: nobody is feeding the queue" in done.stderr, done.stderr
    assert "aiosqlite" in modules  # read by the store


def test_reading_the_queue_loads_no_http_client(tmp_path: Path) -> None:
    """``queue list`` reads the store; the HTTP client (a fifth of a second to import
    where httpx finds its own command line's dependencies) waits for a command that
    sends."""
    history_with(tmp_path, queued=True)
    modules, done = loaded_after("sys.argv = ['pixverse-tui', 'queue', 'list', '--json']\n"
                                 "from tui.cli.main import main\n"
                                 "print('exit', main())", tmp_path)
    assert "exit 0" in done.stdout and "waiting" in done.stdout, done.stderr
    assert found(modules, ("httpx", "tui.dashscope.client", "tui.engine.submitting.feeder",
                           "tui.engine.submitting.batch")) == []


def test_a_failing_command_still_says_one_sentence(tmp_path: Path) -> None:
    """The errors are classified on the way out (their modules imported then)."""
    body = ("sys.argv = ['pixverse-tui', 'show', 'no-such-task']\n"
            "from tui.cli.main import main\n"
            "print('exit', main())")
    _, done = loaded_after(body, tmp_path)
    assert "exit 1" in done.stdout
    assert "no task matches 'no-such-task'" in done.stderr
    assert "Traceback" not in done.stderr


DASHBOARD = """
import asyncio
from tui.dashscope import ApiKey
from tui.engine.workspace import Workspace
from tui.ui.app import PixverseApp
from tui.ui.widgets.task_table import TaskTable

async def first_paint() -> None:
    ws = Workspace.load(key=ApiKey("sk-test-0123456789"), base_url="http://127.0.0.1:9/api/v1")
    app = PixverseApp(ws, poll=False)
    async with app.run_test(size=(140, 40)):
        for _ in range(3000):
            if app.screen.query(TaskTable) and app.screen.query_one(TaskTable).row_count:
                break
            await asyncio.sleep(0.01)
        print('painted', app.screen.query_one(TaskTable).row_count)
        print(json.dumps(sorted(sys.modules)), file=sys.stderr)  # at the first paint
        sys.exit(0)

asyncio.run(first_paint())
"""


def test_the_dashboard_paints_before_it_loads_the_client_media_or_simulator(
        tmp_path: Path) -> None:
    """httpx comes with the client, after the first paint; PyAV and Pillow with the first
    preview; statistics with the first stats; the simulator only in the demo."""
    import asyncio

    from storage import open_store

    async def one_row() -> None:
        async with await open_store(tmp_path / "tasks.db") as store:
            stamp = "2026-01-01T00:00:00.000+00:00"
            await store.history.import_many([{
                "created_at": stamp, "updated_at": stamp, "endpoint": "e", "model": "m",
                "prompt": "a lighthouse", "size": "1280*720", "duration": 5,
                "submission": "accepted", "task_id": "t-1", "status": "FAILED"}])

    asyncio.run(one_row())
    modules, done = loaded_after(DASHBOARD, tmp_path)
    assert "painted 1" in done.stdout, done.stderr[-2000:]
    assert found(modules, ("httpx", "av", "PIL", "statistics", "tui.simulator.server",
                           "tui.dashscope.client", "tui.engine.following.poller",
                           "tui.engine.media.download", "textual_image", "asyncpg",
                           "storage.postgres.store")) == []
    # What only a key or a dialog needs comes with it (issue 15: the first paint's modules).
    assert found(modules, ("tui.engine.history.stats", "tui.engine.submitting.resolve",
                           "tui.engine.media.player")) == []
    # The row keys' commands (and what they alone use: the engine's operations, what
    # turns the service's answers into the store's records) come with the first row key.
    assert found(modules, ("tui.ui.commands.rows", "tui.ui.commands.downloads",
                           "tui.ui.commands.queue", "tui.ui.commands.delivery",
                           "tui.engine.operations", "tui.engine.following.observe")) == []


def test_paths_written_without_pathlib_are_written_as_pathlib_writes_them(
        tmp_path: Path) -> None:
    """``list`` names and opens its files by their text (no pathlib): each is written as
    ``str(Path(...))`` writes it — so messages name files as before, however the home was
    written (the page reader's URI: ``tests/test_sqlite_backend.py``)."""
    from tui.config.paths import app_paths, join

    for parts in [("/tmp//x/",), ("./a/./b",), ("a/../b", "c"), ("//srv/x",), ("///srv",),
                  (".",), ("",), ("/",), ("/tmp/x", "."), ("~/x",), ("a", "/abs")]:
        assert join(*parts) == str(Path(*parts)), parts
    for home in (f"{tmp_path}//h/", f"{tmp_path}/./h", "rel//h/"):
        paths = app_paths({"PIXVERSE_TUI_HOME": home})
        assert join(paths.config_root, "config.toml") == str(paths.config_file)
        assert join(paths.data_root, "tasks.db") == str(paths.database)
        assert paths.demo().state_file == Path(home) / "demo" / "state.toml"
