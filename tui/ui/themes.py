"""Theme files (TOML) → Textual themes: the bundled ones and the user's own."""

from __future__ import annotations

import difflib
import functools
import os
import re
import stat
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from rich.style import Style
from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui.safe_text import printable


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
COLOURS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
           "boost", "success", "warning", "error")
SWITCHES = ("dark", "ansi")
FRACTIONS = ("luminosity_spread", "text_alpha")
KEYS = ("name", *COLOURS, *SWITCHES, *FRACTIONS, "variables")
STATUS_FALLBACK = {"PENDING": "warning", "RUNNING": "primary", "SUCCEEDED": "success",
                   "FAILED": "error", "REJECTED": "error", "UNCONFIRMED": "accent",
                   "SUBMITTING": "primary", "QUEUED": "secondary"}
MAX_FILE = 256 * 1024  # bytes: a theme is a few dozen lines
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")
VARIABLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
STYLE_FLAGS = frozenset({"b", "blink", "bold", "dim", "i", "italic", "none", "not", "o",
                         "overline", "reverse", "strike", "u", "underline"})
AUTO = re.compile(r"auto(?: (?:100|[1-9]?[0-9])%)?")


class LoadedThemes(NamedTuple):
    themes: list[Theme]
    problems: list[str]


class ThemeProblem(ValueError):
    """What is wrong with a theme file: one sentence naming the file (and line)."""


def theme_from_file(path: Traversable, *, bundled: bool = False) -> Theme:
    """Parse and check one theme file; raise ``ThemeProblem`` naming what is wrong.

    Everything is checked here, before Textual sees it: Textual applies a theme
    later, outside any handler of ours, and a wrong value there ends the app.
    ``bundled``: one of ours, whose variables and colour system the test suite checks
    (tests/test_theme_files.py) — making the colour systems of themes nobody uses
    cost ~8 ms of every start (issue 15); the user's files get every check."""
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        raise ThemeProblem(f"theme {path} cannot be read: {exc}; the theme was skipped"
                           ) from None

    def wrong(key: str, what: str, table: str | None = None) -> ThemeProblem:
        line = _line_of(text, key, table)
        return ThemeProblem(f"theme {path}{f', line {line}' if line else ''}: {what}; "
                            "the theme was skipped")

    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise wrong(key, f"{printable(key)!r} is not a theme setting{hint}")
    name = data.get("name", Path(path.name).stem)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise wrong("name", f"name = {_shown(name)} is not a theme name (letters, digits, "
                    "spaces, . _ + -; up to 64)")
    if "primary" not in data:
        raise ThemeProblem(f"theme {path} has no primary colour (primary = \"#1e90ff\", "
                           "for example); the theme was skipped")
    values: dict[str, Any] = {}
    for key in COLOURS:
        if key in data:
            if not _is_colour(data[key]):
                raise wrong(key, f"{key} = {_shown(data[key])} is not a colour "
                            '(e.g. "#1e90ff")')
            values[key] = data[key]
    for key in SWITCHES:
        if key in data:
            if not isinstance(data[key], bool):
                raise wrong(key, f"{key} = {_shown(data[key])} must be true or false")
            values[key] = data[key]
    for key in FRACTIONS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    0 <= value <= 1):
                raise wrong(key, f"{key} = {_shown(value)} must be a number from 0 to 1")
            values[key] = float(value)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise wrong("variables", f"variables = {_shown(variables)} must be a table "
                    "([variables] with name = \"value\" lines)")
    for key, value in variables.items() if not bundled else ():
        problem = _variable_problem(key, value)
        if problem is not None:
            raise wrong(key, problem, table="variables")
    try:
        theme = Theme(name=name, variables=dict(variables), **values)
        if not bundled:
            theme.to_color_system().generate()  # what Textual will do with it
    except Exception as exc:  # a value Textual cannot use after all: still one sentence
        raise ThemeProblem(f"theme {path} cannot be used ({printable(str(exc))[:200]}); the "
                           "theme was skipped") from None
    return theme


