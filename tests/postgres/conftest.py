"""Every test here runs against a real PostgreSQL server started for the session.

Without asyncpg (the ``postgres`` extra) nothing here can be imported: the folder
is left out and the run ends with a loud line saying so — or, with
PIXVERSE_TUI_REQUIRE_POSTGRES=1, the import error fails the run.
"""

from __future__ import annotations

import os
from typing import Any

from tests.pg_server import REQUIRE_ENV

try:
    import asyncpg  # noqa: F401
except ImportError:
    if os.environ.get(REQUIRE_ENV) == "1":
        raise
    MISSING = ("!!! POSTGRESQL TESTS SKIPPED: asyncpg is not installed "
               "(pip install -e '.[test]')")
    collect_ignore_glob = ["test_*.py"]

    def pytest_terminal_summary(terminalreporter: Any) -> None:
        terminalreporter.write_line(MISSING, yellow=True, bold=True)
else:
    from tests.pg_fixtures import pg_dsn, pg_server

    __all__ = ["pg_dsn", "pg_server"]
