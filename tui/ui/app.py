"""The dashboard app: what is app-wide, and nothing else.

It opens and closes the services (store, client, downloader — handed to the
screens in one ``Services`` object), runs the account's poller (a long-lived
worker that writes what it learns to the store, whose change feed the screen
listens to; the App reads the poller's health and posts it), applies themes and the
keymap, fills the keys screen and the command palette from the action registry,
and turns worker errors into notifications.  The view — page, filter, sort,
marks, figures, row keys — belongs to ``MainScreen``, which tells the App what it
needs to know in messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.dom import DOMNode
from textual.driver import Driver
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from storage import StoreError, TaskStore
from storage.clock import utc_now
from storage.redact import scrub
from tui.config import settings
from tui.dashscope.errors import DashScopeError
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.stopping import on_stop_signals
from tui.ui import actions, graphics, heap, keymap
from tui.ui.actions import ANSWERING, CONFIGURED_READ_ONLY, STARTED_READ_ONLY, Where
from tui.ui.bindings import bindings, textual_action
from tui.ui.cursor_rest import CursorRest
from tui.ui.dialogs.keys import KeysScreen
from tui.ui.messages import (
    MOUNTING,
    ComposerUsed,
    ConfigReloaded,
    HistoryShown,
    PollerHealthChanged,
    ServicesOpened,
    StoreFailed,
    WorkFailed,
    report_failure,
)
from tui.ui.screens.main import MainScreen
from tui.ui.screens.welcome import WelcomeScreen
from tui.ui.services import Services
from tui.ui.state import read_state, write_state
from tui.ui.terminal import Terminal, telling
from tui.ui.terminal_guard import ControlCharacterGuard
from tui.ui.themes import DEFAULT_THEME, load_themes, not_installed

if TYPE_CHECKING:  # made after the first paint (httpx with the client): see on_history_shown
    from tui.dashscope import DashScopeClient
    from tui.engine.following.poller import HealthFeed, PollScheduler
    from tui.engine.media.download import Downloader

STORE_TROUBLE_EVERY = 10.0  # seconds between two toasts about the same database trouble
POLLER_RESTART = 2.0  # seconds before a poller that failed is started again
MOUNTING_GRACE = 2.0  # seconds quitting waits for widgets still being mounted
HOUSEKEEPING_GRACE = 10.0  # seconds an ending dashboard waits for the store's housekeeping
TITLE_PUSH, TITLE_POP = "\x1b[22;0t", "\x1b[23;0t"  # keep the terminal's title, give it back


class PixverseApp(App[str | None]):
    CSS_PATH = "app.tcss"
    TITLE = "pixverse-tui"
    ENABLE_COMMAND_PALETTE = True
    PLACE = Where.ANYWHERE
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, ws: Workspace, *, now: Callable[[], datetime] = utc_now,
                 poll: bool = True, client: DashScopeClient | None = None,
                 read_only: bool = False, blink: bool = True) -> None:
        self.terminal = Terminal()  # before Textual asks for the driver class
        super().__init__()
        self.ws = ws
        self.now = now
        self.poll_enabled = poll
        configured = bool(ws.settings.get("ui", "read_only"))  # [ui] read_only = true
        self.services = Services(ws, now, graphics.detected(),
                                 write_terminal=self.terminal.write, bell=self.bell,
                                 read_only=read_only or configured,
                                 read_only_because=STARTED_READ_ONLY if read_only
                                 else CONFIGURED_READ_ONLY)
        if client is not None:
            self.services.client = client
        self.main: MainScreen | None = None
        self._ending = False
        self._shown = False  # the first page was painted (then the rest starts)
        self._housekeeping = asyncio.Event()  # clear while the store is being tidied
        self._housekeeping.set()
        # A text cursor stops blinking when idle; ``blink=False`` (snapshots) never starts it.
        self._cursor_rest = CursorRest(self, enabled=blink)
        self._title_kept = False
        self._guard = ControlCharacterGuard()
        self._store_trouble_at = -STORE_TROUBLE_EVERY
        self._state = read_state(ws.paths.state_file)
        if isinstance(self._state.get("composer"), dict):
            self.services.remembered["composer"] = self._state["composer"]
        self._read_keys()  # now: the screens show the keys before the App has mounted
        self._startup_problems = list(ws.warnings)
        self._forget_stop_signals: Callable[[], None] = lambda: None
        loaded = load_themes(ws.paths.themes_dir)
        self._startup_problems += loaded.problems
        for theme in loaded.themes:
            self.register_theme(theme)

    def get_driver_class(self) -> type[Driver]:
        return telling(super().get_driver_class(), self.terminal)

    @property
    def graphics(self) -> str | None:
        """The terminal's graphics protocol (set before the app runs to pretend one)."""
        return self.services.graphics

    @graphics.setter
    def graphics(self, protocol: str | None) -> None:
        self.services.graphics = protocol

    @property
    def store(self) -> TaskStore | None:
        return self.services.store

    @property
    def client(self) -> DashScopeClient | None:
        return self.services.client

    @property
    def poller(self) -> PollScheduler | None:
        return self.services.poller

    @property
    def downloader(self) -> Downloader | None:
        return self.services.downloader

    # -- what every screen sees ---------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, whoever raises it: never markup (``markup`` is ignored), never a
        control character — toasts often carry a server's words — and never a key."""
        super().notify(printable(scrub(message), multiline=True), title=printable(title),
                       severity=severity, timeout=timeout, markup=False)

    def store_trouble(self, exc: StoreError) -> None:
        """The database failed under a callback: say so, now and then, and carry on."""
        now = time.monotonic()
        if self._ending or now - self._store_trouble_at < STORE_TROUBLE_EVERY:
            return
        self._store_trouble_at = now
        self.notify(str(exc), title="Database", severity="warning", timeout=8)

    def on_store_failed(self, message: StoreFailed) -> None:
        self.store_trouble(message.error)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._guard]

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """A dialog opens clear of toasts: one left from before would cover its text (the
        status bar and the title still tell what the toast said)."""
        if isinstance(screen, ModalScreen):
            self.clear_notifications()
        return super().push_screen(screen, *args, **kwargs)

    def write_terminal(self, sequence: str) -> None:
        """Send an escape sequence to the terminal (a title, a desktop notification)."""
        self.terminal.write(sequence)

    # -- start and stop -----------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        if self.ws.key is None:
            return WelcomeScreen()
        self.main = MainScreen(self.services)  # drawn at once; it fills in when it can
        return self.main

    async def on_event(self, event: events.Event) -> None:
        """A key or a click (from the terminal): the text cursor blinks again for a while
        (``CursorRest``) — after the event is handled, when the focus is where it went."""
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.call_later(self._cursor_rest.stir)
        await super().on_event(event)

    def on_load(self) -> None:
        self._forget_stop_signals = on_stop_signals(asyncio.get_running_loop(),
                                                    self._stopped_by_signal)
        # Before the screen is styled: a theme set after it restyles every node (about a
        # tenth of a second more before the first paint).
        self._apply_theme(starting=True)

    def _stopped_by_signal(self, signum: int) -> None:
        """SIGTERM, or SIGHUP (the SSH connection dropped): quit as ctrl+q does — the
        terminal restored, the poller lease given back, downloads put back to resume."""
        self.save_state()
        self._end(128 + signum)

    def _end(self, return_code: int = 0) -> None:
        """Exit — once the widgets still being mounted are (``MOUNTING``, at most
        ``MOUNTING_GRACE``): a Select torn down in the middle of its mounting fails."""
        mounting = [w for w in self.workers if w.group == MOUNTING and not w.is_finished]
        if not mounting:
            self.exit(return_code=return_code)
            return

        async def when_mounted() -> None:
            with contextlib.suppress(TimeoutError, WorkerFailed, WorkerCancelled):
                async with asyncio.timeout(MOUNTING_GRACE):
                    for worker in mounting:
                        await worker.wait()
            self.exit(return_code=return_code)

        self.run_worker(when_mounted(), name="quitting", group="quitting", exit_on_error=False)

    async def on_mount(self) -> None:
        self.services.in_browser = self.is_web
        self.set_timer(heap.STARTUP_GRACE, heap.resume, name="collections")  # whatever comes
        self.call_after_refresh(self._cursor_rest.stir)  # the first field's blink rests too
        self._apply_keymap()
        if self._startup_problems:  # one grouped notice, not a stack of toasts
            count = len(self._startup_problems)
            self.notify("\n".join(f"• {p}" for p in self._startup_problems),
                        title=f"Configuration: {count} problem{'s' if count > 1 else ''}",
                        severity="warning", timeout=20)
        if self.ws.key is None:
            return
        if self.ws.settings.get("notify", "title"):
            self.write_terminal(TITLE_PUSH)
            self._title_kept = True
        services = self.services
        try:  # the store only: the first page is painted before anything else is done
            services.store = store = await self.ws.open_store(tidy=False)
        except StoreError as exc:
            self.exit(return_code=1, message=f"pixverse-tui: {printable(str(exc))}")
            return
        services.connect = lambda: self.ws.client(store)
        services.equip = lambda: self.ws.downloader(store)
        if store.read_only:  # a viewer's database role: a viewer's dashboard
            from tui.engine.operations import read_only_reason

            services.read_only = True
            services.read_only_because = read_only_reason(store)  # the real reason
        if self.main is not None:
            self.main.post_message(ServicesOpened())
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def on_history_shown(self, _: HistoryShown) -> None:
        """The first page is on screen: now the store's housekeeping, in a worker — the
        App's own messages are not held up by a slow database meanwhile."""
        if self._shown or self.services.store is None or self._ending:
            return
        self._shown = True
        self._housekeeping.clear()
        self.run_worker(self._housekeep(), name="housekeeping", group="housekeeping",
                        exclusive=True, exit_on_error=False)

    async def _housekeep(self) -> None:
        """The store's housekeeping (interrupted sends, old trash), then the client
        (httpx is imported here) and the poller; then what start-up made is left out of
        later garbage collections (``heap``)."""
        services = self.services
        assert services.store is not None
        try:
            await self.ws.tidy_store(services.store)
        except StoreError as exc:
            self.store_trouble(exc)
        finally:
            self._housekeeping.set()
        if self._ending:  # stopped meanwhile: nothing more starts
            return
        self._start_following()
        heap.freeze_startup()

    def _start_following(self) -> None:
        """The client, and the poller when this process polls."""
        services = self.services
        assert services.store is not None
        try:
            if services.client is None:
                return
        except DashScopeError as exc:  # the endpoint cannot be used: say so, as at start
            self.exit(return_code=1, message=f"pixverse-tui: {printable(str(exc))}")
            return
        if self.poll_enabled and not services.store.read_only:  # it could write no answer
            self._start_poller()

    async def action_quit(self) -> None:
        self.save_state()
        self._end()

    async def on_unmount(self) -> None:
        self._ending = True
        services = self.services
        # Stopped in the middle of the housekeeping (a stop signal, a closed terminal):
        # the store is closed after it, never under it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._housekeeping.wait(), HOUSEKEEPING_GRACE)
        if self._title_kept:
            self.write_terminal(TITLE_POP)
        if services.poller is not None and services.store is not None:
            await services.poller.release()
        if services.made_downloader is not None:  # (not made just to be closed)
            await services.made_downloader.aclose()
        if services.made_client is not None:
            await services.made_client.aclose()
        if services.store is not None:
            await services.store.close()
        self._forget_stop_signals()
        heap.thaw()

    def on_composer_used(self, _: ComposerUsed) -> None:
        self.save_state()

    def save_state(self) -> None:
        state = dict(self._state)
        state["theme"] = self.theme
        state["config_theme"] = self.ws.settings.get("ui", "theme")
        if "composer" in self.services.remembered:
            state["composer"] = self.services.remembered["composer"]
        try:
            write_state(self.ws.paths.state_file, state)
            self._state = state
        except OSError as exc:
            self.notify(f"Could not save settings: {exc}", severity="warning")

    # -- the poller ----------------------------------------------------------------

    def _start_poller(self) -> None:
        services = self.services
        if services.store is None or services.client is None or self._ending:
            return
        poller = services.poller = self.ws.poller(services.store, services.client)
        self.run_worker(self._tell_health(services.poller.health_changes()), name="health",
                        group="poller-health", exclusive=True, exit_on_error=False)
        self.run_worker(services.poller.run(), name="poller", group="poller", exclusive=True,
                        exit_on_error=False)
        # Whoever polls the account feeds the queue: this dashboard, while it holds the lease.
        from tui.engine.submitting.feeder import looked_at_soon

        services.feeder = self.ws.feeder(services.store, services.client,
                                         polling=lambda: poller.polling,
                                         sent=looked_at_soon(poller))
        self.run_worker(services.feeder.run(), name="queue feeder", group="poller",
                        exit_on_error=False)

    def _to_main(self, message: Any) -> None:
        if self.main is not None:
            self.main.post_message(message)

    async def _tell_health(self, feed: HealthFeed) -> None:
        """The poller's health, as the status bar shows it (the poller calls no one; what
        it writes reaches the screen by the store's change feed)."""
        async for health, detail in feed:
            self._to_main(PollerHealthChanged(health.value, scrub(detail)))  # shown as it is

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The worker-error policy: a toast (as for every owner's workers), and the
        poller started again."""
        report_failure(self, event)
        if (event.state is WorkerState.ERROR and event.worker.group == "poller"
                and not self._ending):
            self.set_timer(POLLER_RESTART, self._start_poller)

    def on_work_failed(self, message: WorkFailed) -> None:
        """A worker failed — the App's, a screen's or a widget's (``report_failure``)."""
        if not self._ending:
            self.notify(f"{message.what} failed: {message.error}", title="Background work",
                        severity="error", timeout=10)

    # -- themes and keys -----------------------------------------------------------

    def _apply_theme(self, *, starting: bool = False) -> None:
        """The remembered theme — unless ``[ui] theme`` in config.toml changed since it
        was remembered: then the config's wins (it is the newer wish).  ``starting``:
        before anything is styled (``_start_with``)."""
        configured = self.ws.settings.get("ui", "theme")
        remembered = self._state.get("theme")
        if configured and configured != self._state.get("config_theme"):
            wanted = configured
        else:
            wanted = remembered or configured or DEFAULT_THEME
        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        problem = not_installed(wanted, list(self.available_themes), fallback)
        if problem is not None:
            self._startup_problems.append(problem)
            wanted = fallback
        if starting:
            self._start_with(wanted)
        else:
            self.theme = wanted

    def _start_with(self, name: str) -> None:
        """The theme before the first stylesheet is parsed, set without the theme's watcher:
        the watcher schedules a refresh that parses every stylesheet again from scratch
        (Textual's reparse keeps no cache) — a second parse of app.tcss and the widgets'
        CSS before the first paint.  What the watcher would change is set here: the CSS
        variables and the theme's classes.  A theme of the other brightness also changes
        the ANSI colours' mapping: that one goes the watcher's way."""
        theme = self.get_theme(name)
        if theme is None or theme.dark != self.current_theme.dark:
            self.theme = name
            return
        self.set_reactive(App.theme, name)
        self.stylesheet.set_variables(self.get_css_variables())
        self.update_classes({f"-theme-{name}": True}, update=False)

    def _theme_changed(self, _theme: object) -> None:
        self.save_state()

    def _read_keys(self) -> None:
        self.services.keymap = keymap.from_settings(self.ws.settings)

    def _apply_keymap(self) -> None:
        """``[keys]``: every id of the action registry, on every screen and dialog."""
        self._startup_problems += self.services.keymap.problems
        self.set_keymap(self.services.keymap.chosen)

    def action_reload_config(self) -> None:
        """Read config.toml again: keys, theme, notifications, polling — no restart."""
        self.ws.settings = settings.load(self.ws.paths.config_file)
        self._startup_problems = list(self.ws.warnings)
        self._read_keys()
        self._apply_keymap()
        self._apply_theme()
        self._to_main(ConfigReloaded())
        if self.services.poller is not None:
            self.workers.cancel_group(self, "poller")
            self._start_poller()
        problems = self._startup_problems
        if problems:
            self.notify("\n".join(f"• {p}" for p in problems),
                        title=f"Config reloaded: {len(problems)} problem"
                              f"{'s' if len(problems) > 1 else ''}", severity="warning",
                        timeout=20)
        else:
            self.notify("Config reloaded.", timeout=3)

    def keys_for(self, action_id: str) -> str:
        """The keys an action answers to now, for display."""
        return self.services.keymap.keys(action_id)

    def _places(self, screen: Screen[Any]) -> dict[Where, DOMNode]:
        """The places of the registry present on a screen, each with the node that stands
        for it (the App, the screen, its widgets), in the order bindings are listed."""
        places: dict[Where, DOMNode] = {Where.ANYWHERE: self}
        for node in (screen, *screen.query("*")):
            place = getattr(node, "PLACE", None)
            if isinstance(place, Where):
                places.setdefault(place, node)
        return places

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for place, node in self._places(screen).items():
            for action in actions.at(place):
                if action.palette and self.services.refused(action.run) is None:
                    yield SystemCommand(action.label,
                                        f"{action.label} ({self.keys_for(action.id)})",
                                        partial(self.run_action, textual_action(action, place),
                                                node))
        yield SystemCommand("Keys", "Show every key binding", self.action_show_keys)

    def action_show_keys(self) -> None:
        """The keys of the screen on top — what each does, and the id that rebinds it."""
        screen = self.screen
        places = self._places(screen)
        shown = {action.id: action for place in places for action in actions.at(place)
                 if (place is not Where.ANYWHERE or action.priority or not screen.is_modal)
                 and self.services.refused(action.run) is None}  # read-only: a viewer's
        rows = [(self.keys_for(action.id), action.label, action.id) for action in
                shown.values()]  # a modal screen hides the App's other keys
        rows.append(("ctrl+p", "Command palette (themes, every action)", "—"))
        rows.append(("tab / shift+tab", "Move focus", "—"))
        if Where.MAIN in places:
            rows.append(("escape", "Clear the marks (table), the filter (filter box)", "—"))
            rows.append(("arrows", "Move in the table", "—"))
        if any(place in ANSWERING for place in places):
            rows.append(("a letter", "The answer that starts with it", "—"))
        self.push_screen(KeysScreen(rows))
