"""A theme file is the user's input: whatever it holds, it is one warning or a theme.

Each bad file is skipped with one sentence naming it (and its line, when the
line is known); every good file, bundled or the user's, still loads; and a
theme that loads can be used by Textual as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.theme import Theme

from tui.ui.themes import BUNDLED, load_themes

GOOD = 'name = "mine"\nprimary = "#1e90ff"\n'

BAD = {  # file stem: (content, words the one warning must hold)
    "variables-string": ('name = "a"\nprimary = "#112233"\nvariables = "x"\n',
                         ["line 3", "variables", "table"]),
    "variables-list": ('name = "b"\nprimary = "#112233"\nvariables = [1, 2]\n',
                       ["line 3", "variables", "table"]),
    "primary-number": ('name = "c"\nprimary = 123\n', ["line 2", "primary", "123"]),
    "colour-list": ('name = "d"\nprimary = "#112233"\nforeground = ["#ffffff"]\n',
                    ["line 3", "foreground"]),
    "colour-table": ('name = "e"\nprimary = "#112233"\n[background]\nx = 1\n',
                     ["line 3", "background"]),
    "variable-number": ('name = "f"\nprimary = "#112233"\n[variables]\nstatus-pending = 5\n',
                        ["line 4", "status-pending", "5"]),
    "variable-not-a-colour": ('name = "g"\nprimary = "#112233"\n[variables]\n'
                              'panel-lighten-1 = "bold"\n', ["line 4", "panel-lighten-1"]),
    "style-variable-colour": ('name = "h"\nprimary = "#112233"\n[variables]\n'
                              'block-cursor-text-style = "#ff0000"\n',
                              ["line 4", "block-cursor-text-style"]),
    "unknown-key": ('name = "i"\nprimry = "#112233"\nprimary = "#112233"\n',
                    ["line 2", "primry", 'did you mean "primary"']),
    "bad-toml": ('name = "j"\nprimary = \n', ["line 2"]),
    "dark-string": ('name = "k"\nprimary = "#112233"\ndark = "yes"\n',
                    ["line 3", "dark", "true or false"]),
    "spread-string": ('name = "l"\nprimary = "#112233"\nluminosity_spread = "wide"\n',
                      ["line 3", "luminosity_spread"]),
    "alpha-too-big": ('name = "m"\nprimary = "#112233"\ntext_alpha = 7\n',
                      ["line 3", "text_alpha"]),
    "name-list": ('name = ["x"]\nprimary = "#112233"\n', ["line 1", "name"]),
    "name-markup": ('name = "[bold]x\\u001b[2J"\nprimary = "#112233"\n', ["line 1", "name"]),
    "no-primary": ('name = "n"\nforeground = "#112233"\n', ["primary"]),
    "not-a-colour": ('name = "o"\nprimary = "bluish"\n', ["line 2", "primary", "bluish"]),
    "not-utf8": (b'name = "p\xff"\nprimary = "#112233"\n', ["UTF-8"]),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "good.toml").write_text(GOOD)
    for stem, (content, _words) in BAD.items():
        path = themes / f"{stem}.toml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return themes


def test_each_bad_theme_is_one_warning_naming_its_file_and_is_skipped(folder: Path) -> None:
    loaded = load_themes(folder)
    for stem, (_content, words) in BAD.items():
        mine = [p for p in loaded.problems if f"/{stem}.toml" in p]
        assert len(mine) == 1, (stem, loaded.problems)
        for word in words:
            assert word in mine[0], (stem, word, mine[0])
        assert "\x1b" not in mine[0]
    assert len(loaded.problems) == len(BAD)
    names = {theme.name for theme in loaded.themes}
    assert "mine" in names and "pixverse-dark" in names  # the good ones still load
    assert not names & set("abcdefghijklmnop")


def test_every_theme_that_loads_is_usable_by_textual(folder: Path) -> None:
    """What load_themes hands over never fails later, when Textual applies it."""
    for theme in load_themes(folder).themes:
        assert isinstance(theme, Theme)
        variables = theme.to_color_system().generate()
        assert variables["primary"]


def test_the_bundled_themes_load_without_a_problem() -> None:
    loaded = load_themes(None)
    assert loaded.problems == []
    assert {t.name for t in loaded.themes} >= {"pixverse-dark", "pixverse-light",
                                               "pixverse-contrast", "pixverse-terminal"}
    assert len(loaded.themes) == len([p for p in BUNDLED.iterdir()
                                      if p.name.endswith(".toml")])


def test_the_bundled_themes_pass_every_check_a_users_file_gets(tmp_path: Path) -> None:
    """The dashboard skips the costly checks of its own themes (their variables, their
    colour systems: ~8 ms of every start) — this test makes them instead: each bundled
    file, copied into a user's folder, loads without a problem."""
    for path in BUNDLED.iterdir():
        if path.name.endswith(".toml"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    loaded = load_themes(tmp_path)
    assert loaded.problems == []
    assert len(loaded.themes) == 2 * len(list(tmp_path.iterdir()))


def test_a_themes_folder_that_cannot_be_read_is_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "good.toml").write_text(GOOD)
    listing = Path.iterdir

    def refused(self: Path) -> Iterator[Path]:  # as for a folder without the x permission
        if self == themes:
            raise PermissionError(13, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", refused)
    loaded = load_themes(themes)
    assert len(loaded.problems) == 1 and str(themes) in loaded.problems[0]
    assert "Permission denied" in loaded.problems[0]
    assert "pixverse-dark" in {t.name for t in loaded.themes}


def test_a_huge_theme_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    with (themes / "huge.toml").open("wb") as out:
        out.write(GOOD.encode())
        out.truncate(64 << 20)  # sparse: 64 MiB of NUL bytes
    loaded = load_themes(themes)
    assert len(loaded.problems) == 1 and "huge.toml" in loaded.problems[0]
    assert "too large" in loaded.problems[0]


def test_a_theme_name_that_is_not_a_file_is_one_warning_and_never_blocks(
        tmp_path: Path) -> None:
    """A named pipe would block the start forever if it were read; a folder, a dangling
    link: each one sentence."""
    themes = tmp_path / "themes"
    themes.mkdir()
    os.mkfifo(themes / "pipe.toml")
    (themes / "folder.toml").mkdir()
    (themes / "dangling.toml").symlink_to(tmp_path / "nowhere.toml")
    loaded = load_themes(themes)
    assert sorted(p.split("/")[-1].split(" ")[0].rstrip(":,") for p in loaded.problems) == [
        "dangling.toml", "folder.toml", "pipe.toml"], loaded.problems
