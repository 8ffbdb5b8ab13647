"""The API key is never shown, stored or exported, whatever its shape (issue 13, point 2).

A key file with a second line, a key with CR or LF inside, a non-ASCII key: each
is one sentence naming the problem and where the key came from — never the key —
and nothing is recorded or sent.  A request that could not be sent at all is
REJECTED ("not sent"), never UNCONFIRMED.  Error texts that quote request headers
are scrubbed before they reach a row, the terminal or a toast.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from rich.traceback import Traceback

from storage import open_store
from storage.redact import scrub
from tests.conftest import CLI, KEY, cli_env, make_sim
from tui.dashscope import ApiKey, DashScopeClient, GenerationRequest, RequestInvalid
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"

# (how the key is given, the bytes given, what the sentence must say, the key's pieces)
SHAPES = {
    "a file with a second line": (
        "file", b"sk-SECRETKEY1234567890\nsecondline\n", "has 2 lines",
        ("SECRETKEY1234567890", "secondline")),
    "a file with CR inside": (
        "file", b"sk-SECRETKEY12\rTAILPIECE77\n", "has 2 lines", ("SECRETKEY12", "TAILPIECE77")),
    "a file with CRLF inside": (
        "file", b"sk-SECRETKEY12\r\nTAILPIECE77\r\n", "has 2 lines",
        ("SECRETKEY12", "TAILPIECE77")),
    "a non-ASCII file": (
        "file", "sk-SECRÉTKEY1234567890\n".encode(), "not ASCII", ("SECR", "TKEY1234567890")),
    "a file that is not UTF-8": (
        "file", b"sk-SECR\xffTKEY1234567890\n", "not ASCII", ("SECR", "TKEY1234567890")),
    "a file with a space inside": (
        "file", b"sk-SECRETKEY12 TAILPIECE77\n", "space or a control character",
        ("SECRETKEY12", "TAILPIECE77")),
    "a variable with LF inside": (
        "env", b"sk-SECRETKEY12\nTAILPIECE77", "has 2 lines", ("SECRETKEY12", "TAILPIECE77")),
    "a non-ASCII variable": (
        "env", "sk-SECRÉTKEY1234567890".encode(), "not ASCII", ("SECR", "TKEY1234567890")),
}


def run(home: Path, sim: Simulator, *args: str, env_extra: dict[str, str] | None = None,
        key: str | None = KEY) -> subprocess.CompletedProcess[bytes]:
    env = cli_env(home, sim, key)
    env.update(env_extra or {})
    return subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=120)


def stored_bytes(home: Path) -> bytes:
    """Every byte the app keeps: the database, its WAL and anything beside them."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def assert_nowhere(pieces: tuple[str, ...], *blobs: bytes) -> None:
    for piece in pieces:
        for blob in blobs:
            assert piece.encode() not in blob, f"{piece!r} leaked: {blob[:400]!r}"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_key_of_the_wrong_shape_is_one_sentence_and_nothing_is_recorded(
        sim: Simulator, tmp_path: Path, shape: str) -> None:
    how, given, words, pieces = SHAPES[shape]
    home = tmp_path / "home"
    key_file = tmp_path / "key"
    key_file.write_bytes(given)
    key_file.chmod(0o600)
    if how == "file":
        extra, key = {"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)}, None
    else:
        extra, key = {}, given.decode()
    sent = run(home, sim, "submit", "a fox in the snow", env_extra=extra, key=key)
    batch = tmp_path / "batch.txt"
    batch.write_text("a heron\nan owl\n")
    from_file = run(home, sim, "submit", "--from", str(batch), env_extra=extra, key=key)

    for out in (sent, from_file):
        assert out.returncode == 1
        lines = out.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert words in lines[0] and "this is a bug" not in lines[0]
        assert (str(key_file) if how == "file" else "DASHSCOPE_API_KEY") in lines[0]
    assert not any(path == CREATE for _, path in sim.requests)  # nothing was sent

    # What the history holds, seen with a good key: nothing at all.
    listed = run(home, sim, "list", "--json")
    exported = run(home, sim, "export")
    as_csv = run(home, sim, "export", "--format", "csv")
    assert listed.stdout.strip() == b"[]"
    assert exported.stdout == b""
    assert_nowhere(pieces, sent.stdout, sent.stderr, from_file.stdout, from_file.stderr,
                   listed.stdout, exported.stdout, as_csv.stdout, stored_bytes(home))


def smuggled(value: str) -> ApiKey:
    """A key that skipped the checks made when a key is read — as a future way of
    giving one might — to prove the client itself never lets it out."""
    key = object.__new__(ApiKey)
    key._value = value  # type: ignore[attr-defined]
    return key


@pytest.mark.parametrize("bad", ["sk-SECRETKEY12\nTAILPIECE77", "sk-SECRETKEY12\rTAILPIECE77",
                                 "sk-SECRÉTKEY12TAILPIECE77", "sk-SECRETKEY12\x00TAILPIECE77"])
async def test_a_request_that_cannot_be_sent_is_rejected_not_unconfirmed(
        sim: Simulator, tmp_path: Path, bad: str) -> None:
    async with await open_store(tmp_path / "tasks.db") as store, \
            DashScopeClient(smuggled(bad), sim.base_url) as client:
        outcome = await submit(store, client, GenerationRequest("a fox in the snow"))
        assert isinstance(outcome.error, RequestInvalid)
        assert "not sent" in str(outcome.error)
        row = outcome.generation
        assert row.submission == "rejected"  # not UNCONFIRMED: no task can exist
        assert row.display_status == "REJECTED"
        with pytest.raises(RequestInvalid):  # a query is not sent either, nor retried
            await client.query("0385dc79-5ff8-4d82-bcb6-000000000000")
        events = await store.generations.events(row.id)
    assert sim.requests == []
    text = " ".join([str(outcome.error), repr(outcome.error), row.error_message or "",
                     *(e.detail or "" for e in events)])
    assert_nowhere(("SECRETKEY12", "TAILPIECE77", "SECR"), text.encode(),
                   stored_bytes(tmp_path))


def test_a_server_that_echoes_the_key_is_scrubbed_from_the_row_and_the_terminal(
        tmp_path: Path) -> None:
    """A proxy quoting the request's Authorization header in its error: the row, the
    status history, stderr and the export keep none of it."""
    home = tmp_path / "home"
    with make_sim() as sim:
        sim.inject(on="create", kind="status", status=401, code="InvalidApiKey",
                   message=f"header Authorization: Bearer {KEY} was not accepted")
        sent = run(home, sim, "submit", "a fox in the snow")
        assert sent.returncode == 1
        sim.inject(on="create", kind="status", status=500,
                   message=f"upstream said: Bearer {KEY} failed")
        unclear = run(home, sim, "submit", "an owl at night")
        shown = run(home, sim, "list")
        exported = run(home, sim, "export")
        details = run(home, sim, "show", "#1")
    assert b"[key hidden]" in sent.stderr
    secret = KEY.removeprefix("sk-")
    assert_nowhere((secret,), sent.stderr, sent.stdout, unclear.stderr, shown.stdout,
                   exported.stdout, details.stdout, stored_bytes(home))


def test_scrub_hides_bearer_tokens_keys_and_the_key_in_use() -> None:
    ApiKey("sk-0123456789abcdef0123")
    assert scrub("b'Bearer sk-a\\nb'") == "b'Bearer [key hidden]'"
    assert scrub("Authorization: bearer abc.DEF-123") == "Authorization: bearer [key hidden]"
    assert scrub("key sk-0123456789abcdef0123 refused") == "key [key hidden] refused"
    assert scrub(scrub("x Bearer abc y")) == "x Bearer [key hidden] y"
    # in any case, as a proxy may print a header (the pattern ignores case)
    assert scrub("AUTHORIZATION: BEARER Abc123") == "AUTHORIZATION: BEARER [key hidden]"
    assert scrub("key SK-ABCDEF0123456789 refused") == "key [key hidden] refused"
    # ordinary words survive: a task id, a short sk- word, a desk number
    kept = "task-abcdefgh-1234 sk-fox desk-12345678 Bearer"
    assert scrub(kept) == kept


async def test_the_store_never_writes_a_key_into_a_note_or_the_history(
        tmp_path: Path) -> None:
    async with await open_store(tmp_path / "tasks.db") as store:
        row = await store.intents.add(endpoint="e", model="m", prompt="p", size="1280*720",
                                      duration=5)
        await store.intents.mark_unconfirmed(row.id, "broke (b'Bearer sk-SECRETKEY1234567890')")
        await store.following.record_poll_failure(
            row.id, "Authorization: Bearer SECRETKEY99887766", 5)
        await store.downloads.set(row.id, state="failed",
                                  error="sk-SECRETKEY1234567890 in a header")
    assert_nowhere(("SECRETKEY1234567890", "SECRETKEY99887766"), stored_bytes(tmp_path))


def test_the_masked_key_and_repr_never_hold_it() -> None:
    key = ApiKey("  sk-0123456789abcdef0123\n")
    assert key.reveal() == "sk-0123456789abcdef0123"
    assert "0123456789abcdef" not in repr(key) + str(key) + key.masked
    for bad in ("sk-a\nb", "sk-é0123456789", "", "  \n"):
        with pytest.raises(ValueError) as caught:
            ApiKey(bad)
        assert bad.strip() == "" or bad not in str(caught.value)


def test_the_dashboard_refuses_a_bad_key_in_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file = tmp_path / "key"
    key_file.write_bytes(b"sk-SECRETKEY1234567890\nsecondline\n")
    env = cli_env(home, None, None)
    env["DASHSCOPE_API_KEY_FILE_PATH"] = str(key_file)
    out = subprocess.run(CLI, env=env, capture_output=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.decode().strip() == (f"pixverse-tui: The API key in {key_file} has 2 "
                                          "lines; put only the key in it.")
    assert_nowhere(("SECRETKEY1234567890", "secondline"), out.stdout, out.stderr)



async def test_a_crash_report_with_locals_never_holds_the_key() -> None:
    """Textual's crash report lists each frame's local variables: no frame that can be in
    it while a request is under way holds the key."""
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the HTTP stack")

    http = httpx.AsyncClient(transport=httpx.MockTransport(broken))
    client = DashScopeClient(ApiKey(KEY), "http://127.0.0.1:9/api/v1", http=http)
    with pytest.raises(RuntimeError) as caught:
        await client.create(GenerationRequest("a fox in the snow"))
    await http.aclose()
    out = io.StringIO()
    Console(file=out, width=200).print(Traceback.from_exception(
        caught.type, caught.value, caught.tb, show_locals=True, locals_max_length=50))
    assert "0123456789abcdef" not in out.getvalue()
    assert "_send" in out.getvalue()  # the client's frames are in the report
