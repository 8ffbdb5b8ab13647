"""The dashboard in a browser (``pixverse-tui serve``) beside the same dashboard in a
terminal: how long until the first row is painted, what a tab costs, and what ten tabs
cost the service.

    python bench/serve_bench.py [--loads 20]

Needs Debian's chromium (driven by Playwright) and tmux.  A simulator and a home with
20 finished generations are set up once; then:

1. **First row painted**: ``--loads`` times, a fresh browser tab opens the URL ``serve``
   printed (the token, then its cookie) and the clock stops when the newest row's
   prompt is on the tab's screen (what the dashboard sent, played into a terminal
   emulator).  Beside it, the same dashboard started in a tmux pane, the clock stopped
   when ``capture-pane`` shows that prompt.  Median and p95 of each.
2. **Memory per open tab**: ten tabs open, the resident memory (RSS) of each tab's app
   process, and of the server.  (The browser's own memory is the browser's.)
3. **Ten tabs against one**: with one tab, then with ten, five tasks are submitted at
   once (by the engine, as another terminal would) and followed until the store has
   them all finished: the requests the simulator answered, and the CPU time of the
   server and every app process together (and per second of that time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import open_store  # noqa: E402
from tests.browser.conftest import LAUNCH_ARGS, Browser, find_chromium  # noqa: E402
from tests.conftest import CLI, KEY, cli_env, submitted  # noqa: E402
from tests.serve_helpers import Served, alive, serving  # noqa: E402
from tui.simulator import Simulator, SimulatorConfig  # noqa: E402

ROWS = 20
NEWEST = f"bench generation {ROWS - 1}: a kite over the dunes"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * PAGE / 1e6


def wait(condition: object, timeout: float, what: str, pump: object = None,
         step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        if pump is not None:
            pump(step * 1000)  # type: ignore[operator]
        else:
            time.sleep(step)


# -- 1. first row painted -------------------------------------------------------------------


def browser_loads(browser: Browser, served: Served, loads: int) -> list[float]:
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        tab = browser.open(served.url)
        wait(lambda tab=tab: tab.shows(NEWEST), 120, "the first row in the browser",
             pump=tab.page.wait_for_timeout)
        times.append(time.perf_counter() - started)
        tab.page.close()
        wait(lambda: served.sessions() == [], 60, "the tab's process to end")
    return times


def tmux_loads(env: dict[str, str], loads: int) -> list[float]:
    times = []
    command = " ".join([*CLI])
    for n in range(loads):
        tmux = ["tmux", "-L", f"pixverse-bench-{os.getpid()}-{n}"]  # a server of its own
        started = time.perf_counter()
        subprocess.run([*tmux, "new-session", "-d", "-x", "140", "-y", "40", command],
                       env=env, check=True)

        def painted(tmux: list[str] = tmux) -> bool:
            screen = subprocess.run([*tmux, "capture-pane", "-p"],
                                    capture_output=True, text=True).stdout
            return NEWEST[:40] in screen

        wait(painted, 120, "the first row in tmux")
        times.append(time.perf_counter() - started)
        subprocess.run([*tmux, "kill-server"], check=False)
    return times


# -- 2 and 3. ten tabs ------------------------------------------------------------------------


def ended(home: Path, prompts: list[str]) -> bool:
    async def read() -> bool:
        async with await open_store(home / "tasks.db") as store:
            rows = {r.prompt: r.status for r in await store.history.page(limit=200)}
        return all(rows.get(p) == "SUCCEEDED" for p in prompts)

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        return pool.submit(asyncio.run, read()).result()


def follow(sim: Simulator, served: Served, home: Path, tag: str) -> dict[str, float]:
    """Five tasks submitted at once, followed until the store has them all SUCCEEDED."""
    pids = [served.process.pid, *served.sessions()]
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    sim.traffic.reset()
    started = time.monotonic()
    prompts = [f"{tag} task {i}" for i in range(5)]
    with ThreadPoolExecutor(1) as pool:
        for prompt in prompts:
            pool.submit(asyncio.run, submitted(home, sim, prompt)).result()
    wait(lambda: ended(home, prompts), 300, "the five tasks to end", step=0.5)
    elapsed = time.monotonic() - started
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    total = sim.traffic.count() - sim.traffic.count("create") - sim.traffic.count("media")
    return {"seconds": round(elapsed, 1), "requests": total,
            "queries": sim.traffic.count("query"), "lists": sim.traffic.count("list"),
            "cpu_s": round(cpu, 2), "cpu_share": round(cpu / elapsed, 3),
            "processes": len(pids)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None or shutil.which("tmux") is None:
        print("needs chromium and tmux (apt-get install chromium tmux)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="pixverse-serve-bench-"))
    config = SimulatorConfig(port=0, speed=10.0, failure_rate=0.0, seed=3,
                             min_work=60, max_work=120)
    with Simulator(config) as sim:
        for i in range(ROWS):  # the history (the first dashboard follows it to the end)
            asyncio.run(submitted(home, sim, NEWEST if i == ROWS - 1
                                  else f"bench generation {i}"))
        env = cli_env(home, sim, KEY)
        env["TERM"] = "xterm-256color"
        if args.loads:
            tmux = tmux_loads(env, args.loads)
            print(f"tmux: first row painted, median {statistics.median(tmux):.2f} s, "
                  f"p95 {p95(tmux):.2f} s over {len(tmux)} starts", flush=True)

        with serving(env, "--max-sessions", "12") as served, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="pixverse-bench-chromium-"), executable_path=chromium,
                headless=True, args=LAUNCH_ARGS, viewport={"width": 1280, "height": 800})
            browser = Browser(context)
            if args.loads:
                loads = browser_loads(browser, served, args.loads)
                print(f"browser: first row painted, median {statistics.median(loads):.2f} s, "
                      f"p95 {p95(loads):.2f} s over {len(loads)} loads", flush=True)

            first = browser.open(served.url)
            wait(lambda: first.shows(NEWEST), 120, "one tab", pump=first.page.wait_for_timeout)
            one = follow(sim, served, home, "one tab")
            print(f"one tab: {one}", flush=True)

            tabs = [first] + [browser.open(served.url) for _ in range(9)]
            for tab in tabs:
                wait(lambda tab=tab: tab.shows(NEWEST), 240, "ten tabs",
                     pump=tab.page.wait_for_timeout)
            sizes = [rss_mb(pid) for pid in served.sessions()]
            print(f"memory: {len(sizes)} app processes, RSS median {statistics.median(sizes):.0f}"
                  f" MB (min {min(sizes):.0f}, max {max(sizes):.0f}); the server "
                  f"{rss_mb(served.process.pid):.0f} MB", flush=True)
            ten = follow(sim, served, home, "ten tabs")
            print(f"ten tabs: {ten}", flush=True)
            pids = served.sessions()
            context.close()
            wait(lambda: not any(alive(pid) for pid in pids), 60, "every tab's process to end")
            print("all tabs closed: no app process left", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
