"""Every text input is decoded, never trusted (issue 13, point 7).

Bytes that are not UTF-8 (on standard input, in a batch file, in an argument), a
lone surrogate from a JSON ``"\\ud800"`` escape: one sentence naming the file (or
standard input) and the line, nothing recorded, nothing sent.  A UTF-8 BOM is
left out (a first-line ``# comment`` stays a comment; a ``.jsonl`` with a BOM is
read).  Lines end only at ``\\n`` and ``\\r\\n`` — not at U+2028, U+0085, a form
feed or a lone CR — so line numbers match an editor's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from storage import open_store
from tests.conftest import CLI, cli_env
from tui.config import settings
from tui.dashscope import GenerationRequest
from tui.engine.submitting import batch
from tui.simulator import Simulator
from tui.text_input import BadText, decode, split_lines

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def run(home: Path, sim: Simulator, *args: str | bytes, stdin: bytes | None = None
        ) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*CLI, *args], env=cli_env(home, sim), input=stdin,
                         capture_output=True, timeout=120)
    return subprocess.CompletedProcess(out.args, out.returncode,
                                       out.stdout.decode(errors="replace"),
                                       out.stderr.decode(errors="replace"))


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE)


async def rows_in(home: Path) -> int:
    if not (home / "tasks.db").exists():
        return 0
    async with await open_store(home / "tasks.db") as store:
        return len(await store.history.page(limit=10))


def refused(out: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1, and a sentence holding ``words`` — never a bug report."""
    assert out.returncode == 1, out.stderr
    assert "this is a bug" not in out.stderr and "Traceback" not in out.stderr
    assert all(w in out.stderr for w in words), out.stderr
    return out.stderr


BROKEN = b"a fox in the snow\nan owl \xff\xfe at night\n"


