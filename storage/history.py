"""Finding past generations: the filter people type, as data every backend reads.

A filter is parsed from the words people type (``fox status:FAILED tier:720P
since:2026-03-01 fav tag:keep by:me``) so the dashboard's filter line and the CLI's
flags share one meaning.  A filter is data: each backend turns it into its own
query (SQLite: ``storage.sqlite.search``) with the meaning ``storage.interface``
states.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from storage.statuses import SHOWN_STATUSES

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from storage.tuples import NamedTuple

SIZES_BY_TIER = {
    "360P": ("640*360", "640*480", "640*640", "480*640", "360*640"),
    "540P": ("1024*576", "1024*768", "1024*1024", "768*1024", "576*1024"),
    "720P": ("1280*720", "1280*960", "1280*1280", "960*1280", "720*1280"),
    "1080P": ("1920*1080", "1920*1440", "1808*1808", "1440*1920", "1080*1920"),
}
SORT_KEYS = ("submitted", "status", "prompt", "task", "size", "duration", "audio", "download",
             "took")  # what a page may be sorted by (see ``History.page``)
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


class FilterError(ValueError):
    pass


MIN_INDEXED = 3  # characters: shorter words are not in the text index (trigrams)


class HistoryFilter(NamedTuple):
    """Which rows a view or command wants (see ``storage.interface.History``).

    A named tuple (``dataclasses`` would load ``inspect``, which costs ``list`` more than
    its page): change a field with ``_replace``; nothing iterates, indexes or orders a
    filter.  Two filters are equal when they ask for the same rows: ``problems`` and
    ``folded`` are not compared.
    """

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
    # Who submitted them (``by:``): ``ME`` (the store's ``who.person``), a whole name
    # (``alice@studio-2``) or a login before its ``@`` (``alice``) — see ``submitter_terms``.
    submitters: tuple[str, ...] = ()
    trash: bool = False  # forgotten generations instead of the kept ones
    problems: tuple[str, ...] = ()  # (not compared)
    # Batches shown as one row (their first task stands for them) — a view's choice,
    # not part of what the user searched for.
    folded: tuple[str, ...] = ()  # (not compared)
    # Only the newest N kept generations are looked at: a view's bound on a search the
    # index cannot serve whole (``unindexed_text``), so that it stops after N rows at any
    # size.
    newest: int | None = None

    def _compared(self) -> tuple[Any, ...]:
        """The fields that say which rows: all but ``problems`` and ``folded``."""
        return tuple(getattr(self, name) for name in _COMPARED)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HistoryFilter):
            return NotImplemented
        return self._compared() == other._compared()

    def __ne__(self, other: object) -> bool:  # (a tuple's own ``!=`` compares every field)
        if not isinstance(other, HistoryFilter):
            return NotImplemented
        return self._compared() != other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    @property
    def empty(self) -> bool:
        return self == HistoryFilter()

    @property
    def unindexed_text(self) -> bool:
        """A word to find too short for the text index (a trigram index serves words of
        three characters or more): only a walk through rows finds it — alone, or beside
        words the index serves (``rain ti``: every "rain" read to find "ti" in none of
        them, 2 s at 1,000,000 rows)."""
        return any(len(word) < MIN_INDEXED for word in split_words(self.text.strip()))


_COMPARED = tuple(name for name in HistoryFilter._fields if name not in ("problems", "folded"))

ME = "me"  # ``by:me``: whoever the store was opened for


def submitter_terms(where: HistoryFilter, me: str) -> list[tuple[str, bool]]:
    """What a backend matches ``submitted_by`` against for ``by:``: (name, whole).  Every
    name matches a submitter equal to it; one that is not whole (no ``@``, not ``me``)
    also matches every ``name@host`` — ``by:alice`` is alice on any machine.  The case of
    Latin letters is ignored.  A row with no recorded submitter matches none."""
    terms = []
    for name in where.submitters:
        if name.lower() == ME:
            terms.append((me, True))
        else:
            terms.append((name, "@" in name))
    return terms


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
    """``fox status:FAILED,CANCELED tier:720P dur:5 audio:yes dl:no fav tag:x by:me since:…``.

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
                    found = found._replace(favourite=True)
                elif key == "trash":
                    found = found._replace(trash=True)
                else:
                    words.append(token)
            elif key == "in" and value.lower() == "trash":
                found = found._replace(trash=True)
            elif key == "status":
                statuses = tuple(v.upper() for v in value.split(",") if v)
                unknown = [v for v in statuses if v not in SHOWN_STATUSES]
                if unknown:
                    raise FilterError(f"status:{','.join(unknown)} is not a status; use "
                                      + ", ".join(sorted(SHOWN_STATUSES)))
                found = found._replace(statuses=found.statuses + statuses)
            elif key == "tier":
                tiers = tuple(v.upper() if v.upper().endswith("P") else v.upper() + "P"
                              for v in value.split(",") if v)
                bad = [t for t in tiers if t not in SIZES_BY_TIER]
                if bad:
                    raise FilterError(f"tier:{value}: use 360P, 540P, 720P or 1080P")
                found = found._replace(tiers=found.tiers + tiers)
            elif key in ("dur", "duration"):
                try:
                    durations = tuple(int(v.rstrip("s")) for v in value.split(",") if v)
                except ValueError:
                    raise FilterError(f"{key}:{value}: use 5, 8 or 10") from None
                found = found._replace(durations=found.durations + durations)
            elif key == "audio":
                found = found._replace(audio=_flag(value, key))
            elif key in ("dl", "downloaded"):
                found = found._replace(downloaded=_flag(value, key))
            elif key in ("fav", "favourite", "favorite"):
                found = found._replace(favourite=_flag(value, key))
            elif key == "tag":
                found = found._replace(tags=found.tags + tuple(v for v in value.split(",") if v))
            elif key == "by":
                names = tuple(v.strip('"') for v in value.split(",") if v.strip('"'))
                if not names:
                    raise FilterError("by: needs a name: by:me, by:alice or by:alice@studio-2")
                found = found._replace(submitters=found.submitters + names)
            elif key == "since":
                found = found._replace(since=_day(value, key))
            elif key == "until":
                found = found._replace(until=_day(value, key) + timedelta(days=1))
            else:
                words.append(token)
        except FilterError as exc:
            problems.append(str(exc))
    return found._replace(text=" ".join(words), problems=tuple(problems))
