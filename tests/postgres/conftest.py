"""Every test here runs against a real PostgreSQL server started for the session."""

from tests.pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]
