"""Finding past generations: filters, sort orders and the SQL they become.

A filter is parsed from the words people type (``fox status:FAILED tier:720P
since:2026-03-01 fav tag:keep``) so the dashboard's filter line and the CLI's
flags share one meaning.  Text search uses FTS5's trigram tokenizer (so Chinese
substrings are found); terms under three characters fall back to ``LIKE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from storage.records import SHOWN_STATUSES

TIER_HEIGHTS = {"360P": (360, 480, 640), "540P": (576, 768, 1024),
                "720P": (720, 960, 1280), "1080P": (1080, 1440, 1808, 1920)}
SIZES_BY_TIER = {
    "360P": ("640*360", "640*480", "640*640", "480*640", "360*640"),
    "540P": ("1024*576", "1024*768", "1024*1024", "768*1024", "576*1024"),
    "720P": ("1280*720", "1280*960", "1280*1280", "960*1280", "720*1280"),
    "1080P": ("1920*1080", "1920*1440", "1808*1808", "1440*1920", "1080*1920"),
}
# Submitted → ended; NULL (with the unknown) when the service's times contradict each
# other — as ``tui.engine.timeline`` has it for what is shown.
TOOK = ("(CASE WHEN julianday(submit_time) <= julianday(end_time) AND (scheduled_time IS NULL"
        " OR julianday(scheduled_time) BETWEEN julianday(submit_time) AND julianday(end_time))"
        " THEN julianday(end_time) - julianday(submit_time) END)")
SORTS = {
    "submitted": "created_at", "status": "COALESCE(status, UPPER(submission))",
    "prompt": "prompt COLLATE NOCASE", "task": "task_id", "size": "size",
    "duration": "duration", "audio": "audio", "download": "download_state",
    "took": TOOK,
}
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class HistoryFilter:
    text: str = ""
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    tiers: tuple[str, ...] = ()
    durations: tuple[int, ...] = ()
    audio: bool | None = None
    downloaded: bool | None = None
    favourite: bool | None = None
    tags: tuple[str, ...] = ()
    trash: bool = False  # forgotten generations instead of the kept ones
    problems: tuple[str, ...] = field(default=(), compare=False)
    # Batches shown as one row (their first task stands for them) — a view's choice,
    # not part of what the user searched for.
    folded: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return self == HistoryFilter()

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["forgotten_at IS NOT NULL" if self.trash
                              else "forgotten_at IS NULL"]
        params: list[Any] = []
        if self.statuses:
            marks = ", ".join("?" for _ in self.statuses)
            clauses.append(f"COALESCE(status, CASE submission WHEN 'sending' THEN 'SUBMITTING'"
                           f" ELSE UPPER(submission) END) IN ({marks})")
            params += list(self.statuses)
        text = self.text.strip()
        if text:
            for term in split_words(text):
                if len(term) >= 3:
                    clauses.append("id IN (SELECT rowid FROM generations_fts"
                                   " WHERE generations_fts MATCH ?)")
                    params.append('"' + term.replace('"', '""') + '"')
                else:
                    clauses.append("prompt LIKE ? ESCAPE '\\'")
                    params.append("%" + term.replace("\\", "\\\\").replace("%", "\\%")
                                  .replace("_", "\\_") + "%")
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(_iso(self.since))
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(_iso(self.until))
        if self.tiers:
            sizes = [s for t in self.tiers for s in SIZES_BY_TIER.get(t, ())]
            clauses.append(f"size IN ({', '.join('?' for _ in sizes) or 'NULL'})")
            params += sizes
        if self.durations:
            clauses.append(f"duration IN ({', '.join('?' for _ in self.durations)})")
            params += list(self.durations)
        if self.audio is not None:
            clauses.append("audio = ?")
            params.append(int(self.audio))
        if self.downloaded is not None:
            clauses.append("download_state = 'done'" if self.downloaded
                           else "download_state != 'done'")
        if self.favourite is not None:
            clauses.append("favourite = ?")
            params.append(int(self.favourite))
        for tag in self.tags:
            clauses.append("id IN (SELECT generation_id FROM generation_tags WHERE tag = ?)")
            params.append(tag)
        if self.folded:
            marks = ", ".join("?" for _ in self.folded)
            clauses.append(f"(batch_id IS NULL OR batch_id NOT IN ({marks}) OR id IN (SELECT"
                           f" MIN(id) FROM generations WHERE batch_id IN ({marks})"
                           " GROUP BY batch_id))")
            params += [*self.folded, *self.folded]
        return "WHERE " + " AND ".join(clauses), params


def split_words(text: str, *, keep_quotes: bool = False) -> list[str]:
    """Split on spaces, but keep a "quoted phrase" as one word."""
    words, buf, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            if keep_quotes:
                buf.append(ch)
            continue
        if ch.isspace() and not quoted:
            if buf:
                words.append("".join(buf))
                buf = []
            continue
        buf.append(ch)
    if buf:
        words.append("".join(buf))
    return words


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _day(text: str, name: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name}:{text} is not a date; write {name}:YYYY-MM-DD") from None
    return datetime.combine(day, time(), tzinfo=datetime.now().astimezone().tzinfo)


def _flag(value: str, name: str) -> bool:
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise FilterError(f"{name}:{value} should be {name}:yes or {name}:no")


def parse_filter(line: str) -> HistoryFilter:
    """``fox status:FAILED,CANCELED tier:720P dur:5 audio:yes dl:no fav tag:x since:… until:…``.

    Problems (an unknown value) are collected, not raised, so typing never fails.
    """
    found = HistoryFilter()
    words, problems = [], []
    for token in split_words(line, keep_quotes=True):
        key, sep, value = token.partition(":")
        key = key.lower()
        try:
            if not sep:
                if key in ("fav", "favourite", "favorite", "★"):
                    found = replace(found, favourite=True)
                elif key == "trash":
                    found = replace(found, trash=True)
                else:
                    words.append(token)
            elif key == "in" and value.lower() == "trash":
                found = replace(found, trash=True)
            elif key == "status":
                statuses = tuple(v.upper() for v in value.split(",") if v)
                unknown = [v for v in statuses if v not in SHOWN_STATUSES]
                if unknown:
                    raise FilterError(f"status:{','.join(unknown)} is not a status; use "
                                      + ", ".join(sorted(SHOWN_STATUSES)))
                found = replace(found, statuses=found.statuses + statuses)
            elif key == "tier":
                tiers = tuple(v.upper() if v.upper().endswith("P") else v.upper() + "P"
                              for v in value.split(",") if v)
                bad = [t for t in tiers if t not in SIZES_BY_TIER]
                if bad:
                    raise FilterError(f"tier:{value}: use 360P, 540P, 720P or 1080P")
                found = replace(found, tiers=found.tiers + tiers)
            elif key in ("dur", "duration"):
                try:
                    durations = tuple(int(v.rstrip("s")) for v in value.split(",") if v)
                except ValueError:
                    raise FilterError(f"{key}:{value}: use 5, 8 or 10") from None
                found = replace(found, durations=found.durations + durations)
            elif key == "audio":
                found = replace(found, audio=_flag(value, key))
            elif key in ("dl", "downloaded"):
                found = replace(found, downloaded=_flag(value, key))
            elif key in ("fav", "favourite", "favorite"):
                found = replace(found, favourite=_flag(value, key))
            elif key == "tag":
                found = replace(found, tags=found.tags + tuple(v for v in value.split(",") if v))
            elif key == "since":
                found = replace(found, since=_day(value, key))
            elif key == "until":
                found = replace(found, until=_day(value, key) + timedelta(days=1))
            else:
                words.append(token)
        except FilterError as exc:
            problems.append(str(exc))
    return replace(found, text=" ".join(words), problems=tuple(problems))


def order_by(column: str, descending: bool) -> str:
    expression = SORTS.get(column, "created_at")
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY {expression} {direction}, id {direction}"
