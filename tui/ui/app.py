"""The dashboard app: what is app-wide, and nothing else.

It opens and closes the services (store, client, downloader), runs the
account's poller (a long-lived worker that posts what it learns to the main
screen), applies themes and the keymap, fills the command palette, and turns
worker errors into notifications.  The view — page, filter, sort, marks,
figures, row keys — belongs to ``MainScreen``.
"""

from __future__ import annotations

import contextlib
import difflib
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from storage import Generation, StoreError, TaskStore
from storage.clock import utc_now
from tui.config import settings
from tui.dashscope import DashScopeClient, DashScopeError
from tui.engine.download import Downloader
from tui.engine.poller import Health, PollScheduler
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.ui import graphics
from tui.ui.messages import PollerHealthChanged, TaskUpdated
from tui.ui.dialogs.keys import KeysScreen
from tui.ui.screens.main import MainScreen
from tui.ui.screens.welcome import WelcomeScreen
from tui.ui.state import read_state, write_state
from tui.ui.terminal_guard import ControlCharacterGuard
from tui.ui.themes import DEFAULT_THEME, load_themes
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.detail import DetailPane
from tui.ui.widgets.task_table import TaskTable

STORE_TROUBLE_EVERY = 10.0  # seconds between two toasts about the same database trouble
POLLER_RESTART = 2.0  # seconds before a poller that failed is started again


KEY_SIGNS = {"question_mark": "?", "slash": "/", "right_square_bracket": "]",
             "left_square_bracket": "[", "asterisk": "*"}


