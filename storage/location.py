"""Which store a run uses: the team database's URL, if one is given, else the SQLite file.

Apart from ``storage.postgres.connect`` (how to reach that database, which it re-exports
these from), so that a run on the SQLite file — ``list`` printing a page — does not load
the PostgreSQL connection rules to learn that there is no URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_URL = "PIXVERSE_TUI_DATABASE_URL"
SCHEMES = ("postgresql", "postgres")


def chosen_url(config_url: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The database URL in force: the environment's wins over config.toml's; None means
    no team database (the SQLite file)."""
    from_env = environ.get(ENV_URL, "").strip()
    if from_env:
        return from_env
    return config_url.strip() if config_url and config_url.strip() else None


def is_postgres_url(text: str) -> bool:
    return text.split(":", 1)[0].lower() in SCHEMES and "://" in text
