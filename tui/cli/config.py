"""``pixverse-tui config path|show|check``: the config file without starting the app.

``check`` reads config.toml, templates.toml, the themes folder and ``[keys]`` with
the very code the dashboard starts with, so it says what the dashboard would say,
with file and line, and exits 1 when anything would be ignored.  ``show`` lists every
setting in effect and where it came from; the API key only ever masked.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

from storage.postgres.connect import ENV_URL, masked
from tui.cli.output import err, print_json, say
from tui.config import credentials, settings
from tui.config.loaded import Settings
from tui.config.paths import HOME_ENV, AppPaths, app_paths
from tui.safe_text import printable
from tui.text_input import decode
from tui.text_width import cells, pad

DEFAULT, FILE, TEMPLATES_FILE = "default", "file", "templates.toml"


def run(args: argparse.Namespace) -> int:
    """Synchronous: no store, no network — only files are read."""
    paths = app_paths()
    if args.action == "path":
        if args.json:
            print_json({"config": str(paths.config_file), "exists": paths.config_file.is_file(),
                        "themes": str(paths.themes_dir),
                        "templates": str(paths.config_dir / settings.TEMPLATES_FILE)})
        else:
            say(str(paths.config_file))
            if not paths.config_file.exists():
                err(f"{paths.config_file} does not exist yet: the defaults are in effect")
        return 0
    if args.action == "show":
        return _show(paths, args.json)
    return _check(paths, args.json)


# -- show -----------------------------------------------------------------------------------


def _file_tables(path: Path) -> dict[str, Any]:
    """What the file says (nothing when it cannot be read: ``check`` says why)."""
    try:
        return tomllib.loads(decode(path.read_bytes(), str(path)))
    except Exception:  # unreadable or invalid: the defaults are in effect, check tells
        return {}


def effective(paths: AppPaths, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every setting in effect: section, key, value and where it came from."""
    env = dict(os.environ) if environ is None else environ
    loaded = settings.load(paths.config_file)
    written = _file_tables(paths.config_file)
    saved_apart = _file_tables(paths.config_dir / settings.TEMPLATES_FILE)
    out: list[dict[str, Any]] = []
    for section, values in loaded.values.items():
        rules = settings.SCHEMA.get(section, {})
        table = written.get(section)
        in_file: dict[str, Any] = table if isinstance(table, dict) else {}
        for key, value in values.items():
            source = DEFAULT
            if key in in_file:
                rule = rules.get(key)
                wanted = in_file[key]
                if rule is not None and rule.convert is not None:
                    try:
                        wanted = rule.convert(wanted)
                    except (ValueError, TypeError):
                        wanted = None
                if rule is None or wanted == value:
                    source = FILE
            elif section == "templates" and key in saved_apart:
                source = TEMPLATES_FILE
            out.append({"section": section, "key": key, "value": value, "source": source})
    _environment(out, env, loaded)
    return out


def _environment(out: list[dict[str, Any]], env: dict[str, str],
                 loaded: Settings) -> None:
    """What the environment decides over (or beside) the file: endpoint, store, key, home."""
    def put(section: str, key: str, value: Any, source: str) -> None:
        for entry in out:
            if (entry["section"], entry["key"]) == (section, key):
                entry.update(value=value, source=source)
                return
        out.append({"section": section, "key": key, "value": value, "source": source})

    if env.get(credentials.BASE_URL_ENV):
        put("endpoint", "base_url", credentials.base_url(None, env),
            f"environment {credentials.BASE_URL_ENV}")
    elif loaded.get("endpoint", "base_url") is None:
        put("endpoint", "base_url", credentials.base_url(None, env), DEFAULT)
    if env.get(ENV_URL):
        put("store", "url", env[ENV_URL], f"environment {ENV_URL}")
    url = next(e for e in out if (e["section"], e["key"]) == ("store", "url"))
    if url["value"] is not None:
        url["value"] = masked(str(url["value"]))  # a password never shown
    key_source, key_value = "not set", None
    try:
        key = credentials.api_key(env)
    except credentials.CredentialsError as exc:
        key, key_source = None, f"unusable: {exc}"
    if key is not None:
        key_value = key.masked
        key_source = (f"environment {credentials.KEY_ENV}" if env.get(credentials.KEY_ENV, "")
                      .strip() else f"file named by {credentials.KEY_FILE_ENV}")
    out.append({"section": "credentials", "key": "api_key", "value": key_value,
                "source": key_source})
    if env.get(HOME_ENV):
        out.append({"section": "paths", "key": "home", "value": env[HOME_ENV],
                    "source": f"environment {HOME_ENV}"})


def _show(paths: AppPaths, as_json: bool) -> int:
    entries = effective(paths)
    if as_json:
        print_json({"config": str(paths.config_file), "settings": entries})
        return 0
    say(f"# {paths.config_file}{'' if paths.config_file.is_file() else ' (not there yet)'}")
    width = max(cells(f"{e['section']}.{e['key']}") for e in entries)
    current = None
    for entry in entries:
        if entry["section"] != current:
            current = entry["section"]
            say(f"[{current}]")
        name = f"{entry['section']}.{entry['key']}"
        value = _shown(entry["value"])
        say(f"  {pad(name, width)}  {value}  ({entry['source']})")
    return 0


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return printable(repr(value) if isinstance(value, str) else value)


# -- check ----------------------------------------------------------------------------------


def problems(paths: AppPaths) -> list[str]:
    """Every sentence the dashboard would show at start about the config, the templates,
    the themes and the keys (in that order)."""
    from tui.ui import keymap
    from tui.ui.themes import DEFAULT_THEME, installed, load_themes, not_installed

    loaded = settings.load(paths.config_file)
    found = list(loaded.problems)
    found += credentials.key_file_warnings()
    themes = load_themes(paths.themes_dir)
    found += themes.problems
    wanted = loaded.get("ui", "theme")
    if wanted and (problem := not_installed(wanted, installed(themes), DEFAULT_THEME)
                   ) is not None:
        found.append(problem)
    found += keymap.from_settings(loaded).problems
    return found


def _check(paths: AppPaths, as_json: bool) -> int:
    found = problems(paths)
    checked = [str(p) for p in (paths.config_file, paths.config_dir / settings.TEMPLATES_FILE,
                                paths.themes_dir) if p.exists()]
    if as_json:
        print_json({"ok": not found, "checked": checked, "problems": found})
    else:
        for problem in found:
            err(problem)
        if not found:
            say(f"{paths.config_file}: no problems"
                + ("" if paths.config_file.exists() else " (not there yet: the defaults)"))
    return 1 if found else 0
