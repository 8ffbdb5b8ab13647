"""The terminal-graphics probe at launch, seen from the terminal's side (a real pty)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

import pytest

PROBE = "from tui.ui import graphics; print('answer', graphics.detect())"


def _sent_to_terminal(extra_env: dict[str, str]) -> bytes:
    """Every byte the probe writes to its terminal."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TMUX", "STY", "PIXVERSE_TUI_GRAPHICS")}
    env["TERM"] = "xterm-256color"
    env.update(extra_env)
    proc = subprocess.Popen([sys.executable, "-c", PROBE], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(30)
        os.close(master)
    return out


@pytest.mark.parametrize("env", [{"TMUX": "/tmp/tmux-0/default,1,0"}, {"TERM": "screen-256color"},
                                 {"STY": "1234.pts-0.host"}])
def test_no_probe_reaches_a_multiplexer(env: dict[str, str]) -> None:
    """tmux takes the Kitty probe (an APC sequence) for a pane title."""
    sent = _sent_to_terminal(env)
    assert b"answer None" in sent
    assert b"\x1b_G" not in sent and b"\x1b[c" not in sent


def test_a_plain_terminal_is_still_asked() -> None:
    sent = _sent_to_terminal({})
    assert b"\x1b_G" in sent  # the Kitty graphics query went out (no answer here: half-blocks)
    assert b"answer None" in sent
