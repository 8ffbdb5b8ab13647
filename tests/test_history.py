"""History at scale: filters, sorting, tags, forgetting, export/import, stats, previews."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from storage import Observation, TaskStore, open_store
from storage.history import HistoryFilter, parse_filter
from tests.conftest import CLI, cli_env
from tui.engine.history import stats, transfer
from tui.engine.media.preview import cached, extract

ENDPOINT = "http://127.0.0.1:1/api/v1"


def test_two_filters_are_equal_when_they_ask_for_the_same_rows() -> None:
    """A view's folded batches and the words it could not read are not part of what the
    user searched for: a filter with only those is empty, and == , != and hash agree."""
    typed = parse_filter("fox status:NOPE")
    assert typed.problems and typed == parse_filter("fox")
    assert (typed != parse_filter("fox")) is False  # (a tuple's own != compares all)
    assert hash(typed) == hash(parse_filter("fox"))
    folded = HistoryFilter()._replace(folded=("b1",), problems=("x",))
    assert folded.empty and folded == HistoryFilter()
    assert (folded != HistoryFilter()) is False
    assert parse_filter("fox") != parse_filter("fox")._replace(newest=10)
    assert parse_filter("fox") != parse_filter("cat") and parse_filter("fav") != HistoryFilter()
    assert len({typed, parse_filter("fox"), folded, HistoryFilter()}) == 2


async def add(store: TaskStore, prompt: str, *, size: str = "1280*720", duration: int = 5,
              audio: bool = False, status: str = "SUCCEEDED", task_id: str | None = None,
              queue: float = 2.0, work: float = 60.0):
    row = await store.intents.add(endpoint=ENDPOINT, model="pixverse/pixverse-v5.6-t2v",
                                  prompt=prompt, size=size, duration=duration, audio=audio)
    row = await store.intents.mark_accepted(row.id, task_id=task_id or f"task-{row.id}",
                                            status="PENDING", request_id="r", next_poll_in=0)
    base = "2026-03-20T02:00:00.000+00:00"
    sched = f"2026-03-20T02:00:{queue:06.3f}+00:00"
    end_s = queue + work
    end = f"2026-03-20T02:{int(end_s // 60):02d}:{end_s % 60:06.3f}+00:00"
    ok = status == "SUCCEEDED"
    row, _ = await store.following.apply(row.id, Observation(
        status, submit_time=base, scheduled_time=sched, end_time=end,
        video_url="http://v" if ok else None, usage_duration=float(duration) if ok else None,
        usage_size=size if ok else None, usage_audio=audio if ok else None, usage_fps=24 if ok
        else None, usage_sr="720" if ok else None, usage_video_count=1 if ok else None,
        error_code="InternalError" if status == "FAILED" else None,
        error_message="boom" if status == "FAILED" else None), None)
    return row


async def test_filters_and_sorting(store: TaskStore) -> None:
    fox = await add(store, "a red fox in snow", size="1920*1080", duration=8, audio=True)
    cat = await add(store, "一只小猫在月光下奔跑", size="720*1280")
    fail = await add(store, "a failing whale", status="FAILED")
    await store.history.set_favourite(cat.id, True)
    await store.history.set_tags(fox.id, ["keep", "winter"])
    await store.downloads.set(fox.id, state="done", path="/x.mp4", done=1, total=1)

    async def ids(text: str) -> list[int]:
        return [r.id for r in await store.history.page(parse_filter(text), sort="submitted")]

    assert await ids("月光") == [cat.id]
    assert await ids("小猫在月光下") == [cat.id]
    assert await ids("fox tier:1080p") == [fox.id]
    assert set(await ids("tier:720P")) == {cat.id, fail.id}
    assert await ids("status:FAILED") == [fail.id]
    assert await ids("fav") == [cat.id]
    assert await ids("tag:winter") == [fox.id]
    assert await ids("audio:yes") == [fox.id]
    assert await ids("dur:8") == [fox.id]
    assert set(await ids("dl:no")) == {cat.id, fail.id}
    assert await ids("since:2000-01-01 until:2000-01-02") == []
    assert len(await ids("since:2000-01-01")) == 3
    assert parse_filter("tier:999 since:nope").problems
    by_prompt = await store.history.page(None, sort="prompt", descending=False)
    assert by_prompt[0].prompt == "a failing whale"
    assert await store.history.count(parse_filter("a")) == 2


async def test_forget_hides_it_restore_brings_it_back_and_the_trash_empties(
        store: TaskStore) -> None:
    row = await add(store, "forget me")
    await store.history.set_tags(row.id, ["x"])
    await store.trash.forget(row.id)
    assert await store.history.count(parse_filter("forget")) == 0
    assert await store.history.page(parse_filter("forget")) == []
    assert await store.history.all_tags() == []
    assert [r.id for r in await store.history.page(parse_filter("in:trash"))] == [row.id]

    restored = await store.trash.restore(row.id)
    assert restored is not None and restored.forgotten_at is None
    assert await store.history.count(parse_filter("forget")) == 1
    assert await store.history.tags_of(row.id) == ["x"]

    await store.trash.forget(row.id)
    assert await store.trash.purge(days=1) == []  # forgotten just now: still restorable
    assert [r.id for r in await store.trash.purge(days=0)] == [row.id]
    assert await store.generations.get(row.id) is None and await store.history.all_tags() == []
    assert await store.generations.events(row.id) == []


async def dump(store: TaskStore) -> list[dict]:
    out = io.StringIO()
    await transfer.export(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_export_import_round_trip_is_lossless_and_idempotent(tmp_path: Path) -> None:
    source = await open_store(tmp_path / "a.db")
    fox = await add(source, "a red fox [bold]x[/]", audio=True)
    await add(source, "一只小猫", status="FAILED")
    await source.history.set_tags(fox.id, ["keep"])
    await source.history.set_note(fox.id, "the good one\nsecond line")
    await source.history.set_favourite(fox.id, True)
    rejected = await source.intents.add(endpoint=ENDPOINT, model="m", prompt="refused",
                                        size="1280*720", duration=5)
    await source.intents.mark_rejected(rejected.id, code="DataInspectionFailed", message="no",
                                       request_id=None)
    exported = await dump(source)
    await source.close()

    target = await open_store(tmp_path / "b.db")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in exported)
    added, present = await transfer.import_jsonl(target, io.StringIO(text), "x.jsonl")
    assert (added, present) == (3, 0)
    assert await dump(target) == exported
    added, present = await transfer.import_jsonl(target, io.StringIO(text), "x.jsonl")
    assert (added, present) == (0, 3)
    assert await dump(target) == exported
    await target.close()


async def test_import_names_the_bad_line_and_keeps_the_good_ones(store: TaskStore) -> None:
    good = ('{"prompt": "x", "created_at": "2026-03-01T10:00:00.000+00:00", '
            '"size": "1280*720", "duration": 5}\n')
    report = await transfer.import_jsonl(store, io.StringIO(good + "{oops\n"), "f.jsonl")
    assert report.added == 1 and [n for n, _ in report.skipped] == [2]
    assert "not JSON" in report.skipped[0][1]


def test_a_line_with_several_problems_is_named_by_the_first_field_in_the_format() -> None:
    """Whatever order the line's keys come in, the problem named is the same one."""
    line = {"status": "DONE", "task_id": "a b", "duration": 5, "size": "1280*720",
            "prompt": "x", "created_at": "yesterday"}
    for keys in (list(line), sorted(line), list(reversed(line))):
        with pytest.raises(transfer.ImportProblem) as problem:
            transfer.parse_record(json.dumps({k: line[k] for k in keys}))
        assert str(problem.value).startswith("created_at must be a date and time")
    with pytest.raises(transfer.ImportProblem, match=r"^task_id is not usable: the task id "
                                                     r"holds a space"):
        transfer.parse_record(json.dumps({**line, "created_at": "2026-03-01T10:00:00Z"}))
    with pytest.raises(transfer.ImportProblem, match=r"^task_id .* holds '%'"):
        transfer.parse_record(json.dumps({**line, "created_at": "2026-03-01T10:00:00Z",
                                          "task_id": "a%2F"}))
    with pytest.raises(transfer.ImportProblem, match=r"^task_id .* non-ASCII"):
        transfer.parse_record(json.dumps({**line, "created_at": "2026-03-01T10:00:00Z",
                                          "task_id": "é"}))
    with pytest.raises(transfer.ImportProblem, match=r"^prompt holds a broken Unicode"):
        transfer.parse_record('{"prompt": "\\ud800", "created_at": "2026-03-01T10:00:00Z",'
                              ' "size": "1280*720", "duration": 5}')


