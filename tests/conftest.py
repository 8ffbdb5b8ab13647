"""Shared fixtures: a simulator on loopback, a client pointed at it, a fresh home."""

from __future__ import annotations

import compileall
import io
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest

from storage import TaskStore, open_store
from tui.dashscope import ApiKey, DashScopeClient, GenerationRequest, RetryPolicy
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator, SimulatorConfig


def pytest_configure(config: pytest.Config) -> None:
    """Compile the app's modules once, before any worker starts: the suite starts the
    command line and the dashboard in hundreds of processes, and where bytecode is not
    written (PYTHONDONTWRITEBYTECODE, as on CI machines) each of them compiled every
    module it imports again — a quarter of each command's CPU time."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it
        return
    root = Path(__file__).resolve().parents[1]
    for package in ("tui", "storage"):
        compileall.compile_dir(root / package, quiet=1, workers=1)


# Ctrl-C as a terminal sends it: a suite started in the background by a shell without job
# control (``cmd &`` in a script, some CI runners) inherits SIGINT ignored, and every
# command line it starts would too — the tests that stop one with SIGINT then waited on a
# process that could not hear it.  Handled here, the signal is back to its default in
# every process the tests start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# A team database in the developer's environment must not become every test's history
# (tests that want one pass its URL themselves).
os.environ.pop("PIXVERSE_TUI_DATABASE_URL", None)

KEY = "sk-test-0123456789abcdef"
FAST = 600.0  # simulated seconds per real second: a 2-minute task takes 0.2 s


def make_sim(**overrides: object) -> Simulator:
    config = SimulatorConfig(port=0, speed=FAST, failure_rate=0.0, seed=1)
    for name, value in overrides.items():
        setattr(config, name, value)
    return Simulator(config)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with make_sim() as running:
        yield running


@pytest.fixture
def frozen_sim() -> Iterator[Simulator]:
    """A clock that barely moves: one simulated second lasts days, so a rate window never
    rolls over mid-test however slowly the test runs (coverage, a loaded machine)."""
    with make_sim(speed=1e-6) as running:
        yield running


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    """Real-time clock: tasks stay PENDING long enough to cancel, rate windows are 1 s."""
    with make_sim(speed=1.0, queue_delay=(30.0, 30.0)) as running:
        yield running


async def no_sleep(seconds: float) -> None:
    return None


def client_for(sim: Simulator, **kwargs: object) -> DashScopeClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
    return DashScopeClient(ApiKey(KEY), sim.base_url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[DashScopeClient]:
    async with client_for(sim) as c:
        yield c


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TaskStore]:
    s = await open_store(tmp_path / "tasks.db")
    yield s
    await s.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private PIXVERSE_TUI_HOME with the SDK's variables cleared."""
    root = tmp_path / "home"
    monkeypatch.setenv("PIXVERSE_TUI_HOME", str(root))
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY_FILE_PATH", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return root


def cli_env(home: Path, sim: Simulator | None, key: str | None = KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PIXVERSE_TUI_HOME"] = str(home)
    if sim is not None:
        env["DASHSCOPE_HTTP_BASE_URL"] = sim.base_url
    if key is not None:
        env["DASHSCOPE_API_KEY"] = key
    return env


CLI = [sys.executable, "-m", "tui"]


async def submitted(home: Path, sim: Simulator, prompt: str = "a quiet harbour") -> str:
    """A task made the way ``pixverse-tui submit`` makes it (same engine, same client,
    over loopback), in-process to keep the test fast."""
    async with await open_store(home / "tasks.db") as store, client_for(sim) as client:
        outcome = await submit(store, client, GenerationRequest(prompt), first_poll_after=0)
    assert outcome.ok and outcome.generation.task_id is not None
    return outcome.generation.task_id


def _packets(video: bytes) -> list[tuple[str, int | None, int | None, bytes]]:
    with av.open(io.BytesIO(video)) as container:
        return [(p.stream.type, p.pts, p.dts, bytes(p)) for p in container.demux()
                if p.dts is not None]


def same_video(data: bytes, clip: bytes) -> bool:
    """``data`` holds exactly the clip's encoded frames — the video the server sent, remuxed
    at most (``[downloads] metadata`` adds tags; nothing is re-encoded)."""
    return data[4:8] == b"ftyp" and _packets(data) == _packets(clip)
