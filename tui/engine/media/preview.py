"""Frames from a downloaded video (first, middle, last), small enough for a terminal.

Decoded with PyAV (FFmpeg's libraries, shipped in its wheels), off the UI
thread, and cached on disk by the file's SHA-256 so a video is decoded once.
Frames are tiny RGB bitmaps; the UI draws them with half-block characters,
which work in any terminal and over SSH.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
from pathlib import Path
from typing import NamedTuple

from tui.engine.media.safe_files import is_regular, open_for_reading, write_atomically


class Thumb(NamedTuple):
    width: int
    height: int  # always even: two pixel rows per character row
    rgb: bytes  # width * height * 3 bytes, row by row
    at: float  # seconds into the video

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * 3
        return self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]


class PreviewError(Exception):
    pass


def _fit(width: int, height: int, max_w: int, max_h: int) -> tuple[int, int]:
    scale = min(max_w / width, max_h / height)
    w = max(2, int(width * scale))
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def _thumb(frame: object, max_w: int, max_h: int) -> Thumb:
    w, h = _fit(frame.width, frame.height, max_w, max_h)  # type: ignore[attr-defined]
    small = frame.reformat(width=w, height=h, format="rgb24")  # type: ignore[attr-defined]
    plane = small.planes[0]
    raw, line = bytes(plane), plane.line_size
    rgb = b"".join(raw[y * line: y * line + w * 3] for y in range(h))
    at = float(frame.time or 0.0)  # type: ignore[attr-defined]
    return Thumb(w, h, rgb, at)


def extract(path: Path, *, max_w: int = 14, max_h: int = 16) -> list[Thumb]:
    """First, middle and last frame, each fitted into ``max_w`` × ``max_h`` pixels."""
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise PreviewError("PyAV is not installed") from exc
    if _not_a_file(path):  # a pipe or a device named by an imported row would never end
        raise PreviewError(f"{path.name} is not a video file")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            duration = float(container.duration or 0) / 1_000_000
            thumbs: list[Thumb] = []
            first = next(container.decode(stream), None)
            if first is None:
                raise PreviewError(f"{path.name} has no video frames")
            thumbs.append(_thumb(first, max_w, max_h))
            for share in (0.5, 0.97):
                target = duration * share
                container.seek(int(target * 1_000_000), any_frame=False, backward=True)
                chosen = None
                for frame in container.decode(stream):
                    chosen = frame
                    if frame.time is not None and frame.time >= target:
                        break
                if chosen is not None:
                    thumbs.append(_thumb(chosen, max_w, max_h))
            return thumbs
    except (OSError, av.error.FFmpegError, IndexError) as exc:
        raise PreviewError(f"cannot decode {path.name}: {exc}") from None


def _not_a_file(path: Path) -> bool:
    """Something other than a file is there (a missing file is left to PyAV to say)."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def cached(path: Path, digest: str | None, cache_dir: Path, **sizes: int) -> list[Thumb]:
    """``extract`` with an on-disk cache keyed by the file's SHA-256."""
    if digest is None or re.fullmatch(r"[0-9a-f]{64}", digest) is None:
        digest = hashlib.sha256(str(path).encode()).hexdigest()  # never a path from outside
    key = f"{digest}-{sizes.get('max_w', 14)}x{sizes.get('max_h', 16)}.json"
    entry = cache_dir / key
    if is_regular(entry):  # a link planted in the cache is neither read nor written through
        try:
            with open_for_reading(entry) as source:
                data = json.loads(source.read())
            return [Thumb(t["w"], t["h"], base64.b64decode(t["rgb"]), t["at"]) for t in data]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    thumbs = extract(path, **sizes)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(entry, json.dumps([{"w": t.width, "h": t.height, "at": t.at,
                                             "rgb": base64.b64encode(t.rgb).decode()}
                                            for t in thumbs]).encode())
    except OSError:
        pass  # a cache that cannot be written is only slower
    return thumbs
