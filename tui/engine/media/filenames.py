"""Safe file names for downloads, from a template.

Only the named fields below can appear; each value is reduced to letters,
digits, ``-`` and ``_`` (any script — Chinese prompts keep their characters),
so neither a prompt nor a URL can ever choose a directory or an extension.

A name is measured in bytes of UTF-8, as file systems measure it (255 at most
on most of them): a stem gets ``MAX_STEM_BYTES``, cut at a character boundary,
leaving room for ``.mp4.part`` and a suffix that tells two generations apart.
Names Windows reserves for devices (``con``, ``nul``, ``com1``…) are never stems.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime

from storage import Generation
from storage.clock import parse_iso

DEFAULT_TEMPLATE = "{date}_{time}_{task8}_{slug}"
MAX_STEM_BYTES = 180
# Device names, whatever their case or extension (``CON.mp4`` is the console too).
RESERVED = frozenset({"con", "prn", "aux", "nul",
                      *(f"{d}{n}" for d in ("com", "lpt") for n in "123456789¹²³")})
FIELDS = ("date", "time", "task_id", "task8", "slug", "size", "duration", "seed", "id", "status")
_UNSAFE = r"[^\w\-]+"  # (compiled when a file is first named: ``list`` names none)


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise ``TemplateError`` naming the first problem in a file-name template."""
    import string  # (its Template compiles a pattern when imported: only templates need it)

    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"file-name template {template!r} is malformed: {exc}") from None
    for literal, name, spec, conversion in parsed:
        if any(ch in literal for ch in "/\\") or ".." in literal:
            raise TemplateError(f"file-name template {template!r} may not contain / \\ or ..")
        if name is None:
            continue
        if name not in FIELDS:
            raise TemplateError(f"file-name template field {{{name}}} is unknown; use "
                                + ", ".join("{" + f + "}" for f in FIELDS))
        if spec or conversion:
            raise TemplateError(f"file-name template field {{{name}}} takes no format spec")
    fixed = len("".join(literal for literal, *_ in parsed).encode("utf-8", "replace"))
    if fixed > MAX_STEM_BYTES:
        raise TemplateError(f"file-name template {template!r} is {fixed} bytes long without its "
                            f"fields; file names are kept to {MAX_STEM_BYTES} bytes (UTF-8)")


def slugify(text: str, limit: int = 40) -> str:
    text = unicodedata.normalize("NFKC", text)
    slug = re.sub(_UNSAFE, "-", text).strip("-_").lower()
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:limit].rstrip("-_") or "video"


def file_name(row: Generation, template: str = DEFAULT_TEMPLATE) -> str:
    check_template(template)
    created = parse_iso(row.created_at) or datetime.now()
    local = created.astimezone()
    task_id = row.task_id or f"local{row.id}"
    values = {
        "date": local.strftime("%Y%m%d"), "time": local.strftime("%H%M%S"),
        "task_id": task_id, "task8": task_id[:8], "slug": slugify(row.prompt),
        "size": row.size.replace("*", "x"), "duration": f"{row.duration}s",
        "seed": "random" if row.seed is None else str(row.seed), "id": str(row.id),
        "status": (row.status or "").lower(),
    }
    safe = {k: slugify(v, 80) if k != "slug" else v for k, v in values.items()}
    stem = re.sub(_UNSAFE, "-", template.format(**safe)).strip("-_.")
    return _fit(stem or f"pixverse-{row.id}") + ".mp4"


def file_names(row: Generation, template: str = DEFAULT_TEMPLATE) -> Iterator[str]:
    """``file_name`` first, then the same with a suffix telling this generation from
    another that had the name first: its task id, then a counter."""
    first = file_name(row, template)
    yield first
    stem = first.removesuffix(".mp4")
    mark = slugify(row.task_id or f"local{row.id}", 80)
    yield _fit(stem, f"-{mark[:8]}") + ".mp4"
    for number in range(2, 100):
        yield _fit(stem, f"-{mark}-{number}") + ".mp4"


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest start of ``text`` whose UTF-8 takes at most ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _fit(stem: str, suffix: str = "") -> str:
    """``stem`` + ``suffix`` within ``MAX_STEM_BYTES``, and never a reserved device name."""
    suffix = cut_to_bytes(suffix, MAX_STEM_BYTES // 2)
    stem = cut_to_bytes(stem, MAX_STEM_BYTES - len(suffix.encode("utf-8"))).rstrip("-_.")
    name = (stem or "video") + suffix
    return name + "_" if name.lower() in RESERVED else name
