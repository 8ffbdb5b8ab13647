"""The API key and endpoint, from the official SDK's own environment variables."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from tui.dashscope.client import BEIJING_URL
from tui.dashscope.secret import ApiKey

KEY_ENV = "DASHSCOPE_API_KEY"
KEY_FILE_ENV = "DASHSCOPE_API_KEY_FILE_PATH"
BASE_URL_ENV = "DASHSCOPE_HTTP_BASE_URL"


class CredentialsError(Exception):
    pass


def api_key(environ: dict[str, str] | None = None) -> ApiKey | None:
    """The key from ``DASHSCOPE_API_KEY``, else the file ``DASHSCOPE_API_KEY_FILE_PATH``."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV, "").strip()
    if value:
        return ApiKey(value)
    file_path = env.get(KEY_FILE_ENV, "").strip()
    if not file_path:
        return None
    try:
        text = Path(file_path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(
            f"{KEY_FILE_ENV} points at {file_path}, which cannot be read "
            f"({exc.strerror or exc}); fix the path or set {KEY_ENV}.") from None
    if not text:
        raise CredentialsError(f"{KEY_FILE_ENV} points at {file_path}, which is empty.")
    return ApiKey(text)


def key_file_warnings(environ: dict[str, str] | None = None) -> list[str]:
    """Warn, as ssh does, when the key file in use can be read by other users.

    Empty when no file is used (``DASHSCOPE_API_KEY`` is set, or no path is),
    on systems without POSIX modes, or when the file cannot be examined (then
    ``api_key`` says why).  Names the path and mode, never the key.
    """
    env = os.environ if environ is None else environ
    file_path = env.get(KEY_FILE_ENV, "").strip()
    if os.name != "posix" or env.get(KEY_ENV, "").strip() or not file_path:
        return []
    try:
        mode = stat.S_IMODE(Path(file_path).expanduser().stat().st_mode)
    except (OSError, ValueError):  # missing, unreadable, or a NUL in the path
        return []
    if not mode & 0o077:
        return []
    what = "readable" if mode & 0o044 else "writable"
    return [f"the key file {file_path} is {what} by other users (mode {mode:04o}); "
            f"run chmod 600 {_for_shell(file_path)}"]


def _for_shell(path: str) -> str:
    """The path quoted for a shell, leaving a leading ``~/`` for the shell to expand."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def base_url(configured: str | None = None, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get(BASE_URL_ENV) or configured or BEIJING_URL).rstrip("/")


def region_of(url: str) -> str:
    """A short name for the endpoint's region, for the status bar and ``locate``."""
    host = url.split("//", 1)[-1].split("/", 1)[0]
    if host.startswith(("127.", "localhost", "[::1]")):
        return "local"
    if "ap-southeast-1" in host or "dashscope-intl" in host:
        return "Singapore"
    if "cn-beijing" in host or host == "dashscope.aliyuncs.com":
        return "Beijing"
    return host
