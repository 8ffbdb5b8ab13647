"""Export and import of the local history (JSON Lines; CSV for spreadsheets).

A JSONL line holds every stored field of a generation (but the local row id),
its tags and its status history, so ``export`` → ``import`` → ``export`` gives
the same lines.  Import is idempotent on task id.

An imported file is text from outside, so nothing in it is trusted: each line
is decoded and checked on its own, field by field, before anything is written.
A bad line is reported by number and skipped; the good lines around it are
still imported.

The same record, alone in a file, is a sidecar (``NAME.json`` beside a saved
``NAME.mp4``); ``import_path`` reads sidecars, videos (by the provenance in their
metadata) and folders of them, so a folder of videos rebuilds a lost history.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import math
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

from storage import Generation, TaskStore
from storage.clock import now_iso
from storage.history import HistoryFilter
from storage.records import (
    IMPORTABLE,
    STATUS_RANK,
    SUBMISSION_ABANDONED,
    SUBMISSION_ACCEPTED,
    SUBMISSION_QUEUED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    SUBMISSION_TRACKED,
    SUBMISSION_UNCONFIRMED,
    StatusEvent,
)
from tui.dashscope.sizes import DURATIONS, SEED_MAX
from tui.dashscope.task_ids import task_id_problem
from tui.engine.media import provenance
from tui.engine.media.mp4check import Mp4Problem, check_mp4

FORMAT_VERSION = 1
IMPORT_BATCH = 2000
MAX_LINE = 8 * 1024 * 1024  # far beyond any real generation; bounds memory on garbage
SHOWN_PROBLEMS = 20  # skipped lines listed to the user; the rest are counted
KEPT_PROBLEMS = 1000  # skipped lines remembered, so a huge garbage file stays small
SQLITE_INT_MAX = 2**63 - 1
MAX_DURATION = 3600  # tasks adopted from other clients may be any length

Check = Callable[[Any], str | None]


class ImportProblem(ValueError):
    """Why one line cannot be imported, as a sentence fragment."""


# -- export -------------------------------------------------------------------

async def record_of(store: TaskStore, row: Generation) -> dict[str, Any]:
    """One generation as an export line (and a sidecar) holds it."""
    data = row._asdict()
    record: dict[str, Any] = {"format": FORMAT_VERSION}
    record.update({k: data[k] for k in IMPORTABLE})
    record["tags"] = await store.history.tags_of(row.id)
    events: Sequence[StatusEvent] = await store.generations.events(row.id)
    record["history"] = [e._asdict() for e in events]
    return record


async def records(store: TaskStore, where: HistoryFilter | None = None
                  ) -> AsyncIterator[dict[str, Any]]:
    async for row in store.history.rows(where):
        yield await record_of(store, row)


async def export(store: TaskStore, out: TextIO, fmt: str = "jsonl",
                 where: HistoryFilter | None = None) -> int:
    count = 0
    writer = None
    async for record in records(store, where):
        if fmt == "jsonl":
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            flat = {k: spreadsheet_safe(v) for k, v in record.items()
                    if k not in ("history", "format", "tags")}
            flat["tags"] = spreadsheet_safe(",".join(record["tags"]))
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(flat), quoting=csv.QUOTE_ALL)
                writer.writeheader()
            writer.writerow(flat)
        count += 1
    return count


FORMULA_STARTS = ("=", "+", "-", "@")  # what a spreadsheet reads as the start of a formula


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs: text that would start a formula (``=``, ``+``,
    ``-``, ``@``, also after leading whitespace, or a leading tab or CR) gets a single
    quote first, as OWASP recommends against CSV injection (every cell is quoted too).
    Numbers and everything else are left as they are; the JSONL export is never
    touched."""
    if isinstance(value, str) and value and (value[0] in "\t\r"
                                             or value.lstrip().startswith(FORMULA_STARTS)):
        return "'" + value
    return value


# -- field checks: each returns what is wrong, to follow the field's name -------