async def test_bytes_that_are_not_utf8_on_stdin_are_one_sentence(sim: Simulator,
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "home"
    prompt = run(home, sim, "submit", "-", stdin=BROKEN)
    refused(prompt, "standard input, line 2", "not UTF-8")
    from_stdin = run(home, sim, "submit", "--from", "-", stdin=BROKEN)
    refused(from_stdin, "standard input, line 2", "not UTF-8")
    batch_file = tmp_path / "prompts.txt"
    batch_file.write_bytes(b"# comment\n" + BROKEN)
    from_file = run(home, sim, "submit", "--from", str(batch_file))
    refused(from_file, "prompts.txt, line 3", "not UTF-8")
    assert len(from_file.stderr.strip().splitlines()) == 1
    assert creates(sim) == 0 and await rows_in(home) == 0


@pytest.mark.parametrize("args", [
    ("submit", b"a fox \xff in the snow"), ("submit", "a {subject}", "--var", b"subject=\xff"),
    ("list", "--search", b"fox\xff"), ("show", b"ab\xff"), ("export", "--tag", b"\xff"),
    ("stats", "--filter", b"\xff"), ("download", b"\xff"), ("resolve", "1", "--task", b"\xff"),
], ids=lambda a: " ".join(map(str, a[:2])))
async def test_an_argument_that_is_not_utf8_is_one_sentence(
        sim: Simulator, tmp_path: Path, args: tuple[str | bytes, ...]) -> None:
    """Python hands such bytes on as lone surrogates; file names may be any bytes."""
    home = tmp_path / "home"
    out = run(home, sim, *args)
    assert out.returncode == 2, out.stderr
    assert "this is a bug" not in out.stderr and "not valid Unicode" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert creates(sim) == 0 and await rows_in(home) == 0


def test_a_file_name_may_be_any_bytes(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    name = bytes(tmp_path) + b"/prompts\xff.txt"
    Path(name.decode(errors="surrogateescape")).write_text("a fox in the snow\n")
    out = run(home, sim, "submit", "--from", name, "--dry-run")
    assert out.returncode == 0, out.stderr
    exported = run(home, sim, "export", "-o", bytes(tmp_path) + b"/out\xff.jsonl")
    assert exported.returncode == 0, exported.stderr


async def test_a_lone_surrogate_in_a_jsonl_line_names_the_line(sim: Simulator,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    lines = tmp_path / "b.jsonl"
    for field in ('"prompt": "an owl \\ud800 at night"', '"prompt": "owl", "note": "\\udfff"',
                  '"prompt": "owl", "tags": ["\\ud800x"]'):
        lines.write_text('{"prompt": "a fox"}\n{' + field + '}\n')
        out = run(home, sim, "submit", "--from", str(lines))
        refused(out, "b.jsonl, line 2", "not valid Unicode", "nothing was sent")
    assert creates(sim) == 0 and await rows_in(home) == 0


def test_a_bom_is_left_out(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    text = tmp_path / "bom.txt"
    text.write_bytes(b"\xef\xbb\xbf# a comment, not a prompt\r\na fox in the snow\r\n")
    out = run(home, sim, "submit", "--from", str(text), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "1 lines, 1 prompts" in out.stderr
    assert "line 2: " in out.stdout and "comment" not in out.stdout
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"prompt": "a fox"}\n{"prompt": "an owl"}\n')
    out = run(home, sim, "submit", "--from", str(jsonl), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "2 lines, 2 prompts" in out.stderr
    stdin = run(home, sim, "submit", "-", "--dry-run", stdin=b"\xef\xbb\xbfan owl\n")
    assert stdin.returncode == 0 and "<U+FEFF>" not in stdin.stdout
    assert "  an owl" in stdin.stdout


SEPARATED = "one\u2028two\r\nthree\x85four\nfive\x0csix\rseven\n"


def test_lines_end_only_at_newlines(sim: Simulator, tmp_path: Path) -> None:
    plan = batch.read_batch(SEPARATED, "seps.txt", GenerationRequest(""))
    assert not plan.problems
    assert [(i.line, i.request.prompt) for i in plan.items] == [
        (1, "one\u2028two"), (2, "three\x85four"), (3, "five\x0csix\rseven")]
    path = tmp_path / "seps.txt"
    path.write_bytes(SEPARATED.encode())
    out = run(tmp_path / "home", sim, "submit", "--from", str(path), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "3 lines, 3 prompts" in out.stderr
    # a problem names the line an editor shows
    bad = "a fox\u2028in snow\n{oops\n"
    plan = batch.read_batch(bad, "bad.txt", GenerationRequest(""))
    assert plan.problems and plan.problems[0].startswith("bad.txt, line 2:")


def test_the_batch_file_reader_the_dashboard_uses_decodes_the_same_way(
        tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_bytes(b"\xef\xbb\xbfa fox\r\n")
    assert batch.read_file(path) == "a fox\r\n"
    path.write_bytes(b"a fox\n\xc3(\n")
    with pytest.raises(BadText, match=r"b.txt, line 2: not UTF-8"):
        batch.read_file(path)


def test_decode_and_split_lines() -> None:
    assert decode(b"\xef\xbb\xbfa\nb", "f") == "a\nb"
    with pytest.raises(BadText, match="f, line 3: not UTF-8 text \\(byte 0xFF at byte 2"):
        decode(b"a\nb\nc\xff\n", "f")
    assert split_lines("a\r\nb\u2028c\x85d\x0ce\n\nf") == ["a", "b\u2028c\x85d\x0ce", "", "f"]
    assert split_lines("") == [] and split_lines("\n") == [""]


def test_config_with_a_bom_and_line_separators_names_the_right_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b"\xef\xbb\xbf[composer]\ntier = \"540P\"  # fox\xe2\x80\xa8owl\n"
                       b"bogus = 1\n")
    loaded = settings.load(config)
    assert loaded.get("composer", "tier") == "540P"
    assert len(loaded.problems) == 1 and f"{config}, line 3: [composer] bogus" in \
        loaded.problems[0]
    config.write_bytes(b"[composer]\ntier = \"540P\"\n# \xff\n")
    loaded = settings.load(config)
    assert loaded.problems == [f"{config}, line 3: not UTF-8 text (byte 0xFF at byte 3 of the "
                               "line); using the defaults."]
