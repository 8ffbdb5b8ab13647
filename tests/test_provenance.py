"""Videos that remember how they were made: metadata in the MP4, sidecars, import, show.

Everything runs as a user runs it: the command line against the simulator over
loopback; the files are read back with PyAV, the same libraries players use.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import av

from storage import TaskStore
from tests.conftest import CLI, cli_env
from tui.dashscope import DashScopeClient, GenerationRequest
from tui.engine.following.observe import observation
from tui.engine.media import provenance
from tui.engine.media.download import Downloader
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
RAW = ("\x1b", "\x07", "\x9b", "\u202e")  # what must never reach a terminal raw
HOSTILE = ("fox \x1b]0;pwned\x07 [bold]x[/] 小猫在月光下\u202eevil\x9b2J\n"
           "second line\twith a tab ") + "月" * 2100


def run(home: Path, sim: Simulator | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=120)


def configure(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def made(home: Path, sim: Simulator, prompt: str, *options: str) -> dict[str, Any]:
    """A finished, downloaded generation, made with ``submit --wait --download``."""
    done = run(home, sim, "submit", prompt, *options, "--wait", "--download", "--json", *SCALE)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert row["local_path"], done.stderr
    return row


def shown(home: Path, ref: str) -> dict[str, Any]:
    got = run(home, None, "show", ref, "--json")
    assert got.returncode == 0, got.stderr
    data: dict[str, Any] = json.loads(got.stdout)
    return data


def forget_the_history(home: Path) -> None:
    for file in home.glob("tasks.db*"):
        file.unlink()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tags(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return dict(container.metadata)


def packets(video: Path | bytes) -> list[tuple[str, int | None, int | None, bytes]]:
    """Every encoded frame, as stored: the same list means nothing was re-encoded."""
    source = io.BytesIO(video) if isinstance(video, bytes) else str(video)
    with av.open(source) as container:
        return [(p.stream.type, p.pts, p.dts, bytes(p)) for p in container.demux()
                if p.dts is not None]


def decoded(video: Path | bytes) -> int:
    """How many frames decode, all of them, in every stream."""
    source = io.BytesIO(video) if isinstance(video, bytes) else str(video)
    with av.open(source) as container:
        return sum(1 for _ in container.decode(*container.streams))


def stripped(video: Path, copy: Path) -> Path:
    """A copy with no metadata of ours (as another tool might write it)."""
    with av.open(str(video)) as src, av.open(str(copy), "w", format="mp4") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return copy


# -- the video carries its provenance ------------------------------------------------


def test_a_downloaded_video_says_how_it_was_made(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    row = made(home, sim, "a red fox in snow", "--seed", "42", "--size", "1280*720")
    path = Path(row["local_path"])

    found = tags(path)
    assert found["pixverse_prompt"] == "a red fox in snow"
    assert found["pixverse_seed"] == "42" and found["pixverse_task_id"] == row["task_id"]
    assert (found["pixverse_size"], found["pixverse_duration"]) == ("1280*720", "5")
    assert found["pixverse_model"] == "pixverse/pixverse-v5.6-t2v"
    assert found["description"] == "a red fox in snow" and "creation_time" in found
    comment = json.loads(found["comment"])  # other tools show this one
    assert comment["pixverse_task_id"] == row["task_id"] and comment["pixverse_seed"] == 42
    assert comment["pixverse_prompt"] == "a red fox in snow"

    clip = sim.clip("16x9")
    assert packets(path) == packets(clip)  # remuxed, not re-encoded
    assert decoded(path) == decoded(clip) > 0  # and it plays: every frame decodes

    saved = shown(home, row["task_id"])["download"]
    assert saved["state"] == "done" and saved["error"] is None
    assert saved["sha256"] == sha256(path) and saved["bytes"] == path.stat().st_size
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing left over


def test_with_metadata_off_the_video_is_saved_as_it_came(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    configure(home, "[downloads]\nmetadata = false\n")
    path = Path(made(home, sim, "a quiet harbour", "--seed", "3")["local_path"])
    assert path.read_bytes() == sim.clip("16x9")
    found = tags(path)
    assert not [k for k in found if k.startswith("pixverse_")] and "comment" not in found
    assert provenance.read(path) is None


def test_a_hostile_prompt_survives_in_the_file_and_is_never_shown_raw(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    row = made(home, sim, HOSTILE, "--seed", "11")
    path = Path(row["local_path"])

    told = provenance.read(path)
    assert told is not None and told.prompt == HOSTILE and told.seed == 11  # exact
    for key, value in tags(path).items():  # other tools print these: all inert
        assert not any(c in value for c in RAW), key
    assert "小猫在月光下" in tags(path)["pixverse_prompt"]
    assert decoded(path) > 0

    for_file = run(home, None, "show", str(path))
    assert for_file.returncode == 0, for_file.stderr
    assert row["task_id"] in for_file.stdout and "[bold]x[/]" in for_file.stdout
    assert "小猫在月光下" in for_file.stdout and "␛]0;pwned" in for_file.stdout
    forget_the_history(home)
    from_metadata = run(home, None, "show", str(path))
    assert from_metadata.returncode == 0, from_metadata.stderr
    assert "小猫在月光下" in from_metadata.stdout and row["task_id"] in from_metadata.stdout
    for out in (for_file, from_metadata):
        assert not any(c in out.stdout + out.stderr for c in RAW)


# -- show FILE -----------------------------------------------------------------------


def test_show_a_file_tells_which_generation_it_is(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    tagged = made(home, sim, "a kite over dunes", "--seed", "5")
    configure(home, "[downloads]\nmetadata = false\n")
    plain = made(home, sim, "a boat at dawn", "--seed", "6")

    by_metadata = run(home, None, "show", tagged["local_path"])
    assert by_metadata.returncode == 0, by_metadata.stderr
    assert tagged["task_id"] in by_metadata.stdout and "SUCCEEDED" in by_metadata.stdout
    assert json.loads(run(home, None, "show", tagged["local_path"], "--json").stdout)[
        "task_id"] == tagged["task_id"]
    by_hash = run(home, None, "show", plain["local_path"])  # no tags: known by its SHA-256
    assert by_hash.returncode == 0 and plain["task_id"] in by_hash.stdout

    stranger = stripped(Path(tagged["local_path"]), tmp_path / "stranger.mp4")
    unknown = run(home, None, "show", str(stranger))
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.count("\n") == 1 and "not a video this history knows" in unknown.stderr
    refused = run(home, None, "import", str(stranger))
    assert refused.returncode == 1 and "no pixverse-tui metadata" in refused.stderr

    forget_the_history(home)
    told = run(home, None, "show", tagged["local_path"])  # the history is gone, the file says
    assert told.returncode == 0, told.stderr
    assert tagged["task_id"] in told.stdout and "a kite over dunes" in told.stdout
    assert "pixverse-tui import" in told.stderr
    assert run(home, None, "import", tagged["local_path"]).returncode == 0
    assert shown(home, tagged["local_path"])["task_id"] == tagged["task_id"]
    for out in (by_metadata, by_hash, unknown, refused, told):
        assert "Traceback" not in out.stderr


# -- import: a folder of videos rebuilds a lost history ---------------------------------


def test_sidecars_rebuild_a_lost_history_with_its_files(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    configure(home, "[downloads]\nsidecar = true\n")
    rows = [made(home, sim, "a red fox in snow", "--seed", "1"),
            made(home, sim, "一只小猫在月光下奔跑", "--seed", "2", "--audio")]
    for row in rows:
        sidecar = Path(row["local_path"]).with_suffix(".json")
        record = json.loads(sidecar.read_text(encoding="utf-8"))  # the export's record
        assert record["task_id"] == row["task_id"] and record["history"]
        assert record["download_sha256"] == sha256(Path(row["local_path"]))
    before = {row["task_id"]: shown(home, row["task_id"]) for row in rows}

    archive = tmp_path / "archive"  # the videos moved; the database was lost
    shutil.move(home / "downloads", archive)
    forget_the_history(home)
    imported = run(home, None, "import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 generations; 0 already here" in imported.stdout

    for row in rows:
        video = archive / Path(row["local_path"]).name
        after = shown(home, row["task_id"])
        assert after["local_path"] == str(video)
        assert after["download"]["state"] == "done"
        assert after["download"]["sha256"] == sha256(video)
        for field in ("prompt", "seed", "size", "duration", "audio", "status", "created_at",
                      "end_time", "video_url", "history"):
            assert after[field] == before[row["task_id"]][field], field
    again = run(home, None, "import", str(archive))
    assert again.returncode == 0 and "imported 0 generations; 2 already here" in again.stdout

    one = tmp_path / "elsewhere"  # a single sidecar, into another history
    sidecar = next(archive.glob("*.json"))
    single = run(one, None, "import", str(sidecar))
    assert single.returncode == 0 and "imported 1 generation;" in single.stdout
    assert shown(one, str(sidecar.with_suffix(".mp4")))["local_path"] == str(
        sidecar.with_suffix(".mp4"))


def test_videos_without_sidecars_are_rebuilt_from_their_metadata(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    row = made(home, sim, "a lighthouse in fog", "--seed", "7", "--size", "720*1280",
               "--duration", "8", "--audio")
    video = Path(row["local_path"])
    cut = video.with_name("0-cut-short.mp4")  # a broken copy, met first: it must not win
    cut.write_bytes(video.read_bytes()[:-1000])
    forget_the_history(home)
    imported = run(home, None, "import", str(video.parent))
    assert imported.returncode == 0, imported.stderr
    assert "imported 1 generation; 1 already here" in imported.stdout
    assert "0-cut-short.mp4 is not linked to its generation: the MP4 file is cut off" in (
        imported.stderr)
    after = shown(home, row["task_id"])
    assert (after["prompt"], after["seed"], after["size"], after["duration"], after["audio"]) == (
        "a lighthouse in fog", 7, "720*1280", 8, True)
    assert after["status"] == "SUCCEEDED" and after["created_at"] == row["created_at"]
    assert after["local_path"] == str(video) and after["download"]["sha256"] == sha256(video)
    again = run(home, None, "import", str(video.parent))
    assert "imported 0 generations; 2 already here" in again.stdout  # the copy, too


# -- when the remux cannot be done ------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


async def test_a_video_that_cannot_be_remuxed_is_kept_as_it_came(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    # Whole by its boxes (so the download accepts it), but nothing FFmpeg can demux.
    odd = (box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + box(b"moov", b"junk" * 8)
           + box(b"mdat", b"x" * 64))
    outcome = await submit(store, client, GenerationRequest("a kite"))
    sim.clock.advance(400)
    assert outcome.generation.task_id
    row, _ = await store.following.apply(outcome.generation.id, observation(
        await client.query(outcome.generation.task_id)), None)
    sim.inject(on="media", kind="answer", status=200, raw=odd.decode("ascii"),
               content_type="video/mp4")
    downloader = Downloader(store, tmp_path / "videos", allowed_origins=[sim.origin],
                            metadata=True)
    try:
        done = await downloader.download(row)
    finally:
        await downloader.aclose()
    path = Path(done.download_path or "")
    assert done.download_state == "done" and path.read_bytes() == odd
    assert done.download_sha256 == sha256(path)
    assert (done.download_error or "").startswith("saved without its metadata: ")
    assert "\n" not in (done.download_error or "")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# -- the remux itself -----------------------------------------------------------------


def with_sound(clip: bytes, path: Path) -> Path:
    """The clip's picture with an AAC track, as a video with audio comes."""
    with av.open(io.BytesIO(clip)) as src, av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream_from_template(src.streams.video[0])
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
        for n in range(90):
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 48000, n * 1024
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def test_sound_and_picture_are_copied_and_the_prompt_reads_back_exactly(
        sim: Simulator, tmp_path: Path) -> None:
    source = with_sound(sim.clip("9x16"), tmp_path / "source.mp4")
    told = provenance.Provenance(
        task_id="0a1b2c3d-0000-4000-8000-000000000001", prompt=HOSTILE + "\x00NUL",
        model="pixverse/pixverse-v5.6-t2v", size="720*1280", duration=5, seed=2147483647,
        audio=True, watermark=False, created_at="2026-03-20T02:00:00.000+00:00")
    copy = tmp_path / "copy.mp4"
    provenance.write_tagged(source, copy, told)
    assert provenance.read(copy) == told
    assert packets(copy) == packets(source)
    assert decoded(copy) == decoded(source) > 90
    assert "\x00" not in tags(copy)["pixverse_prompt"]
