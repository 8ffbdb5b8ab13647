"""The API key and endpoint, from the official SDK's own environment variables."""

from __future__ import annotations

import os
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
