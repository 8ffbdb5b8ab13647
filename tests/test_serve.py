"""``pixverse-tui serve`` without a browser: who gets in, how many, and that no app
process outlives its tab or the server.  (The page itself: tests/browser.)"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.conftest import cli_env, make_sim
from tests.serve_helpers import Served, alive, serving
from tui.cli.main import main
from tui.simulator import Simulator

pytest.importorskip("textual_serve", reason="the web extra is not installed")

from tui.web.server import is_loopback, session_command

# Its fixtures are the module's (a server, a browser): one worker runs the whole file.
pytestmark = pytest.mark.xdist_group("serve")


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Simulator]:
    with make_sim() as sim:
        yield sim


@pytest.fixture(scope="module")
def served(module_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("serve-home")
    with serving(cli_env(home, module_sim), "--max-sessions", "2") as running:
        yield running


def ws_url(served: Served) -> str:
    return served.origin.replace("http://", "ws://") + "/ws?width=100&height=30"


def cookie(served: Served, value: str | None = None) -> dict[str, str]:
    return {"Cookie": f"pixverse-tui-{served.port}={value or served.token}"}


# -- the command line -----------------------------------------------------------------


def test_without_the_web_extra_one_sentence_says_how_to_install(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    monkeypatch.delitem(sys.modules, "tui.web.server", raising=False)
    assert main(["serve", "--demo"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("pixverse-tui: serving the dashboard in a browser needs the web "
                           "extra: pip install 'pixverse-tui[web]'")


def test_serving_without_a_key_says_how_and_serves_nothing(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "no API key" in err and "pixverse-tui serve --demo" in err


def test_read_only_reaches_every_tab_and_is_refused_for_commands(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert session_command(None, read_only=True).endswith("-m tui.web.session --read-only")
    assert "--read-only" not in session_command(None)
    assert main(["--read-only", "list"]) == 2
    assert "--read-only is for the dashboard" in capsys.readouterr().err


def test_only_loopback_addresses_count_as_private() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_it_prints_the_url_with_a_token_and_how_to_reach_it_over_ssh(served: Served) -> None:
    text = "".join(served.output)
    assert served.url.startswith("http://127.0.0.1:")
    assert len(served.token) >= 40  # 32 random bytes
    assert f"ssh -L {served.port}:localhost:{served.port} " in text


# -- who gets in ----------------------------------------------------------------------


async def test_without_the_token_everything_is_403_and_no_dashboard_starts(
        served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.origin) as http:
        for path in ("/", "/?token=", "/?token=wrong", "/static/js/textual.js",
                     "/static/fonts/RobotoMono-VariableFont_wght.ttf", "/download/abc",
                     f"/?token={served.token[:-1]}"):
            answer = await http.get(path)
            assert answer.status_code == 403, path
            assert "set-cookie" not in answer.headers
        answer = await http.get("/", headers=cookie(served, "wrong"))
        assert answer.status_code == 403
    async with aiohttp.ClientSession() as session:
        for headers in ({}, cookie(served, "nope")):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url(served),
                                         headers={"Origin": served.origin, **headers})
            assert refused.value.status == 403
    await asyncio.sleep(1.0)  # a process, had one started, would be there by now
    assert served.sessions() == []


async def test_the_token_once_then_an_httponly_strict_cookie(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.origin) as http:
        page = await http.get(f"/?token={served.token}")
        assert page.status_code == 200
        set_cookie = page.headers["set-cookie"]
        assert set_cookie.startswith(f"pixverse-tui-{served.port}=")
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert "Path=/" in set_cookie
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        # every asset is on this server: relative URLs (or an inline data: icon), no other host
        links = re.findall(r'(?:src|href)="([^"]*)"|url\("([^"]*)"\)', page.text)
        assert links and all(u.startswith(("static/", "data:")) for pair in links for u in pair
                             if u), links
        assert "googleapis" not in page.text
        again = await http.get("/static/js/textual.js")  # the cookie is enough now
        assert again.status_code == 200
    assert served.sessions() == []


async def test_a_websocket_from_another_origin_is_refused(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        for origin in ("http://evil.example", "null", served.origin + ".evil.example",
                       served.origin.replace("127.0.0.1", "localhost"), None):
            headers = cookie(served) | ({"Origin": origin} if origin else {})
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url(served), headers=headers)
            assert refused.value.status == 403, origin
    await asyncio.sleep(1.0)
    assert served.sessions() == []


# -- how many, and how long -----------------------------------------------------------


async def test_each_tab_runs_a_dashboard_that_ends_with_the_tab_and_one_too_many_is_told(
        served: Served) -> None:
    headers = {"Origin": served.origin, **cookie(served)}
    async with aiohttp.ClientSession() as session:
        first = await session.ws_connect(ws_url(served), headers=headers)
        second = await session.ws_connect(ws_url(served), headers=headers)
        await until(lambda: len(served.sessions()) == 2, 60, "two app processes")
        pids = served.sessions()

        third = await session.ws_connect(ws_url(served), headers=headers)
        message = await third.receive(timeout=30)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert third.close_code == 1013
        assert "--max-sessions 2" in (message.extra or "")
        assert sorted(served.sessions()) == sorted(pids)

        await first.close()
        await until(lambda: not alive(pids[0]) or not alive(pids[1]), 30,
                    "the closed tab's process to end")
        assert len(served.sessions()) == 1
        await second.close()
        await until(lambda: served.sessions() == [], 30, "every app process to end")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stopping_the_server_ends_every_dashboard(
        module_sim: Simulator, tmp_path: Path, signum: int) -> None:
    with serving(cli_env(tmp_path, module_sim)) as running:
        headers = {"Origin": running.origin, **cookie(running)}
        async with aiohttp.ClientSession() as session:
            tabs = [await session.ws_connect(ws_url(running), headers=headers)
                    for _ in range(2)]
            await until(lambda: len(running.sessions()) == 2, 60, "two app processes")
            pids = running.sessions()
            assert running.stop(signum) == 0
            for pid in pids:
                await until(lambda pid=pid: not alive(pid), 60, f"app process {pid} to end")
            for tab in tabs:
                await tab.close()
    assert "every dashboard it served has ended" in "".join(running.output)


async def test_a_killed_server_leaves_no_dashboard_behind(
        module_sim: Simulator, tmp_path: Path) -> None:
    with serving(cli_env(tmp_path, module_sim)) as running:
        headers = {"Origin": running.origin, **cookie(running)}
        async with aiohttp.ClientSession() as session:
            tab = await session.ws_connect(ws_url(running), headers=headers)
            await until(lambda: len(running.sessions()) == 1, 60, "an app process")
            [pid] = running.sessions()
            running.stop(signal.SIGKILL)
            await until(lambda: not alive(pid), 15, "the orphaned app process to end")
            await tab.close()
