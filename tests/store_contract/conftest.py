"""Every contract test runs once per backend (``backends.BACKENDS``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import TaskStore, open_store
from tests.store_contract.backends import BACKENDS, Backend


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.param
    return found


@pytest.fixture
def location(backend: Backend, tmp_path: Path) -> str:
    """A new store's location, for other processes (and stores) to open too."""
    return backend.fresh(tmp_path)


@pytest.fixture
async def store(location: str) -> AsyncIterator[TaskStore]:
    opened = await open_store(location)
    yield opened
    await opened.close()
