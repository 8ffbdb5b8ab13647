"""Videos that remember how they were made: provenance in the MP4, and sidecars.

A downloaded video is remuxed (PyAV; the encoded frames are copied, never
re-encoded) into a copy whose container metadata says which generation it is:

- ``pixverse_task_id``, ``pixverse_prompt``, ``pixverse_model``, ``pixverse_size``,
  ``pixverse_duration``, ``pixverse_seed``, ``pixverse_audio``,
  ``pixverse_watermark``, ``pixverse_created_at`` and ``pixverse_metadata`` (the
  scheme's version): one key each, as text;
- ``comment``: the same keys as one compact JSON object, with typed values —
  the exact record (a prompt's control characters are JSON escapes in it);
- ``title`` (the prompt's first words), ``description`` (the prompt) and
  ``creation_time`` (the generation's, in the movie header), which players show.

FFmpeg's MP4 muxer writes keys of its own choosing only with
``movflags=use_metadata_tags``; it then stores every key, ``comment`` included,
as a QuickTime "keys" (``mdta``) item instead of an iTunes ``©cmt`` atom.
FFmpeg, ffprobe, mpv and ExifTool read both.  A later plain remux (``ffmpeg -c
copy``) keeps title, comment and description but drops the ``pixverse_`` keys,
so ``read`` takes the comment's JSON first and the keys only without it.

Text from outside stays inert: the keys, title and description hold the prompt
with its control characters made visible (``printable``); only the JSON holds it
exactly, escaped.  Reading never trusts a file: whatever it holds is returned as
typed values or not at all; callers check and escape them like any other input.

A sidecar ``NAME.json`` beside ``NAME.mp4`` holds the export record of
``pixverse-tui export`` (every stored field), for ``import`` to read back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from storage import Generation
from storage.clock import parse_iso
from tui.engine.media.safe_files import write_atomically
from tui.safe_text import json_text, printable

SCHEME = 1  # the version of the keys below; a reader ignores a newer one's unknown keys
PREFIX = "pixverse_"
MARKER = PREFIX + "metadata"
FIELDS = ("task_id", "prompt", "model", "size", "duration", "seed", "audio", "watermark",
          "created_at")
# Custom keys survive only as QuickTime "keys" items; faststart puts the index first
# so a player can start before the whole file has arrived.
MUX_OPTIONS = {"movflags": "use_metadata_tags+faststart"}
TITLE_LENGTH = 80
MAX_COMMENT = 1 << 20  # a comment longer than this is not ours: not parsed
MAX_SIDECAR = 8 << 20  # as an export line (transfer.MAX_LINE)
# What a demuxer reports about the file itself, or what the muxer sets anew: not copied.
_NOT_COPIED = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder",
                         "creation_time", "title", "comment", "description"})
_SURROGATE = re.compile("[\ud800-\udfff]")


class ProvenanceError(Exception):
    """Why a video could not be given its metadata, as a sentence fragment."""


@dataclass(frozen=True)
class Provenance:
    """How one video was made, as its file records it."""

    task_id: str | None
    prompt: str
    model: str | None = None
    size: str | None = None
    duration: int | None = None
    seed: int | None = None
    audio: bool | None = None
    watermark: bool | None = None
    created_at: str | None = None

    @classmethod
    def of(cls, row: Generation) -> Provenance:
        return cls(task_id=row.task_id, prompt=row.prompt, model=row.model, size=row.size,
                   duration=row.duration, seed=row.seed, audio=row.audio,
                   watermark=row.watermark, created_at=row.created_at)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def comment(self) -> str:
        """The compact JSON for ``comment``: exact, and inert in a terminal."""
        data: dict[str, Any] = {MARKER: SCHEME}
        data.update({PREFIX + name: value for name, value in self.as_dict().items()})
        text = json_text(data, indent=None)
        # A lone surrogate cannot be written as UTF-8; as a JSON escape it reads back exact.
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    def tags(self) -> dict[str, str]:
        """Every container key this video gets."""
        tags = {MARKER: str(SCHEME)}
        for name, value in self.as_dict().items():
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = printable(value, multiline=name == "prompt")
            tags[PREFIX + name] = _utf8(text)
        flat = " ".join(printable(self.prompt).split())
        tags["title"] = _utf8(flat if len(flat) <= TITLE_LENGTH
                              else flat[: TITLE_LENGTH - 1] + "…")
        tags["description"] = _utf8(printable(self.prompt, multiline=True))
        tags["comment"] = self.comment()
        moment = parse_iso(self.created_at)
        if moment is not None and moment.tzinfo is not None:
            tags["creation_time"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return tags


def _utf8(text: str) -> str:
    """Text FFmpeg can hold: a C string (no NUL) of UTF-8 (no lone surrogates)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


# -- writing ------------------------------------------------------------------------