def load_themes(user_dir: Path | None) -> LoadedThemes:
    """The bundled themes and the user's; one problem sentence per file that is skipped."""
    themes: list[Theme] = []
    problems: list[str] = []
    folders: list[Traversable] = [BUNDLED]
    if user_dir is not None and user_dir.is_dir():
        folders.append(user_dir)
    for folder in folders:
        try:
            paths = sorted((p for p in folder.iterdir() if p.name.endswith(".toml")),
                           key=lambda p: p.name)
        except OSError as exc:
            problems.append(f"the themes folder {folder} cannot be read "
                            f"({exc.strerror or exc}); its themes were skipped")
            continue
        for path in paths:
            try:
                themes.append(theme_from_file(path, bundled=folder is BUNDLED))
            except ThemeProblem as exc:
                problems.append(str(exc))
    return LoadedThemes(themes, problems)


def installed(loaded: LoadedThemes) -> list[str]:
    """Every theme name the dashboard can use: the loaded files' and Textual's own."""
    from textual.theme import BUILTIN_THEMES

    return [theme.name for theme in loaded.themes] + list(BUILTIN_THEMES)


def not_installed(wanted: str, installed: list[str], fallback: str) -> str | None:
    """The sentence for a theme asked for that is not among ``installed`` (None if it
    is): the dashboard's at start, and ``config check``'s."""
    if wanted in installed:
        return None
    close = difflib.get_close_matches(wanted, installed, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f"Theme {wanted!r} is not installed{hint}; using {fallback}."


def _read(path: Traversable) -> str:
    """The file's text — only a regular file of a sane size.  Opened without blocking
    and checked once open: a named pipe would block the start for ever."""
    try:
        data = _read_regular(path) if isinstance(path, Path) else path.read_bytes()
    except OSError as exc:
        raise ThemeProblem(f"theme {path} cannot be read ({exc.strerror or exc}); the "
                           "theme was skipped") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ThemeProblem(f"theme {path} is not UTF-8 text; the theme was skipped") from None


def _read_regular(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ThemeProblem(f"theme {path} is not a regular file; the theme was skipped")
        if info.st_size > MAX_FILE:
            raise ThemeProblem(f"theme {path} is too large ({info.st_size} bytes; a theme "
                               f"is under {MAX_FILE // 1024} KiB); the theme was skipped")
        return source.read(MAX_FILE + 1)


def _is_colour(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Color.parse(value)
    except (ColorParseError, ValueError, TypeError):
        return False
    return True


@functools.cache
def _textual_variables() -> dict[str, str]:
    """The variables Textual derives from a theme, with a value of each one's kind."""
    return Theme(name="probe", primary="#1e90ff").to_color_system().generate()


def _variable_problem(key: object, value: object) -> str | None:
    """Why ``key = value`` cannot be a theme variable (None if it can).  A variable
    Textual knows takes a value of the kind Textual uses it as (a colour, a text style,
    ``auto 87%``…); any other is one of ours (``status-running``…) and takes a colour."""
    if not isinstance(key, str) or not VARIABLE.fullmatch(key):
        return f"{_shown(key)} is not a variable name (letters, digits, - and _)"
    shown = f"{key} = {_shown(value)}"
    if not isinstance(value, str):
        return f"{shown} must be a quoted value, such as a colour"
    default = _textual_variables().get(key)
    if default is None or _is_colour(default):
        return None if _is_colour(value) else f'{shown} is not a colour (e.g. "#1e90ff")'
    if key.endswith("-style"):
        words = value.split()
        if words and all(word in STYLE_FLAGS for word in words):
            return None
        return f'{shown} is not a text style (e.g. "bold" or "none")'
    if AUTO.fullmatch(default):
        return None if _is_colour(value) or AUTO.fullmatch(value) else (
            f'{shown} is not a colour or "auto 87%"')
    return None if value == default or _is_colour(value) else (
        f"{shown} is not a colour or {default!r}")


def _shown(value: object) -> str:
    """A value as the warning quotes it: short, and never a control character."""
    text = repr(value)
    return printable(text if len(text) <= 40 else text[:39] + "…")


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The line where ``key`` is set — top level, or inside ``[table]`` (best effort:
    a warning with a line is easier to act on)."""
    quoted = rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([^\[\]]+?)\s*\](?:\s*#.*)?", stripped)
        if header:
            current = header[1].strip("\"'")
            if table is None and current == key:
                return number  # a table where a value was expected: [background]
            continue
        if table is None and current is None and re.match(rf"{quoted}\s*[=.]", stripped):
            return number
        if table is not None and current == table and re.match(rf"{quoted}\s*=", stripped):
            return number
        if table is not None and current is None and re.match(
                rf"{re.escape(table)}\s*\.\s*{quoted}\s*=", stripped):
            return number
    return None


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
