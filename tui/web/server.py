"""The dashboard in a browser: textual-serve, with a lock on the door.

textual-serve starts one app process per WebSocket (one per browser tab) and
relays the terminal between them.  It has no access control, and its page asks
a public font service for its font.  In front of it, through its public
``Server`` class (we build the aiohttp application ourselves instead of its
private ``_make_app``, and override the public handlers):

- **a token**: every request shows it (``?token=`` once, then an HttpOnly,
  SameSite=Strict cookie); anything else gets 403 before any handler runs, so
  no app process starts;
- **the WebSocket's Origin** must be this server's own origin;
- **a cap on sessions**: one more tab than ``max_sessions`` is told so in the
  page (the close reason), not left hanging;
- **our own page**: every asset from this server (the font too — textual-serve
  ships Roboto Mono, Apache 2.0), a Content-Security-Policy that lets the
  browser load nothing from anywhere else;
- **no orphans**: stopping the server ends every session's process (and each
  process watches the server, for when it is killed — ``tui.web.session``).

Each tab is a whole dashboard on the same store: the store's poller lease makes
exactly one of them poll the account, however many tabs are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

TEMPLATES = Path(__file__).parent / "templates"
SLOT_PATIENCE = 3.0  # seconds a new tab waits for a free session (a reload frees its own)
STOP_PATIENCE = 10.0  # seconds the sessions get to end when the server stops
TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is at capacity
GOING_AWAY = 1001

REFUSED = ("403: this dashboard needs its access token. Open the URL that "
           "`pixverse-tui serve` printed (it ends with ?token=…).\n")
CROSS_ORIGIN = "403: a WebSocket from another origin is refused.\n"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the server to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def session_command(simulator_url: str | None, *, read_only: bool = False) -> str:
    """The shell command textual-serve runs for each tab: this Python, our session entry
    (``exec``: the app is the server's own child, and sees when the server dies)."""
    parts = [sys.executable, "-m", "tui.web.session"]
    if simulator_url is not None:
        parts += ["--simulator", simulator_url]
    if read_only:
        parts.append("--read-only")
    command = shlex.join(parts)
    return command if os.name == "nt" else f"exec {command}"


def content_policy(nonce: str) -> str:
    """Nothing but this origin: scripts by nonce, no frames, no forms, no other host."""
    return ("default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "  # xterm.js sizes itself with inline styles
            "font-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    max_sessions: int = 8
    simulator_url: str | None = None  # the demo's simulator, shared by every tab
    read_only: bool = False  # every tab a viewer's dashboard (--read-only)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    slot_patience: float = SLOT_PATIENCE


class SessionSlots:
    """How many app processes run, against the cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._freed = asyncio.Event()

    async def take(self, patience: float) -> bool:
        """A slot, waiting up to ``patience`` seconds for one to be given back."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while self.running >= self.limit:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), remaining)
            except TimeoutError:
                return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running -= 1
        self._freed.set()


class DashboardServer(Server):
    """textual-serve's server, behind a token, an Origin check and a session cap."""

    def __init__(self, options: ServeOptions) -> None:
        super().__init__(session_command(options.simulator_url, read_only=options.read_only),
                         host=options.host,
                         port=options.port, title="pixverse-tui")
        self.options = options
        self.slots = SessionSlots(options.max_sessions)
        self.cookie_name = f"pixverse-tui-{options.port}"
        self._sessions: set[asyncio.Task[Any]] = set()

    def bound_to(self, port: int) -> None:
        """The port the socket got (``--port 0`` picks one): the cookie is per port, so
        two servers on one machine do not log each other out."""
        self.port = port
        self.cookie_name = f"pixverse-tui-{port}"

    # -- the application --------------------------------------------------------------

    def make_app(self) -> web.Application:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self._token_ok(request.query.get("token")):
                response = await handler(request)
                if not response.prepared:
                    response.set_cookie(self.cookie_name, self.options.token, path="/",
                                        httponly=True, samesite="Strict",
                                        secure=request.secure or None)
                return response
            if self._token_ok(request.cookies.get(self.cookie_name)):
                return await handler(request)
            return web.Response(status=403, text=REFUSED)

        app = web.Application(middlewares=[guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_response_prepare.append(self._common_headers)
        return app

    def _token_ok(self, supplied: str | None) -> bool:
        if not supplied:
            return False
        return hmac.compare_digest(supplied.encode(), self.options.token.encode())

    async def _common_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")

    async def handle_index(self, request: web.Request) -> web.Response:
        """Our page (``templates/page.html``) instead of textual-serve's."""
        nonce = secrets.token_urlsafe(16)
        font_size = request.query.get("fontsize", "16")
        context = {"title": "pixverse-tui", "nonce": nonce,
                   "font_size": int(font_size) if font_size.isdigit() else 16}
        response = aiohttp_jinja2.render_template("page.html", request, context)
        response.headers["Content-Security-Policy"] = content_policy(nonce)
        return response

    # -- sessions -------------------------------------------------------------------------

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin", "")
        return origin.lower() == f"{request.scheme}://{request.host}".lower()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: checked, counted, then textual-serve's own session (an app process)."""
        if not self._same_origin(request):
            raise web.HTTPForbidden(text=CROSS_ORIGIN)
        if not await self.slots.take(self.options.slot_patience):
            limit = self.slots.limit
            return await self._refuse(
                request, f"{limit} dashboards are open already, the most this server runs "
                f"(--max-sessions {limit}): close one, then open this again.")
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            if task is not None:
                self._sessions.discard(task)
            self.slots.give_back()

    async def _refuse(self, request: web.Request, reason: str) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        # a close reason is at most 123 bytes
        await websocket.close(code=TRY_AGAIN_LATER, message=reason.encode()[:123])
        return websocket

    async def end_sessions(self, patience: float = STOP_PATIENCE) -> None:
        """Ask every tab's app to quit (textual-serve's session, cancelled, sends it "quit"
        and waits for the process), and give them ``patience`` seconds to end."""
        running = list(self._sessions)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=patience)


# -- running it ------------------------------------------------------------------------------


@dataclass
class Listening:
    """What ``run`` tells its caller once the socket is open."""

    url: str  # with the token
    port: int
    server: DashboardServer


async def run(options: ServeOptions, *, ready: Callable[[Listening], None],
              stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT or SIGTERM (or ``stop``), then end every session."""
    server = DashboardServer(options)
    runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = int(runner.addresses[0][1])
        server.bound_to(port)
        shown = "localhost" if options.host == "localhost" else options.host
        if ":" in shown:
            shown = f"[{shown}]"
        ready(Listening(f"http://{shown}:{port}/?token={options.token}", port, server))
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.end_sessions()
    finally:
        await runner.cleanup()