def write_tagged(source: Path, dest: Path, provenance: Provenance) -> None:
    """Copy ``source`` to ``dest`` with ``provenance`` in its metadata — no re-encoding.

    Every stream is copied packet by packet; the source's own container keys are
    kept (ours replace only theirs of the same name).  The copy is read back
    before this returns: the same streams with the same packet counts, the
    source's keys, and ``provenance`` exactly.  Raises ``ProvenanceError``;
    ``dest`` may then hold a partial file for the caller to remove.
    """
    import av

    try:
        kept = _copy(av, source, dest, provenance.tags())
        _verify(av, dest, provenance, kept)
    except ProvenanceError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, TypeError) as exc:
        raise ProvenanceError(_reason(exc)) from None


def _copy(av: Any, source: Path, dest: Path, tags: Mapping[str, str]
          ) -> tuple[dict[str, str], list[tuple[str, int]]]:
    """Remux; returns the source keys kept and (codec, packets) for every stream."""
    with av.open(str(source), metadata_errors="strict") as src, \
            av.open(str(dest), "w", format="mp4", options=dict(MUX_OPTIONS)) as out:
        kept = {k: v for k, v in src.metadata.items()
                if k not in _NOT_COPIED and not k.startswith(PREFIX)}
        out.metadata.update(kept)
        out.metadata.update(tags)
        streams = {}
        for stream in src.streams:
            if stream.type not in ("video", "audio", "subtitle"):
                raise ProvenanceError(f"it holds a {stream.type} stream that a remux would "
                                      "not keep")
            streams[stream.index] = out.add_stream_from_template(stream)
        if not streams:
            raise ProvenanceError("it holds no stream to copy")
        counts = dict.fromkeys(streams, 0)
        for packet in src.demux():
            if packet.dts is None:  # the demuxer's end-of-stream marker, no data
                continue
            counts[packet.stream.index] += 1
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
        shape = [(src.streams[i].codec_context.name, counts[i]) for i in sorted(streams)]
    return kept, shape


def _verify(av: Any, dest: Path, provenance: Provenance,
            expected: tuple[dict[str, str], list[tuple[str, int]]]) -> None:
    kept, shape = expected
    with av.open(str(dest), metadata_errors="strict") as copy:
        got = [(s.codec_context.name, s.frames) for s in copy.streams]
        if got != shape:
            raise ProvenanceError("the copy did not hold the same frames")
        if any(copy.metadata.get(k) != v for k, v in kept.items()):
            raise ProvenanceError("the copy lost some of the video's own metadata")
    if read(dest) != provenance:
        raise ProvenanceError("the metadata did not read back as written")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split()).rstrip(".")
    return f"the video could not be remuxed ({text or type(exc).__name__})"


# -- reading ------------------------------------------------------------------------

def container_tags(path: Path) -> dict[str, str] | None:
    """The file's container metadata; ``None`` if it is not a media file PyAV can open."""
    import av

    try:
        with av.open(str(path), metadata_errors="replace") as container:
            return dict(container.metadata)
    except (av.error.FFmpegError, OSError, ValueError, MemoryError):
        return None


def read(path: Path) -> Provenance | None:
    """What the file says about its generation; ``None`` if it says nothing we wrote."""
    tags = container_tags(path)
    return None if tags is None else from_tags(tags)


def from_tags(tags: Mapping[str, str]) -> Provenance | None:
    """Provenance from container keys: the comment's JSON, else the ``pixverse_`` keys."""
    comment = tags.get("comment", "")
    if MARKER in comment and len(comment) <= MAX_COMMENT:
        try:
            data = json.loads(comment)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and MARKER in data:
            found = _typed(data, exact=True)
            if found is not None:
                return found
    if MARKER in tags or PREFIX + "task_id" in tags:
        return _typed(tags, exact=False)
    return None


def _typed(values: Mapping[str, Any], *, exact: bool) -> Provenance | None:
    """Each field of the right type, or left out; ``None`` without a prompt."""
    def get(name: str) -> Any:
        return values.get(PREFIX + name)

    def text(name: str) -> str | None:
        value = get(name)
        return value if isinstance(value, str) else None

    def whole(name: str) -> int | None:
        value = get(name)
        if not exact and isinstance(value, str) and value.isascii() and value.isdigit() \
                and len(value) < 19:
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    def flag(name: str) -> bool | None:
        value = get(name)
        if not exact and value in ("true", "false"):
            return bool(value == "true")
        return value if isinstance(value, bool) else None

    prompt = text("prompt")
    if prompt is None:
        return None
    return Provenance(task_id=text("task_id"), prompt=prompt, model=text("model"),
                      size=text("size"), duration=whole("duration"), seed=whole("seed"),
                      audio=flag("audio"), watermark=flag("watermark"),
                      created_at=text("created_at"))


# -- sidecars -----------------------------------------------------------------------

def sidecar_path(video: Path) -> Path:
    """``NAME.json`` beside ``NAME.mp4``."""
    return video.with_suffix(".json")


def write_sidecar(video: Path, record: Mapping[str, Any]) -> Path:
    """Write ``record`` (an export record) beside ``video``, atomically; OSError if not."""
    path = sidecar_path(video)
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text(record)) + "\n"
    write_atomically(path, text.encode("utf-8"))  # a link at either name is never followed
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
