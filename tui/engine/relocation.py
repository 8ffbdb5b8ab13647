"""Files an earlier version kept in the data folder, moved once to where they belong now:
``state.toml`` to the platform's state folder and the preview cache to its cache folder
(``tui.config.paths``).

Moving never replaces anything: a ``state.toml`` already in the state folder is the
one in use, and the old one is left where it was; a cached preview already in the
new cache stands (the old copy, the same frames under the same key, is dropped).
Only regular files are moved — a link or anything odd at an old name is left alone —
and a file that cannot be moved costs a sentence, never the start.
"""

from __future__ import annotations

import os
import re

from tui.config.paths import STATE_FILE, AppPaths, join
from tui.engine.media import safe_files

OLD_STATE = "state.toml"
OLD_PREVIEWS = "previews"
PREVIEW_ENTRY = r"[0-9a-f]{64}-\d+x\d+\.json"  # (compiled only where old previews are)


def move_old_files(paths: AppPaths) -> list[str]:
    """Move what ``paths.data_dir`` still holds of the state and the cache (the real home
    and the demo's); one sentence per file that could not be moved."""
    problems: list[str] = []
    for where in (paths, paths.demo()):
        problems += _move_state(where)
        problems += _move_previews(where)
    return problems


def _move_state(paths: AppPaths) -> list[str]:
    # By their text first (``join`` writes them as ``Path`` does): a start that has
    # nothing to move needs neither pathlib nor, unless a file is there, the state folder.
    found = join(paths.data_root, OLD_STATE)
    if not safe_files.is_regular(found) or found == join(paths.state_root, STATE_FILE):
        return []
    old, new = paths.data_dir / OLD_STATE, paths.state_file
    if safe_files.occupied(new):
        return []
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        safe_files.move(old, new)
    except FileExistsError:  # another process moved it first, or wrote a new one
        return []
    except OSError as exc:
        return [f"{old} could not be moved to {new} ({exc.strerror or exc}); the "
                "remembered theme and composer settings start afresh"]
    return []


def _move_previews(paths: AppPaths) -> list[str]:
    found = join(paths.data_root, OLD_PREVIEWS)  # (as the state: by its text first)
    if not os.path.isdir(found) or os.path.islink(found):
        return []
    import contextlib  # (here: ``list`` loads this module, not contextlib)

    old, new = paths.data_dir / OLD_PREVIEWS, paths.previews_dir
    if old == new:
        return []
    try:
        entries = [e for e in old.iterdir() if re.fullmatch(PREVIEW_ENTRY, e.name)
                   and safe_files.is_regular(e)]
        new.mkdir(parents=True, exist_ok=True)
    except OSError:
        return []  # a cache: the frames are decoded again when needed
    for entry in entries:
        try:
            safe_files.move(entry, new / entry.name)
        except FileExistsError:
            with contextlib.suppress(OSError):
                entry.unlink()  # the same key: the same frames are in the new cache
        except OSError:
            return []
    with contextlib.suppress(OSError):
        old.rmdir()  # only if nothing else was in it
    return []
