"""``pixverse-tui completion bash|zsh|fish``: a script the shell accepts, which offers
the commands, their options, the values of --status/--tier/--format, and file names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLI


def script(shell: str) -> str:
    done = subprocess.run([*CLI, "completion", shell], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def complete(path: Path, words: list[str], cwd: Path | None = None) -> list[str]:
    """What bash offers for the last of ``words`` (as if TAB was pressed after it)."""
    quoted = " ".join(f"'{w}'" for w in words)
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c",
         f"source '{path}'; complete -p pixverse-tui >/dev/null || exit 3; "
         f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _pixverse_tui; "
         'printf "%s\\n" "${COMPREPLY[@]}"'],
        capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_values_and_files(tmp_path: Path) -> None:
    path = tmp_path / "pixverse-tui.bash"
    path.write_text(script("bash"))
    assert subprocess.run(["bash", "-n", str(path)], timeout=60).returncode == 0
    assert complete(path, ["pixverse-tui", "sub"]) == ["submit"]
    assert set(complete(path, ["pixverse-tui", "c"])) == {"cancel", "config", "completion"}
    assert "--dry-run" in complete(path, ["pixverse-tui", "submit", "--d"])
    assert complete(path, ["pixverse-tui", "list", "--status", "SUC"]) == ["SUCCEEDED"]
    assert complete(path, ["pixverse-tui", "stats", "--tier", "10"]) == ["1080P"]
    assert complete(path, ["pixverse-tui", "export", "--format", ""]) == ["jsonl", "csv"]
    assert complete(path, ["pixverse-tui", "config", ""]) == ["path", "show", "check"]
    (tmp_path / "prompts.txt").write_text("a fox\n")
    assert complete(path, ["pixverse-tui", "submit", "--from", "pro"],
                    cwd=tmp_path) == ["prompts.txt"]
    assert complete(path, ["pixverse-tui", "import", "pro"], cwd=tmp_path) == ["prompts.txt"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str, tmp_path: Path) -> None:
    text = script(shell)
    status = "--status" if shell == "zsh" else "-l status"
    assert "submit" in text and status in text and "SUCCEEDED" in text and "1080P" in text
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: its completion script was made but not "
                    "syntax-checked")
    path = tmp_path / f"pixverse-tui.{shell}"
    path.write_text(text)
    check = [shell, "-n", str(path)] if shell == "zsh" else [shell, "--no-execute", str(path)]
    done = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
