"""Regenerate the bundled sample clips (needs PyAV: ``pip install av``).

The simulator serves these as every task's video, one per aspect ratio, so that
downloads are real, playable H.264 MP4 files of the right shape.  They are tiny
(two seconds, low resolution) to keep the package small.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

CLIP_SIZES = {
    "16x9": (192, 108),
    "4x3": (160, 120),
    "1x1": (128, 128),
    "3x4": (120, 160),
    "9x16": (108, 192),
}
FPS = 12
SECONDS = 2


def _frame_rgb(width: int, height: int, index: int) -> bytes:
    """A moving colour gradient with a bright bar, so frames differ visibly."""
    pixels = bytearray()
    phase = index / (FPS * SECONDS)
    bar = int(phase * width)
    for y in range(height):
        for x in range(width):
            if abs(x - bar) < 4:
                pixels += b"\xff\xff\xff"
                continue
            r = int(127 + 127 * math.sin(2 * math.pi * (x / width + phase)))
            g = int(127 + 127 * math.sin(2 * math.pi * (y / height + phase / 2)))
            b = int(127 + 127 * math.cos(2 * math.pi * phase))
            pixels += bytes((r, g, b))
    return bytes(pixels)


def _padded(frame: object, rgb: bytes, width: int) -> bytes:
    """Lay rows out at the plane's line size (it may be padded)."""
    line = frame.planes[0].line_size  # type: ignore[attr-defined]
    row = width * 3
    if line == row:
        return rgb
    pad = b"\0" * (line - row)
    return b"".join(rgb[i : i + row] + pad for i in range(0, len(rgb), row))


def write_clip(path: Path, width: int, height: int) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"crf": "30", "preset": "veryslow"}
        for i in range(FPS * SECONDS):
            frame = av.VideoFrame(width, height, "rgb24")
            frame.planes[0].update(_padded(frame, _frame_rgb(width, height, i), width))
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


if __name__ == "__main__":
    here = Path(__file__).parent
    for name, (w, h) in CLIP_SIZES.items():
        write_clip(here / f"{name}.mp4", w, h)
        print(name, (here / f"{name}.mp4").stat().st_size, "bytes")
