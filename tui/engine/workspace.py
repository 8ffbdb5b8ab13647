"""Everything one run needs, resolved once: paths, settings, key, endpoint.

The command line and the dashboard both start here, so they agree on where
the database lives and which endpoint a task belongs to.  What it makes — a
client, a poller, a downloader — is imported when first made: ``list`` loads
none of them (nor httpx).
"""

from __future__ import annotations

from collections.abc import Callable

from storage import TRASH_DAYS, Generation, open_page_reader, open_store, store_location
from storage.records import Who
from tui.config import credentials, kept
from tui.config.paths import CONFIG_FILE, DATABASE_FILE, AppPaths, app_paths, join
from tui.engine import relocation

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path  # (``list`` reads its files by their text: no pathlib)
    from typing import Any

    from storage import PageReader, TaskStore
    from tui.config.loaded import Settings  # (Protocols: ``list`` never loads them)
    from tui.dashscope import ApiKey, DashScopeClient
    from tui.engine.following.poller import PollScheduler, PollSettings
    from tui.engine.history import trash
    from tui.engine.media.download import Downloader
    from tui.engine.submitting.feeder import Feeder, QueueSettings

class MissingKey(Exception):
    pass


class Workspace:
    """One run's paths, settings, key and endpoint.  (A plain class: ``dataclasses``
    loads ``inspect``, which would cost ``list`` more than its page.)"""

    def __init__(self, paths: AppPaths, settings: Settings, key: ApiKey | None,
                 base_url: str, demo: bool = False, time_scale: float = 1.0,
                 key_warnings: list[str] | None = None,
                 moving_warnings: list[str] | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self.key = key
        self.base_url = base_url
        self.demo = demo
        self.time_scale = time_scale  # >1 when the service's clock runs fast (the demo)
        self.key_warnings: list[str] = [] if key_warnings is None else key_warnings
        self.moving_warnings: list[str] = [] if moving_warnings is None else moving_warnings

    @property
    def warnings(self) -> list[str]:
        """Everything the user should hear about before anything runs (config, key file,
        an old file that could not be moved)."""
        return [*self.settings.problems, *self.key_warnings, *self.moving_warnings]

    @classmethod
    def load(cls, *, demo: bool = False, base_url: str | None = None,
             key: ApiKey | None = None, time_scale: float = 1.0) -> Workspace:
        paths = app_paths()
        moving = relocation.move_old_files(paths)  # an earlier version's state and cache
        config = kept.settings(join(paths.config_root, CONFIG_FILE),
                               join(paths.data_root, kept.FILE))
        if demo:
            paths = paths.demo()
        resolved_key = key if key is not None else credentials.api_key()
        url = base_url or credentials.base_url(config.get("endpoint", "base_url"))
        warnings = credentials.key_file_warnings() if key is None else []
        return cls(paths, config, resolved_key, url, demo, time_scale, warnings, moving)

    @property
    def downloads_dir(self) -> Path:
        from pathlib import Path

        folder = None if self.demo else self.settings.get("downloads", "folder")
        return Path(folder).expanduser() if folder else self.paths.downloads_dir

    @property
    def folders(self) -> trash.Folders:
        """The folders whose files the app may move or delete: downloads and trash."""
        from tui.engine.history import trash

        return trash.Folders(self.downloads_dir, self.paths.trash_dir)

    @property
    def template(self) -> str:
        from tui.engine.media.filenames import DEFAULT_TEMPLATE

        return self.settings.get("downloads", "template") or DEFAULT_TEMPLATE

    def poll_settings(self, time_scale: float | None = None) -> PollSettings:
        from tui.engine.following.poller import PollSettings

        p = self.settings.section("polling")
        return PollSettings(concurrency=p["concurrency"],
                            queries_per_second=float(p["queries_per_second"]),
                            min_interval=float(p["min_interval"]),
                            max_interval=float(p["max_interval"]),
                            adopt_foreign=bool(p["adopt_foreign"]),
                            time_scale=time_scale or self.time_scale)

    @property
    def store_location(self) -> str | Path:
        """Where the history is: the team database (``PIXVERSE_TUI_DATABASE_URL``, else
        ``[store] url``) or this home's SQLite file — always the file for the demo."""
        return self._store_at(self.paths.database)

    def _store_at(self, database: str | Path) -> str | Path:
        """``store_location``, with this home's SQLite file at ``database``."""
        return database if self.demo else store_location(self.settings.get("store", "url"),
                                                         database)

    @property
    def who(self) -> Who:
        """Who submits from here and which machine saves here: ``[team] name`` (default
        ``user@host``) and ``[team] machine`` (default the host name)."""
        here = Who.here()
        name, machine = self.settings.get("team", "name"), self.settings.get("team", "machine")
        return Who((name or here.person).strip(), (machine or here.machine).strip())

    async def open_store(self, *, tidy: bool = True) -> TaskStore:
        """The store, tidied first (``tidy_store``) — unless ``tidy`` is off: a front end
        that shows something first (``list``, the dashboard) tidies after it has."""
        store = await open_store(self.store_location, who=self.who)
        if tidy:
            try:
                await self.tidy_store(store)
            except BaseException:
                await store.close()
                raise
        return store

    def page_reader(self) -> PageReader | None:
        """A synchronous reader of a tidy store (``storage.open_page_reader``), for a front
        end that only prints a page — or None: the store offers none, must be created or
        upgraded first, or holds something ``tidy_store`` would change (a send a crash
        may have interrupted is listed UNCONFIRMED only once tidied); open the store."""
        reader = open_page_reader(  # (the file by its text: no pathlib)
            self._store_at(join(self.paths.data_root, DATABASE_FILE)), who=self.who)
        if reader is None:
            return None
        try:
            if not reader.untidy(TRASH_DAYS):  # (what tidy_store's trash.empty purges)
                return reader
        except BaseException:
            reader.close()
            raise
        reader.close()
        return None

    async def tidy_store(self, store: TaskStore) -> None:
        """Housekeeping: submissions a crash interrupted are marked unconfirmed, and what
        has been in the trash too long is deleted (rows and files) — none of it on a
        read-only store (a viewer's role: it reads what others write)."""
        from tui.engine.history import trash

        if store.read_only:
            return
        await store.intents.sweep_interrupted()
        await trash.empty(store, self.paths.trash_dir)

    @property
    def account(self) -> str | None:
        """The account's fingerprint (endpoint and key), as the store knows it."""
        from tui.engine.following.account import account_id

        return account_id(self.base_url, self.key) if self.key is not None else None

    def client(self, store: TaskStore | None = None, *,
               time_scale: float | None = None) -> DashScopeClient:
        """A client; with ``store``, every query, list and cancel takes its turn from the
        account's budget, shared by every process on that database."""
        if self.key is None:
            raise MissingKey(
                f"no API key: set {credentials.KEY_ENV} (or {credentials.KEY_FILE_ENV}, a file "
                "holding it), or try the simulator with `pixverse-tui --demo`")
        from tui.dashscope.client import DashScopeClient
        from tui.engine.following.account import SharedBudget

        client = DashScopeClient(self.key, self.base_url)
        if store is not None and self.account is not None:
            settings = self.poll_settings(time_scale)
            client.pace = SharedBudget(store.budget, self.account, settings.queries_per_second,
                                       time_scale=settings.time_scale).take
        return client

    def poller(self, store: TaskStore, client: DashScopeClient, *,
               time_scale: float | None = None, **hooks: Any) -> PollScheduler:
        """The account's poll scheduler (it polls only while it holds the account's lease)."""
        from tui.engine.following.account import poller_owner
        from tui.engine.following.poller import PollScheduler

        return PollScheduler(store, client, self.poll_settings(time_scale),
                             account=self.account, owner=poller_owner(self.who.person),
                             **hooks)

    def queue_settings(self) -> QueueSettings:
        from tui.engine.submitting.feeder import QueueSettings

        q = self.settings.section("queue")
        return QueueSettings(ahead=int(q["ahead"]), retry_failed=int(q["retry_failed"]))

    def feeder(self, store: TaskStore, client: DashScopeClient, *,
               polling: Callable[[], bool] = lambda: True,
               sent: Callable[[Generation], None] = lambda _row: None,
               time_scale: float | None = None) -> Feeder:
        """The queue's feeder (it feeds only while ``polling()``: this process polls the
        account), within ``[queue]`` and ``[budget]``."""
        from storage.clock import utc_now
        from tui.engine.submitting.feeder import Feeder
        from tui.engine.submitting.prices import BudgetState, Prices, budget_state
        from tui.engine.submitting.submit import CREATE_PACE

        scale = time_scale or self.time_scale
        prices = Prices.from_settings(self.settings.section("prices"))

        async def budget() -> BudgetState:
            return await budget_state(store, prices, self.settings.section("budget"),
                                      utc_now())

        return Feeder(store, client, self.queue_settings(), polling=polling,
                      first_poll_after=self.poll_settings(scale).first_poll,
                      pace=CREATE_PACE / scale, time_scale=scale, prices=prices,
                      budget=budget, sent=sent)

    def downloader(self, store: TaskStore, *,
                   on_wait: Callable[[Generation], None] | None = None) -> Downloader:
        from tui.engine.media.download import Downloader

        d = self.settings.section("downloads")
        return Downloader(store, self.downloads_dir, template=self.template,
                          allowed_origins=self.plain_http_origins, max_bytes=d["max_size"],
                          min_rate=d["min_speed"], stall_seconds=d["stall_seconds"],
                          on_wait=on_wait, metadata=d["metadata"], sidecar=d["sidecar"])

    @property
    def plain_http_origins(self) -> list[str]:
        """Where videos may come over plain http: only a simulator on this machine."""
        from tui.engine.media.media_url import loopback_origin

        origin = loopback_origin(self.base_url)
        return [origin] if origin else []
