"""Reaching the team's database the way every PostgreSQL client does, never showing a
password: the URL from the environment or config.toml, PG* variables, ~/.pgpass,
sslmode, connect_timeout, application_name."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.errors import StoreUnavailable
from storage.postgres.connect import (
    APPLICATION_NAME,
    ENV_URL,
    chosen_url,
    connect,
    connect_options,
    has_password,
    masked,
    scrub,
    url_problem,
)
from tests.pg_server import PostgresServer, database_name
from tests.tcp_proxy import TcpProxy
from tui.config.settings import load

SECRET = "s3cr:et@/x"  # every character that ends a part of a URL
ENCODED = "s3cr%3Aet%40%2Fx"

# -- without a server ------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    f"postgresql://alice:{ENCODED}@db.studio:5432/pixverse",
    f"postgresql://alice:{SECRET}@db.studio/pixverse",
    f"postgres://:{ENCODED}@h1:5432,h2:5433/pixverse?sslmode=require",
    f"postgresql://alice@db/pixverse?sslmode=require&password={ENCODED}",
    f"postgresql:///pixverse?host=/run/postgresql&password={SECRET}",
])
def test_a_password_is_never_shown(url: str) -> None:
    shown = masked(url)
    assert has_password(url)
    assert "s3cr" not in shown and "***" in shown
    assert "s3cr" not in scrub(f"failed for {url} with {SECRET}", url, {})


def test_a_pasted_key_value_string_is_masked_too() -> None:
    assert masked("host=db user=alice password=hunter2 dbname=x") == (
        "host=db user=alice password=*** dbname=x")
    assert "hunter2" not in masked("host=db password = 'hunter2 x'")


def test_a_url_without_password_is_shown_as_written() -> None:
    for url in ("postgresql://alice@db.studio:5432/pixverse", "postgresql:///pixverse",
                "postgres://h1:5432,h2:5433/db?sslmode=verify-full"):
        assert masked(url) == url
        assert not has_password(url)


def test_pgpassword_is_scrubbed_from_driver_messages() -> None:
    assert scrub("oops hunter2 oops", None, {"PGPASSWORD": "hunter2"}) == "oops *** oops"


def test_the_environment_wins_over_config_toml() -> None:
    assert chosen_url("postgresql://a/x", {ENV_URL: "postgresql://b/y"}) == "postgresql://b/y"
    assert chosen_url("postgresql://a/x", {ENV_URL: "  "}) == "postgresql://a/x"
    assert chosen_url(None, {}) is None
    assert chosen_url("", {}) is None


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://alice@db/pixverse", None),
    ("postgres://db", None),
    ("postgresql:///pixverse?host=/run/postgresql", None),
    ("postgresql://h1:5432,h2:5433,[::1]:5434/db", None),
    ("http://db/pixverse", "PostgreSQL URL"),
    ("db.studio:5432", "PostgreSQL URL"),
    ("postgresql://db:54x32/pixverse", "port"),
    ("postgresql://db:99999/pixverse", "port"),
    ("postgresql://db/pixverse?sslmode", "query"),
])
def test_config_urls_are_checked(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_config_toml_warns_about_a_password_and_never_repeats_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[ui]\ntheme = "x"\n\n[store]\nurl = "postgresql://alice:{ENCODED}'
                      '@db.studio/pixverse"\n')
    settings = load(config)
    assert settings.get("store", "url").startswith("postgresql://alice:")  # still used
    [warning] = settings.problems
    assert "line 5" in warning and "password" in warning and "~/.pgpass" in warning
    assert "s3cr" not in warning


def test_config_toml_without_password_or_with_a_bad_url(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "postgresql://alice@db.studio/pixverse"\n')
    assert load(config).problems == []
    config.write_text('[store]\nurl = "mysql://alice:hunter2@db/x"\n')
    settings = load(config)
    assert settings.get("store", "url") is None
    [problem] = settings.problems
    assert "[store] url must be a PostgreSQL URL" in problem and "hunter2" not in problem


def test_connect_timeout_and_application_name_are_taken_out_of_the_url() -> None:
    options = connect_options("postgresql://db/x?sslmode=disable&connect_timeout=3"
                              "&application_name=cli", {})
    assert options.dsn == "postgresql://db/x?sslmode=disable"
    assert options.timeout == 3
    assert options.server_settings == {"application_name": "cli"}
    options = connect_options("postgresql://db/x", {"PGCONNECT_TIMEOUT": "1",
                                                    "PGAPPNAME": "studio"})
    assert options.dsn == "postgresql://db/x"
    assert options.timeout == 2  # libpq's floor
    assert options.server_settings == {"application_name": "studio"}
    assert connect_options("postgresql://db/x", {}).server_settings == {
        "application_name": APPLICATION_NAME}
    for bad in ("soon", "inf", "nan"):
        with pytest.raises(StoreUnavailable, match="connect_timeout"):
            connect_options(f"postgresql://db/x?connect_timeout={bad}", {})


# -- against the server ------------------------------------------------------------------


@pytest.fixture
def role(pg_server: PostgresServer, pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A login role with a password (the server asks passwords of everyone but the
    superuser), allowed into the test's database."""
    name = f"r_{uuid.uuid4().hex[:10]}"
    pg_server.admin(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'",
                    f'GRANT CONNECT ON DATABASE "{database_name(pg_dsn)}" TO {name}')
    yield name, database_name(pg_dsn)
    pg_server.admin(f'REVOKE ALL ON DATABASE "{database_name(pg_dsn)}" FROM {name}',
                    f"DROP ROLE {name}")


