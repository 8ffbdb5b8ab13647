"""Timestamps as sortable ISO-8601 UTC text, the one format the database uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def now_iso() -> str:
    return iso(utc_now())


def iso_in(seconds: float, since: datetime | None = None) -> str:
    """The moment ``seconds`` after ``since`` (default: now)."""
    return iso((since or utc_now()) + timedelta(seconds=seconds))


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
