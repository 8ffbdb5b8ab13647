"""The home folders: config, data (database, downloads), state and cache, by platform
convention.

Config and data follow XDG on Linux (``$XDG_CONFIG_HOME``, ``$XDG_DATA_HOME``),
``~/Library/Application Support`` on macOS and ``%APPDATA%`` on Windows.  What the
app remembers by itself (``state.toml``) is in the platform's state folder and what
it can make again (decoded preview frames) in its cache folder, as platformdirs
names them (``$XDG_STATE_HOME``, ``$XDG_CACHE_HOME``; ``~/Library/Caches`` on macOS).
``PIXVERSE_TUI_HOME=DIR`` puts all of it under DIR (state beside the database, the
cache in ``DIR/cache``).  Demo mode keeps its own database, downloads, state and
cache in a ``demo`` folder inside each.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

APP = "pixverse-tui"
HOME_ENV = "PIXVERSE_TUI_HOME"


class AppPaths:
    """Where each kind of file goes.  (A plain class: ``dataclasses`` loads ``inspect``,
    which would cost ``list`` more than its page.)

    The state and cache folders are platformdirs', asked for when first used: loading
    platformdirs (and ``tempfile``, ``random``, ``hashlib`` with it) cost ``list`` more
    than its page, and a run needs neither folder unless it remembers something or an
    earlier version's files are to be moved (``tui.engine.relocation``)."""

    __slots__ = ("_cache_dir", "_state_dir", "config_dir", "data_dir", "downloads_dir")

    def __init__(self, config_dir: Path, data_dir: Path, downloads_dir: Path,
                 state_dir: Path | Callable[[], Path], cache_dir: Path | Callable[[], Path]
                 ) -> None:
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.downloads_dir = downloads_dir
        self._state_dir = state_dir  # the folder, or what finds it when first asked
        self._cache_dir = cache_dir

    def __repr__(self) -> str:
        return (f"AppPaths(config_dir={self.config_dir!r}, data_dir={self.data_dir!r}, "
                f"downloads_dir={self.downloads_dir!r}, state_dir={self.state_dir!r}, "
                f"cache_dir={self.cache_dir!r})")

    @property
    def state_dir(self) -> Path:
        if callable(self._state_dir):
            self._state_dir = self._state_dir()
        return self._state_dir

    @property
    def cache_dir(self) -> Path:
        if callable(self._cache_dir):
            self._cache_dir = self._cache_dir()
        return self._cache_dir

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def state_file(self) -> Path:
        """The theme and composer settings the app remembers (never config.toml)."""
        return self.state_dir / "state.toml"

    @property
    def previews_dir(self) -> Path:
        """Decoded preview frames, by the video's SHA-256: a cache, safe to delete."""
        return self.cache_dir / "previews"

    @property
    def database(self) -> Path:
        return self.data_dir / "tasks.db"

    @property
    def trash_dir(self) -> Path:
        """Videos set aside with a forgotten generation, until the trash is emptied."""
        return self.data_dir / "trash"

    @property
    def themes_dir(self) -> Path:
        return self.config_dir / "themes"

    def demo(self) -> AppPaths:
        root = self.data_dir / "demo"
        return AppPaths(config_dir=self.config_dir, data_dir=root,
                        downloads_dir=root / "downloads",
                        state_dir=lambda: self.state_dir / "demo",
                        cache_dir=lambda: self.cache_dir / "demo")


def app_paths(environ: dict[str, str] | None = None) -> AppPaths:
    """The folders for this user.  ``environ`` decides ``PIXVERSE_TUI_HOME`` and the
    config and data folders; the state and cache folders are platformdirs', which reads
    the process's environment (when they are first asked for)."""
    env = os.environ if environ is None else environ
    override = env.get(HOME_ENV)
    if override:
        root = Path(override).expanduser()
        return AppPaths(root, root, root / "downloads", root, root / "cache")
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        root = home / "Library" / "Application Support" / APP
        return AppPaths(root, root, root / "downloads", _state_dir, _cache_dir)
    if sys.platform == "win32":
        root = Path(env.get("APPDATA") or home / "AppData" / "Roaming") / APP
        return AppPaths(root, root, root / "downloads", _state_dir, _cache_dir)
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / APP
    data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / APP
    return AppPaths(config, data, data / "downloads", _state_dir, _cache_dir)


def _state_dir() -> Path:
    import platformdirs  # (here: see AppPaths)

    return platformdirs.user_state_path(APP, appauthor=False)


def _cache_dir() -> Path:
    import platformdirs

    return platformdirs.user_cache_path(APP, appauthor=False)
