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

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path

APP = "pixverse-tui"
HOME_ENV = "PIXVERSE_TUI_HOME"
CONFIG_FILE = "config.toml"
DATABASE_FILE = "tasks.db"
STATE_FILE = "state.toml"


class AppPaths:
    """Where each kind of file goes.  (A plain class: ``dataclasses`` loads ``inspect``,
    which would cost ``list`` more than its page.)

    Each folder is kept as text (``config_root`` …) and given as a ``Path``
    (``config_dir`` …): ``list`` reads its config file and its database by their text,
    without ``pathlib`` — on Python 3.11 it loads ``urllib.parse`` and ``ipaddress``,
    which cost ``list`` more than its page.  The state and cache folders are
    platformdirs', asked for when first used: loading platformdirs (and ``tempfile``,
    ``random``, ``hashlib`` with it) cost more still, and a run needs neither folder
    unless it remembers something or an earlier version's files are to be moved
    (``tui.engine.relocation``)."""

    __slots__ = ("_cache_root", "_state_root", "config_root", "data_root", "downloads_root")

    def __init__(self, config_root: str, data_root: str, downloads_root: str,
                 state_root: str | Callable[[], str], cache_root: str | Callable[[], str]
                 ) -> None:
        self.config_root = config_root
        self.data_root = data_root
        self.downloads_root = downloads_root
        self._state_root = state_root  # the folder, or what finds it when first asked
        self._cache_root = cache_root

    def __repr__(self) -> str:
        return (f"AppPaths(config={self.config_root!r}, data={self.data_root!r}, "
                f"downloads={self.downloads_root!r}, state={self.state_root!r}, "
                f"cache={self.cache_root!r})")

    @property
    def state_root(self) -> str:
        if callable(self._state_root):
            self._state_root = self._state_root()
        return self._state_root

    @property
    def cache_root(self) -> str:
        if callable(self._cache_root):
            self._cache_root = self._cache_root()
        return self._cache_root

    @property
    def config_dir(self) -> Path:
        return _path(self.config_root)

    @property
    def data_dir(self) -> Path:
        return _path(self.data_root)

    @property
    def downloads_dir(self) -> Path:
        return _path(self.downloads_root)

    @property
    def state_dir(self) -> Path:
        return _path(self.state_root)

    @property
    def cache_dir(self) -> Path:
        return _path(self.cache_root)

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def state_file(self) -> Path:
        """The theme and composer settings the app remembers (never config.toml)."""
        return self.state_dir / STATE_FILE

    @property
    def previews_dir(self) -> Path:
        """Decoded preview frames, by the video's SHA-256: a cache, safe to delete."""
        return self.cache_dir / "previews"

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def trash_dir(self) -> Path:
        """Videos set aside with a forgotten generation, until the trash is emptied."""
        return self.data_dir / "trash"

    @property
    def themes_dir(self) -> Path:
        return self.config_dir / "themes"

    def demo(self) -> AppPaths:
        root = join(self.data_root, "demo")
        return AppPaths(self.config_root, root, join(root, "downloads"),
                        lambda: join(self.state_root, "demo"),
                        lambda: join(self.cache_root, "demo"))


def _path(text: str) -> Path:
    from pathlib import Path  # (here: see AppPaths)

    return Path(text)


def join(*parts: str) -> str:
    """The path of ``parts`` joined, as ``str(Path(*parts))`` writes it — repeated
    separators and ``.`` parts dropped, ``..`` kept — so that every message names a file
    alike, however ``PIXVERSE_TUI_HOME`` was written; without pathlib on POSIX."""
    if os.name != "posix":
        return str(_path(os.path.join(*parts)))
    text = os.path.join(*parts)
    root = "/" if text.startswith("/") else ""
    if text.startswith("//") and not text.startswith("///"):
        root = "//"  # (POSIX leaves the meaning of exactly two to the system: kept)
    return root + "/".join(p for p in text.split("/") if p not in ("", ".")) or "."


def app_paths(environ: dict[str, str] | None = None) -> AppPaths:
    """The folders for this user.  ``environ`` decides ``PIXVERSE_TUI_HOME`` and the
    config and data folders; the state and cache folders are platformdirs', which reads
    the process's environment (when they are first asked for)."""
    env = os.environ if environ is None else environ
    override = env.get(HOME_ENV)
    if override:
        root = join(os.path.expanduser(override))
        return AppPaths(root, root, join(root, "downloads"), root, join(root, "cache"))
    home = join(env.get("HOME") or os.path.expanduser("~"))
    if sys.platform == "darwin":
        root = join(home, "Library", "Application Support", APP)
        return AppPaths(root, root, join(root, "downloads"), _state_root, _cache_root)
    if sys.platform == "win32":
        root = join(env.get("APPDATA") or join(home, "AppData", "Roaming"), APP)
        return AppPaths(root, root, join(root, "downloads"), _state_root, _cache_root)
    config = join(env.get("XDG_CONFIG_HOME") or join(home, ".config"), APP)
    data = join(env.get("XDG_DATA_HOME") or join(home, ".local", "share"), APP)
    return AppPaths(config, data, join(data, "downloads"), _state_root, _cache_root)


def _state_root() -> str:
    import platformdirs  # (here: see AppPaths)

    return join(platformdirs.user_state_dir(APP, appauthor=False))


def _cache_root() -> str:
    import platformdirs

    return join(platformdirs.user_cache_dir(APP, appauthor=False))
