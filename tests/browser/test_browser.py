"""The dashboard in a real browser (headless chromium), served by ``pixverse-tui serve``
against the simulator: what a person sees, types and downloads; how many processes;
how many requests reach the service; where the page's requests go.

One server and one browser for the module; the tests run in order and build on each
other (a task typed in one is downloaded in the next), as a person's session would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from storage import Generation, open_store
from tests.browser.conftest import Browser, Tab
from tests.conftest import cli_env, make_sim, submitted
from tests.serve_helpers import Served, serving, wait_until
from tui.simulator import Simulator

# Its fixtures are the module's (a server, a browser): one worker runs the whole file.
pytestmark = pytest.mark.xdist_group("browser")

DOCS_SHOT = Path(__file__).parents[2] / "docs" / "browser.png"
MAX = 10
FIRST_PROMPTS = ("a quiet harbour at dusk", "a paper boat in the rain")
TYPED = "a red fox in fresh snow"
T = TypeVar("T")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with make_sim() as running:
        yield running


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sim: Simulator) -> Path:
    root = tmp_path_factory.mktemp("browser-home")
    for prompt in FIRST_PROMPTS:  # a history to show
        run(submitted(root, sim, prompt))
    return root


@pytest.fixture(scope="module")
def served(home: Path, sim: Simulator) -> Iterator[Served]:
    with serving(cli_env(home, sim), "--max-sessions", str(MAX)) as running:
        yield running


@pytest.fixture(scope="module")
def tab(browser: Browser, served: Served) -> Tab:
    return browser.open(served.url)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await it on a loop of its own: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def rows(home: Path) -> list[Generation]:
    async def read() -> list[Generation]:
        async with await open_store(home / "tasks.db") as store:
            return await store.history.page(limit=100)

    return run(read())


def row_for(home: Path, prompt: str) -> Generation | None:
    return next((r for r in rows(home) if r.prompt == prompt), None)


def service_requests(sim: Simulator) -> int:
    """What reached the service, creates and video downloads aside: the polling."""
    return sim.traffic.count() - sim.traffic.count("create") - sim.traffic.count("media")


def to_table(tab: Tab) -> None:
    """Escape from the composer to the table, and wait to see it (the footer offers d).
    Keys pressed before the app has moved the focus still go to the composer, and a key
    pressed before the cursor has moved acts on the row it left: a person looks first."""
    tab.keys("Escape")
    tab.wait_until(lambda: tab.screen.display[-1].lstrip().startswith("?"),
                   "the table's footer")


# -- a person's session -----------------------------------------------------------------


def test_the_page_opens_with_the_token_and_shows_the_status_bar_and_rows(
        tab: Tab, served: Served, tmp_path: Path) -> None:
    tab.wait_for("in flight", "Status", "Prompt", *FIRST_PROMPTS)
    assert tab.page.title() == "pixverse-tui"
    assert "token=" not in tab.page.url  # taken out of the address bar
    tab.page.wait_for_selector("body.-first-byte", timeout=30_000)
    shot = tmp_path / "browser.png"
    tab.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a painted page, not a blank one
    if os.environ.get("PIXVERSE_TUI_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SHOT)


def test_typing_a_prompt_and_the_submit_key_create_one_task_and_its_row(
        tab: Tab, sim: Simulator, home: Path) -> None:
    creates = sim.traffic.count("create")
    tab.type(TYPED)
    tab.keys("Control+j")
    wait_until(lambda: row_for(home, TYPED) is not None
               and row_for(home, TYPED).task_id is not None,  # type: ignore[union-attr]
               60, "the task to be created")
    task_id = row_for(home, TYPED).task_id  # type: ignore[union-attr]
    assert task_id is not None
    assert sim.traffic.count("create") == creates + 1
    tab.wait_for(task_id[:8])  # its row, with its task id


def test_d_saves_the_video_on_the_server_then_sends_it_to_the_browser(
        tab: Tab, browser: Browser, home: Path) -> None:
    wait_until(lambda: row_for(home, TYPED).status == "SUCCEEDED",  # type: ignore[union-attr]
               60, "the typed task to finish")
    to_table(tab)
    tab.keys("g")  # the first row: the newest (and wait to see it highlighted, as a person)
    tab.wait_until(lambda: TYPED in tab.cursor_row(), "the cursor on the typed task")
    tab.keys("d")  # finished, not saved yet: saved on the server, as in a terminal
    wait_until(lambda: row_for(home, TYPED).download_state == "done",  # type: ignore[union-attr]
               60, "the video to be saved on the server")
    saved = Path(row_for(home, TYPED).download_path or "")  # type: ignore[union-attr]
    assert saved.is_file()
    tab.wait_for("✔ saved")
    before = len(browser.downloads)
    tab.keys("d")  # saved: now the browser gets it
    tab.wait_until(lambda: len(browser.downloads) > before, "the browser's download")
    download = browser.downloads[-1]
    assert download.suggested_filename.endswith(".mp4")
    assert Path(download.path()).read_bytes() == saved.read_bytes()


def test_y_copies_the_video_url_to_the_browsers_clipboard(
        tab: Tab, browser: Browser, served: Served, home: Path) -> None:
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                      origin=served.origin)
    url = row_for(home, TYPED).video_url  # type: ignore[union-attr]
    assert url
    tab.keys("y")
    tab.wait_for("copied")
    deadline = time.monotonic() + 30
    while tab.page.evaluate("navigator.clipboard.readText()") != url:
        assert time.monotonic() < deadline, "the URL never reached the clipboard"
        tab.page.wait_for_timeout(200)


def test_ten_tabs_make_one_poller(tab: Tab, browser: Browser, served: Served,
                                  sim: Simulator, home: Path) -> None:
    """Each tab is a dashboard process on the same store; the account's poller lease makes
    one of them poll.  Were each to poll, every ended task would be queried ten times."""
    def follow(prompts: list[str]) -> dict[str, int]:
        sim.traffic.reset()
        for prompt in prompts:
            run(submitted(home, sim, prompt))
        wait_until(lambda: all((r := row_for(home, p)) is not None and r.status == "SUCCEEDED"
                               for p in prompts), 90, "the tasks to be followed to the end")
        return {"query": sim.traffic.count("query"), "list": sim.traffic.count("list"),
                "all": service_requests(sim)}

    one = follow([f"one tab, task {i}" for i in range(3)])
    tabs = [tab] + [browser.open(served.url) for _ in range(MAX - 1)]
    for each in tabs:
        each.wait_for("in flight", timeout=180)
    assert len(served.sessions()) == MAX
    ten = follow([f"ten tabs, task {i}" for i in range(3)])
    print(f"\nto follow 3 tasks to the end, the service was asked: one tab {one}, "
          f"ten tabs {ten}")
    assert 1 <= one["query"] <= 6
    assert ten["query"] <= one["query"] + 1, f"ten tabs: {ten}, one tab: {one}"


def test_one_tab_more_than_allowed_is_told_so_in_the_page(browser: Browser,
                                                          served: Served) -> None:
    assert len(served.sessions()) == MAX
    extra = browser.open(served.url)
    extra.page.wait_for_selector("body.-closed", timeout=30_000)
    message = extra.page.inner_text("#closed-message")
    assert f"--max-sessions {MAX}" in message
    assert extra.page.is_visible("#closed-message")
    assert len(served.sessions()) == MAX
    extra.page.close()


def test_closing_the_tabs_ends_their_dashboards(browser: Browser, served: Served) -> None:
    pids = served.sessions()
    assert pids
    for page in list(browser.context.pages):
        page.close()
    wait_until(lambda: served.sessions() == [], 60, "every app process to end")


def test_without_the_token_the_browser_gets_403_and_no_dashboard_starts(
        browser: Browser, served: Served) -> None:
    browser.context.clear_cookies()
    page = browser.context.new_page()
    for url in (served.origin + "/", served.origin + "/?token=wrong"):
        response = page.goto(url)
        assert response is not None and response.status == 403
        assert "access token" in page.inner_text("body")
    page.wait_for_timeout(1000)
    assert served.sessions() == []
    page.close()


def test_every_request_the_pages_made_went_to_this_server(browser: Browser,
                                                          served: Served) -> None:
    """Every request of every page in this module (and of one more, fresh from the URL)."""
    fresh = browser.open(served.url)
    fresh.wait_for("in flight")
    fresh.page.close()
    here = urlsplit(served.origin).netloc
    elsewhere = [url for url in browser.requests
                 if urlsplit(url).netloc != here or urlsplit(url).scheme not in ("http", "ws")]
    assert elsewhere == []
    assert any(url.startswith("ws://") for url in browser.requests)  # the sockets counted too
    assert any("/static/fonts/RobotoMono" in url for url in browser.requests)  # used, local
