"""The PixVerse v5.6 size table and parameter limits (protocol sheet §1)."""

from __future__ import annotations

MODEL_V56 = "pixverse/pixverse-v5.6-t2v"
PROMPT_LIMITS = {
    MODEL_V56: 2048,
    "pixverse/pixverse-v6-t2v": 5000,
    "pixverse/pixverse-c1-t2v": 5000,
}
TIERS = ("360P", "540P", "720P", "1080P")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
DURATIONS = (5, 8, 10)
SEED_MAX = 2_147_483_647

SIZE_TABLE: dict[str, dict[str, str]] = {
    "360P": {"16:9": "640*360", "4:3": "640*480", "1:1": "640*640",
             "3:4": "480*640", "9:16": "360*640"},
    "540P": {"16:9": "1024*576", "4:3": "1024*768", "1:1": "1024*1024",
             "3:4": "768*1024", "9:16": "576*1024"},
    "720P": {"16:9": "1280*720", "4:3": "1280*960", "1:1": "1280*1280",
             "3:4": "960*1280", "9:16": "720*1280"},
    "1080P": {"16:9": "1920*1080", "4:3": "1920*1440", "1:1": "1808*1808",
              "3:4": "1440*1920", "9:16": "1080*1920"},
}

_BY_SIZE = {size: (tier, ratio) for tier, row in SIZE_TABLE.items() for ratio, size in row.items()}
ALL_SIZES = tuple(_BY_SIZE)


def size_for(tier: str, ratio: str) -> str:
    return SIZE_TABLE[tier][ratio]


def tier_and_ratio(size: str) -> tuple[str, str] | None:
    """``("720P", "16:9")`` for ``"1280*720"``; ``None`` for a size not in the table."""
    return _BY_SIZE.get(size)


def durations_for(tier: str) -> tuple[int, ...]:
    """1080P allows only 5 or 8 seconds."""
    return (5, 8) if tier == "1080P" else DURATIONS