class PixverseApp(App[str | None]):
    CSS_PATH = "app.tcss"
    TITLE = "pixverse-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "show_keys", "Keys", id="keys"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+r", "reload_config", "Reload config", id="reload-config", show=False),
    ]

    def __init__(self, ws: Workspace, *, now: Callable[[], datetime] = utc_now,
                 poll: bool = True, client: DashScopeClient | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.now = now
        self.poll_enabled = poll
        self.store: TaskStore | None = None
        self.client = client
        self.poller: PollScheduler | None = None
        self.downloader: Downloader | None = None
        self.main: MainScreen | None = None
        self.graphics = graphics.detected()
        self.foreign = 0  # tasks of the key no row knows (the main screen counts them)
        self._closing = False
        self._guard = ControlCharacterGuard()
        self._store_trouble_at = -STORE_TROUBLE_EVERY
        self._state = read_state(ws.paths.state_file)
        self._startup_problems = list(ws.warnings)
        loaded = load_themes(ws.paths.themes_dir)
        self._startup_problems += loaded.problems
        for theme in loaded.themes:
            self.register_theme(theme)

    # -- what every screen sees ---------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, whoever raises it: never markup (``markup`` is ignored), never a
        control character — toasts often carry a server's words."""
        super().notify(printable(message, multiline=True), title=printable(title),
                       severity=severity, timeout=timeout, markup=False)

    def store_trouble(self, exc: StoreError) -> None:
        """The database failed under a callback: say so, now and then, and carry on."""
        now = time.monotonic()
        if self._closing or now - self._store_trouble_at < STORE_TROUBLE_EVERY:
            return
        self._store_trouble_at = now
        self.notify(str(exc), title="Database", severity="warning", timeout=8)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._guard]

    @property
    def polling(self) -> bool:
        """Whether this process polls the account (and so downloads what finishes)."""
        return self.poller is not None and self.poller.polling

    def composer_defaults(self) -> dict[str, Any]:
        values = self.ws.settings.section("composer")
        values.update(self._state.get("composer", {}))
        return values

    async def submitted(self) -> None:
        """A task was just created: whoever polls the account looks now."""
        if self.poller is not None:
            self.poller.submitted()
            await self.poller.nudge()

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """A dialog opens clear of toasts: one left from before would cover its text (the
        status bar and the title still tell what the toast said)."""
        if isinstance(screen, ModalScreen):
            self.clear_notifications()
        return super().push_screen(screen, *args, **kwargs)

    def write_terminal(self, sequence: str) -> None:
        """Send an escape sequence to the terminal (a title, a desktop notification).
        Textual has no public call for it; a headless run has no terminal."""
        driver = getattr(self, "_driver", None)
        if driver is not None and not self.is_headless:
            driver.write(sequence)

    def wake_poller(self) -> None:
        if self.poller is not None:
            self.poller.wake()

    # -- start and stop -----------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        if self.ws.key is None:
            return WelcomeScreen()
        self.main = MainScreen()  # drawn at once; it fills in when the services are open
        return self.main

    async def on_mount(self) -> None:
        self._apply_theme()
        self._apply_keymap()
        if self._startup_problems:  # one grouped notice, not a stack of toasts
            count = len(self._startup_problems)
            self.notify("\n".join(f"• {p}" for p in self._startup_problems),
                        title=f"Configuration: {count} problem{'s' if count > 1 else ''}",
                        severity="warning", timeout=20)
        if self.ws.key is None:
            return
        try:
            self.store = await self.ws.open_store()
            if self.client is None:
                self.client = self.ws.client(self.store)
        except (StoreError, DashScopeError) as exc:
            self.exit(return_code=1, message=f"pixverse-tui: {printable(str(exc))}")
            return
        self.downloader = self.ws.downloader(self.store)
        if self.main is not None:
            await self.main.services_opened()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.poll_enabled:
            self._start_poller()

    async def action_quit(self) -> None:
        self.save_state()  # while the screens still exist
        await super().action_quit()

    async def on_unmount(self) -> None:
        self._closing = True
        if self.main is not None and self.main.signals.settings.title:
            self.write_terminal("\x1b[23;0t")  # the title the terminal had before
        if self.poller is not None and self.store is not None:
            await self.poller.release()
        if self.downloader is not None:
            await self.downloader.aclose()
        if self.client is not None:
            await self.client.aclose()
        if self.store is not None:
            await self.store.close()

    def save_state(self) -> None:
        state = dict(self._state)
        state["theme"] = self.theme
        state["config_theme"] = self.ws.settings.get("ui", "theme")
        if self.main is not None and self.main.is_attached:
            with contextlib.suppress(Exception):  # the screen may be going while quitting
                state["composer"] = self.main.query_one(Composer).settings()
        try:
            write_state(self.ws.paths.state_file, state)
            self._state = state
        except OSError as exc:
            self.notify(f"Could not save settings: {exc}", severity="warning")

    # -- the poller ----------------------------------------------------------------

    def _start_poller(self) -> None:
        if self.store is None or self.client is None or self._closing:
            return
        self.poller = self.ws.poller(self.store, self.client, on_update=self._polled,
                                     on_health=self._poller_health)
        self.run_worker(self.poller.run(), name="poller", group="poller", exclusive=True,
                        exit_on_error=False)

    def _to_main(self, message: Any) -> None:
        if self.main is not None:
            self.main.post_message(message)

    def _poller_health(self, health: Health, detail: str) -> None:
        self._to_main(PollerHealthChanged(health.value, detail))

    def _polled(self, row: Generation, changed: bool) -> None:
        self._to_main(TaskUpdated(row.id, finished=changed and row.status == "SUCCEEDED"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The worker-error policy: a toast, and the poller started again."""
        worker = event.worker
        if event.state is not WorkerState.ERROR or self._closing:
            return
        self.notify(f"{worker.name or worker.group} failed: {worker.error}",
                    title="Background work", severity="error", timeout=10)
        if worker.group == "poller":
            self.set_timer(POLLER_RESTART, self._start_poller)

    # -- themes and keys -----------------------------------------------------------

    def _apply_theme(self) -> None:
        """The remembered theme — unless ``[ui] theme`` in config.toml changed since it
        was remembered: then the config's wins (it is the newer wish)."""
        configured = self.ws.settings.get("ui", "theme")
        remembered = self._state.get("theme")
        if configured and configured != self._state.get("config_theme"):
            wanted = configured
        else:
            wanted = remembered or configured or DEFAULT_THEME
        if wanted not in self.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
            close = difflib.get_close_matches(wanted, list(self.available_themes), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            self._startup_problems.append(f"Theme {wanted!r} is not installed{hint}; using "
                                          f"{fallback}.")
            wanted = fallback
        self.theme = wanted

    def _theme_changed(self, _theme: object) -> None:
        self.save_state()
        if self.main is not None and self.main.is_attached:
            self.main.restyle()

    def binding_ids(self) -> dict[str, Binding]:
        every = [*self.BINDINGS, *MainScreen.BINDINGS, *Composer.BINDINGS, *TaskTable.BINDINGS,
                 *DetailPane.BINDINGS]
        return {b.id: b for b in every if isinstance(b, Binding) and b.id}

    def _apply_keymap(self) -> None:
        wanted = self.ws.settings.section("keys")
        known = self.binding_ids()
        keymap = {}
        for binding_id, keys in wanted.items():
            if binding_id not in known:
                close = difflib.get_close_matches(binding_id, list(known), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self._startup_problems.append(
                    f"[keys] {binding_id} is not a binding id{hint}; press ? to see them.")
            elif not isinstance(keys, str) or not keys.strip():
                self._startup_problems.append(f"[keys] {binding_id} must be a key name such as "
                                              '"ctrl+s" or "f5,ctrl+s".')
            else:
                keymap[binding_id] = keys
        if keymap:
            self.set_keymap(keymap)

    def action_reload_config(self) -> None:
        """Read config.toml again: keys, theme, notifications, polling — no restart."""
        self.ws.settings = settings.load(self.ws.paths.config_file)
        self._startup_problems = list(self.ws.warnings)
        self._apply_keymap()
        self._apply_theme()
        if self.main is not None:
            self.main.settings_changed()
        if self.poller is not None:
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

    def keys_for(self, binding_id: str) -> str:
        """The keys bound to an id now (the keymap's, else the default), for display."""
        binding = self.binding_ids().get(binding_id)
        keys = self._keymap.get(binding_id, binding.key if binding else "")
        return ",".join(KEY_SIGNS.get(key.strip(), key.strip()) for key in keys.split(","))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        if main is None:
            return
        for binding in self.binding_ids().values():
            action = binding.action.removeprefix("screen.").removeprefix("app.")
            target = main if hasattr(main, f"action_{action}") else self
            if not hasattr(target, f"action_{action}") or action in ("quit", "show_keys"):
                continue
            yield SystemCommand(binding.description,
                                f"{binding.description} ({self.keys_for(binding.id or '')})",
                                getattr(target, f"action_{action}"))
        yield SystemCommand("Keys", "Show every key binding", self.action_show_keys)

    def action_show_keys(self) -> None:
        rows = [(self.keys_for(binding_id), binding.description, binding_id)
                for binding_id, binding in self.binding_ids().items()]
        rows.append(("ctrl+p", "Command palette (themes, every action)", "—"))
        rows.append(("tab / shift+tab", "Move focus", "—"))
        rows.append(("escape", "Clear the marks (table), the filter (filter box)", "—"))
        rows.append(("arrows", "Move in the table", "—"))
        self.push_screen(KeysScreen(rows))