async def test_stats_on_a_known_history(store: TaskStore) -> None:
    await add(store, "a", size="1280*720", duration=5, work=60)
    await add(store, "b", size="1280*720", duration=10, audio=True, work=100)
    await add(store, "c", size="1920*1080", duration=8, work=200)
    await add(store, "d", status="FAILED")
    await add(store, "e", status="FAILED")
    figures = await stats.compute(store, {"720P": 0.1, "720P+audio": 0.2, "currency": "CNY"})
    data = figures.as_json()
    assert (data["succeeded"], data["failed"]) == (3, 2)
    assert data["success_rate"] == pytest.approx(0.6)
    assert [tuple(e) for e in data["errors"]] == [("InternalError", 2)]
    tier = data["tiers"]["720P"]
    assert (tier["videos"], tier["seconds"], tier["with_audio"]) == (2, 15.0, 1)
    assert tier["generation_median"] in (60.0, 100.0) and tier["queue_median"] == 2.0
    assert data["estimated_cost"] == pytest.approx(5 * 0.1 + 10 * 0.2)
    assert data["unpriced_tiers"] == ["1080P"]
    assert sum(d["videos"] for d in data["per_day"].values()) == 3


def test_cli_export_import_stats(tmp_path: Path) -> None:
    import asyncio

    async def seed() -> None:
        store = await open_store(tmp_path / "a" / "tasks.db")
        await add(store, "one fox")
        await add(store, "two cats", status="FAILED")
        await store.close()

    asyncio.run(seed())
    out = tmp_path / "h.jsonl"

    def run(home: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=cli_env(tmp_path / home, None, key=None),
                              capture_output=True, text=True, timeout=60)

    done = run("a", "export", "-o", str(out))
    assert done.returncode == 0 and "exported 2" in done.stderr
    assert run("a", "export", "--status", "FAILED").stdout.count("\n") == 1
    assert "two cats" in run("a", "export", "--format", "csv").stdout
    assert "imported 2" in run("b", "import", str(out)).stdout
    assert "imported 0 generations; 2 already here" in run("b", "import", str(out)).stdout
    figures = json.loads(run("b", "stats", "--json").stdout)
    assert (figures["succeeded"], figures["failed"]) == (1, 1)
    assert "success rate: 50.0%" in run("b", "stats").stdout
    bad = run("b", "export", "--since", "yesterday")
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr


def test_preview_frames_of_a_simulator_clip(tmp_path: Path) -> None:
    clip = Path(__file__).parents[1] / "tui" / "simulator" / "clips" / "9x16.mp4"
    thumbs = extract(clip)
    assert len(thumbs) == 3 and [t.at for t in thumbs] == sorted(t.at for t in thumbs)
    assert all(t.height > t.width and len(t.rgb) == t.width * t.height * 3 for t in thumbs)
    assert thumbs[0].rgb != thumbs[-1].rgb  # the clip moves
    digest = "ab" * 32  # a sha256 names the cache entry
    again = cached(clip, digest, tmp_path)
    assert (tmp_path / f"{digest}-14x16.json").exists()
    assert [t.rgb for t in cached(clip, digest, tmp_path)] == [t.rgb for t in again]
