"""Files the app reads by itself (state, themes, the preview cache) cannot break it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_sim
from tui.engine.media import preview
from tui.ui.state import read_state
from tui.ui.themes import load_themes

DEEP = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
HUGE = "a = " + "9" * 5000 + "\n"


def test_a_broken_state_file_means_a_fresh_start(tmp_path: Path) -> None:
    for text in (DEEP, HUGE, "theme = \x00"):
        path = tmp_path / "state.toml"
        path.write_text(text)
        assert read_state(path) == {}


def test_a_broken_theme_file_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "deep.toml").write_text(DEEP)
    (tmp_path / "huge.toml").write_text(HUGE)
    loaded = load_themes(tmp_path)
    assert len([p for p in loaded.problems if "cannot be read" in p]) == 2
    assert loaded.themes  # the bundled ones still load


def test_the_preview_cache_stays_in_its_folder(tmp_path: Path) -> None:
    """An imported row's sha256 becomes a file name: it must not choose a directory."""
    with make_sim() as sim:
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(sim.clip("16x9"))
    cache = tmp_path / "cache"
    outside = tmp_path / "escaped"
    outside.mkdir()
    thumbs = preview.cached(clip, "../escaped/x", cache)
    assert thumbs and list(outside.iterdir()) == []
    assert [p.parent for p in cache.iterdir()] == [cache]
