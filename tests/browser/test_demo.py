"""``pixverse-tui serve --demo`` with no key: every tab on one simulator (started once, in
the server) and one demo home — a task typed in one tab shows in the other — and the
screenshots people see (docs/browser.png is made here with
PIXVERSE_TUI_UPDATE_SCREENSHOT=1; a phone's 390×844 is shot too)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import Browser
from tests.conftest import cli_env
from tests.serve_helpers import Served, serving

# Its fixtures are the module's (a server, a browser): one worker runs the whole file.
pytestmark = pytest.mark.xdist_group("browser-demo")

DOCS_SHOT = Path(__file__).parents[2] / "docs" / "browser.png"
PROMPT = "a lighthouse keeper feeding gulls at dawn"
MORE = ("slow dolly shot through a neon night market in the rain",
        "a paper crane unfolding itself on a wooden desk, macro lens")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = cli_env(tmp_path_factory.mktemp("demo-home"), None, key=None)  # no key at all
    with serving(env, "--demo") as running:
        yield running


def simulator_of(pid: int) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return args[args.index(b"--simulator") + 1].decode()


def sent_prompts(origin: str, *, within: float = 20.0) -> list[str]:
    """The prompts the simulator was sent, once it has been sent any (or ``within`` ends)."""
    deadline = time.monotonic() + within
    while True:
        prompts = [t["prompt"] for t in httpx.get(f"{origin}/_sim/tasks").json()["tasks"]]
        if prompts or time.monotonic() > deadline:
            return prompts
        time.sleep(0.1)


def test_two_tabs_share_one_simulator_and_one_demo_home(browser: Browser, served: Served,
                                                       tmp_path: Path) -> None:
    first, second = browser.open(served.url), browser.open(served.url)
    for tab in (first, second):
        tab.wait_for("DEMO", "in flight")
    sessions = served.sessions()
    assert len(sessions) == 2
    simulators = {simulator_of(pid) for pid in sessions}
    assert len(simulators) == 1  # both on the simulator the server started
    [base_url] = simulators
    origin = base_url.split("/api/", 1)[0]

    first.type(PROMPT)
    first.keys("Control+j")
    second.wait_for(PROMPT)  # the other tab's dashboard shows it: the same demo home
    # The row shows from the intent, recorded before the create is sent: wait for the send.
    assert sent_prompts(origin) == [PROMPT]  # one create, at that simulator
    for more in MORE:  # a few more, for the pictures
        first.wait_for(" 0/2048 ")  # the composer is clear (not "10/2048"): it was sent
        first.type(more)
        first.keys("Control+j")
        first.wait_for(more[:30], " 0/2048 ")

    shot = tmp_path / "browser.png"
    first.page.screenshot(path=str(shot))
    if os.environ.get("PIXVERSE_TUI_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SHOT)
    for tab in (first, second):
        tab.page.close()

    phone = browser.open(served.url, viewport={"width": 390, "height": 844})
    phone.wait_for("DEMO", PROMPT[:20], "3 shown")  # the figures are drawn
    phone.page.screenshot(path=str(tmp_path / "phone.png"))
    assert phone.screen.columns >= 50  # smaller characters on a narrow screen
    print(f"\nscreenshots: {tmp_path}")
    phone.page.close()
