"""``pixverse-tui serve --read-only`` in headless chromium: a viewer's tab shows the
history, and its keys create, cancel and forget nothing — each refused in one sentence,
with no request to the service."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage import Generation, open_store
from tests.browser.conftest import Browser
from tests.conftest import cli_env, make_sim, submitted
from tests.serve_helpers import Served, serving
from tui.simulator import Simulator

# Its fixtures are the module's (a server, a browser): one worker runs the whole file.
pytestmark = pytest.mark.xdist_group("browser-read-only")

PROMPT = "a lantern drifting down a canal"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with make_sim() as running:
        yield running


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sim: Simulator) -> Path:
    root = tmp_path_factory.mktemp("read-only-home")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        pool.submit(asyncio.run, submitted(root, sim, PROMPT)).result()
    return root


@pytest.fixture(scope="module")
def served(home: Path, sim: Simulator) -> Iterator[Served]:
    with serving(cli_env(home, sim), "--read-only") as running:
        yield running


def rows(home: Path) -> list[Generation]:
    async def read() -> list[Generation]:
        async with await open_store(home / "tasks.db") as store:
            return await store.history.page()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def test_a_read_only_tab_refuses_the_submit_key_and_forget_and_creates_nothing(
        browser: Browser, served: Served, sim: Simulator, home: Path) -> None:
    assert "read-only" in "".join(served.output)  # the banner says so
    tab = browser.open(served.url)
    tab.wait_for("in flight", PROMPT[:20])
    [session] = served.sessions()
    assert b"--read-only" in Path(f"/proc/{session}/cmdline").read_bytes().split(b"\0")
    assert "0/2048" not in tab.text()  # no composer
    creates = sim.traffic.count("create")
    tab.type("a fox")  # the table has the focus: letters are its keys (f: a star, refused)
    tab.keys("Control+j")
    tab.wait_for("read-only:")
    tab.keys("x", "c")
    tab.page.wait_for_timeout(1500)  # a refusal is immediate; give a send time to show
    assert sim.traffic.count("create") == creates
    assert [(r.prompt, r.forgotten_at, r.favourite) for r in rows(home)] == [
        (PROMPT, None, False)]
    assert "Submit" not in tab.screen.display[-1]  # the footer does not offer it
    tab.page.close()
