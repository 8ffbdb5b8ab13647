"""The API key and endpoint, from the official SDK's own environment variables."""

from __future__ import annotations

import os
import stat

from tui.dashscope.endpoints import BEIJING_URL
from tui.dashscope.secret import ApiKey, key_problem

KEY_ENV = "DASHSCOPE_API_KEY"
KEY_FILE_ENV = "DASHSCOPE_API_KEY_FILE_PATH"
BASE_URL_ENV = "DASHSCOPE_HTTP_BASE_URL"
MAX_KEY_FILE = 4096  # a key is about 35 bytes; more is not a key file


class CredentialsError(Exception):
    pass


def api_key(environ: dict[str, str] | None = None) -> ApiKey | None:
    """The key from ``DASHSCOPE_API_KEY``, else the file ``DASHSCOPE_API_KEY_FILE_PATH``.

    Checked before anything else happens: a key the HTTP library would refuse (two
    lines, a CR or LF inside, a non-ASCII character) is one sentence here, naming
    where it came from and never the key."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV, "")
    if value.strip():
        problem = key_problem(value)
        if problem is not None:
            advice = ("set it to the key alone" if "lines" in problem
                      else "copy the key again from the Model Studio console")
            raise CredentialsError(f"{KEY_ENV} {problem}; {advice}.")
        return ApiKey(value)
    file_path = env.get(KEY_FILE_ENV, "").strip()
    if not file_path:
        return None
    text = _read_key_file(file_path)
    problem = key_problem(text)
    if problem == "is empty":
        raise CredentialsError(f"{KEY_FILE_ENV} points at {file_path}, which is empty.")
    if problem is not None:
        advice = ("put only the key in it" if "lines" in problem
                  else "copy the key again from the Model Studio console")
        raise CredentialsError(f"The API key in {file_path} {problem}; {advice}.")
    return ApiKey(text)


def _read_key_file(file_path: str) -> str:
    """The key file's text (a BOM an editor added left out); bytes that are not UTF-8
    become U+FFFD, which ``key_problem`` refuses as not ASCII."""
    from pathlib import Path  # (only with a key file: ``list`` runs without pathlib)

    try:
        with Path(file_path).expanduser().open("rb") as source:
            data = source.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise CredentialsError(
            f"{KEY_FILE_ENV} points at {file_path}, which cannot be read "
            f"({exc.strerror or exc}); fix the path or set {KEY_ENV}.") from None
    except ValueError:  # a NUL in the path
        raise CredentialsError(f"{KEY_FILE_ENV} holds a NUL character; fix the path "
                               f"or set {KEY_ENV}.") from None
    if len(data) > MAX_KEY_FILE:
        raise CredentialsError(f"{file_path} ({KEY_FILE_ENV}) is larger than an API key "
                               f"file can be ({MAX_KEY_FILE // 1024} KB); put only the key in "
                               "it.")
    return data.decode("utf-8", "replace").removeprefix("\ufeff")


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
    from pathlib import Path

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
    import shlex  # (only for this warning: every run reads the key)

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
