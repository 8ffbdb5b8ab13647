"""The command line lays out columns in terminal cells: Chinese, emoji, combining accents
and right-to-left text keep the columns lined up, a cut never splits a wide character
and ends with …, and no line is wider than the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import unicodedata
from pathlib import Path

import pytest
from rich.cells import cell_len

from storage import open_store
from tests.conftest import CLI, cli_env
from tui.text_width import cell, fit, pad, terminal_columns

PROMPTS = [
    "月光下的城市，一只狐狸穿过空荡荡的街道，镜头缓慢推进，电影感，暖色调",
    "🎬🦊🌕 a fox 🐾 under the moon 🌙✨ with fireworks 🎆🎆🎆🎆🎆🎆🎆🎆",
    "Cafe\u0301 au lait, cre\u0300me bru\u0302le\u0301e, nai\u0308ve re\u0301sume\u0301 "
    "— e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301",
    "שלום עולם — مرحبا بالعالم — a harbour at dawn, slow pan, عربي עברית",
    "plain ascii prompt that is long enough to be cut at any narrow terminal width",
    "短",
]


def test_fit_cuts_by_cells_and_never_splits_a_character() -> None:
    assert fit("月光下的城市", 7) == "月光下…"  # 6 cells and the ellipsis
    assert fit("月光下的城市", 6) == "月光…"  # 下 would need a seventh cell: left out
    assert fit("月光", 4) == "月光" and fit("ab", 2) == "ab"
    assert fit("e\u0301e\u0301e\u0301", 2) == "e\u0301…"  # the accent stays with its e
    assert fit("👨\u200d👩\u200d👧 family", 3) in ("👨\u200d👩\u200d👧…", "👨…")
    assert pad("月", 4) == "月  " and pad("月", 4, right=True) == "  月"
    for prompt in PROMPTS:
        for width in range(1, 60):
            cut = cell(prompt, width)
            assert cell_len(cut) == width, (prompt, width, cut)
            shown = fit(prompt, width)
            assert prompt.startswith(shown.removesuffix("…"))
            assert shown == prompt or shown.endswith("…")
            if shown != prompt:  # no lone combining mark at the start of what was left out
                rest = prompt[len(shown) - 1:]
                assert not unicodedata.combining(rest[0]), (prompt, width)


async def _history(home: Path) -> None:
    async with await open_store(home / "tasks.db") as store:
        for n, prompt in enumerate(PROMPTS):
            row = await store.intents.add(endpoint="http://127.0.0.1:1", model="pixverse/v5.6",
                                          prompt=prompt, size="1280*720", duration=5)
            await store.intents.mark_accepted(row.id, task_id=f"task-{n:04d}-abcdef",
                                              status="PENDING", request_id=None,
                                              next_poll_in=3600)


def on_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """What the command draws on a terminal ``columns`` cells wide (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    with subprocess.Popen(args, env=env, stdout=follower, stderr=subprocess.PIPE) as process:
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other side closed: everything was read
                break
            if not chunk:
                break
            out += chunk
        assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    os.close(leader)
    return out.decode().replace("\r\n", "\n")


async def test_list_lines_up_in_cells_at_every_width(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    await _history(home)
    piped = subprocess.run([*CLI, "list"], env=cli_env(home, None), capture_output=True,
                           text=True, timeout=120)
    assert all(prompt in piped.stdout for prompt in PROMPTS)  # a pipe gets them whole
    for columns in (56, 80, 120):
        lines = on_terminal([*CLI, "list"], cli_env(home, None), columns).splitlines()
        assert len(lines) == 1 + len(PROMPTS)
        header = lines[0]
        start = header.index("PROMPT")  # ASCII header: its index is its cell
        for line in lines:
            assert cell_len(line) <= columns, (columns, line)
        for line in lines[1:]:
            # the prompt begins in the same cell on every line: everything before it is
            # as wide as the header's part before PROMPT
            before, _, _ = line.partition("  task-")
            assert cell_len(before) == header.index("TASK") - 2, line
            head = _cells_before(line, start)
            assert cell_len(head) == start, (columns, line)
            prompt = line[len(head):]
            assert prompt in PROMPTS or prompt.endswith("…"), prompt
            assert any(p.startswith(prompt.removesuffix("…")) for p in PROMPTS), prompt


def _cells_before(line: str, cells: int) -> str:
    """The characters of ``line`` that fill its first ``cells`` cells."""
    for end in range(len(line) + 1):
        if cell_len(line[:end]) >= cells:
            return line[:end]
    return line


def test_the_terminals_width_is_read_as_shutil_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``terminal_columns`` (which spares every run importing shutil) says what
    ``shutil.get_terminal_size`` says: ``COLUMNS`` first, else the terminal, else 80."""
    import shutil

    for columns in ("123", "0", "-5", "wide", None):
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        assert terminal_columns() == shutil.get_terminal_size().columns
