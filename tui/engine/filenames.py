"""Safe file names for downloads, from a template.

Only the named fields below can appear; each value is reduced to letters,
digits, ``-`` and ``_`` (any script — Chinese prompts keep their characters),
so neither a prompt nor a URL can ever choose a directory or an extension.
"""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import datetime

from storage import Generation
from storage.clock import parse_iso

DEFAULT_TEMPLATE = "{date}_{time}_{task8}_{slug}"
FIELDS = ("date", "time", "task_id", "task8", "slug", "size", "duration", "seed", "id", "status")
_UNSAFE = re.compile(r"[^\w\-]+", re.UNICODE)


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise ``TemplateError`` naming the first problem in a file-name template."""
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


def slugify(text: str, limit: int = 40) -> str:
    text = unicodedata.normalize("NFKC", text)
    slug = _UNSAFE.sub("-", text).strip("-_").lower()
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
    name = template.format(**safe)
    name = _UNSAFE.sub("-", name).strip("-_.")[:180] or f"pixverse-{row.id}"
    return name + ".mp4"