def _text(value: Any) -> str | None:
    """Any str SQLite can store (JSON's \\ud800 escapes make ones it cannot)."""
    if not isinstance(value, str):
        return "must be text"
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a broken Unicode escape"
    return None


def _words(value: Any) -> str | None:
    problem = _text(value)
    if problem is None and not value.strip():
        return "must not be empty"
    return problem


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _whole(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"must be a whole number from {low} to {high}"
    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and low <= value <= high):
            return None
        return f"must be a number from {low:g} to {high:g}"
    return check


def _one_of(*choices: Any) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str | int) and not isinstance(value, bool) and value in choices:
            return None
        return f"must be one of {', '.join(str(c) for c in choices)}"
    return check


def _matching(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        if isinstance(value, str) and compiled.fullmatch(value):
            return None
        return f"must be {what}"
    return check


def _moment(value: Any) -> str | None:
    """ISO-8601 with an offset: naive times would break the arithmetic on timestamps."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return "must be a date and time with its UTC offset, like 2026-03-20T02:00:00+00:00"
    return None


def _task_id(value: Any) -> str | None:
    problem = task_id_problem(value)
    return f"is not usable: {problem}" if problem else None


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _list_of(item: Check, what: str) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list of {what}"
        for number, entry in enumerate(value, 1):
            problem = item(entry)
            if problem:
                return f"entry {number}: {problem}"
        return None
    return check


# Every column import writes, with its rule.  A column left out of a line gets
# the database's default; one given as null must allow it.
FIELDS: dict[str, Check] = {
    "created_at": _moment,
    "endpoint": _text,
    "model": _text,
    "prompt": _words,
    "size": _matching(r"\d{1,5}\*\d{1,5}|\?", 'a size like "1280*720" (or "?")'),
    "duration": _whole(0, MAX_DURATION),  # narrowed by _ROW_RULES
    "audio": _flag,
    "watermark": _flag,
    "seed": _optional(_whole(0, SEED_MAX)),
    "submission": _one_of(SUBMISSION_QUEUED, SUBMISSION_SENDING, SUBMISSION_ACCEPTED,
                          SUBMISSION_REJECTED, SUBMISSION_UNCONFIRMED, SUBMISSION_ABANDONED,
                          SUBMISSION_TRACKED),
    "submission_note": _optional(_text),
    "task_id": _optional(_task_id),
    "status": _optional(_one_of(*STATUS_RANK)),
    "submit_time": _optional(_moment),
    "scheduled_time": _optional(_moment),
    "end_time": _optional(_moment),
    "video_url": _optional(_matching(r"https?://[^\s\x00-\x1f\x7f]+",
                                     "an http:// or https:// address")),
    "orig_prompt": _optional(_text),
    "usage_duration": _optional(_number(0, 86400)),
    "usage_size": _optional(_text),
    "usage_fps": _optional(_whole(0, 1000)),
    "usage_sr": _optional(_text),
    "usage_audio": _optional(_flag),
    "usage_video_count": _optional(_whole(0, 1000)),
    "error_code": _optional(_text),
    "error_message": _optional(_text),
    "create_request_id": _optional(_text),
    "last_request_id": _optional(_text),
    "polls": _whole(0, SQLITE_INT_MAX),
    "poll_failures": _whole(0, SQLITE_INT_MAX),
    "last_polled_at": _optional(_moment),
    "next_poll_at": _optional(_moment),
    "download_state": _one_of("none", "downloading", "done", "failed", "expired", "refused",
                              "trashed"),
    "download_path": _optional(_matching(r"[^\x00]+", "a file path")),
    "download_bytes": _optional(_whole(0, SQLITE_INT_MAX)),
    "download_total": _optional(_whole(0, SQLITE_INT_MAX)),
    # it names the preview cache's files, so nothing but a digest may pass
    "download_sha256": _optional(_matching(r"[0-9a-f]{64}", "a SHA-256 in hex")),
    "download_error": _optional(_text),
    "updated_at": _moment,
    "favourite": _flag,
    "note": _optional(_text),
    "batch_id": _optional(_matching(r"[0-9A-Za-z_-]{1,64}", "a batch id")),
    "submitted_by": _optional(_text),
}

EVENT_FIELDS: dict[str, Check] = {"at": _moment, "status": _words, "detail": _optional(_text)}


def _event(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object with at, status and detail"
    return _first_problem(value, EVENT_FIELDS, required=("at", "status"))


EXTRA_FIELDS: dict[str, Check] = {
    "tags": _list_of(_words, "non-empty text tags"),
    "history": _list_of(_event, "status events"),
}
REQUIRED = ("prompt", "created_at", "size", "duration")
_KNOWN = (*FIELDS, *EXTRA_FIELDS)  # what a record keeps of a line, in this order

# Rules across fields, checked after FIELDS: (holds for a good record, else this problem).
_ROW_RULES: tuple[tuple[Callable[[dict[str, Any]], bool], str], ...] = (
    # Rows adopted from other clients (sync, track) may carry 0 or other models' lengths.
    (lambda r: r["submission"] == SUBMISSION_TRACKED or r["duration"] in (0, *DURATIONS),
     f"duration must be {', '.join(map(str, (0, *DURATIONS)))} seconds"),
)


def _first_problem(record: dict[str, Any], table: dict[str, Check],
                   required: Sequence[str] = ()) -> str | None:
    """The first thing wrong with ``record`` against ``table``, as a sentence fragment."""
    for name in required:
        if name not in record:
            return f"{name} is missing"
    # Nearly every record is good: when it holds fewer fields than the table has, they
    # are checked as they come, and only a bad record is looked at again in the table's
    # order, which says which problem is the first.
    if len(record) < len(table):
        for name, value in record.items():
            found = table.get(name)
            if found is not None and found(value):
                break
        else:
            return None
    for name, check in table.items():
        if name in record:
            problem = check(record[name])
            if problem:
                return f"{name} {problem}"
    return None


# -- reading a line -----------------------------------------------------------

def _decode(raw: bytes | str) -> Any:
    """JSON from one line; ImportProblem says why it is not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise ImportProblem("not UTF-8 text") from None
    try:
        return json.loads(text.removeprefix("\ufeff"))  # a BOM an editor may have added
    except json.JSONDecodeError as exc:
        raise ImportProblem(f"not JSON ({exc.msg})") from None
    except ValueError:  # an integer too long for Python to convert
        raise ImportProblem("holds a number too long to read") from None
    except RecursionError:
        raise ImportProblem("not JSON that can be read (nested too deeply)") from None


def parse_record(raw: bytes | str) -> dict[str, Any]:
    """One checked record, ready for ``TaskStore.import_many``; ImportProblem if not."""
    return check_record(_decode(raw))


def check_record(found: Any) -> dict[str, Any]:
    """``found`` (decoded JSON, or built from a video's metadata) checked field by field."""
    if not isinstance(found, dict):
        raise ImportProblem("not an exported generation (not a JSON object)")
    version = found.get("format", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ImportProblem(f"format must be a whole number from 1 to {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise ImportProblem(f"written by a newer pixverse-tui (format {version}); "
                            "update pixverse-tui to import it")
    problem = _first_problem(found, {}, REQUIRED)
    if problem:
        raise ImportProblem(f"not an exported generation ({problem})")
    record = {k: found[k] for k in _KNOWN if k in found}
    record.setdefault("endpoint", "")
    record.setdefault("model", "pixverse/pixverse-v5.6-t2v")
    record.setdefault("submission",
                      SUBMISSION_TRACKED if record.get("task_id") else SUBMISSION_REJECTED)
    record.setdefault("updated_at", record["created_at"])
    problem = _first_problem(record, FIELDS) or _first_problem(record, EXTRA_FIELDS)
    if problem:
        raise ImportProblem(problem)
    for applies, sentence in _ROW_RULES:
        if not applies(record):
            raise ImportProblem(sentence)
    if record["submission"] == SUBMISSION_QUEUED:  # the other machine's queue may send it:
        record.update(submission=SUBMISSION_ABANDONED,  # never from here as well
                      submission_note="queued on the machine that exported it; not sent "
                                      "from here")
    return _as_data(record)


# A download in progress, or a video set aside in a trash folder, happened on the
# machine that wrote the record: here it names no file of ours.
_ELSEWHERE = ("downloading", "trashed")


def _as_data(record: dict[str, Any]) -> dict[str, Any]:
    """What a record says about a download is data, never a file operation.

    Only a saved video keeps its path (as a fact about where it was saved; the app
    checks a file itself before it moves or deletes it); a download in progress or
    a video in a trash folder becomes "not downloaded", and nothing but a saved
    video names a file.
    """
    state = record.get("download_state")
    if state is None or state == "done":
        return record
    clean = {**record, **dict.fromkeys(_DOWNLOAD[:-1])}
    if state in _ELSEWHERE:
        clean.update(download_state="none", download_error=None)
    return clean


def _raw_lines(source: IO[bytes] | IO[str]) -> Iterator[tuple[int, bytes | str | None]]:
    """(number, line) with blank lines left out; None for a line over MAX_LINE.

    A text file is read through its byte buffer when it has one, so a line
    that is not UTF-8 is reported on its own instead of ending the read.
    """
    stream: IO[Any] = getattr(source, "buffer", None) or source
    number = 0
    while line := stream.readline(MAX_LINE + 1):
        number += 1
        end = b"\n" if isinstance(line, bytes) else "\n"
        if len(line) > MAX_LINE and not line.endswith(end):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(end):
                pass
            yield number, None
        elif line.strip():
            yield number, line


def read_jsonl(source: IO[bytes] | IO[str]
               ) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, record, None) for a good line, (line number, None, reason) for a bad one."""
    for number, line in _raw_lines(source):
        if line is None:
            yield number, None, f"longer than {MAX_LINE // (1024 * 1024)} MB"
            continue
        try:
            yield number, parse_record(line), None
        except ImportProblem as exc:
            yield number, None, str(exc)


# -- importing ----------------------------------------------------------------

@dataclass
class ImportReport:
    """What an import did, line by line (or file by file) where it could not."""

    name: str
    added: int = 0
    present: int = 0
    skipped: list[tuple[int | str, str]] = field(default_factory=list)  # the first KEPT_PROBLEMS
    skipped_count: int = 0
    unit: str = "line"  # what is skipped: lines of a JSONL file, or files of a folder
    notes: list[str] = field(default_factory=list)  # worth saying, but nothing was lost

    def __iter__(self) -> Iterator[int]:
        """``added, present = report`` keeps working for callers of the old tuple."""
        return iter((self.added, self.present))

    def skip(self, where: int | str, reason: str) -> None:
        """``where``: a line number, or the name of a file."""
        self.skipped_count += 1
        if len(self.skipped) < KEPT_PROBLEMS:
            self.skipped.append((where, reason))

    def note(self, text: str) -> None:
        if len(self.notes) < KEPT_PROBLEMS:
            self.notes.append(text)

    def summary(self) -> str:
        """One sentence: what was imported, what was already here, what was skipped."""
        text = (f"imported {self.added} generation{'s' if self.added != 1 else ''}; "
                f"{self.present} already here")
        if self.skipped_count:
            plural = "s" if self.skipped_count != 1 else ""
            text += f"; {self.skipped_count} {self.unit}{plural} skipped"
        return text

    def problem_lines(self, limit: int = SHOWN_PROBLEMS) -> list[str]:
        """The first ``limit`` skipped lines with their reasons, then how many more."""
        shown = [f"{self.name}, line {where}: {reason}" if isinstance(where, int)
                 else f"{where}: {reason}" for where, reason in self.skipped[:limit]]
        hidden = self.skipped_count - len(shown)
        return shown + ([f"… and {hidden} more"] if hidden > 0 else [])

    def note_lines(self, limit: int = SHOWN_PROBLEMS) -> list[str]:
        hidden = len(self.notes) - limit
        return self.notes[:limit] + ([f"… and {hidden} more"] if hidden > 0 else [])

    def lines(self) -> list[str]:
        return [self.summary(), *self.problem_lines(), *self.note_lines()]


async def import_jsonl(store: TaskStore, source: IO[bytes] | IO[str], name: str
                       ) -> ImportReport:
    """Import every good line in batches of IMPORT_BATCH; report the bad ones.  A file
    of more than one batch goes in inside ``History.bulk`` (PostgreSQL then builds an
    empty history's indexes once, at the end)."""
    report = ImportReport(name)
    batch: list[dict[str, Any]] = []

    async def flush() -> None:
        added = await store.history.import_many(batch)
        report.added += added
        report.present += len(batch) - added
        batch.clear()

    async with contextlib.AsyncExitStack() as loading:
        long = False
        for number, record, reason in read_jsonl(source):
            if record is None:
                report.skip(number, reason or "not importable")
                continue
            if len(batch) >= IMPORT_BATCH:  # a batch full and more to come: a long import
                if not long:
                    long = True
                    await loading.enter_async_context(store.history.bulk())
                await flush()
            batch.append(record)
        if batch:
            await flush()
    return report


# -- importing videos: sidecars and the videos' own metadata ---------------------------

async def import_path(store: TaskStore, path: Path) -> ImportReport:
    """Import a JSONL export, a sidecar ``NAME.json``, a video, or a folder of them.

    A sidecar (one JSON object, as ``[downloads] sidecar`` writes it) becomes a row
    exactly as recorded; a video beside it with the same stem is linked to the row
    when it is a whole MP4 and the one the sidecar describes (its SHA-256, or its
    metadata's task id).  A video without a sidecar is rebuilt from its metadata.
    Linked rows record the file as it is here: its path, size and SHA-256.
    Raises OSError when ``path`` itself cannot be read.
    """
    if path.is_dir():
        return await _import_files(store, _walk(path), path, str(path))
    kind = path.suffix.lower()
    if kind == ".mp4":
        beside = provenance.sidecar_path(path)
        group = [path, beside] if beside.is_file() else [path]
        return await _import_files(store, group, path.parent, str(path))
    if kind == ".json" and (sidecar := _one_object(path)) is not None:
        video = path.with_suffix(".mp4")
        group = [path, video] if video.is_file() else [path]
        return await _import_files(store, group, path.parent, str(path), loaded={path: sidecar})
    with path.open("rb") as source:
        return await import_jsonl(store, source, str(path))


def _walk(folder: Path) -> list[Path]:
    """The sidecars and videos under ``folder``: regular files only (a named pipe would
    block the read), symbolic links to folders not followed."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.suffix.lower() in (".json", ".mp4") and path.is_file():
                found.append(path)
    return found


def _one_object(path: Path) -> Any | None:
    """The file's JSON if it is one JSON object (a sidecar), else None (JSON Lines)."""
    with path.open("rb") as source:
        raw = source.read(MAX_LINE + 1)
    if len(raw) > MAX_LINE:
        return None
    try:
        found = _decode(raw)
    except ImportProblem:
        return None
    return found if isinstance(found, dict) else None


async def _import_files(store: TaskStore, paths: Sequence[Path], base: Path, name: str, *,
                        loaded: dict[Path, Any] | None = None) -> ImportReport:
    report = ImportReport(name, unit="file")
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    for path in paths:
        kind = path.suffix.lower()
        groups.setdefault((path.parent, path.stem), {})[kind] = path
    found_records: list[tuple[int, int, dict[str, Any]]] = []
    for group in groups.values():
        sidecar, video = group.get(".json"), group.get(".mp4")
        shown = _relative(next(iter(group.values())) if sidecar is None else sidecar, base)
        record: dict[str, Any] | None
        try:
            if sidecar is not None:
                found = (loaded or {}).get(sidecar)
                record = await _from_sidecar(sidecar, found, video, report, base)
            elif video is not None:
                record = await _from_video(store, video, report, base)
            else:
                continue
        except ImportProblem as exc:
            report.skip(shown, str(exc))
            continue
        except OSError as exc:
            report.skip(shown, f"cannot be read ({exc.strerror or type(exc).__name__})")
            continue
        if record is None:  # already here, known by its SHA-256
            report.present += 1
            continue
        # Several files of one task (copies, a cut one): the first imported stands, so
        # those linked to a whole video go first, a sidecar's full record before them all.
        rank = (0 if record.get("download_state") == "done" else 2) + (sidecar is None)
        found_records.append((rank, len(found_records), record))
    found_records.sort(key=lambda entry: entry[:2])
    for start in range(0, len(found_records), IMPORT_BATCH):
        batch = [record for _, _, record in found_records[start:start + IMPORT_BATCH]]
        added = await store.history.import_many(batch)
        report.added += added
        report.present += len(batch) - added
    return report


def _relative(path: Path, base: Path) -> str:
    """How a report names a file: from the folder imported."""
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


async def _from_sidecar(sidecar: Path, found: Any, video: Path | None, report: ImportReport,
                        base: Path) -> dict[str, Any]:
    if found is None:
        with sidecar.open("rb") as source:
            raw = source.read(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise ImportProblem(f"longer than {MAX_LINE // (1024 * 1024)} MB")
        found = _decode(raw)
    record = check_record(found)
    if video is None:
        return _unlinked(record, report, f"{_relative(sidecar, base)}: no video beside it, "
                                         "so its generation is not linked to a file")
    examined = await asyncio.to_thread(_examine, video)
    if isinstance(examined, str):
        return _unlinked(record, report, f"{_relative(video, base)} is not linked to its "
                                         f"generation: {examined}")
    size, digest = examined
    if digest != record.get("download_sha256"):
        told = await asyncio.to_thread(provenance.read, video)
        if told is None or not record.get("task_id") or told.task_id != record.get("task_id"):
            return _unlinked(record, report, f"{_relative(video, base)} is not linked to its "
                                             f"generation: it is not the video {sidecar.name} "
                                             "describes (its SHA-256 differs)")
    return _linked(record, video, size, digest)


async def _from_video(store: TaskStore, video: Path, report: ImportReport,
                      base: Path) -> dict[str, Any] | None:
    """The generation a video's metadata describes; None if the history has the file."""
    told = await asyncio.to_thread(provenance.read, video)
    examined = await asyncio.to_thread(_examine, video)
    if told is None:
        if not isinstance(examined, str) and await store.generations.by_sha256(examined[1]):
            return None
        raise ImportProblem("has no pixverse-tui metadata and no sidecar beside it")
    found: dict[str, Any] = {
        "format": FORMAT_VERSION, "status": "SUCCEEDED", "submission": SUBMISSION_TRACKED,
        **{k: v for k, v in told.as_dict().items() if v is not None},
        "history": [{"at": now_iso(), "status": "SUCCEEDED",
                     "detail": f"rebuilt from the metadata of {video.name}"}],
    }
    record = check_record(found)
    if isinstance(examined, str):
        return _unlinked(record, report, f"{_relative(video, base)} is not linked to its "
                                         f"generation: {examined}")
    return _linked(record, video, *examined)


def _examine(video: Path) -> tuple[int, str] | str:
    """(size, SHA-256) of a whole MP4; else why it is not one."""
    try:
        check_mp4(video)
    except Mp4Problem as exc:
        return str(exc)
    return video.stat().st_size, provenance.sha256_of(video)


_DOWNLOAD = ("download_path", "download_bytes", "download_total", "download_sha256",
             "download_error")


def _linked(record: dict[str, Any], video: Path, size: int, digest: str) -> dict[str, Any]:
    note = record.get("download_error") if record.get("download_state") == "done" else None
    return {**record, "download_state": "done", "download_path": str(video.absolute()),
            "download_bytes": size, "download_total": size, "download_sha256": digest,
            "download_error": note}


def _unlinked(record: dict[str, Any], report: ImportReport, note: str) -> dict[str, Any]:
    """The record without a claim to a file that is not here."""
    report.note(note)
    if record.get("download_state") != "done":
        return record
    return {**record, "download_state": "none", **dict.fromkeys(_DOWNLOAD)}
