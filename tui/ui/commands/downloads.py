"""Saving videos from the dashboard: one job per video, never two for the same one,
and one notice for a burst ("Saved 12 videos in …") instead of twelve."""

from __future__ import annotations

from storage import Generation, StoreError
from tui.ui.commands.plans import Outlet, plural
from tui.ui.services import Services


class Downloads:
    def __init__(self, services: Services, outlet: Outlet) -> None:
        self.services = services
        self.outlet = outlet
        self.busy: set[int] = set()  # generations being saved by this screen
        self._saved_in_burst = 0

    def start_all(self, rows: list[Generation]) -> None:
        if len(rows) > 1:
            self.outlet.notify(f"Downloading {plural(len(rows), 'video')}…", timeout=3)
        self._saved_in_burst = 0
        for row in rows:
            self.start(row.id, quiet=len(rows) > 1)

    def start(self, generation_id: int, *, quiet: bool = False) -> None:
        """Save one video in the background (nothing if it is being saved already)."""
        if generation_id in self.busy:
            return
        self.busy.add(generation_id)
        self.outlet.spawn(self._one(generation_id, quiet), group="downloads",
                          name=f"download #{generation_id}")

    def _unrecorded(self) -> str:
        """What a notice adds for a video saved here that the store may not record (a
        viewer's role on a team database): the file is saved all the same."""
        from tui.engine.operations import unrecorded

        store = self.services.db
        return f" — on this machine only, {unrecorded(store)}." if store.read_only else ""

    async def _one(self, generation_id: int, quiet: bool) -> None:
        from tui.engine.media.download import DownloadBusy, DownloadError  # with the downloader

        downloader = self.services.downloader
        assert downloader is not None
        tell = self.outlet.notify
        try:
            row = await self.services.db.generations.get(generation_id)
            if row is None:
                return
            done = await downloader.download(row)
            self._saved_in_burst += 1
            if not quiet:
                tell(f"Saved {done.download_path}{self._unrecorded()}", title="Downloaded",
                     timeout=None if downloader.records else 10)
        except DownloadBusy as exc:
            tell(str(exc), title="Already downloading", timeout=5)
        except DownloadError as exc:
            hint = (" Press d to try again" + (" (it resumes)." if downloader.records else ".")
                    if exc.retryable else "")
            tell(str(exc) + hint, title="Download failed", severity="error", timeout=10)
        except StoreError as exc:
            tell(str(exc), title="Download not recorded", severity="error", timeout=10)
        finally:
            self.busy.discard(generation_id)
            if quiet and not self.busy and self._saved_in_burst:
                tell(f"Saved {plural(self._saved_in_burst, 'video')} in "
                     f"{downloader.folder}{self._unrecorded() or '.'}", title="Downloaded")
                self._saved_in_burst = 0
