"""A real browser: Debian's chromium, driven by Playwright for Python (no browser is
downloaded — ``playwright install`` is never run).  Without chromium or Playwright the
browser tests skip, loudly; with PIXVERSE_TUI_REQUIRE_BROWSER=1 (CI) that is a failure.

Each page keeps what its dashboard wrote to it (the WebSocket's frames), so a test can
wait for words to be on screen; every request any page made is recorded, to check
that nothing left for another origin.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyte
import pytest

REQUIRE = os.environ.get("PIXVERSE_TUI_REQUIRE_BROWSER") == "1"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
STATUS_WORDS = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "SUBMITTING")


def find_chromium() -> str | None:
    wanted = os.environ.get("PIXVERSE_TUI_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _unavailable() -> str | None:
    if find_chromium() is None:
        return ("NO CHROMIUM: the browser tests did not run — install Debian's `chromium` "
                "(or set PIXVERSE_TUI_CHROMIUM); .ci/run does")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "NO PLAYWRIGHT: the browser tests did not run — pip install -e '.[test]'"
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        return "NO TEXTUAL-SERVE: the browser tests did not run — pip install -e '.[test]'"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _unavailable()
    if reason is None:
        return
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.fspath)).parents]
    if not mine:
        return
    if REQUIRE:
        raise pytest.UsageError(f"{reason} (PIXVERSE_TUI_REQUIRE_BROWSER=1)")
    print(f"\n*** {reason} ***", flush=True)
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Tab:
    """One browser tab on the dashboard, and what it shows: the dashboard's output (the
    WebSocket's frames) played into a terminal emulator of the page's size."""

    page: Any
    screen: pyte.Screen = field(default_factory=lambda: pyte.Screen(80, 24))
    frames: int = 0

    def __post_init__(self) -> None:
        self._stream = pyte.ByteStream(self.screen)

    def received(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            self.frames += 1
            self._stream.feed(payload)

    def sent(self, payload: bytes | str) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            self.screen.resize(size["height"], size["width"])

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def shows(self, *words: str) -> bool:
        text = self.text()
        return all(word in text for word in words)

    def wait_for(self, *words: str, timeout: float = 90.0) -> None:
        self.wait_until(lambda: self.shows(*words), f"{words!r} on screen", timeout)

    def wait_until(self, condition: Callable[[], bool], what: str,
                   timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n"
                                     f"{self.text()}")
            self.page.wait_for_timeout(100)

    def cursor_row(self) -> str:
        """The table's highlighted row: of the lines with a status on them, the one on the
        brightest background (the cursor, in the default dark theme)."""
        def brightness(y: int) -> float:
            colour = self.screen.buffer[y][2].bg
            if len(colour) != 6:
                return 0.0
            r, g, b = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
            return 0.2126 * r + 0.7152 * g + 0.0722 * b

        lines = [y for y, line in enumerate(self.screen.display)
                 if any(word in line for word in STATUS_WORDS)]
        if not lines:
            return ""
        return self.screen.display[max(lines, key=brightness)]

    def keys(self, *keys: str) -> None:
        self.page.focus(".xterm-helper-textarea")
        for key in keys:
            self.page.keyboard.press(key)
            if key == "Escape":  # a lone ESC, not alt+ the next key: as a person types
                self.page.wait_for_timeout(400)

    def type(self, text: str) -> None:
        self.page.focus(".xterm-helper-textarea")
        self.page.keyboard.type(text)


@dataclass
class Browser:
    context: Any
    requests: list[str] = field(default_factory=list)
    downloads: list[Any] = field(default_factory=list)

    def open(self, url: str, *, viewport: dict[str, int] | None = None) -> Tab:
        page = self.context.new_page()
        if viewport:
            page.set_viewport_size(viewport)
        tab = Tab(page)

        def on_socket(socket: Any) -> None:
            self.requests.append(socket.url)
            socket.on("framereceived", tab.received)
            socket.on("framesent", tab.sent)

        page.on("websocket", on_socket)
        page.goto(url)
        return tab


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    assert chromium is not None
    profile = tmp_path_factory.mktemp("chromium-profile")  # new and empty
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=LAUNCH_ARGS,
            viewport=VIEWPORT, accept_downloads=True)
        for page in context.pages:  # the blank first tab of a persistent profile
            page.close()
        opened = Browser(context)
        context.on("request", lambda request: opened.requests.append(request.url))
        context.on("page", lambda page: page.on(
            "download", lambda download: opened.downloads.append(download)))
        try:
            yield opened
        finally:
            context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True


FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def screenshots_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed browser test leaves a picture of every open tab (the path is printed)."""
    yield
    if not request.node.stash.get(FAILED, False) or "browser" not in request.fixturenames:
        return
    opened: Browser = request.getfixturevalue("browser")
    folder = Path(tempfile.gettempdir()) / "pixverse-tui-browser" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(opened.context.pages):
        path = folder / f"tab-{number}.png"
        try:
            page.screenshot(path=str(path))
        except Exception as exc:  # a closed or crashed page: say so, carry on
            print(f"\nno screenshot of tab {number}: {exc}")
        else:
            print(f"\nscreenshot of tab {number}: {path}")
