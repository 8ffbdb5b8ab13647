"""Credentials never stored: every error or note text a store writes (and every status
event's detail) is scrubbed, whichever method writes it, imports included."""

from __future__ import annotations

from storage import Observation, TaskStore
from storage.clock import now_iso
from storage.redact import HIDDEN
from tests.store_contract.helpers import accepted, intent

SECRET = "sk-SECRETKEY1234567890"
QUOTED = f"upstream said: Authorization: Bearer {SECRET} refused"


def _clean(text: str | None) -> bool:
    return text is None or ("SECRETKEY" not in text)


async def test_error_and_note_texts_are_stored_without_keys(store: TaskStore) -> None:
    unsure = await intent(store, "unconfirmed")
    unsure = await store.intents.mark_unconfirmed(unsure.id, QUOTED)
    refused = await intent(store, "rejected")
    refused = await store.intents.mark_rejected(refused.id, code="InvalidApiKey", message=QUOTED,
                                                request_id=None)
    dropped = await intent(store, "abandoned")
    dropped = await store.intents.mark_abandoned(dropped.id, QUOTED)
    polled = await accepted(store, "poll failed")
    polled = await store.following.record_poll_failure(polled.id, QUOTED, 5)
    stopped = await accepted(store, "stopped")
    stopped = await store.following.stop(stopped.id, QUOTED)
    broke = await accepted(store, "failed")
    broke, _ = await store.following.apply(broke.id, Observation(
        "FAILED", end_time="2026-03-01T10:00:00.000+00:00", error_code="X",
        error_message=QUOTED), None)
    unsaved = await accepted(store, "download failed")
    unsaved = await store.downloads.set(unsaved.id, state="failed", error=QUOTED)
    rows = [unsure, refused, dropped, polled, stopped, broke, unsaved]
    texts = [unsure.submission_note, refused.error_message, dropped.submission_note,
             polled.poll_error, stopped.poll_error, broke.error_message, unsaved.download_error]
    assert all(text is not None and HIDDEN in text for text in texts), texts
    assert all(_clean(text) for text in texts), texts
    details = [e.detail for row in rows for e in await store.generations.events(row.id)]
    assert all(_clean(detail) for detail in details), details
    assert sum(HIDDEN in (detail or "") for detail in details) >= 5, details


async def test_an_import_is_stored_without_keys(store: TaskStore) -> None:
    record = {"created_at": "2026-01-01T00:00:01.000+00:00", "endpoint": "e", "model": "m",
              "prompt": "imported", "size": "1280*720", "duration": 5,
              "submission": "accepted", "task_id": "imp-key", "status": "FAILED",
              "updated_at": now_iso(), "error_message": QUOTED, "submission_note": QUOTED,
              "download_error": QUOTED,
              "history": [{"at": "2026-01-01T00:01:00.000+00:00", "status": "FAILED",
                           "detail": QUOTED}]}
    assert await store.history.import_many([record]) == 1
    row = await store.generations.by_task_id("imp-key")
    assert row is not None
    texts = [row.error_message, row.submission_note, row.download_error]
    assert all(text is not None and HIDDEN in text and _clean(text) for text in texts), texts
    [event] = await store.generations.events(row.id)
    assert event.detail is not None and HIDDEN in event.detail and _clean(event.detail)
    assert row.prompt == "imported"
