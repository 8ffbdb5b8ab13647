"""Fixtures for tests against a real PostgreSQL server: import them in a conftest.

``pg_server`` is one server for the whole session (see ``tests/pg_server.py``);
``pg_dsn`` is a URL to a fresh, empty database of its own for one test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_server import PostgresServer, fresh_database, serve_for_session


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    yield from serve_for_session()


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> Iterator[str]:
    yield from fresh_database(pg_server)
