"""The user's ``config.toml``: read with tomllib, checked against a schema, never rewritten.

A broken file never stops the program: each problem is reported with its line
and a "did you mean" for misspelt keys, and the defaults stand in for anything
that could not be used.  Numbers are checked for range as well as type (a
non-finite ``inf`` or ``nan`` is never in range), because a value that passes
here is trusted by the code that uses it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable

from tui.config.loaded import LineIndex, Settings
from tui.dashscope.endpoints import base_url_problem
from tui.dashscope.sizes import DURATIONS, RATIOS, TIERS
from tui.engine.media.filenames import DEFAULT_TEMPLATE, TemplateError, check_template
from tui.engine.submitting.limits import MAX_TASKS
from tui.text_input import BadText, decode

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NamedTuple

    Check = Callable[[Any], str | None]
else:
    from storage.tuples import NamedTuple

KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4
_UNITS = {"": 1, "k": KB, "m": MB, "g": GB, "t": TB}
# Patterns as text: ``re`` compiles each when first used (and keeps it), so a run that
# reads no config.toml — ``list`` — does not pay for compiling them.
_SIZE = r"(?i)(\d{1,15}(?:\.\d{1,6})?)\s*(?:([kmgt]?)(?:i?b))?"
_PER_SECOND = r"(?i)\s*/\s*s\s*$"


class Rule(NamedTuple):
    """How one setting is checked: accepted types, default, range check, conversion."""

    kinds: tuple[type, ...]
    default: Any
    check: Check | None = None
    convert: Callable[[Any], Any] | None = None

    def shown_default(self) -> str:
        """The default as the user would write it."""
        if self.default is None:
            return "none (as if it were not set)"
        if self.convert is not None and isinstance(self.default, int):
            return human_size(self.default)
        return repr(self.default)


def parse_size(value: int | str) -> int:
    """Bytes from an int or text like "500 MB", "2GB", "1.5 gb" (powers of 1024).

    Raises ValueError with a sentence fragment saying what was expected.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value} is below zero")
        return value
    match = re.fullmatch(_SIZE, value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not a size like "500 MB" or "2 GB" '
                         "(units B, KB, MB, GB, TB)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def human_size(count: int) -> str:
    """The inverse of ``parse_size`` for messages: 2147483648 → "2 GB"."""
    for unit, size in (("TB", TB), ("GB", GB), ("MB", MB), ("KB", KB)):
        if count >= size:
            return f"{count / size:g} {unit}"
    return f"{count} B"


def _finite(value: Any) -> bool:
    """No inf or nan; an int of any size is finite (math.isfinite would overflow on it)."""
    return not isinstance(value, float) or math.isfinite(value)


def _between(low: float, high: float) -> Check:
    """A range check that nan and inf fail (every comparison with nan is False)."""
    def check(value: Any) -> str | None:
        if low <= value <= high and _finite(value):
            return None
        return f"must be at least {low:g} and at most {high:g}"
    return check


def _size_between(low: int, high: int, per_second: bool = False) -> Rule:
    """A byte count written as a number or with a unit, kept as an int of bytes."""
    def convert(value: Any) -> int:
        if per_second and isinstance(value, str):
            value = re.sub(_PER_SECOND, "", value)  # "1 KB/s" means what "1 KB" does
        return parse_size(value)

    def check(value: Any) -> str | None:
        try:
            size = convert(value)
        except ValueError as exc:
            return f"must be a size: {exc}"
        if low <= size <= high:
            return None
        return f"must be from {human_size(low)} to {human_size(high)}"

    default = {True: KB, False: 2 * GB}[per_second]
    return Rule((int, str), default, check, convert)


def _store_url_problem(value: str) -> str | None:
    from storage.postgres.connect import url_problem  # (only with a [store] url to check)

    return url_problem(value)


def _url_problem(value: str) -> str | None:
    problem = base_url_problem(value)
    return None if problem is None else f"cannot be used: {problem}"


def _name_problem(value: str, longest: int) -> str | None:
    """A name shown to the whole team: printable, on one line, not blank, not too long."""
    if not value.strip() or not value.isprintable() or len(value) > longest:
        return f"must be a name of 1 to {longest} printable characters on one line"
    return None


def _template_problem(value: str) -> str | None:
    try:
        check_template(value)
    except TemplateError as exc:
        return str(exc)
    return None


SCHEMA: dict[str, dict[str, Rule]] = {
    "endpoint": {
        "base_url": Rule((str,), None, lambda v: _url_problem(v)),
    },
    "composer": {
        "tier": Rule((str,), "720P", lambda v: None if v in TIERS else f"must be one of {TIERS}"),
        "ratio": Rule((str,), "16:9",
                      lambda v: None if v in RATIOS else f"must be one of {RATIOS}"),
        "duration": Rule((int,), 5, lambda v: None if v in DURATIONS else "must be 5, 8 or 10"),
        "audio": Rule((bool,), False),
        "watermark": Rule((bool,), False),
        "seed": Rule((int, str), "random", lambda v: None if v == "random" or (
            isinstance(v, int) and 0 <= v <= 2_147_483_647) else
            'must be "random" or a number from 0 to 2147483647'),
        "variations": Rule((int,), 1, lambda v: None if 1 <= v <= 10 else "must be 1 to 10"),
    },
    "downloads": {
        "folder": Rule((str,), None),
        "template": Rule((str,), DEFAULT_TEMPLATE, _template_problem),
        "auto": Rule((bool,), False),
        "max_size": _size_between(MB, TB),
        "min_speed": _size_between(1, GB, per_second=True),
        "stall_seconds": Rule((int, float), 30, _between(5, 600)),
        "metadata": Rule((bool,), True),  # prompt, seed, task id… in the MP4's own tags
        "sidecar": Rule((bool,), False),  # NAME.json beside the video, every stored field
    },
    "polling": {
        "concurrency": Rule((int,), 8, _between(1, 32)),
        "queries_per_second": Rule(
            (int, float), 10.0, lambda v: None if 0 < v <= 20 and _finite(v)
            else "must be above 0 and at most 20 (the account's limit)"),
        "min_interval": Rule((int, float), 3.0, _between(1, 600)),
        "max_interval": Rule((int, float), 30.0, _between(1, 3600)),
        "adopt_foreign": Rule((bool,), False),
    },
    "ui": {
        "theme": Rule((str,), None),
        "read_only": Rule((bool,), False),  # a viewer's dashboard, as --read-only
    },
    "store": {  # team mode: a PostgreSQL URL (PIXVERSE_TUI_DATABASE_URL wins over it)
        "url": Rule((str,), None, lambda v: _store_url_problem(v)),
    },
    "team": {  # who submits (default user@host) and which machine saves (default host)
        "name": Rule((str,), None, lambda v: _name_problem(v, 100)),
        "machine": Rule((str,), None, lambda v: _name_problem(v, 64)),
    },
    "player": {
        "command": Rule((str,), None),  # e.g. "mpv" or "vlc --fullscreen"
    },
    "notify": {  # how the dashboard tells that tasks ended (at most once a second)
        "toast": Rule((bool,), True),
        "bell": Rule((bool,), False),
        "desktop": Rule((str,), "off", lambda v: None if v in ("osc9", "osc777", "off")
                        else 'must be "osc9", "osc777" or "off"'),
        "title": Rule((bool,), True),
    },
    "keys": {},  # binding id -> key(s); checked by the UI, which knows the ids
    "prices": {},  # checked by _price_problem: any tier name may carry a price
    "budget": {  # in the prices' currency; a submission that would cross one is refused
        "daily": Rule((int, float), None, _between(0, 1e12)),
        "monthly": Rule((int, float), None, _between(0, 1e12)),
    },
    "batch": {
        # a template or batch file making more prompts than this asks first
        "ask_above": Rule((int,), 50, _between(1, 10_000)),
        # what one submission (a prompt, a template, a batch file) may make at most:
        # counted before anything is expanded, refused above
        "max_tasks": Rule((int,), MAX_TASKS, _between(1, 100_000)),
    },
    "queue": {  # the local queue (docs/queue.md)
        # tasks sent ahead to wait at the service beyond the five it runs
        "ahead": Rule((int,), 5, _between(0, 100)),
        # a task that failed by the service's own error (or with no reason) is queued
        # again at most this many times, with its seed; moderation and bad parameters never
        "retry_failed": Rule((int,), 0, _between(0, 10)),
    },
    "templates": {},  # name -> prompt template; also templates.toml beside config.toml
}
UNCHECKED = ("keys",)


def _price_problem(key: str, value: Any) -> str | None:
    """``currency`` is a short label; everything else a price per second of video."""
    if key == "currency":
        ok = isinstance(value, str) and 0 < len(value.strip()) <= 10 and value.isprintable()
        return None if ok else "must be a short currency name such as \"CNY\""
    if (isinstance(value, int | float) and not isinstance(value, bool)
            and value >= 0 and _finite(value)):
        return None
    return f"must be a price per second (a number, 0 or more), not {value!r}"


def defaults() -> dict[str, dict[str, Any]]:
    return {section: {key: rule.default for key, rule in keys.items()}
            for section, keys in SCHEMA.items()}


def _suggest(word: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _read(path: str | Path, settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """The file's text and parsed TOML; None (with one sentence) when it cannot be used.
    (The TOML parser is imported only when there is a file to parse.)"""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except (FileNotFoundError, NotADirectoryError):
        return None  # no config file: the defaults, silently
    except IsADirectoryError:
        settings.problems.append(f"{path} is a folder, not a file; using the defaults.")
        return None
    except OSError as exc:
        settings.problems.append(
            f"{path} cannot be read ({exc.strerror or exc}); using the defaults.")
        settings.unread = True  # (a full file table, a failing disk: may pass by itself)
        return None
    import tomllib

    try:
        text = decode(raw, str(path))  # no BOM, no newline translation
        return text, tomllib.loads(text)
    except BadText as exc:
        problem = f"{exc}; using the defaults."
    except tomllib.TOMLDecodeError as exc:
        problem = f"{path}: {exc}; using the defaults until it is fixed."
    except (ValueError, RecursionError):  # a number too long, or nesting too deep
        problem = f"{path} holds a value too large to read; using the defaults."
    settings.problems.append(problem)
    return None


def _has_password(url: str) -> bool:
    from storage.postgres.connect import has_password

    return has_password(url)


def load(path: str | Path) -> Settings:
    """The settings in the file at ``path`` (a ``Path`` or its text), and ``templates.toml``
    beside it."""
    values = defaults()
    settings = Settings(values, source=path)
    read = _read(path, settings)
    if read is None:
        return settings
    text, data = read
    lines = settings.lines = LineIndex(text)
    for section, content in data.items():
        if section not in SCHEMA:
            settings.problems.append(
                f"{lines.at(path, section)}: unknown section [{section}]"
                f"{_suggest(section, list(SCHEMA))}; it is ignored.")
        elif not isinstance(content, dict):
            settings.problems.append(f"{path}: {section} must be a [{section}] table.")
        else:
            for key, value in content.items():
                _take(settings, section, key, value, f"{lines.at(path, section, key)}: "
                                                     f"[{section}] {key}")
    _check_intervals(settings, lines.at(path, "polling", "max_interval"))
    url = settings.values["store"]["url"]
    if url is not None and _has_password(url):
        from storage.postgres.connect import password_warning

        settings.problems.append(password_warning(lines.at(path, "store", "url")))
    _load_templates(settings, os.path.join(os.path.dirname(path), TEMPLATES_FILE))
    return settings


TEMPLATES_FILE = "templates.toml"


def _load_templates(settings: Settings, path: str) -> None:
    """Saved templates kept in their own file (``name = "a {fox|owl} in {place}"``);
    a name also in config.toml's ``[templates]`` keeps config.toml's text."""
    read = _read(path, settings)
    if read is None:
        return
    mine = settings.values["templates"]
    lines = LineIndex(read[0])
    for key, value in read[1].items():
        if key not in mine:
            _take(settings, "templates", key, value, f"{lines.at(path, None, key)}: {key}")


def _take(settings: Settings, section: str, key: str, value: Any, at: str) -> None:
    """Check one setting and keep it, or report why not (``at`` names where it is)."""
    values = settings.values[section]
    if section in UNCHECKED:
        values[key] = value
        return
    if section == "templates":
        if not (isinstance(value, str) and value.strip() and len(value) <= 20_000):
            settings.problems.append(f"{at} must be a prompt template (text); it is ignored.")
        elif (problem := _prompt_template_problem(value)) is not None:
            settings.problems.append(f"{at} is not a valid template: {problem}; it is ignored.")
        else:
            values[key] = value
        return
    if section == "prices":
        problem = _price_problem(key, value)
        if problem:
            settings.problems.append(f"{at} {problem}; it is ignored.")
        else:
            values[key] = value
        return
    spec = SCHEMA[section]
    if key not in spec:
        settings.problems.append(
            f"{at} is not a known setting{_suggest(key, list(spec))}; it is ignored.")
        return
    rule = spec[key]
    if (isinstance(value, bool) and bool not in rule.kinds) or not isinstance(value, rule.kinds):
        names = " or ".join(k.__name__ for k in rule.kinds)
        settings.problems.append(f"{at} must be {names}, not {value!r}; "
                                 f"using {rule.shown_default()}.")
        return
    problem = rule.check(value) if rule.check else None
    if problem:
        settings.problems.append(f"{at} {problem}; using {rule.shown_default()}.")
        return
    values[key] = rule.convert(value) if rule.convert else value


def _prompt_template_problem(text: str) -> str | None:
    """Why a saved template cannot be expanded (an unclosed brace…), before it is used."""
    from tui.engine.submitting import templates

    try:
        templates.parse(text)
    except templates.TemplateError as exc:
        return str(exc)
    return None


def _check_intervals(settings: Settings, at: str) -> None:
    """A maximum below the minimum would make the poll interval undefined: use both defaults."""
    polling = settings.values["polling"]
    low, high = polling["min_interval"], polling["max_interval"]
    if high < low:
        rules = SCHEMA["polling"]
        polling["min_interval"] = rules["min_interval"].default
        polling["max_interval"] = rules["max_interval"].default
        settings.problems.append(
            f"{at}: [polling] max_interval ({high:g}) is below min_interval ({low:g}); "
            f"using the defaults {polling['min_interval']:g} and {polling['max_interval']:g}.")
