"""Where the team's database is and how to reach it, by libpq's conventions.

The URL is ``PIXVERSE_TUI_DATABASE_URL`` if set, else ``[store] url`` in
config.toml (``storage.location`` chooses it).  What the URL leaves out comes
from where every PostgreSQL client takes it, and asyncpg reads those itself
when connecting: ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGDATABASE``,
``PGPASSWORD``, the password file (``PGPASSFILE`` or ``~/.pgpass``, ignored
unless private to its owner), ``PGSSLMODE`` (``prefer`` when unset, as libpq),
``PGSSLROOTCERT``, ``PGSSLCERT``, ``PGSSLKEY``, ``PGSSLCRL`` and
``~/.postgresql/``, multiple hosts, and — from asyncpg 0.31 on — service files
(``PGSERVICE``, ``?service=``, ``PGSERVICEFILE`` or ``~/.pg_service.conf``).

Two libpq settings asyncpg does not take are taken here: ``connect_timeout``
(in the URL, or ``PGCONNECT_TIMEOUT``; asyncpg would send it to the server as
a setting, which the server refuses) and ``application_name`` (``PGAPPNAME``;
``pixverse-tui`` by default, so a DBA can see who is connected).  Not
supported, as in asyncpg: the system-wide service file (``PGSYSCONFDIR``),
GSSAPI/Kerberos authentication.

A password never reaches a message: every sentence shows the URL ``masked``.
This module needs no Textual, httpx or asyncpg to be imported (config.toml is
checked on machines without the ``postgres`` extra); asyncpg is imported by
``connect`` alone.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlencode

from storage.errors import StoreUnavailable
from storage.location import ENV_URL as ENV_URL  # (re-exported: which URL is in force)
from storage.location import chosen_url as chosen_url
from storage.location import is_postgres_url

if TYPE_CHECKING:
    import asyncpg

APPLICATION_NAME = "pixverse-tui"
CONNECT_TIMEOUT = 10.0  # libpq waits forever by default; a dashboard should not
MASK = "***"
INSTALL_HINT = "team mode needs the postgres extra: pip install 'pixverse-tui[postgres]'"


def _split_userinfo(netloc: str) -> tuple[str | None, str]:
    """(user[:password] or None, host list) — without urlsplit, which refuses the
    ``h1:5432,h2:5433`` host lists libpq allows."""
    userinfo, at, hosts = netloc.rpartition("@")
    return (userinfo if at else None), hosts


def _authority(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, the rest)``.  The userinfo runs to the last ``@``
    before any ``?``: a password with an unescaped ``@`` or ``/`` is still all of it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", None, url
    end = min((i for i in (rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
    at = rest.rfind("@", 0, end)
    if at == -1:
        return scheme + sep, None, rest
    return scheme + sep, rest[:at], rest[at:]


def _query(url: str) -> str:
    return url.partition("?")[2].partition("#")[0]


def _passwords(url: str) -> list[str]:
    """The password(s) written in a URL, raw and decoded (to scrub both from text)."""
    found: list[str] = []
    _, userinfo, _ = _authority(url)
    if userinfo and ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    found += re.findall(r"(?:^|&)password=([^&]*)", _query(url))
    return [p for raw in found if raw for p in {raw, unquote(raw)}]


def has_password(url: str) -> bool:
    return bool(_passwords(url))


def masked(url: str) -> str:
    """The URL as it may be shown: any password replaced by ``***``."""
    head, userinfo, rest = _authority(url)
    if userinfo is not None and ":" in userinfo:
        url = f"{head}{userinfo.split(':', 1)[0]}:{MASK}{rest}"
    # ?password=… in a URL, and password=… in a libpq "key=value" string pasted instead
    return re.sub(r"((?:^|[?&\s])password\s*=\s*)('[^']*'|[^&#\s]*)",
                  lambda m: f"{m.group(1)}{MASK}", url)


def scrub(text: str, url: str | None = None,
          environ: Mapping[str, str] = os.environ) -> str:
    """``text`` with every password we know of (the URL's, ``PGPASSWORD``) masked: for
    messages built from a driver's words, which we do not control."""
    secrets = _passwords(url) if url else []
    if environ.get("PGPASSWORD"):
        secrets.append(environ["PGPASSWORD"])
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def url_problem(url: str) -> str | None:
    """Why a ``[store] url`` cannot be used (a sentence fragment), or None.  The URL
    itself is never part of the answer (it may hold a password)."""
    if not is_postgres_url(url):
        return "must be a PostgreSQL URL such as \"postgresql://user@host/database\""
    _, _, rest = _authority(url)
    hosts = rest.lstrip("@").partition("/")[0].partition("?")[0]
    for host in hosts.split(","):
        _, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        if colon and port and not (port.isdigit() and 0 < int(port) < 65536):
            return "has a port that is not a number from 1 to 65535"
    try:
        if _query(url):
            parse_qsl(_query(url), strict_parsing=True)
    except ValueError:
        return "has a malformed ?query (write name=value pairs joined with &)"
    return None


def password_warning(where: str) -> str:
    """What config.toml's reader says when the URL there holds a password."""
    return (f"{where}: [store] url holds a password — anyone who can read that file can use "
            "the database; keep it in ~/.pgpass or PGPASSWORD instead (the URL is used as "
            "written).")


@dataclass(frozen=True)
class ConnectOptions:
    """What asyncpg is given: the URL without the settings it would mishandle, the
    connect timeout, and the session settings sent on connecting."""

    dsn: str
    timeout: float = CONNECT_TIMEOUT
    server_settings: dict[str, str] = field(default_factory=dict)


def connect_options(url: str, environ: Mapping[str, str] = os.environ) -> ConnectOptions:
    """Take ``connect_timeout`` and ``application_name`` out of the URL (and from
    ``PGCONNECT_TIMEOUT`` and ``PGAPPNAME``); leave the rest to asyncpg."""
    query = parse_qsl(_query(url), keep_blank_values=True)
    timeout_text = environ.get("PGCONNECT_TIMEOUT", "")
    app = environ.get("PGAPPNAME") or APPLICATION_NAME
    kept = []
    for name, value in query:
        if name == "connect_timeout":
            timeout_text = value
        elif name == "application_name":
            app = value
        else:
            kept.append((name, value))
    timeout = CONNECT_TIMEOUT
    if timeout_text.strip():
        try:
            seconds = float(timeout_text)
            if not math.isfinite(seconds):
                raise ValueError(timeout_text)
        except ValueError:
            raise StoreUnavailable(f"connect_timeout={timeout_text!r} is not a number of "
                                   "seconds") from None
        # libpq: 0 or less waits forever; anything under 2 s counts as 2 s
        timeout = 24 * 3600.0 if seconds <= 0 else max(2.0, seconds)
    dsn = url
    if len(kept) != len(query):  # rebuilt only when something was taken out
        base, _, fragment = url.partition("#")
        dsn = base.partition("?")[0] + ("?" + urlencode(kept) if kept else "")
        dsn += "#" + fragment if fragment else ""
    return ConnectOptions(dsn, timeout, {"application_name": app})


def _pgpass_hint(url: str, environ: Mapping[str, str]) -> str:
    """libpq reads ``\\:`` and ``\\\\`` in a password file as ``:`` and ``\\``; asyncpg
    (to 0.32 at least: its issue 1249) reads them as written, so a password file that
    works for psql can fail here.  Say so when that may be why we were refused."""
    if has_password(url) or environ.get("PGPASSWORD"):
        return ""
    named = environ.get("PGPASSFILE")
    path = Path(named) if named else Path(environ.get("HOME") or Path.home()) / ".pgpass"
    try:
        escaped = "\\" in path.read_text(errors="replace")
    except OSError:
        return ""
    if not escaped:
        return ""
    return (f" ({path} escapes a character with \\, as in \\: — the driver reads it as "
            "written; put that password in PGPASSWORD instead)")


async def connect(url: str, environ: Mapping[str, str] = os.environ) -> asyncpg.Connection:
    """One connection to the team's database; ``StoreUnavailable`` (one sentence, no
    password) when it cannot be made."""
    try:
        import asyncpg  # noqa: F401  (the extra may be missing: say so in a sentence)
    except ImportError:
        raise StoreUnavailable(INSTALL_HINT) from None
    shown = masked(url)
    try:
        options = connect_options(url, environ)
    except ValueError:
        raise StoreUnavailable(f"{shown} is not a usable PostgreSQL URL") from None
    # asyncpg warns (on stderr, under the dashboard) when it skips a password file that
    # others can read; the warning becomes part of the sentence instead.
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            return await _connect(url, options, environ)
        except StoreUnavailable as exc:
            notes = [scrub(str(w.message), url, environ) for w in said
                     if "password file" in str(w.message)]
            if not notes:
                raise
            raise StoreUnavailable(f"{exc} ({'; '.join(notes)})") from None


async def _connect(url: str, options: ConnectOptions,
                   environ: Mapping[str, str]) -> asyncpg.Connection:
    import asyncpg

    shown = masked(url)
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            options.dsn, timeout=options.timeout, server_settings=options.server_settings)
    except asyncpg.InvalidPasswordError:
        raise StoreUnavailable(
            f"the database {shown} refused the password; check ~/.pgpass, PGPASSWORD or "
            f"the URL{_pgpass_hint(url, environ)}") from None
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise StoreUnavailable(f"the database {shown} refused the connection "
                               f"({scrub(str(exc), url, environ)})") from None
    except asyncpg.InvalidCatalogNameError as exc:
        raise StoreUnavailable(f"{scrub(str(exc), url, environ)} on {shown}; create it or "
                               "fix the URL") from None
    except getattr(asyncpg, "ClientConfigurationError", ValueError) as exc:  # from 0.29
        raise StoreUnavailable(f"the connection settings for {shown} cannot be used: "
                               f"{scrub(str(exc), url, environ)}") from None
    except (TimeoutError, OSError) as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (
            exc.strerror or scrub(str(exc), url, environ))
        raise StoreUnavailable(f"cannot reach the database {shown} ({reason}); it may be "
                               "down or unreachable from here") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"cannot connect to the database {shown}: "
                               f"{scrub(str(exc), url, environ)}") from None
    return conn