@pytest.fixture
def no_pg_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No PG* variable from the machine, and a home without ~/.pgpass."""
    import os

    for name in list(os.environ):
        if name.startswith("PG") or name == ENV_URL:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return monkeypatch


async def _who(url: str) -> tuple[str, str, str]:
    conn = await connect(url)
    try:
        row = await conn.fetchrow("SELECT current_user, current_database(),"
                                  " current_setting('application_name')")
        assert row is not None
        return row[0], row[1], row[2]
    finally:
        await conn.close()


async def test_a_password_in_the_url_works(pg_server: PostgresServer, role: tuple[str, str],
                                           no_pg_env: pytest.MonkeyPatch) -> None:
    user, db = role
    url = f"postgresql://{user}:{ENCODED}@{pg_server.host}:{pg_server.port}/{db}?sslmode=disable"
    assert await _who(url) == (user, db, APPLICATION_NAME)


async def test_pg_variables_fill_what_the_url_leaves_out(
        pg_server: PostgresServer, role: tuple[str, str], no_pg_env: pytest.MonkeyPatch) -> None:
    user, db = role
    for name, value in {"PGHOST": pg_server.host, "PGPORT": str(pg_server.port),
                        "PGUSER": user, "PGDATABASE": db, "PGPASSWORD": SECRET,
                        "PGSSLMODE": "disable", "PGAPPNAME": "studio-2"}.items():
        no_pg_env.setenv(name, value)
    assert await _who("postgresql://") == (user, db, "studio-2")


async def test_the_password_comes_from_pgpass(
        pg_server: PostgresServer, role: tuple[str, str], no_pg_env: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    user, db = role
    pg_server.admin(f"ALTER ROLE {user} PASSWORD 'plain@/secret'")
    pgpass = tmp_path / "home" / ".pgpass"
    pgpass.write_text(f"# the team database\n{pg_server.host}:{pg_server.port}:*:{user}:"
                      "plain@/secret\n")
    pgpass.chmod(0o600)
    url = f"postgresql://{user}@{pg_server.host}:{pg_server.port}/{db}?sslmode=disable"
    assert await _who(url) == (user, db, APPLICATION_NAME)
    pgpass.chmod(0o644)  # readable by others: ignored, as libpq does — and said so
    with pytest.raises(StoreUnavailable, match="group or world access"):
        await _who(url)


async def test_an_escaped_pgpass_password_gets_a_hint(
        pg_server: PostgresServer, role: tuple[str, str], no_pg_env: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """libpq reads ``\\:`` in ~/.pgpass as ``:``; asyncpg (0.32 and before, its issue
    1249) reads it as written — so the refusal says what to do."""
    user, db = role
    pgpass = tmp_path / "home" / ".pgpass"
    escaped = SECRET.replace("\\", "\\\\").replace(":", "\\:")
    pgpass.write_text(f"{pg_server.host}:{pg_server.port}:*:{user}:{escaped}\n")
    pgpass.chmod(0o600)
    url = f"postgresql://{user}@{pg_server.host}:{pg_server.port}/{db}?sslmode=disable"
    try:
        assert await _who(url) == (user, db, APPLICATION_NAME)  # asyncpg fixed
    except StoreUnavailable as refused:
        assert "PGPASSWORD" in str(refused) and "\\:" in str(refused)
        assert "s3cr" not in str(refused)


async def test_a_wrong_password_is_one_sentence_without_it(
        pg_server: PostgresServer, role: tuple[str, str], no_pg_env: pytest.MonkeyPatch) -> None:
    user, db = role
    url = (f"postgresql://{user}:wrong-hunter2@{pg_server.host}:{pg_server.port}/{db}"
           "?sslmode=disable")
    with pytest.raises(StoreUnavailable) as caught:
        await _who(url)
    message = str(caught.value)
    assert "refused the password" in message and "hunter2" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_sslmode_is_honoured(pg_server: PostgresServer, pg_dsn: str,
                                   no_pg_env: pytest.MonkeyPatch) -> None:
    """The test server has no TLS: ``require`` must refuse it rather than send in clear."""
    url = pg_dsn.replace("sslmode=disable", "sslmode=require")
    with pytest.raises(StoreUnavailable, match=r"cannot reach|SSL"):
        await _who(url)
    no_pg_env.setenv("PGSSLMODE", "require")
    with pytest.raises(StoreUnavailable):
        await _who(pg_dsn.split("?")[0])
    no_pg_env.setenv("PGSSLMODE", "prefer")  # libpq's default: falls back to clear text
    assert (await _who(pg_dsn.split("?")[0]))[1] == database_name(pg_dsn)


async def test_an_unreachable_server_is_one_sentence(no_pg_env: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreUnavailable, match="cannot reach") as caught:
        await _who(f"postgresql://alice:hunter2@127.0.0.1:{port}/x?sslmode=disable")
    assert "hunter2" not in str(caught.value) and "alice:***@" in str(caught.value)


async def test_connect_timeout_bounds_a_silent_network(
        pg_server: PostgresServer, pg_dsn: str, no_pg_env: pytest.MonkeyPatch) -> None:
    with TcpProxy(pg_server.host, pg_server.port) as proxy:
        proxy.cut()
        url = pg_server.dsn(database_name(pg_dsn), port=proxy.port) + "&connect_timeout=2"
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="no answer"):
            await _who(url)
        assert time.monotonic() - started < 30
        proxy.restore()
