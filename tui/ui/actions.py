"""Every user action, defined once: its id, default keys, label, where it applies,
whether it is billed or destructive, and how it states its scope.

The Textual ``BINDINGS`` of every screen, widget and dialog are generated from
this table (``tui.ui.bindings``); the keys screen (``?``), the footer, the
command palette and ``[keys]`` in config.toml read it too, so an id rebinds the
action wherever it applies — the table *and* the full-screen details, every
dialog.  No Textual here: a rule about keys (``tui.ui.keys_policy``) or a test
can read it without a screen.

Ids are what users write in config.toml: they never change.  An id that had to
change would keep its old name in ``ALIASES``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Where(StrEnum):
    """A place an action applies: the node its binding is generated for."""

    ANYWHERE = "anywhere"  # the App: every screen, every dialog
    MAIN = "main"  # the main screen, whatever has the focus on it
    COMPOSER = "composer"  # the prompt and its settings
    TABLE = "table"  # the task table
    PANE = "pane"  # the detail pane beside the table
    DETAILS = "details"  # the full-screen details of one task
    CHOICE = "choice"  # a question with a few answers
    ASK = "ask"  # a question answered with text (tags, a note, a file)
    BATCH = "batch"  # what a batch file would send
    KEYS = "keys"  # the keys screen
    STATS = "stats"  # usage statistics
    WELCOME = "welcome"  # no key set yet


# Where a text field can have the focus: the composer's prompt, seed and variations,
# the filter line (main), and a dialog's answer (ask).
TEXT_FIELDS = frozenset({Where.ANYWHERE, Where.MAIN, Where.COMPOSER, Where.ASK})


class Reach(StrEnum):
    """How an action says what it acts on, before it acts."""

    NONE = "none"  # not about generations (moving, the app, a dialog)
    ONE = "one"  # the highlighted task — or, in the details, the task shown
    MARKED = "marked"  # the marked rows (every page), else the highlighted one; several
    # → a question with the count and "(N not on this page)"
    FILTER = "filter"  # everything the filter matches, on every page, with the count
    ACCOUNT = "account"  # the account: tasks of the key that no row knows


class Runs(StrEnum):
    """Which node's ``action_…`` method runs it."""

    APP = "app"
    SCREEN = "screen"
    WIDGET = "widget"  # the widget the binding is on (the table moving its cursor)


@dataclass(frozen=True)
class Action:
    id: str  # the binding id, as written in [keys]
    keys: str  # default keys, Textual's names, comma-separated
    label: str
    where: tuple[Where, ...]
    run: str  # the Textual action, e.g. "row('download')", relative to ``runs``
    runs: Runs = Runs.SCREEN
    footer: tuple[Where, ...] = ()  # where the footer shows it
    reach: Reach = Reach.NONE
    billed: bool = False  # creates tasks, which the service bills
    destructive: bool = False  # loses something (a task at the service, a row, a file)
    writes: bool = False  # changes the history (a star, tags, a note, a row brought back
    # or adopted) or prepares a submission (the composer): a viewer may not either
    priority: bool = False  # answered before the focused widget sees the key
    gives_way: bool = False  # …except while a text field has the focus (``check_action``)
    palette: bool = True  # offered in the command palette

    @property
    def while_typing(self) -> bool:
        """Whether its keys act while a text field has the focus (so a printable key
        would be taken from the typist): a priority binding where a text field can be."""
        return (self.priority and not self.gives_way
                and any(place in TEXT_FIELDS for place in self.where))

    @property
    def for_viewers(self) -> bool:
        """Whether a viewer (``--read-only``) may use it: nothing billed, destructive or
        written — they can look, move, filter, open, download and copy."""
        return not (self.billed or self.destructive or self.writes)

    @property
    def scope(self) -> frozenset[str]:
        """Where it applies, in a user's words: anywhere, main, composer, table, details
        (the pane and the full screen), dialog, welcome."""
        return frozenset(_SAID.get(place, place.value) for place in self.where)


DIALOGS = frozenset({Where.CHOICE, Where.ASK, Where.BATCH, Where.KEYS, Where.STATS})
ANSWERING = (Where.CHOICE, Where.BATCH)  # dialogs whose answers are buttons
# How a place is said to a user: the pane and the full screen are both "details", and
# every dialog is "dialog".
_SAID: dict[Where, str] = {Where.PANE: "details", Where.DETAILS: "details",
                           **{place: "dialog" for place in DIALOGS}}

A, M, C, T, P, D = Where.ANYWHERE, Where.MAIN, Where.COMPOSER, Where.TABLE, Where.PANE, \
    Where.DETAILS
ROW = (T, D)  # a row key: the table's highlighted row, or the task the details show


