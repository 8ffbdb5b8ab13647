"""Everything one run needs, resolved once: paths, settings, key, endpoint.

The command line and the dashboard both start here, so they agree on where
the database lives and which endpoint a task belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage import TaskStore
from tui.config import credentials, settings
from tui.config.paths import AppPaths, app_paths
from tui.dashscope import ApiKey, DashScopeClient
from tui.engine.download import Downloader
from tui.engine.filenames import DEFAULT_TEMPLATE
from tui.engine.poller import PollSettings


class MissingKey(Exception):
    pass


@dataclass
class Workspace:
    paths: AppPaths
    settings: settings.Settings
    key: ApiKey | None
    base_url: str
    demo: bool = False
    time_scale: float = 1.0  # >1 when the service's clock runs fast (the demo simulator)

    @classmethod
    def load(cls, *, demo: bool = False, base_url: str | None = None,
             key: ApiKey | None = None, time_scale: float = 1.0) -> Workspace:
        paths = app_paths()
        config = settings.load(paths.config_file)
        if demo:
            paths = paths.demo()
        resolved_key = key if key is not None else credentials.api_key()
        url = base_url or credentials.base_url(config.get("endpoint", "base_url"))
        return cls(paths, config, resolved_key, url, demo, time_scale)

    @property
    def downloads_dir(self) -> Path:
        folder = None if self.demo else self.settings.get("downloads", "folder")
        return Path(folder).expanduser() if folder else self.paths.downloads_dir

    @property
    def template(self) -> str:
        return self.settings.get("downloads", "template") or DEFAULT_TEMPLATE

    def poll_settings(self, time_scale: float | None = None) -> PollSettings:
        p = self.settings.section("polling")
        return PollSettings(concurrency=p["concurrency"],
                            queries_per_second=float(p["queries_per_second"]),
                            min_interval=float(p["min_interval"]),
                            max_interval=float(p["max_interval"]),
                            time_scale=time_scale or self.time_scale)

    async def open_store(self) -> TaskStore:
        store = await TaskStore.open(self.paths.database)
        try:
            await store.sweep_interrupted_sends()
            await store.purge_trash()
        except BaseException:
            await store.close()
            raise
        return store

    def client(self) -> DashScopeClient:
        if self.key is None:
            raise MissingKey(
                f"no API key: set {credentials.KEY_ENV} (or {credentials.KEY_FILE_ENV}, a file "
                "holding it), or try the simulator with `pixverse-tui --demo`")
        return DashScopeClient(self.key, self.base_url)

    def downloader(self, store: TaskStore) -> Downloader:
        return Downloader(store, self.downloads_dir, template=self.template)
