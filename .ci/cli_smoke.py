"""Smoke test of an installed pixverse-tui's command line (not the source tree's).

Run by ``.ci/run`` with the ``pixverse-tui`` of an environment the project was installed
into *non-editable* (the floors' environment): the program answers ``--version``, runs
its simulator on a free port, makes one video against it end to end with
``submit --wait --download`` (the saved file then named by ``show FILE.mp4`` from its
metadata), passes ``config check`` — and fails it on a broken config — and prints a
help page, which only an install that carries docs/ can.

    python .ci/cli_smoke.py PATH/TO/bin/pixverse-tui     # "cli smoke test passed"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 60.0  # seconds for each command, on a loaded machine


def fail(what: str, done: subprocess.CompletedProcess[str] | None = None) -> None:
    detail = f"\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}" if done else ""
    raise SystemExit(f"cli smoke test failed: {what}{detail}")


def smoke(program: str, home: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "PIXVERSE_TUI_"))}
    env["PIXVERSE_TUI_HOME"] = str(home)

    def run(*args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([program, *args], env=env, capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL, cwd=home)
        if done.returncode != status:
            fail(f"`pixverse-tui {' '.join(args)}` exited {done.returncode}", done)
        return done

    version = run("--version").stdout.strip()
    if not version.startswith("pixverse-tui "):
        fail(f"--version printed {version!r}")
    print(version)

    simulator = subprocess.Popen([program, "simulate", "--port", "0", "--speed", "600",
                                  "--failure-rate", "0", "--seed", "1"], env=env, cwd=home,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert simulator.stdout is not None
        first = simulator.stdout.readline()  # "DashScope simulator listening on URL (…)"
        if " on http://" not in first:
            simulator.kill()
            fail(f"the simulator said {first!r}: {simulator.communicate(timeout=10)[1]}")
        env["DASHSCOPE_HTTP_BASE_URL"] = first.split(" on ", 1)[1].split()[0]
        env["DASHSCOPE_API_KEY"] = "sk-cli-smoke"
        made = run("submit", "a lighthouse at dusk, waves below", "--wait", "--download",
                   "--json", "--time-scale", "600")
        [task] = json.loads(made.stdout)
        video = Path(task["local_path"] or "")
        if task["status"] != "SUCCEEDED" or not video.is_file() or home not in video.parents:
            fail(f"submit --wait --download gave {task['status']} and {video}", made)
        told = json.loads(run("show", str(video), "--json").stdout)
        if told["task_id"] != task["task_id"]:
            fail(f"show FILE.mp4 named {told['task_id']}, not {task['task_id']}")
    finally:
        simulator.terminate()
        simulator.wait(timeout=TIMEOUT)
    print(f"made, downloaded and recognised {video.name} ({video.stat().st_size:,} bytes)")

    checked = run("config", "check")
    if "no problems" not in checked.stdout:
        fail("config check did not pass the defaults", checked)
    (home / "config.toml").write_text('[composer]\ntier = "4K"\n', encoding="utf-8")
    broken = run("config", "check", status=1)
    if "config.toml, line 2" not in broken.stderr:
        fail("config check did not name the broken line", broken)
    print("config check passes the defaults and names a broken line")

    page = run("help", "configuration").stdout
    if not page.startswith("# Configuration"):
        fail("help configuration printed no page: the docs were not installed")
    print("help configuration prints the installed page")


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as home:
        smoke(sys.argv[1], Path(home).resolve())
    print("cli smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