def _row(id: str, keys: str, label: str, command: str, *, footer: tuple[Where, ...] = (),
         reach: Reach = Reach.MARKED, where: tuple[Where, ...] = ROW, billed: bool = False,
         destructive: bool = False, writes: bool = False) -> Action:
    return Action(id, keys, label, where, f"row('{command}')", footer=footer, reach=reach,
                  billed=billed, destructive=destructive, writes=writes)


ACTIONS: tuple[Action, ...] = (
    # -- anywhere (the App) ----------------------------------------------------------
    # A modal screen hides the App's bindings: ``?`` is bound on each one too, and lists
    # the keys of the screen it is pressed on.
    Action("keys", "question_mark,f1", "Keys", (A, D, Where.CHOICE, Where.ASK, Where.BATCH,
                                                Where.STATS), "show_keys", Runs.APP,
           footer=(A,), palette=False),
    Action("quit", "ctrl+q", "Quit", (A,), "quit", Runs.APP, footer=(A,), priority=True,
           palette=False),
    Action("reload-config", "ctrl+r", "Reload config", (A,), "reload_config", Runs.APP),
    # -- the main screen --------------------------------------------------------------
    Action("submit", "ctrl+j,f5", "Submit", (M,), "submit", footer=(M,), billed=True,
           priority=True),
    # A priority binding: the screen acts on "/" before later keys reach the table, so a
    # burst like "/fox" lands in the filter box (``check_action`` lets "/" be typed).
    Action("filter", "slash", "Filter", (M,), "filter", footer=(M,), priority=True,
           gives_way=True),
    Action("stats", "s", "Stats", (M,), "row('stats')"),
    Action("undo", "ctrl+z", "Undo forget", (M,), "row('undo_forget')", writes=True),
    Action("main.quit", "q", "Quit", (M,), "quit", Runs.APP, palette=False),
    Action("main.full-table", "m", "Full table", (M,), "toggle_full"),
    Action("main.compose", "i", "Write a prompt", (M,), "compose", writes=True),
    Action("open-batch", "ctrl+o", "Open a batch file", (M,), "open_batch", billed=True),
    # -- the composer -----------------------------------------------------------------
    Action("composer.leave", "escape", "To tasks", (C,), "focus_tasks", footer=(C,)),
    # -- the full-screen details (their row keys are the table's, below) -------------
    Action("detail.close", "escape,enter,q", "Close", (D,), "dismiss", footer=(D,),
           palette=False),
    # -- the table ----------------------------------------------------------------------
    Action("table.down", "j", "Down", (T,), "cursor_down", Runs.WIDGET, palette=False),
    Action("table.up", "k", "Up", (T,), "cursor_up", Runs.WIDGET, palette=False),
    Action("table.first", "home,g", "First", (T,), "jump(0)", Runs.WIDGET, palette=False),
    Action("table.last", "end,G", "Last", (T,), "jump(-1)", Runs.WIDGET, palette=False),
    Action("table.next-page", "right_square_bracket", "Next page", (T,), "page(1)",
           Runs.WIDGET, palette=False),
    Action("table.prev-page", "left_square_bracket", "Previous page", (T,), "page(-1)",
           Runs.WIDGET, palette=False),
    Action("table.sort", "o", "Sort", (T,), "cycle_sort", Runs.WIDGET, palette=False),
    Action("table.open", "enter", "Details", (T,), "open_detail", footer=(T,), reach=Reach.ONE),
    _row("table.download", "d", "Download", "download", footer=ROW),
    _row("table.download-all", "D", "Download all", "download_all", where=(T,),
         reach=Reach.FILTER),
    Action("table.mark", "space", "Mark", (T,), "toggle_mark", footer=(T,), reach=Reach.ONE),
    Action("table.mark-all", "asterisk", "Mark all", (T,), "mark_all", reach=Reach.FILTER),
    _row("table.cancel", "c", "Cancel", "cancel", destructive=True),
    Action("table.reuse", "r", "Re-use", (T,), "reuse", reach=Reach.ONE, writes=True),
    _row("table.rerun", "R", "Re-run", "rerun", billed=True),
    _row("table.copy-url", "y", "Copy URL", "copy_url", reach=Reach.ONE),
    _row("table.resolve", "u", "Resolve", "resolve", reach=Reach.ONE, writes=True),
    _row("table.favourite", "f", "Favourite", "favourite", writes=True),
    _row("table.tags", "t", "Tags", "tags", writes=True),
    _row("table.note", "n", "Note", "note", reach=Reach.ONE, writes=True),
    _row("table.forget", "x", "Forget", "forget", destructive=True),
    _row("table.adopt-foreign", "A", "Adopt foreign", "adopt_foreign", where=(T,),
         reach=Reach.ACCOUNT, writes=True),
    Action("table.fold", "z", "Fold batch", (T,), "fold", reach=Reach.ONE),
    # -- the local queue (docs/queue.md) -------------------------------------------------
    _row("table.pause", "p", "Pause/resume batch", "pause", writes=True),
    Action("queue.pause", "P", "Pause/resume the queue", (M,), "row('pause_queue')",
           writes=True),
    _row("table.raise", "plus", "Raise priority", "raise_priority", writes=True),
    _row("table.lower", "minus", "Lower priority", "lower_priority", writes=True),
    _row("table.hold", "h", "Hold/release", "hold", writes=True),
    _row("table.move-up", "K", "Move up the queue", "move_up", writes=True),
    _row("table.move-down", "J", "Move down the queue", "move_down", writes=True),
    _row("table.move-top", "T", "Move to the queue's top", "move_top", writes=True),
    _row("table.play", "v", "Play", "play", footer=(D,), reach=Reach.ONE),
    # -- the detail pane ---------------------------------------------------------------
    Action("detail.leave", "escape", "To tasks", (P,), "focus_tasks", footer=(P,)),
    # -- dialogs -------------------------------------------------------------------------
    Action("dialog.previous", "left", "Previous answer", ANSWERING, "previous_answer",
           palette=False),
    Action("dialog.next", "right", "Next answer", ANSWERING, "next_answer", palette=False),
    Action("choice.cancel", "escape", "Cancel", (Where.CHOICE,), "dismiss(None)",
           footer=(Where.CHOICE,), palette=False),
    Action("ask.cancel", "escape", "Cancel", (Where.ASK,), "dismiss(None)",
           footer=(Where.ASK,), palette=False),
    Action("ask.save", "ctrl+s", "Save", (Where.ASK,), "save", footer=(Where.ASK,),
           palette=False),
    Action("batch.cancel", "escape", "Cancel", (Where.BATCH,), "dismiss(None)",
           footer=(Where.BATCH,), palette=False),
    Action("keys.close", "escape,q,question_mark", "Close", (Where.KEYS,), "dismiss",
           footer=(Where.KEYS,), palette=False),
    Action("stats.close", "escape,q,s", "Close", (Where.STATS,), "dismiss",
           footer=(Where.STATS,), palette=False),
    Action("welcome.demo", "d", "Open the demo", (Where.WELCOME,), "demo",
           footer=(Where.WELCOME,)),
    Action("welcome.quit", "ctrl+q,q", "Quit", (Where.WELCOME,), "quit", Runs.APP,
           footer=(Where.WELCOME,), palette=False),
)

