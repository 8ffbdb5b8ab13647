"""What someone following the README meets on a terminal: a wait that says what it waits
for (a video takes minutes; silence looked like a hang), and nothing extra in a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import CLI, KEY, cli_env
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]


def stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    leader, follower = pty.openpty()
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=follower,
                          stdin=subprocess.DEVNULL, text=True) as process:
        os.close(follower)
        said = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other side closed: everything was read
                break
            if not chunk:
                break
            said += chunk
        out = process.stdout.read() if process.stdout else ""
        status = process.wait(timeout=120)
    os.close(leader)
    return status, out, said.decode().replace("\r\n", "\n")


def test_submit_wait_says_what_it_waits_for_on_a_terminal(sim: Simulator,
                                                           tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", sim, KEY)
    status, out, said = stderr_on_a_terminal(
        [*CLI, "submit", "a paper boat on a rainy street", "--wait", *SCALE], env)
    assert status == 0 and "SUCCEEDED" in out
    assert "waiting for " in said and "ctrl+c stops waiting" in said, said
    assert "pixverse-tui wait " in said
    piped = subprocess.run([*CLI, "submit", "a second boat", "--wait", *SCALE], env=env,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "waiting for" not in piped.stderr
