"""The home folder: config, database and downloads, by platform convention.

Linux follows XDG (config in ``$XDG_CONFIG_HOME``, data and downloads in
``$XDG_DATA_HOME``); macOS uses ``~/Library/Application Support``; Windows
``%APPDATA%``.  ``PIXVERSE_TUI_HOME=DIR`` puts all of it under DIR.  Demo mode
keeps its own database and downloads in a ``demo`` folder inside the data home.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP = "pixverse-tui"
HOME_ENV = "PIXVERSE_TUI_HOME"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    downloads_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.toml"

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
                        downloads_dir=root / "downloads")


def app_paths(environ: dict[str, str] | None = None) -> AppPaths:
    env = os.environ if environ is None else environ
    override = env.get(HOME_ENV)
    if override:
        root = Path(override).expanduser()
        return AppPaths(root, root, root / "downloads")
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        root = home / "Library" / "Application Support" / APP
        return AppPaths(root, root, root / "downloads")
    if sys.platform == "win32":
        root = Path(env.get("APPDATA") or home / "AppData" / "Roaming") / APP
        return AppPaths(root, root, root / "downloads")
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / APP
    data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / APP
    return AppPaths(config, data, data / "downloads")