BY_ID: dict[str, Action] = {action.id: action for action in ACTIONS}

# Old id → the id it became.  Empty: no id has had to change yet.
ALIASES: dict[str, str] = {}


def action(action_id: str) -> Action:
    """The action an id (or an old alias of it) names; ``KeyError`` if none does."""
    return BY_ID[ALIASES.get(action_id, action_id)]


def at(place: Where) -> list[Action]:
    """The actions that apply at ``place``, in the registry's order."""
    return [a for a in ACTIONS if place in a.where]


def while_typing() -> list[Action]:
    """The actions whose keys act while a text field has the focus."""
    return [a for a in ACTIONS if a.while_typing]


def ids() -> list[str]:
    return [a.id for a in ACTIONS]


def known(names: Iterable[str]) -> list[str]:
    """The names that are binding ids (or aliases of one)."""
    return [n for n in names if n in BY_ID or n in ALIASES]



READ_ONLY = ("read-only: “{label}” is not available in this dashboard ({because}); "
             "looking, filtering, downloading and copying are.")
# Why a dashboard is read-only, as its refusals say (a store that may only be read says
# its own reason: ``tui.engine.operations.read_only_reason``).
STARTED_READ_ONLY = "started with --read-only"
CONFIGURED_READ_ONLY = "[ui] read_only is set in config.toml"


def not_for_viewers() -> frozenset[str]:
    """The Textual actions (``run``, without a namespace) a viewer may not use."""
    return frozenset(a.run for a in ACTIONS if not a.for_viewers)


def refusal(run: str, because: str = STARTED_READ_ONLY) -> str | None:
    """The one sentence refusing a viewer the action ``run`` names (a Textual action
    string, with a namespace or not), or None when a viewer may use it; ``because`` is
    why the dashboard is read-only."""
    for namespace in ("app.", "screen."):
        run = run.removeprefix(namespace)
    for a in ACTIONS:
        if a.run == run and not a.for_viewers:
            return READ_ONLY.format(label=a.label, because=because)
    return None
