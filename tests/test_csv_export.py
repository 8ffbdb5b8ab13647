"""CSV export is safe to open in a spreadsheet; JSONL export stays exact (issue 13,
point 5).

A cell a spreadsheet would read as a formula — one beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, also after leading whitespace — is
written as OWASP recommends against CSV injection: a single quote first, and the
cell quoted.  The JSONL export keeps every byte, so export → import → export
gives the same file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from storage import TaskStore, open_store
from tui.engine.history import transfer

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "  =HYPERLINK(\"x\")",
            "\n=cmd|' /C calc'!A0", "\u3000=1+1", "-", "=", "@"]
HARMLESS = ["a fox in the snow", "月光 🎬", "1+1=2", "x=1", "'quoted", "fox, owl"]


async def filled(path: Path) -> TaskStore:
    store = await open_store(path)
    for text in [*FORMULAS, *HARMLESS]:
        row = await store.intents.add(endpoint="e", model="m", prompt=text, size="1280*720",
                                      duration=5, seed=7)
        await store.intents.mark_rejected(row.id, code=text, message=text, request_id=None)
        await store.history.set_note(row.id, text)
        await store.history.set_tags(row.id, [text.strip() or "x"])
    return store


async def exported(store: TaskStore, fmt: str) -> str:
    out = io.StringIO(newline="")
    await transfer.export(store, out, fmt)
    return out.getvalue()


async def test_csv_cells_that_would_be_formulas_are_neutralised(tmp_path: Path) -> None:
    async with await filled(tmp_path / "tasks.db") as store:
        text = await exported(store, "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_prompt = {}
    for row in rows:
        for name, value in row.items():
            dangerous = value.lstrip()[:1] in ("=", "+", "-", "@") or value[:1] in ("\t", "\r")
            assert not dangerous, f"{name} would run as a formula: {value!r}"
        by_prompt[row["prompt"]] = row
    for formula in FORMULAS:
        row = by_prompt["'" + formula]  # the prompt, kept whole behind the quote
        assert row["error_message"] == "'" + formula
        assert row["note"] == "'" + formula.strip()  # notes are kept stripped
        assert f"\"'{formula.replace(chr(34), chr(34) * 2)}\"" in text  # and quoted
    for harmless in HARMLESS:
        row = by_prompt[harmless]
        assert row["note"] == row["error_message"] == harmless
    assert {row["seed"] for row in rows} == {"7"}  # numbers stay numbers


async def test_jsonl_export_stays_byte_exact(tmp_path: Path) -> None:
    async with await filled(tmp_path / "a.db") as store:
        first = await exported(store, "jsonl")
    assert all(f in first for f in ('"prompt": "=1+1"', '"prompt": "@SUM(A1:A2)"'))
    async with await open_store(tmp_path / "b.db") as again:
        report = await transfer.import_jsonl(again, io.BytesIO(first.encode()), "a.jsonl")
        assert report.added == len(FORMULAS) + len(HARMLESS)
        second = await exported(again, "jsonl")
    assert second == first
