"""The terminal-graphics probe at launch, seen from the terminal's side (a real pty)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

PROBE = ("import sys; from tui.ui import graphics; print('answer', graphics.detect(),"
         " 'pillow' if 'PIL' in sys.modules else 'no-pillow')")
ATTRIBUTES = b"\x1b[c"  # the question every terminal answers
PLAIN = b"\x1b[?62;22c"  # an xterm's answer: no Sixel
SIXEL = b"\x1b[?62;4;22c"
CELL_SIZE = b"\x1b[16t"  # the image widget's question (answered as an xterm does)


def _sent_to_terminal(extra_env: dict[str, str], answer: bytes | None = None) -> bytes:
    """Every byte the probe writes to its terminal — a terminal that answers each
    ``ESC [ c`` with ``answer`` (None: one that never answers)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 800, 480))
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
            if answer is not None:
                for _ in range(chunk.count(ATTRIBUTES)):
                    os.write(master, answer)
                for _ in range(chunk.count(CELL_SIZE)):
                    os.write(master, b"\x1b[6;20;10t")
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


def test_a_plain_terminal_is_asked_one_question_and_pillow_stays_unloaded() -> None:
    """A terminal whose device attributes list no Sixel, and that does not name itself
    as a Kitty-protocol one, gets half-blocks at once: no Kitty query left to time out,
    no Pillow loaded (a third of a second of every start)."""
    sent = _sent_to_terminal({}, PLAIN)
    assert ATTRIBUTES in sent and b"\x1b_G" not in sent
    assert b"answer None no-pillow" in sent


def test_a_terminal_that_never_answers_gets_half_blocks() -> None:
    sent = _sent_to_terminal({})
    assert ATTRIBUTES in sent and b"\x1b_G" not in sent
    assert b"answer None no-pillow" in sent


def test_a_sixel_terminal_gets_sixel() -> None:
    sent = _sent_to_terminal({}, SIXEL)
    assert b"answer sixel" in sent


@pytest.mark.parametrize("env", [{"TERM": "xterm-kitty"}, {"TERM_PROGRAM": "WezTerm"},
                                 {"TERM": "xterm-ghostty"}, {"KONSOLE_VERSION": "230804"}])
def test_a_terminal_named_for_kittys_protocol_is_asked_about_it(env: dict[str, str]) -> None:
    sent = _sent_to_terminal(env, PLAIN)
    assert b"\x1b_G" in sent  # the Kitty graphics query went out (no answer here)
    assert b"answer None" in sent


def test_forced_graphics_ask_a_plain_terminal_too() -> None:
    sent = _sent_to_terminal({"PIXVERSE_TUI_GRAPHICS": "on"}, PLAIN)
    assert b"\x1b_G" in sent and b"answer None" in sent


@pytest.mark.parametrize(("attributes", "sixel"), [
    ("\x1b[?62;4;22c", True), ("\x1b[?4c", True), ("\x1b[?62;22c", False),
    ("\x1b[?64;14c", False), ("\x1b[?62;4", False), ("", False), (None, False)])
def test_sixel_is_read_from_the_device_attributes(attributes: str | None, sixel: bool) -> None:
    from tui.ui import graphics

    assert graphics.draws_sixel(attributes) is sixel
