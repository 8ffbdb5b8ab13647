"""Theme files (TOML) → Textual themes: the bundled ones and the user's own."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rich.style import Style
from textual.color import Color, ColorParseError
from textual.theme import Theme


def _bundled() -> Traversable:
    """``themes/`` at the top of the source tree; installed as the ``tui.themes`` data."""
    source = Path(__file__).resolve().parents[2] / "themes"
    if source.is_dir():
        return source
    try:
        return resources.files("tui.themes")
    except ModuleNotFoundError:
        return source


BUNDLED = _bundled()
DEFAULT_THEME = "pixverse-dark"
_FIELDS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
           "boost", "success", "warning", "error", "dark", "ansi", "luminosity_spread",
           "text_alpha")
STATUS_FALLBACK = {"PENDING": "warning", "RUNNING": "primary", "SUCCEEDED": "success",
                   "FAILED": "error", "REJECTED": "error", "UNCONFIRMED": "accent",
                   "SUBMITTING": "primary"}


@dataclass(frozen=True)
class LoadedThemes:
    themes: list[Theme]
    problems: list[str]


def theme_from_file(path: Traversable) -> Theme:
    """Parse one theme file; raise ``ValueError`` naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError,
            ValueError) as exc:
        raise ValueError(f"theme {path} cannot be read: {exc}") from None
    name = data.get("name") or Path(path.name).stem
    if "primary" not in data:
        raise ValueError(f"theme {path} has no primary colour")
    values = {k: data[k] for k in _FIELDS if k in data}
    variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
    for key, value in [*((k, v) for k, v in values.items() if isinstance(v, str)),
                       *variables.items()]:
        try:
            Color.parse(value)
        except ColorParseError:
            raise ValueError(f"theme {path}: {key} = {value!r} is not a colour") from None
    return Theme(name=str(name), variables=variables, **values)


def load_themes(user_dir: Path | None) -> LoadedThemes:
    themes, problems = [], []
    folders: list[Traversable] = [BUNDLED]
    if user_dir is not None and user_dir.is_dir():
        folders.append(user_dir)
    for folder in folders:
        for path in sorted((p for p in folder.iterdir() if p.name.endswith(".toml")),
                           key=lambda p: p.name):
            try:
                themes.append(theme_from_file(path))
            except ValueError as exc:
                problems.append(str(exc))
    return LoadedThemes(themes, problems)


def status_style(theme: Theme | None, status: str) -> Style:
    """The colour a status is drawn in, under a theme."""
    if theme is None:
        return Style()
    value = theme.variables.get(f"status-{status.lower()}")
    if value is None:
        value = getattr(theme, STATUS_FALLBACK.get(status, "foreground"), None)
    if not value:
        return Style()
    try:
        return Style(color=Color.parse(value).rich_color, bold=status in ("RUNNING", "FAILED"))
    except ColorParseError:
        return Style()
