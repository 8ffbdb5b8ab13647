"""Is this file a complete MP4?  A length check alone trusts a server that may lie.

Walks the top-level boxes (ISO BMFF): each size field must fit, a 64-bit
``largesize`` is honoured, size 0 means "to the end of the file"; the first box
is ``ftyp``, a ``moov`` and an ``mdat`` are present, and the boxes cover the
file exactly.  Reads only box headers, so a 2 GiB file is checked at once.
"""

from __future__ import annotations

from pathlib import Path

MAX_BOXES = 100_000  # real files have a handful of top-level boxes


class Mp4Problem(ValueError):
    """What is wrong with the file, in one sentence."""


def looks_like_mp4(start: bytes) -> bool:
    """Whether these first 8 bytes can begin an MP4 (so garbage is cut off early)."""
    if len(start) < 8 or start[4:8] != b"ftyp":
        return False
    size = int.from_bytes(start[:4], "big")
    return size in (0, 1) or size >= 8


def check_mp4(path: Path) -> None:
    """Raise ``Mp4Problem`` unless the file's top-level boxes make a whole MP4."""
    size = path.stat().st_size
    seen: set[bytes] = set()
    offset = count = 0
    with path.open("rb") as source:
        while offset < size:
            count += 1
            if count > MAX_BOXES:
                raise Mp4Problem("the file is not an MP4 video (far too many boxes)")
            source.seek(offset)
            header = source.read(8)
            if len(header) < 8:
                raise Mp4Problem(f"the MP4 file is cut off inside a box header at byte {offset}")
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            name = _name(kind)
            if offset == 0 and kind != b"ftyp":
                raise Mp4Problem("the file is not an MP4 video (it does not begin with an "
                                 "'ftyp' box)")
            header_size = 8
            if box_size == 1:
                large = source.read(8)
                if len(large) < 8:
                    raise Mp4Problem(f"the MP4 file is cut off inside the '{name}' box header")
                box_size, header_size = int.from_bytes(large, "big"), 16
            elif box_size == 0:
                box_size = size - offset
            if box_size < header_size:
                raise Mp4Problem(f"the '{name}' box at byte {offset} has an impossible size "
                                 f"({box_size})")
            if offset + box_size > size:
                raise Mp4Problem(f"the MP4 file is cut off: its '{name}' box at byte {offset} "
                                 f"needs {offset + box_size} bytes but the file has {size}")
            seen.add(kind)
            offset += box_size
    if size == 0:
        raise Mp4Problem("the file is empty")
    for needed in (b"moov", b"mdat"):
        if needed not in seen:
            raise Mp4Problem(f"the MP4 file has no '{needed.decode()}' box, so it is incomplete")


def _name(kind: bytes) -> str:
    """The box type for a message; hostile bytes are shown in hex, never raw."""
    if all(0x20 <= b < 0x7F for b in kind):
        return kind.decode("ascii")
    return "0x" + kind.hex()
