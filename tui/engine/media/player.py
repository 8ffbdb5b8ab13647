"""Opening a downloaded video in the user's player.

``[player] command`` names it (``mpv``, ``vlc --fullscreen`` …); without one, the
first of mpv, xdg-open, open that is installed.  Over SSH with no display there
is nowhere to show a window, and the user is told so (the URL can be copied).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

FALLBACKS = ("mpv", "xdg-open", "open")


class NoPlayer(Exception):
    """No way to show the video here; ``str()`` is one sentence."""


def command_for(path: Path, configured: str | None,
                environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that opens ``path`` — or ``NoPlayer``."""
    env = os.environ if environ is None else environ
    if not path.is_file():
        raise NoPlayer(f"{path} is not there any more; download it again (d)")
    remote = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if remote and not display:
        raise NoPlayer("this session runs over SSH with no display to show a video on; "
                       "copy the URL with y, or fetch the file")
    if configured:
        words = shlex.split(configured)
        if not words or shutil.which(words[0], path=env.get("PATH")) is None:
            raise NoPlayer(f"the player {configured!r} ([player] command) is not installed")
        return [shutil.which(words[0], path=env.get("PATH")) or words[0], *words[1:], str(path)]
    for name in FALLBACKS:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return [found, str(path)]
    raise NoPlayer("no video player found (tried mpv, xdg-open, open); set [player] "
                   "command in config.toml")


def play(path: Path, configured: str | None) -> None:
    """Start the player and return at once; it never touches this terminal."""
    subprocess.Popen(command_for(path, configured), stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
