"""The user's ``config.toml``: read with tomllib, checked against a schema, never rewritten.

A broken file never stops the program: each problem is reported with its line
and a "did you mean" for misspelt keys, and the defaults stand in for anything
that could not be used.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.dashscope.sizes import DURATIONS, RATIOS, TIERS
from tui.engine.filenames import DEFAULT_TEMPLATE, TemplateError, check_template

# section -> key -> (accepted types, default, extra check or None)
_Check = Any
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any, _Check]]] = {
    "endpoint": {
        "base_url": ((str,), None, lambda v: None if re.match(r"https?://", v)
                     else "must start with http:// or https://"),
    },
    "composer": {
        "tier": ((str,), "720P", lambda v: None if v in TIERS else f"must be one of {TIERS}"),
        "ratio": ((str,), "16:9", lambda v: None if v in RATIOS else f"must be one of {RATIOS}"),
        "duration": ((int,), 5, lambda v: None if v in DURATIONS else "must be 5, 8 or 10"),
        "audio": ((bool,), False, None),
        "watermark": ((bool,), False, None),
        "seed": ((int, str), "random", lambda v: None if v == "random" or (
            isinstance(v, int) and 0 <= v <= 2_147_483_647) else
            'must be "random" or a number from 0 to 2147483647'),
        "variations": ((int,), 1, lambda v: None if 1 <= v <= 10 else "must be 1 to 10"),
    },
    "downloads": {
        "folder": ((str,), None, None),
        "template": ((str,), DEFAULT_TEMPLATE, lambda v: _template_problem(v)),
        "auto": ((bool,), False, None),
    },
    "polling": {
        "concurrency": ((int,), 8, lambda v: None if 1 <= v <= 32 else "must be 1 to 32"),
        "queries_per_second": ((int, float), 10.0, lambda v: None if 0 < v <= 20
                               else "must be above 0 and at most 20 (the account's limit)"),
        "min_interval": ((int, float), 3.0, lambda v: None if v >= 1 else "must be ≥ 1"),
        "max_interval": ((int, float), 30.0, lambda v: None if v >= 1 else "must be ≥ 1"),
    },
    "ui": {
        "theme": ((str,), None, None),
    },
    "keys": {},  # binding id -> key(s); checked by the UI, which knows the ids
    "prices": {},  # issue: usage stats
}


def _template_problem(value: str) -> str | None:
    try:
        check_template(value)
    except TemplateError as exc:
        return str(exc)
    return None


@dataclass
class Settings:
    values: dict[str, dict[str, Any]]
    problems: list[str] = field(default_factory=list)
    source: Path | None = None

    def get(self, section: str, key: str) -> Any:
        return self.values.get(section, {}).get(key)

    def section(self, section: str) -> dict[str, Any]:
        return dict(self.values.get(section, {}))


def defaults() -> dict[str, dict[str, Any]]:
    return {section: {key: spec[1] for key, spec in keys.items()}
            for section, keys in SCHEMA.items()}


def _line_of(text: str, section: str | None, key: str) -> int | None:
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1)
            continue
        if current == section and re.match(rf'"?{re.escape(key)}"?\s*=', stripped):
            return number
    return None


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def load(path: Path) -> Settings:
    values = defaults()
    settings = Settings(values, source=path)
    if not path.exists():
        return settings
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        settings.problems.append(f"{path} is not UTF-8 text; using the defaults.")
        return settings
    except tomllib.TOMLDecodeError as exc:
        settings.problems.append(f"{path}: {exc}; using the defaults until it is fixed.")
        return settings
    except OSError as exc:
        settings.problems.append(f"{path} cannot be read ({exc.strerror}); using the defaults.")
        return settings
    for section, content in data.items():
        where = f"{path}"
        if section not in SCHEMA:
            line = _line_of(text, section, "") or _header_line(text, section)
            settings.problems.append(
                f"{where}{f', line {line}' if line else ''}: unknown section [{section}]"
                f"{_suggest(section, list(SCHEMA))}; it is ignored.")
            continue
        if not isinstance(content, dict):
            settings.problems.append(f"{where}: {section} must be a [{section}] table.")
            continue
        spec = SCHEMA[section]
        for key, value in content.items():
            line = _line_of(text, section, key)
            at = f"{where}{f', line {line}' if line else ''}: [{section}] {key}"
            if section in ("keys", "prices"):
                values[section][key] = value
                continue
            if key not in spec:
                settings.problems.append(
                    f"{at} is not a known setting{_suggest(key, list(spec))}; it is ignored.")
                continue
            kinds, default, check = spec[key]
            if isinstance(value, bool) and bool not in kinds:
                ok_type = False
            else:
                ok_type = isinstance(value, kinds)
            if not ok_type:
                names = " or ".join(k.__name__ for k in kinds)
                settings.problems.append(f"{at} must be {names}, not {value!r}; "
                                         f"using {default!r}.")
                continue
            problem = check(value) if check else None
            if problem:
                settings.problems.append(f"{at} {problem}; using {default!r}.")
                continue
            values[section][key] = value
    return settings


def _header_line(text: str, section: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\[\s*{re.escape(section)}\s*\]", line.strip()):
            return number
    return None
