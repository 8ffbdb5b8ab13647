"""What the screens work with, opened by the App: the workspace, the store, the
client, the downloader and the poller — one small object, no Textual in it.

Screens and their parts get this object when they are made (the store opens a
moment later, so its fields fill in then); they never reach for ``self.app``.
The client and the downloader are made when first asked for (``connect``,
``equip``): httpx is not imported before the dashboard's first paint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage import TaskStore, process_tag
from storage.clock import utc_now
from tui.engine.workspace import Workspace
from tui.ui import actions
from tui.ui.keymap import Keymap

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient
    from tui.engine.following.poller import PollScheduler
    from tui.engine.media.download import Downloader
    from tui.engine.submitting.feeder import Feeder


def _nothing(*_: object) -> None:
    return None


@dataclass
class Services:
    ws: Workspace
    now: Callable[[], datetime] = utc_now
    graphics: str | None = None  # the terminal's graphics protocol, if it has one
    store: TaskStore | None = None
    poller: PollScheduler | None = None
    feeder: Feeder | None = None  # sends the queue while this process polls the account
    write_terminal: Callable[[str], None] = _nothing  # an escape sequence, to the terminal
    bell: Callable[[], None] = _nothing
    read_only: bool = False  # --read-only: a viewer's dashboard (``actions.for_viewers``)
    read_only_because: str = actions.STARTED_READ_ONLY  # why, as its refusals say it
    in_browser: bool = False  # served by ``pixverse-tui serve``: files can go to the browser
    keymap: Keymap = field(default_factory=Keymap)  # [keys], as the App applied it
    remembered: dict[str, Any] = field(default_factory=dict)  # the composer's settings, kept
    connect: Callable[[], DashScopeClient] | None = None  # makes the client when first needed
    equip: Callable[[], Downloader] | None = None  # makes the downloader when first needed
    made_client: DashScopeClient | None = field(default=None, repr=False)
    made_downloader: Downloader | None = field(default=None, repr=False)

    @property
    def client(self) -> DashScopeClient | None:
        """The client (made now if this is the first time it is needed), or None before
        the store is open."""
        if self.made_client is None and self.connect is not None:
            self.made_client = self.connect()
        return self.made_client

    @client.setter
    def client(self, client: DashScopeClient | None) -> None:
        self.made_client = client

    @property
    def downloader(self) -> Downloader | None:
        """The downloader (made now if this is the first time it is needed), or None
        before the store is open."""
        if self.made_downloader is None and self.equip is not None:
            self.made_downloader = self.equip()
        return self.made_downloader

    @downloader.setter
    def downloader(self, downloader: Downloader | None) -> None:
        self.made_downloader = downloader

    def composer_defaults(self) -> dict[str, Any]:
        """[composer] in config.toml, then what the composer was left at last time."""
        values = self.ws.settings.section("composer")
        values.update(self.remembered.get("composer", {}))
        return values

    @property
    def open(self) -> bool:
        return self.store is not None

    @property
    def db(self) -> TaskStore:
        """The store, once open (every caller runs after ``ServicesOpened``)."""
        if self.store is None:
            raise RuntimeError("the store is not open yet")
        return self.store

    @property
    def polls_nothing(self) -> bool:
        """A store this process may only read (a viewer's database role): it runs no
        poller — it could write no answer — so who polls is read from the store."""
        return self.store is not None and self.store.read_only

    @property
    def polling(self) -> bool:
        """Whether this process polls the account (and so downloads what finishes)."""
        return self.poller is not None and self.poller.polling

    async def submitted(self) -> None:
        """A task was just created: whoever polls the account looks now."""
        if self.poller is not None:
            self.poller.submitted()
            await self.poller.nudge()

    async def send_queued(self, ids: list[int], *, over_budget: bool = False) -> None:
        """Send these queued items now, as the account has room: by this process's feeder
        when it polls, else as a one-off sender when nobody else feeds the queue (else
        whoever does is asked to look now)."""
        from tui.engine.submitting import queue

        if self.feeder is not None and self.polling:
            await self.feeder.feed(only=ids, over_budget=over_budget)
        elif self.client is not None:
            feeder = self.feeder or self.ws.feeder(self.db, self.client)
            await queue.send_own(self.db, feeder, ids, account=self.ws.account,
                                 owner=f"{process_tag()}:dashboard", over_budget=over_budget)
        await self.submitted()

    def refused(self, run: str) -> str | None:
        """Why this dashboard will not do the Textual action ``run`` (one sentence), or
        None: in a read-only dashboard, what a viewer may not use (``tui.ui.actions``)."""
        return actions.refusal(run, self.read_only_because) if self.read_only else None

    def wake_poller(self) -> None:
        if self.poller is not None:
            self.poller.wake()
